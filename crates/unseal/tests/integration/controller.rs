//! The controller's scenarios, driven through the real kube client over HTTP, each run
//! against the API-server double and against the real control plane (see
//! support/mod.rs); the few that need the double's fault injection run on it only.

use std::time::Duration;

use crate::support::*;
use apiserver_double::Fault;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use seal_core::convert::SealOptions;
use seal_core::{Mode, Scope, SealedSecret};
use serde_json::json;

scenarios! {
    both: [
        create_gives_an_owned_secret_and_a_synced_status,
        a_changed_value_updates_the_secret_and_the_observed_generation,
        deleting_the_sealed_secret_collects_the_secret,
        an_edited_or_deleted_secret_is_restored,
        a_secret_it_does_not_own_is_left_alone_unless_adoptable,
        merge_mode_writes_only_its_keys_into_an_existing_secret,
        a_tampered_value_leaves_the_secret_exactly_as_it_was,
        a_sealed_secret_copied_to_another_namespace_is_refused,
        renewal_and_rotation_keep_old_values_opening,
        rotate_and_import_are_picked_up_live,
        two_replicas_elect_one_leader_and_make_one_key,
        a_steady_cluster_costs_no_writes,
        cluster_scoped_values_open_in_any_namespace,
        a_backup_recipient_gets_a_fresh_encrypted_backup_after_each_new_key,
        a_label_selector_limits_the_controller_to_the_labelled_sealed_secrets,
    ],
}

/// `--label-selector team=a`: the labelled SealedSecret is unsealed; the one created
/// before it without the label gets neither a Secret nor a status (it belongs to the
/// other controller of a migration), and the SealedSecret watch asked for the label.
async fn a_label_selector_limits_the_controller_to_the_labelled_sealed_secrets(backend: Backend) {
    let mut settings = fast_settings("replica-a");
    settings.label_selector = Some("team=a".to_owned());
    let h = Harness::start_with(backend, settings).await;
    let apps = h.ns("apps");
    let r = h.recipients();
    h.create(&seal(
        &plain(&apps, "other", &[("k", "v")]),
        &r,
        &SealOptions::default(),
    ))
    .await;
    let mut mine = seal(
        &plain(&apps, "mine", &[("k", "v")]),
        &r,
        &SealOptions::default(),
    );
    mine.metadata.labels = Some([("team".to_owned(), "a".to_owned())].into());
    h.create(&mine).await;
    h.wait_reason(&apps, "mine", "Unsealed").await;
    assert!(h.secret(&apps, "mine").await.is_some());
    assert!(
        h.secret(&apps, "other").await.is_none(),
        "not ours to unseal"
    );
    let other = h.sealed(&apps, "other").await.expect("still there");
    assert!(other["status"].is_null(), "no status written: {other}");
    // Lists and watches of the collection (not reads of one object by name).
    let collection: Vec<String> = h
        .log()
        .into_iter()
        .filter(|r| r.method == "GET")
        .map(|r| r.path)
        .filter(|p| {
            p.split('?')
                .next()
                .is_some_and(|p| p.ends_with("/sealedsecrets"))
        })
        .collect();
    assert!(!collection.is_empty(), "the controller lists SealedSecrets");
    assert!(
        collection
            .iter()
            .all(|p| p.contains("labelSelector=team%3Da")),
        "every list and watch asks for the label: {collection:?}"
    );
    h.stop().await;
}

fn secrets(h: &Harness, ns: &str) -> Api<Secret> {
    Api::namespaced(h.client.clone(), ns)
}

async fn create_gives_an_owned_secret_and_a_synced_status(backend: Backend) {
    let h = Harness::start(backend).await;
    let apps = h.ns("apps");
    let mut p = plain(&apps, "db", &[("password", "s3cr3t"), ("user", "orders")]);
    p.labels.insert("app".into(), "db".into());
    p.type_ = Some("Opaque".into());
    let created = h
        .create(&seal(&p, &h.recipients(), &SealOptions::default()))
        .await;
    let secret = wait_for("secret", async || h.secret(&apps, "db").await).await;
    assert_eq!(data_of(&secret)["password"], "s3cr3t");
    assert_eq!(secret["metadata"]["labels"]["app"], "db");
    assert_eq!(
        secret["metadata"]["labels"]["seal.dev/managed-by"],
        "unseal"
    );
    let owner = &secret["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "SealedSecret");
    assert_eq!(owner["controller"], true);
    assert_eq!(owner["uid"], json!(created.uid()));
    h.wait_reason(&apps, "db", "Unsealed").await;
    let sealed = h.sealed(&apps, "db").await.expect("stored");
    assert_eq!(sealed["status"]["observedGeneration"], 1);
    assert_eq!(sealed["status"]["conditions"][0]["status"], "True");
    h.stop().await;
}

async fn a_changed_value_updates_the_secret_and_the_observed_generation(backend: Backend) {
    let h = Harness::start(backend).await;
    let apps = h.ns("apps");
    let r = h.recipients();
    h.create(&seal(
        &plain(&apps, "db", &[("password", "one")]),
        &r,
        &SealOptions::default(),
    ))
    .await;
    wait_for("first value", async || {
        h.secret(&apps, "db")
            .await
            .filter(|s| data_of(s)["password"] == "one")
    })
    .await;
    // The status is written after the Secret: read the object once it is there too, or
    // the replace below races the controller's status write (409).
    h.wait_reason(&apps, "db", "Unsealed").await;
    let api: Api<SealedSecret> = Api::namespaced(h.client.clone(), &apps);
    let mut current = api.get("db").await.expect("get");
    current.spec = seal(
        &plain(&apps, "db", &[("password", "two")]),
        &r,
        &SealOptions::default(),
    )
    .spec;
    api.replace("db", &PostParams::default(), &current)
        .await
        .expect("replaced");
    wait_for("second value", async || {
        h.secret(&apps, "db")
            .await
            .filter(|s| data_of(s)["password"] == "two")
    })
    .await;
    wait_for("generation 2 observed", async || {
        h.sealed(&apps, "db")
            .await
            .filter(|s| s["status"]["observedGeneration"] == 2)
            .map(|_| ())
    })
    .await;
    h.stop().await;
}

/// On the real server the garbage collector deletes the Secret asynchronously: the wait
/// is for that exact state, with the collector's bound.
async fn deleting_the_sealed_secret_collects_the_secret(backend: Backend) {
    let h = Harness::start(backend).await;
    let apps = h.ns("apps");
    h.create(&seal(
        &plain(&apps, "gone", &[("k", "v")]),
        &h.recipients(),
        &SealOptions::default(),
    ))
    .await;
    wait_for("secret", async || h.secret(&apps, "gone").await).await;
    Api::<SealedSecret>::namespaced(h.client.clone(), &apps)
        .delete("gone", &DeleteParams::default())
        .await
        .expect("deleted");
    wait_within("secret collected", GC_WITHIN, async || {
        h.secret(&apps, "gone").await.is_none().then_some(())
    })
    .await;
    assert!(h.sealed(&apps, "gone").await.is_none());
    h.stop().await;
}

async fn an_edited_or_deleted_secret_is_restored(backend: Backend) {
    let h = Harness::start(backend).await;
    let apps = h.ns("apps");
    h.create(&seal(
        &plain(&apps, "db", &[("password", "right")]),
        &h.recipients(),
        &SealOptions::default(),
    ))
    .await;
    wait_for("secret", async || h.secret(&apps, "db").await).await;
    let api = secrets(&h, &apps);
    let patch = json!({"data": {"password": "d3Jvbmc=", "extra": "eA=="}});
    api.patch("db", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("edited");
    wait_for("restored after edit", async || {
        h.secret(&apps, "db").await.filter(|s| {
            data_of(s).get("password").map(String::as_str) == Some("right") && data_of(s).len() == 1
        })
    })
    .await;
    let before = h.secret(&apps, "db").await.expect("stored");
    api.delete("db", &DeleteParams::default())
        .await
        .expect("deleted");
    wait_for("restored after delete", async || {
        h.secret(&apps, "db")
            .await
            .filter(|s| s["metadata"]["uid"] != before["metadata"]["uid"])
    })
    .await;
    h.stop().await;
}

async fn a_secret_it_does_not_own_is_left_alone_unless_adoptable(backend: Backend) {
    let h = Harness::start(backend).await;
    let apps = h.ns("apps");
    let api = secrets(&h, &apps);
    let theirs: Secret = serde_json::from_value(json!({
        "metadata": {"name": "theirs"}, "data": {"password": "bWluZQ=="}
    }))
    .expect("secret");
    api.create(&PostParams::default(), &theirs)
        .await
        .expect("created");
    h.create(&seal(
        &plain(&apps, "theirs", &[("password", "ours")]),
        &h.recipients(),
        &SealOptions::default(),
    ))
    .await;
    h.wait_reason(&apps, "theirs", "SecretNotOwned").await;
    assert_eq!(
        data_of(&h.secret(&apps, "theirs").await.expect("kept"))["password"],
        "mine"
    );
    let adopt = json!({"metadata": {"annotations": {"seal.dev/adopt": "true"}}});
    api.patch("theirs", &PatchParams::default(), &Patch::Merge(&adopt))
        .await
        .expect("annotated");
    // The annotation change is not watched (the Secret carries no managed label yet);
    // the retry with backoff picks it up.
    wait_for("adopted", async || {
        h.secret(&apps, "theirs")
            .await
            .filter(|s| data_of(s)["password"] == "ours")
    })
    .await;
    h.stop().await;
}

/// The target's other owner is a ConfigMap that exists: the real garbage collector would
/// delete a Secret whose only owner does not.
async fn merge_mode_writes_only_its_keys_into_an_existing_secret(backend: Backend) {
    let h = Harness::start(backend).await;
    let argocd = h.ns("argocd");
    let api = secrets(&h, &argocd);
    let other = other_owner(&h, &argocd, "x", false).await;
    let existing: Secret = serde_json::from_value(json!({
        "metadata": {"name": "argocd-secret", "labels": {"app.kubernetes.io/part-of": "argocd"},
                     "annotations": {"seal.dev/merge-keys": "webhook.github.secret"},
                     "ownerReferences": [other]},
        "data": {"server.secretkey": "a2VlcA==", "admin.password": "a2VlcA=="}
    }))
    .expect("secret");
    api.create(&PostParams::default(), &existing)
        .await
        .expect("created");
    let options = SealOptions {
        mode: Mode::Merge,
        ..Default::default()
    };
    h.create(&seal(
        &plain(
            &argocd,
            "argocd-secret",
            &[("webhook.github.secret", "hmac-key")],
        ),
        &h.recipients(),
        &options,
    ))
    .await;
    let merged = wait_for("merged", async || {
        h.secret(&argocd, "argocd-secret")
            .await
            .filter(|s| data_of(s).contains_key("webhook.github.secret"))
    })
    .await;
    let data = data_of(&merged);
    assert_eq!(data["webhook.github.secret"], "hmac-key");
    assert_eq!(data["server.secretkey"], "keep");
    assert_eq!(data["admin.password"], "keep");
    assert_eq!(
        merged["metadata"]["labels"],
        json!({"app.kubernetes.io/part-of": "argocd", "seal.dev/merged-by": "unseal"}),
        "other labels kept; the merge-target label added"
    );
    assert_eq!(
        merged["metadata"]["ownerReferences"][0]["uid"],
        other["uid"]
    );
    assert_eq!(
        merged["metadata"]["ownerReferences"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    h.wait_reason(&argocd, "argocd-secret", "Unsealed").await;

    // Someone drops the merged key (an Argo CD upgrade, a hand edit): it is put back at
    // once through the merge-target watch (the re-sync period here is ten minutes).
    api.patch(
        "argocd-secret",
        &PatchParams::default(),
        &Patch::Merge(&json!({"data": {"webhook.github.secret": null}})),
    )
    .await
    .expect("edited");
    wait_for("merged key restored", async || {
        h.secret(&argocd, "argocd-secret").await.filter(|s| {
            data_of(s).get("webhook.github.secret").map(String::as_str) == Some("hmac-key")
        })
    })
    .await;

    // Replaced wholesale (`kubectl replace` of Argo CD's install manifest): the label goes
    // with it, so the label-selected watch reports the Secret as gone, which is enough to
    // put the key and the label back at once.
    let mut current = api.get("argocd-secret").await.expect("read");
    current.metadata.labels = None;
    current.data = Some(
        [(
            "server.secretkey".to_owned(),
            k8s_openapi::ByteString(b"new".to_vec()),
        )]
        .into(),
    );
    api.replace("argocd-secret", &PostParams::default(), &current)
        .await
        .expect("replaced");
    let repaired = wait_for("merged key restored after a replace", async || {
        h.secret(&argocd, "argocd-secret").await.filter(|s| {
            data_of(s).get("webhook.github.secret").map(String::as_str) == Some("hmac-key")
        })
    })
    .await;
    assert_eq!(data_of(&repaired)["server.secretkey"], "new");
    assert_eq!(
        repaired["metadata"]["labels"]["seal.dev/merged-by"],
        "unseal"
    );

    h.create(&seal(
        &plain(&argocd, "absent", &[("k", "v")]),
        &h.recipients(),
        &options,
    ))
    .await;
    h.wait_reason(&argocd, "absent", "SecretMissing").await;
    assert!(
        h.secret(&argocd, "absent").await.is_none(),
        "Merge mode never creates the Secret"
    );
    // Created later, without the label (so no watch sees it): the SecretMissing retry
    // finds it.
    let later: Secret = serde_json::from_value(json!({
        "metadata": {"name": "absent", "annotations": {"seal.dev/merge-keys": "k"}},
        "data": {"other": "a2VlcA=="}
    }))
    .expect("secret");
    api.create(&PostParams::default(), &later)
        .await
        .expect("created");
    let filled = wait_for("merged into the Secret created later", async || {
        h.secret(&argocd, "absent")
            .await
            .filter(|s| data_of(s).get("k").map(String::as_str) == Some("v"))
    })
    .await;
    assert_eq!(data_of(&filled)["other"], "keep");
    h.wait_reason(&argocd, "absent", "Unsealed").await;
    h.stop().await;
}

async fn a_tampered_value_leaves_the_secret_exactly_as_it_was(backend: Backend) {
    use base64::Engine as _;
    let h = Harness::start(backend).await;
    let apps = h.ns("apps");
    let r = h.recipients();
    h.create(&seal(
        &plain(&apps, "db", &[("password", "good"), ("user", "u")]),
        &r,
        &SealOptions::default(),
    ))
    .await;
    let before = wait_for("secret", async || h.secret(&apps, "db").await).await;
    // The status is written after the Secret: the replace below must not race it (409).
    h.wait_reason(&apps, "db", "Unsealed").await;
    let api: Api<SealedSecret> = Api::namespaced(h.client.clone(), &apps);
    let mut current = api.get("db").await.expect("get");
    let value = current
        .spec
        .encrypted_data
        .get("password")
        .expect("value")
        .clone();
    let mut bytes = base64::engine::general_purpose::STANDARD
        .decode(value)
        .expect("b64");
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    current.spec.encrypted_data.insert(
        "password".into(),
        base64::engine::general_purpose::STANDARD.encode(bytes),
    );
    current.spec.encrypted_data.insert(
        "user".into(),
        seal(
            &plain(&apps, "db", &[("user", "changed")]),
            &r,
            &SealOptions::default(),
        )
        .spec
        .encrypted_data["user"]
            .clone(),
    );
    api.replace("db", &PostParams::default(), &current)
        .await
        .expect("replaced");
    h.wait_reason(&apps, "db", "DecryptFailed").await;
    let after = h.secret(&apps, "db").await.expect("still there");
    assert_eq!(
        after["data"], before["data"],
        "nothing blanked, nothing half-applied"
    );
    assert_eq!(
        after["metadata"]["resourceVersion"],
        before["metadata"]["resourceVersion"]
    );
    let message = h.message(&apps, "db").await;
    assert!(message.contains("spec.encryptedData.password"), "{message}");
    assert!(
        !message.contains("good") && !message.contains("changed"),
        "{message}"
    );
    // The Event follows the status write.
    wait_for("a DecryptFailed warning", async || {
        (h.warnings(&apps, "DecryptFailed").await == 1).then_some(())
    })
    .await;
    let metrics = h.ctx().metrics.render();
    assert!(
        metrics.contains("unseal_reconcile_errors_total{reason=\"DecryptFailed\"}"),
        "{metrics}"
    );
    h.stop().await;
}

async fn a_sealed_secret_copied_to_another_namespace_is_refused(backend: Backend) {
    let h = Harness::start(backend).await;
    let (apps, attacker) = (h.ns("apps"), h.ns("attacker"));
    let mut sealed = seal(
        &plain(&apps, "db", &[("password", "p")]),
        &h.recipients(),
        &SealOptions::default(),
    );
    sealed.metadata.namespace = Some(attacker.clone());
    h.create(&sealed).await;
    h.wait_reason(&attacker, "db", "ScopeMismatch").await;
    assert!(h.secret(&attacker, "db").await.is_none());
    h.stop().await;
}

async fn renewal_and_rotation_keep_old_values_opening(backend: Backend) {
    let mut settings = fast_settings("replica-a");
    settings.renew_period = Some(Duration::from_secs(1));
    let h = Harness::start_with(backend, settings).await;
    let (apps, controller_ns) = (h.ns("apps"), h.controller_ns());
    let first = h.recipients();
    h.create(&seal(
        &plain(&apps, "old", &[("k", "v1")]),
        &first,
        &SealOptions::default(),
    ))
    .await;
    wait_for("secret", async || h.secret(&apps, "old").await).await;
    // With a one-second period a renewal may already have happened before `first` was
    // read: wait for the exact state asserted (an active key other than `first`), not for
    // "two keys held", which that earlier renewal satisfies at once.
    let renewed = wait_for("renewed", async || {
        let now = h.recipients();
        (now.to_strings() != first.to_strings()).then_some(now)
    })
    .await;
    assert!(h.ctx().keys.current().keys.len() >= 2);
    assert_ne!(renewed.to_strings(), first.to_strings());
    // The recipients ConfigMap follows the active key (compared afresh each time: with a
    // one-second period, another renewal may come before the ConfigMap is looked at).
    wait_for("published", async || {
        let active = h.recipients().to_strings()[0].clone();
        h.config_map(&controller_ns, "unseal-recipients")
            .await
            .filter(|cm| cm["data"]["active"] == active.as_str())
    })
    .await;
    // Old values still open after the renewal: force a re-sync by editing the Secret.
    let api = secrets(&h, &apps);
    api.patch(
        "old",
        &PatchParams::default(),
        &Patch::Merge(&json!({"data": {"k": "eA=="}})),
    )
    .await
    .expect("edit");
    wait_for("old value restored", async || {
        h.secret(&apps, "old")
            .await
            .filter(|s| data_of(s)["k"] == "v1")
    })
    .await;
    h.stop().await;
}

async fn rotate_and_import_are_picked_up_live(backend: Backend) {
    let h = Harness::start(backend).await;
    let (apps, controller_ns) = (h.ns("apps"), h.controller_ns());
    let keys: Api<Secret> = Api::namespaced(h.client.clone(), &controller_ns);
    let before = h.recipients();
    unseal::keys::secrets::create_next(&keys, &controller_ns)
        .await
        .expect("rotated");
    wait_for("new active key", async || {
        (h.recipients().to_strings() != before.to_strings()).then_some(())
    })
    .await;
    // A value sealed to a key the controller does not hold waits, then opens once imported.
    let outside = age::x25519::Identity::generate();
    let mut to = seal_core::Recipients::new();
    to.insert(outside.to_public());
    h.create(&seal(
        &plain(&apps, "byok", &[("k", "byok-value")]),
        &to,
        &SealOptions::default(),
    ))
    .await;
    h.wait_reason(&apps, "byok", "NoMatchingKey").await;
    let active = h.recipients().to_strings();
    unseal::keys::secrets::import(
        &keys,
        &controller_ns,
        &outside,
        unseal::clock::now(),
        None,
        false,
    )
    .await
    .expect("imported");
    wait_for("opened with the imported key", async || {
        h.secret(&apps, "byok")
            .await
            .filter(|s| data_of(s)["k"] == "byok-value")
    })
    .await;
    assert_eq!(
        h.recipients().to_strings(),
        active,
        "an import without --activate opens but never becomes the sealing key"
    );
    h.stop().await;
}

async fn two_replicas_elect_one_leader_and_make_one_key(backend: Backend) {
    let mut h = Harness::start(backend).await;
    let apps = h.ns("apps");
    h.add_controller(fast_settings("replica-b")).await;
    // Once replica-b has read the Lease, it has seen replica-a hold it: it cannot take it
    // for a lease duration from then, and does not lead now.
    wait_for("replica-b reads the lease", async || {
        h.has_read_lease("replica-b").then_some(())
    })
    .await;
    let leaders: Vec<bool> = h.controllers.iter().map(|c| c.ctx.is_leader()).collect();
    assert_eq!(leaders, [true, false]);
    assert_eq!(h.key_count().await, 1);
    // Both serve the recipients over HTTP.
    for c in &h.controllers {
        wait_for("b loads keys", async || {
            c.ctx.keys.is_loaded().then_some(())
        })
        .await;
    }
    // The leader stops; the other takes over and reconciles.
    let a = h.controllers.remove(0);
    a.stop().await;
    let b = h.controllers[0].ctx.clone();
    wait_for("replica-b leads", async || b.is_leader().then_some(())).await;
    h.create(&seal(
        &plain(&apps, "after", &[("k", "v")]),
        &h.recipients(),
        &SealOptions::default(),
    ))
    .await;
    wait_for("b reconciles", async || h.secret(&apps, "after").await).await;
    assert_eq!(h.key_count().await, 1, "one key for both replicas");
    h.stop().await;
}

/// The double only: a race needs both reads answered before either write, which the
/// double's ordering makes certain. On the real server the two calls may as well run one
/// after the other (one has created its key before the other lists), and then two keys
/// are right; seen there.
#[tokio::test]
async fn racing_renewals_make_one_key() {
    let h = Harness::start(Backend::Double).await;
    let controller_ns = h.controller_ns();
    let keys: Api<Secret> = Api::namespaced(h.client.clone(), &controller_ns);
    let (a, b) = tokio::join!(
        unseal::keys::secrets::create_next(&keys, &controller_ns),
        unseal::keys::secrets::create_next(&keys, &controller_ns)
    );
    let outcomes = [a.expect("a"), b.expect("b")];
    let made = outcomes
        .iter()
        .filter(|o| matches!(o, unseal::keys::secrets::Created::Made(_)))
        .count();
    assert_eq!(made, 1, "{outcomes:?}");
    assert_eq!(h.key_count().await, 2);
    h.stop().await;
}

/// Fault injection, dropped watches and expired watch history: the double only.
#[tokio::test]
async fn api_errors_and_dropped_watches_converge() {
    let h = Harness::start(Backend::Double).await;
    let r = h.recipients();
    h.double().inject(Fault::new("POST", "/secrets", 500, 2));
    h.create(&seal(
        &plain("apps", "flaky", &[("k", "v")]),
        &r,
        &SealOptions::default(),
    ))
    .await;
    wait_for("created despite 500s", async || {
        h.secret("apps", "flaky").await
    })
    .await;
    h.double()
        .inject(Fault::new("PUT", "/namespaces/apps/secrets/flaky", 409, 2));
    let api = secrets(&h, "apps");
    api.patch(
        "flaky",
        &PatchParams::default(),
        &Patch::Merge(&json!({"data": {"k": "eA=="}})),
    )
    .await
    .expect("edit");
    wait_for("restored despite 409s", async || {
        h.secret("apps", "flaky")
            .await
            .filter(|s| data_of(s)["k"] == "v")
    })
    .await;
    h.double().drop_watches();
    h.create(&seal(
        &plain("apps", "after-drop", &[("k", "v")]),
        &r,
        &SealOptions::default(),
    ))
    .await;
    wait_for("seen after dropped watches", async || {
        h.secret("apps", "after-drop").await
    })
    .await;
    h.double().expire_history();
    h.create(&seal(
        &plain("apps", "after-expiry", &[("k", "v")]),
        &r,
        &SealOptions::default(),
    ))
    .await;
    wait_for("seen after a relist", async || {
        h.secret("apps", "after-expiry").await
    })
    .await;
    h.stop().await;
}

/// On the double every write it stores counts; on the real server, every write the
/// controllers sent (their clients' log).
async fn a_steady_cluster_costs_no_writes(backend: Backend) {
    let mut settings = fast_settings("replica-a");
    settings.resync_every = Duration::from_millis(100);
    let h = Harness::start_with(backend, settings).await;
    let (apps, controller_ns) = (h.ns("apps"), h.controller_ns());
    let r = h.recipients();
    for i in 0..5 {
        h.create(&seal(
            &plain(&apps, &format!("s{i}"), &[("k", "v")]),
            &r,
            &SealOptions::default(),
        ))
        .await;
    }
    for i in 0..5 {
        h.wait_reason(&apps, &format!("s{i}"), "Unsealed").await;
    }
    // The last write that is not for a SealedSecret: the recipients ConfigMap, published
    // by the key manager on its own schedule. Once it names the active key, nothing is
    // left to write.
    let active = h.recipients().to_strings()[0].clone();
    wait_for("recipients published", async || {
        h.config_map(&controller_ns, "unseal-recipients")
            .await
            .filter(|cm| cm["data"]["active"] == active.as_str())
    })
    .await;
    let steady = || h.writes_besides(&["leases", "events"]);
    let before = steady();
    let reconciles_before = h.ctx().metrics.render();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(steady(), before, "writes happened in a steady state");
    assert_ne!(
        h.ctx().metrics.render(),
        reconciles_before,
        "re-syncs did run"
    );
    h.stop().await;
}

async fn cluster_scoped_values_open_in_any_namespace(backend: Backend) {
    let h = Harness::start(backend).await;
    let (apps, team_b) = (h.ns("apps"), h.ns("team-b"));
    let options = SealOptions {
        scope: Scope::Cluster,
        ..Default::default()
    };
    let mut sealed = seal(
        &plain(&apps, "regcred", &[(".dockerconfigjson", "{}")]),
        &h.recipients(),
        &options,
    );
    sealed.metadata.namespace = Some(team_b.clone());
    h.create(&sealed).await;
    wait_for("secret in team-b", async || {
        h.secret(&team_b, "regcred").await
    })
    .await;
    h.stop().await;
}

async fn a_backup_recipient_gets_a_fresh_encrypted_backup_after_each_new_key(backend: Backend) {
    let offline = age::x25519::Identity::generate();
    let mut to = seal_core::Recipients::new();
    to.insert(offline.to_public());
    let mut settings = fast_settings("replica-a");
    settings.backup_to = Some(to);
    let h = Harness::start_with(backend, settings).await;
    let controller_ns = h.controller_ns();
    let backup = async |h: &Harness| h.secret(&controller_ns, "unseal-keys-backup").await;
    let covered = async |h: &Harness| {
        use base64::Engine as _;
        let secret = backup(h).await?;
        let mut ring = seal_core::KeyRing::new();
        ring.insert(offline.clone());
        let mut names = Vec::new();
        for entry in secret["data"].as_object()?.values() {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(entry.as_str()?)
                .ok()?;
            let keys = unseal::keys::backup::read_import(&bytes, Some(&ring)).ok()?;
            names.extend(keys.into_iter().filter_map(|k| k.name));
        }
        Some(names.len())
    };
    wait_for("first backup", async || {
        covered(&h).await.filter(|n| *n == 1)
    })
    .await;
    let keys: Api<Secret> = Api::namespaced(h.client.clone(), &controller_ns);
    unseal::keys::secrets::create_next(&keys, &controller_ns)
        .await
        .expect("rotated");
    wait_for("backup covers both keys", async || {
        covered(&h).await.filter(|n| *n == 2)
    })
    .await;
    let text = backup(&h).await.expect("backup").to_string();
    assert!(
        !text.contains("AGE-SECRET-KEY-1"),
        "plaintext identity in the backup Secret"
    );
    h.stop().await;
}
