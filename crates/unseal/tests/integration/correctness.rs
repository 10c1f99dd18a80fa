//! Controller correctness (issue 12): ownership by uid, Owned→Merge release, atomic
//! re-creation, deletion in progress, write wars, size limits and backoff state. Each
//! scenario runs on the API-server double and on the real control plane; those that
//! need the double's fault injection or store run on it only, and what only the real API
//! server can show (foreground deletion by its garbage collector, its validation of a
//! new Secret, server-side apply's field managers, its limits on names and Event notes,
//! RBAC) runs on the real control plane only.

use std::time::{Duration, Instant};

use crate::support::*;
use apiserver_double::{Fault, ResourceKind};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;
use kube::{Api, ResourceExt};
use seal_core::convert::SealOptions;
use seal_core::{Mode, SealedSecret};
use serde_json::{Value, json};

scenarios! {
    both: [
        switching_owned_to_merge_releases_the_secret_so_deleting_the_sealed_secret_keeps_it,
        a_secret_left_by_an_earlier_sealed_secret_is_taken_over_by_uid,
        adoption_never_takes_a_secret_from_another_controller_and_names_replaced_keys,
        a_merge_write_war_stops_with_a_conflict,
        a_merge_that_would_pass_the_size_limit_writes_nothing,
        backoff_state_goes_with_the_object,
        a_lost_key_is_reported_stays_in_the_backup_and_its_name_is_never_reused,
        an_empty_type_is_opaque_and_never_loops,
        an_owned_secret_someone_keeps_rewriting_stops_with_a_conflict,
    ],
    real: [
        foreground_deletion_is_not_undone_by_the_controller,
        a_type_change_the_real_api_server_refuses_leaves_the_old_secret_in_place,
        a_forced_server_side_apply_war_names_the_other_field_manager,
        a_name_of_253_characters_and_a_long_failure_still_get_their_events,
        the_controller_identity_gets_only_what_rbac_yaml_grants,
    ],
}

fn secrets(h: &Harness, ns: &str) -> Api<Secret> {
    Api::namespaced(h.client.clone(), ns)
}

fn sealed_api(h: &Harness, ns: &str) -> Api<SealedSecret> {
    Api::namespaced(h.client.clone(), ns)
}

fn requests_matching(h: &Harness, method: &str, path_end: &str) -> usize {
    h.double()
        .requests()
        .iter()
        .filter(|(m, p)| m == method && p.split('?').next().is_some_and(|p| p.ends_with(path_end)))
        .count()
}

/// The controllers' requests (their own log on the real server) with this method whose
/// path ends in `path_end`, sent at or after `since`.
fn sent_since(h: &Harness, method: &str, path_end: &str, since: Instant) -> Vec<Request> {
    h.log()
        .into_iter()
        .filter(|r| {
            r.at >= since
                && r.method == method
                && r.path
                    .split('?')
                    .next()
                    .is_some_and(|p| p.ends_with(path_end))
        })
        .collect()
}

async fn switching_owned_to_merge_releases_the_secret_so_deleting_the_sealed_secret_keeps_it(
    backend: Backend,
) {
    let h = Harness::start(backend).await;
    let argocd = h.ns("argocd");
    h.create(&seal(
        &plain(&argocd, "argocd-secret", &[("webhook.github.secret", "w1")]),
        &h.recipients(),
        &SealOptions::default(),
    ))
    .await;
    h.wait_reason(&argocd, "argocd-secret", "Unsealed").await;
    // Its owner opts in to the webhook key, and the SealedSecret switches to Merge.
    let api = secrets(&h, &argocd);
    let opt_in =
        json!({"metadata": {"annotations": {"seal.dev/merge-keys": "webhook.github.secret"}}});
    api.patch(
        "argocd-secret",
        &PatchParams::default(),
        &Patch::Merge(&opt_in),
    )
    .await
    .expect("patched");
    let sealed = sealed_api(&h, &argocd);
    let merged = seal(
        &plain(&argocd, "argocd-secret", &[("webhook.github.secret", "w2")]),
        &h.recipients(),
        &SealOptions {
            mode: Mode::Merge,
            ..Default::default()
        },
    );
    // The opt-in changed the Secret, so the controller records its new version on the
    // SealedSecret meanwhile: read, change and write again on a conflict, as any client.
    wait_for("switched to Merge", async || {
        let mut current = sealed.get("argocd-secret").await.expect("read");
        current.spec = merged.spec.clone();
        match sealed
            .replace("argocd-secret", &PostParams::default(), &current)
            .await
        {
            Ok(_) => Some(()),
            Err(kube::Error::Api(s)) if s.code == 409 => None,
            Err(e) => panic!("switching to Merge: {e}"),
        }
    })
    .await;
    let released = wait_for("released and merged", async || {
        h.secret(&argocd, "argocd-secret").await.filter(|s| {
            s["metadata"]["ownerReferences"].is_null()
                && data_of(s).get("webhook.github.secret").map(String::as_str) == Some("w2")
        })
    })
    .await;
    assert!(released["metadata"]["labels"]["seal.dev/managed-by"].is_null());
    assert_eq!(
        released["metadata"]["labels"]["seal.dev/merged-by"],
        "unseal"
    );
    // Argo CD's own keys land in it, and stay (Merge writes only its keys).
    let theirs = json!({"data": {"server.secretkey": "a2VlcA=="}});
    api.patch(
        "argocd-secret",
        &PatchParams::default(),
        &Patch::Merge(&theirs),
    )
    .await
    .expect("patched");
    sealed
        .delete("argocd-secret", &DeleteParams::default())
        .await
        .expect("deleted");
    wait_for("SealedSecret gone", async || {
        h.sealed(&argocd, "argocd-secret")
            .await
            .is_none()
            .then_some(())
    })
    .await;
    let kept = h
        .secret(&argocd, "argocd-secret")
        .await
        .expect("the target survives its SealedSecret");
    assert_eq!(data_of(&kept)["server.secretkey"], "keep");
    assert!(
        kept["metadata"]["ownerReferences"].is_null(),
        "nothing left for a garbage collector to act on"
    );
    h.stop().await;
}

/// On the real server the garbage collector may delete the left Secret first (its owner
/// is gone), and the controller then creates a new one: the end state is the same.
async fn a_secret_left_by_an_earlier_sealed_secret_is_taken_over_by_uid(backend: Backend) {
    let h = Harness::start(backend).await;
    let apps = h.ns("apps");
    let left: Secret = serde_json::from_value(json!({
        "metadata": {"name": "db", "labels": {"seal.dev/managed-by": "unseal"},
            "ownerReferences": [{"apiVersion": "seal.dev/v1alpha1", "kind": "SealedSecret",
                "name": "db", "uid": "uid-of-a-deleted-one", "controller": true}]},
        "data": {"password": "b2xk"}
    }))
    .expect("secret");
    secrets(&h, &apps)
        .create(&PostParams::default(), &left)
        .await
        .expect("created");
    let created = h
        .create(&seal(
            &plain(&apps, "db", &[("password", "new")]),
            &h.recipients(),
            &SealOptions::default(),
        ))
        .await;
    let uid = created.uid().expect("uid");
    let taken = wait_for("taken over", async || {
        h.secret(&apps, "db")
            .await
            .filter(|s| data_of(s)["password"] == "new")
    })
    .await;
    let refs = taken["metadata"]["ownerReferences"]
        .as_array()
        .expect("refs")
        .clone();
    assert_eq!(refs.len(), 1, "{refs:?}");
    assert_eq!(refs[0]["uid"], uid.as_str());
    h.stop().await;
}

/// The other controller is a ConfigMap that exists (the real garbage collector would
/// delete a Secret whose only owner does not).
async fn adoption_never_takes_a_secret_from_another_controller_and_names_replaced_keys(
    backend: Backend,
) {
    let h = Harness::start(backend).await;
    let apps = h.ns("apps");
    let api = secrets(&h, &apps);
    let other = other_owner(&h, &apps, "theirs-owner", true).await;
    let controlled: Secret = serde_json::from_value(json!({
        "metadata": {"name": "theirs", "annotations": {"seal.dev/adopt": "true"},
            "ownerReferences": [other]},
        "data": {"password": "bWluZQ=="}
    }))
    .expect("secret");
    api.create(&PostParams::default(), &controlled)
        .await
        .expect("created");
    let before = h.secret(&apps, "theirs").await.expect("stored");
    h.create(&seal(
        &plain(&apps, "theirs", &[("password", "ours")]),
        &h.recipients(),
        &SealOptions::default(),
    ))
    .await;
    h.wait_reason(&apps, "theirs", "SecretNotOwned").await;
    let message = h.message(&apps, "theirs").await;
    assert!(message.contains("ConfigMap theirs-owner"), "{message}");
    assert_eq!(h.secret(&apps, "theirs").await, Some(before));

    let free: Secret = serde_json::from_value(json!({
        "metadata": {"name": "free", "annotations": {"seal.dev/adopt": "true"}},
        "data": {"password": "bWluZQ==", "extra": "eA=="}
    }))
    .expect("secret");
    api.create(&PostParams::default(), &free)
        .await
        .expect("created");
    h.create(&seal(
        &plain(&apps, "free", &[("password", "ours")]),
        &h.recipients(),
        &SealOptions::default(),
    ))
    .await;
    let note = wait_for("adoption event", async || {
        h.events(&apps).await.iter().find_map(|e| {
            e["note"]
                .as_str()
                .filter(|n| n.contains("adopted"))
                .map(str::to_owned)
        })
    })
    .await;
    assert!(note.contains("extra, password"), "{note}");
    assert!(!note.contains("ours") && !note.contains("mine"), "{note}");
    h.stop().await;
}

/// Fault injection (every create refused): the double only. The real API server's own
/// refusal is [`a_type_change_the_real_api_server_refuses_leaves_the_old_secret_in_place`].
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_type_change_the_api_server_refuses_leaves_the_old_secret_in_place() {
    let h = Harness::start(Backend::Double).await;
    h.create(&seal(
        &plain("apps", "db", &[("password", "p")]),
        &h.recipients(),
        &SealOptions::default(),
    ))
    .await;
    h.wait_reason("apps", "db", "Unsealed").await;
    let before = h.secret("apps", "db").await.expect("stored");
    // Every create of a Secret is refused from now on: the dry run must catch it before
    // the old Secret is deleted.
    h.double()
        .inject(Fault::new("POST", "/namespaces/apps/secrets", 422, 1000));
    let sealed = sealed_api(&h, "apps");
    let mut current = sealed.get("db").await.expect("read");
    current.spec.template.type_ = Some("example.com/other".to_owned());
    sealed
        .replace("db", &PostParams::default(), &current)
        .await
        .expect("type changed");
    h.wait_observed("apps", "db").await;
    assert_eq!(
        h.condition("apps", "db").await.map(|c| c.1),
        Some("CannotRecreate".to_owned())
    );
    assert_eq!(
        h.secret("apps", "db").await,
        Some(before),
        "the old Secret is intact"
    );
    assert_eq!(requests_matching(&h, "DELETE", "/secrets/db"), 0);
    h.stop().await;
}

/// The double's store is changed by hand to what foreground deletion looks like: the
/// double only. The real garbage collector's foreground deletion is
/// [`foreground_deletion_is_not_undone_by_the_controller`].
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_secret_being_deleted_is_not_written() {
    let h = Harness::start(Backend::Double).await;
    let created = h
        .create(&seal(
            &plain("apps", "dying", &[("k", "v")]),
            &h.recipients(),
            &SealOptions::default(),
        ))
        .await;
    h.wait_reason("apps", "dying", "Unsealed").await;
    // What foreground deletion looks like: a finalizer holds the object, deletionTimestamp
    // is set and the generation bumped.
    let kind = ResourceKind::new("seal.dev", "v1alpha1", "sealedsecrets");
    h.double().with_store(|s| {
        let key = apiserver_double::ObjectKey {
            kind: kind.clone(),
            namespace: "apps".into(),
            name: "dying".into(),
        };
        let mut body = s.get(&key).expect("stored");
        body["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        body["metadata"]["finalizers"] = json!(["foregroundDeletion"]);
        body["spec"]["template"] = json!({"metadata": {"labels": {"bump": "1"}}});
        s.replace(&key, body, false).expect("marked");
    });
    // The new generation makes the controller look. Once it reads the object after the
    // change, every reconcile that read it before has finished (one at a time per
    // object), so none is left to act on the Secret's deletion with what it read then.
    let reads = requests_matching(&h, "GET", "/sealedsecrets/dying");
    wait_for("the controller looked at the dying owner", async || {
        (requests_matching(&h, "GET", "/sealedsecrets/dying") > reads).then_some(())
    })
    .await;
    let reads = requests_matching(&h, "GET", "/sealedsecrets/dying");
    // GC deletes the Secret; the owns-watch wakes the controller.
    secrets(&h, "apps")
        .delete("dying", &DeleteParams::default())
        .await
        .expect("collected");
    wait_for("the controller looked again", async || {
        (requests_matching(&h, "GET", "/sealedsecrets/dying") > reads).then_some(())
    })
    .await;
    let window = Instant::now() + Duration::from_secs(1);
    while Instant::now() < window {
        assert!(
            h.secret("apps", "dying").await.is_none(),
            "re-created for a dying owner"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        h.sealed("apps", "dying").await.is_some(),
        "still held by its finalizer"
    );
    drop(created);
    h.stop().await;
}

/// `argocd/argocd-secret`, opted in to `webhook.github.secret`, with that key merged in
/// from a SealedSecret (value "ours"): where the write-war scenarios start. Returns the
/// namespace and a Secret API for it.
async fn merged_webhook_secret(h: &Harness) -> (String, Api<Secret>) {
    let argocd = h.ns("argocd");
    let api = secrets(h, &argocd);
    let target: Secret = serde_json::from_value(json!({
        "metadata": {"name": "argocd-secret",
            "annotations": {"seal.dev/merge-keys": "webhook.github.secret"}},
        "data": {"server.secretkey": "a2VlcA=="}
    }))
    .expect("secret");
    api.create(&PostParams::default(), &target)
        .await
        .expect("created");
    h.create(&seal(
        &plain(
            &argocd,
            "argocd-secret",
            &[("webhook.github.secret", "ours")],
        ),
        &h.recipients(),
        &SealOptions {
            mode: Mode::Merge,
            ..Default::default()
        },
    ))
    .await;
    h.wait_reason(&argocd, "argocd-secret", "Unsealed").await;
    (argocd, api)
}

/// The other side's writes carry the field manager `hand-edit`: the real API server
/// records it in managedFields and the Conflict names it; the double keeps no
/// managedFields, so there it is "another writer".
async fn a_merge_write_war_stops_with_a_conflict(backend: Backend) {
    let mut settings = fast_settings("replica-a");
    settings.write_war_rounds = 3;
    let h = Harness::start_with(backend, settings).await;
    let (argocd, api) = merged_webhook_secret(&h).await;
    let theirs = json!({"data": {"webhook.github.secret": "dGhlaXJz"}});
    let by_hand = PatchParams {
        field_manager: Some("hand-edit".to_owned()),
        ..PatchParams::default()
    };
    let value = async |h: &Harness| {
        h.secret(&argocd, "argocd-secret")
            .await
            .map(|s| data_of(&s)["webhook.github.secret"].clone())
    };
    // Three rounds: each time the other side writes, the controller puts its value back.
    for round in 0..3 {
        api.patch("argocd-secret", &by_hand, &Patch::Merge(&theirs))
            .await
            .expect("their write");
        wait_for(&format!("round {round} restored"), async || {
            (value(&h).await.as_deref() == Some("ours")).then_some(())
        })
        .await;
    }
    // The fourth time it stops, says why, and leaves their value.
    api.patch("argocd-secret", &by_hand, &Patch::Merge(&theirs))
        .await
        .expect("their write");
    h.wait_reason(&argocd, "argocd-secret", "Conflict").await;
    assert_eq!(value(&h).await.as_deref(), Some("theirs"));
    let message = h.message(&argocd, "argocd-secret").await;
    let other = if h.is_real() {
        "field manager hand-edit"
    } else {
        "another writer"
    };
    assert!(
        message.contains("webhook.github.secret") && message.contains(other),
        "{message}"
    );
    h.stop().await;
}

async fn a_merge_that_would_pass_the_size_limit_writes_nothing(backend: Backend) {
    use base64::Engine as _;
    let h = Harness::start(backend).await;
    let apps = h.ns("apps");
    let api = secrets(&h, &apps);
    let big = base64::engine::general_purpose::STANDARD.encode(vec![b'x'; 1024 * 1024 - 100]);
    let target: Secret = serde_json::from_value(json!({
        "metadata": {"name": "big", "annotations": {"seal.dev/merge-keys": "*"}},
        "data": {"blob": big}
    }))
    .expect("secret");
    api.create(&PostParams::default(), &target)
        .await
        .expect("created");
    let before = h.secret(&apps, "big").await.expect("stored");
    h.create(&seal(
        &plain(&apps, "big", &[("more", &"y".repeat(200))]),
        &h.recipients(),
        &SealOptions {
            mode: Mode::Merge,
            ..Default::default()
        },
    ))
    .await;
    h.wait_reason(&apps, "big", "TooLarge").await;
    assert_eq!(h.secret(&apps, "big").await, Some(before));
    h.stop().await;
}

async fn backoff_state_goes_with_the_object(backend: Backend) {
    let h = Harness::start(backend).await;
    let apps = h.ns("apps");
    let api = secrets(&h, &apps);
    let theirs: Secret = serde_json::from_value(json!({
        "metadata": {"name": "taken"}, "data": {"k": "eA=="}
    }))
    .expect("secret");
    api.create(&PostParams::default(), &theirs)
        .await
        .expect("created");
    h.create(&seal(
        &plain(&apps, "taken", &[("k", "v")]),
        &h.recipients(),
        &SealOptions::default(),
    ))
    .await;
    h.wait_reason(&apps, "taken", "SecretNotOwned").await;
    wait_for("backoff state kept", async || {
        (h.ctx().failing() == 1).then_some(())
    })
    .await;
    sealed_api(&h, &apps)
        .delete("taken", &DeleteParams::default())
        .await
        .expect("deleted");
    // The pending retry finds it gone and forgets it.
    wait_for("backoff state forgotten", async || {
        (h.ctx().failing() == 0).then_some(())
    })
    .await;
    h.stop().await;
}

async fn a_lost_key_is_reported_stays_in_the_backup_and_its_name_is_never_reused(backend: Backend) {
    use base64::Engine as _;
    let offline = age::x25519::Identity::generate();
    let mut to = seal_core::Recipients::new();
    to.insert(offline.to_public());
    let mut settings = fast_settings("replica-a");
    settings.backup_to = Some(to);
    let h = Harness::start_with(backend, settings).await;
    let controller_ns = h.controller_ns();
    let keys = secrets(&h, &controller_ns);
    unseal::keys::secrets::create_next(&keys, &controller_ns)
        .await
        .expect("rotated");
    let entries = async |h: &Harness| -> Vec<String> {
        h.secret(&controller_ns, "unseal-keys-backup")
            .await
            .and_then(|s| s["data"].as_object().map(|m| m.keys().cloned().collect()))
            .unwrap_or_default()
    };
    wait_for("both keys backed up", async || {
        (entries(&h).await == ["seal-key-0001.age", "seal-key-0002.age"]).then_some(())
    })
    .await;
    // The newest key Secret is deleted by mistake.
    keys.delete("seal-key-0002", &DeleteParams::default())
        .await
        .expect("deleted");
    wait_for("the loss is reported", async || {
        (h.ctx().keys.missing() == ["seal-key-0002"]).then_some(())
    })
    .await;
    assert_eq!(
        entries(&h).await,
        ["seal-key-0001.age", "seal-key-0002.age"],
        "the backup keeps the lost key"
    );
    let entry = h
        .secret(&controller_ns, "unseal-keys-backup")
        .await
        .expect("backup")["data"]["seal-key-0002.age"]
        .as_str()
        .expect("entry")
        .to_owned();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(entry)
        .expect("base64");
    let mut ring = seal_core::KeyRing::new();
    ring.insert(offline);
    let restored = unseal::keys::backup::read_import(&bytes, Some(&ring)).expect("opens");
    assert_eq!(restored[0].name.as_deref(), Some("seal-key-0002"));
    wait_for("a KeyMissing warning", async || {
        (h.warnings(&controller_ns, "KeyMissing").await > 0).then_some(())
    })
    .await;
    let (_, metrics) = http(&h.controllers[0].http, "GET", "/metrics", b"").await;
    assert!(metrics.contains("unseal_missing_keys 1"), "{metrics}");
    let next = unseal::keys::secrets::create_next(&keys, &controller_ns)
        .await
        .expect("rotated");
    assert_eq!(
        next,
        unseal::keys::secrets::Created::Made("seal-key-0003".to_owned()),
        "a lost key's name is not reused"
    );
    h.stop().await;
}

/// No re-creation means the Secret keeps its uid.
async fn an_empty_type_is_opaque_and_never_loops(backend: Backend) {
    let h = Harness::start(backend).await;
    let apps = h.ns("apps");
    let mut typed = plain(&apps, "db", &[("k", "v")]);
    typed.type_ = Some(String::new());
    h.create(&seal(&typed, &h.recipients(), &SealOptions::default()))
        .await;
    h.wait_reason(&apps, "db", "Unsealed").await;
    let first = h.secret(&apps, "db").await.expect("written");
    // An edit makes the controller compare again: it restores the value, in place.
    secrets(&h, &apps)
        .patch(
            "db",
            &PatchParams::default(),
            &Patch::Merge(&json!({"data": {"k": "eA=="}})),
        )
        .await
        .expect("edited");
    let restored = wait_for("restored", async || {
        h.secret(&apps, "db")
            .await
            .filter(|s| data_of(s)["k"] == "v")
    })
    .await;
    assert_eq!(
        restored["metadata"]["uid"], first["metadata"]["uid"],
        "no re-creation"
    );
    assert_eq!(restored["type"], "Opaque");
    h.stop().await;
}

async fn an_owned_secret_someone_keeps_rewriting_stops_with_a_conflict(backend: Backend) {
    let mut settings = fast_settings("replica-a");
    settings.write_war_rounds = 3;
    let h = Harness::start_with(backend, settings).await;
    let apps = h.ns("apps");
    h.create(&seal(
        &plain(&apps, "db", &[("k", "ours")]),
        &h.recipients(),
        &SealOptions::default(),
    ))
    .await;
    h.wait_reason(&apps, "db", "Unsealed").await;
    let api = secrets(&h, &apps);
    let theirs = json!({"data": {"k": "dGhlaXJz"}});
    for round in 0..3 {
        api.patch("db", &PatchParams::default(), &Patch::Merge(&theirs))
            .await
            .expect("their write");
        wait_for(&format!("round {round} restored"), async || {
            h.secret(&apps, "db")
                .await
                .filter(|s| data_of(s)["k"] == "ours")
        })
        .await;
    }
    api.patch("db", &PatchParams::default(), &Patch::Merge(&theirs))
        .await
        .expect("their write");
    h.wait_reason(&apps, "db", "Conflict").await;
    assert_eq!(
        h.secret(&apps, "db")
            .await
            .map(|s| data_of(&s)["k"].clone())
            .as_deref(),
        Some("theirs")
    );
    h.stop().await;
}

// What only the real API server can show (issue 12).

/// Foreground deletion for real: the API server marks the SealedSecret (deletionTimestamp,
/// the `foregroundDeletion` finalizer), the garbage collector deletes its Secret, and
/// only then the SealedSecret. The controller, woken by the Secret's deletion, must not
/// create it again for the dying owner. A finalizer of the test's own holds the
/// SealedSecret after the collector is done, so that the controller's look at the
/// terminating owner happens for sure; then it is let go and must go away.
async fn foreground_deletion_is_not_undone_by_the_controller(backend: Backend) {
    let h = Harness::start(backend).await;
    let apps = h.ns("apps");
    let created = h
        .create(&seal(
            &plain(&apps, "dying", &[("k", "v")]),
            &h.recipients(),
            &SealOptions::default(),
        ))
        .await;
    let uid = created.uid().expect("uid");
    h.wait_reason(&apps, "dying", "Unsealed").await;
    let secret = h.secret(&apps, "dying").await.expect("written");
    assert_eq!(
        secret["metadata"]["ownerReferences"][0]["blockOwnerDeletion"], true,
        "foreground deletion waits for the Secret only when it blocks its owner"
    );
    let sealed = sealed_api(&h, &apps);
    // A new generation that changes nothing in the Secret (one more recipient): once it
    // is observed, the reconcile that observed it has finished, and so has every one
    // before it (one at a time per object), and nothing is left to wake the controller.
    // No reconcile that read the SealedSecret before its deletion began is still running
    // when the Secret is collected.
    let mut current = sealed.get("dying").await.expect("read");
    current
        .spec
        .recipients
        .push(age::x25519::Identity::generate().to_public().to_string());
    sealed
        .replace("dying", &PostParams::default(), &current)
        .await
        .expect("one more recipient");
    h.wait_observed(&apps, "dying").await;
    let hold = json!({"metadata": {"finalizers": ["seal.dev/test-hold"]}});
    sealed
        .patch("dying", &PatchParams::default(), &Patch::Merge(&hold))
        .await
        .expect("held");
    let deleting = Instant::now();
    sealed
        .delete("dying", &DeleteParams::foreground())
        .await
        .expect("deletion accepted");
    wait_within("the Secret collected", GC_WITHIN, async || {
        h.secret(&apps, "dying").await.is_none().then_some(())
    })
    .await;
    // The collector is done with it: only the test's finalizer holds it now.
    let terminating = wait_within("foregroundDeletion done", GC_WITHIN, async || {
        h.sealed(&apps, "dying").await.filter(|s| {
            s["metadata"]["finalizers"] == json!(["seal.dev/test-hold"])
                && s["metadata"]["deletionTimestamp"].is_string()
        })
    })
    .await;
    assert_eq!(terminating["metadata"]["uid"], uid.as_str());
    // A change of its spec makes the controller look at the terminating SealedSecret
    // (its Secret's deletion did too, but maybe before the collector was done).
    let poked = Instant::now();
    let bump = json!({"spec": {"template": {"metadata": {"labels": {"bump": "1"}}}}});
    sealed
        .patch("dying", &PatchParams::default(), &Patch::Merge(&bump))
        .await
        .expect("a terminating object's spec may change");
    wait_for("the controller looks at the dying owner", async || {
        let reads = sent_since(&h, "GET", "/sealedsecrets/dying", poked);
        reads.iter().any(Request::succeeded).then_some(())
    })
    .await;
    // A reconcile's write follows its read at once; a window is the only way to see
    // that none comes.
    let window = Instant::now() + Duration::from_secs(1);
    while Instant::now() < window {
        assert!(
            h.secret(&apps, "dying").await.is_none(),
            "re-created for a dying owner"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sealed
        .patch(
            "dying",
            &PatchParams::default(),
            &Patch::Merge(&json!({"metadata": {"finalizers": null}})),
        )
        .await
        .expect("let go");
    control_plane::wait_deleted(&sealed, "dying", &uid, GC_WITHIN).await;
    assert!(h.secret(&apps, "dying").await.is_none());
    let writes = sent_since(&h, "POST", "/secrets", deleting);
    assert!(
        writes.is_empty(),
        "the controller created Secrets after the deletion began: {writes:#?}"
    );
    h.stop().await;
}

/// The real API server's validation of a new Secret: `kubernetes.io/tls` needs `tls.crt`
/// and `tls.key` (`seal` refuses to seal such a Secret; the SealedSecret is edited by
/// hand past it). The server-side dry run of the new Secret is refused, so the old Secret
/// stays, untouched, and the reason is CannotRecreate.
async fn a_type_change_the_real_api_server_refuses_leaves_the_old_secret_in_place(
    backend: Backend,
) {
    let h = Harness::start(backend).await;
    let apps = h.ns("apps");
    h.create(&seal(
        &plain(&apps, "db", &[("password", "p")]),
        &h.recipients(),
        &SealOptions::default(),
    ))
    .await;
    h.wait_reason(&apps, "db", "Unsealed").await;
    let before = h.secret(&apps, "db").await.expect("stored");
    let changing = Instant::now();
    let sealed = sealed_api(&h, &apps);
    let mut current = sealed.get("db").await.expect("read");
    current.spec.template.type_ = Some("kubernetes.io/tls".to_owned());
    sealed
        .replace("db", &PostParams::default(), &current)
        .await
        .expect("type changed");
    h.wait_observed(&apps, "db").await;
    assert_eq!(
        h.condition(&apps, "db").await.map(|c| c.1),
        Some("CannotRecreate".to_owned())
    );
    let message = h.message(&apps, "db").await;
    assert!(
        message.contains("refuses the new Secret") && message.contains("tls.crt"),
        "{message}"
    );
    assert_eq!(
        h.secret(&apps, "db").await,
        Some(before),
        "the old Secret is intact"
    );
    let deletes = sent_since(&h, "DELETE", "/secrets/db", changing);
    assert!(deletes.is_empty(), "{deletes:#?}");
    h.stop().await;
}

/// A write war against a forced server-side apply (what Argo CD's self-heal sends): the
/// real API server moves ownership of the key to whoever wrote it last, and the Conflict
/// names `argocd-controller` from managedFields.
async fn a_forced_server_side_apply_war_names_the_other_field_manager(backend: Backend) {
    let mut settings = fast_settings("replica-a");
    settings.write_war_rounds = 3;
    let h = Harness::start_with(backend, settings).await;
    let (argocd, api) = merged_webhook_secret(&h).await;
    let theirs = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "argocd-secret", "namespace": argocd},
        "data": {"webhook.github.secret": "dGhlaXJz"},
    });
    let self_heal = PatchParams::apply("argocd-controller").force();
    let value = async |h: &Harness| {
        h.secret(&argocd, "argocd-secret")
            .await
            .map(|s| data_of(&s)["webhook.github.secret"].clone())
    };
    for round in 0..3 {
        api.patch("argocd-secret", &self_heal, &Patch::Apply(&theirs))
            .await
            .expect("their apply");
        wait_for(&format!("round {round} restored"), async || {
            (value(&h).await.as_deref() == Some("ours")).then_some(())
        })
        .await;
    }
    api.patch("argocd-secret", &self_heal, &Patch::Apply(&theirs))
        .await
        .expect("their apply");
    h.wait_reason(&argocd, "argocd-secret", "Conflict").await;
    assert_eq!(value(&h).await.as_deref(), Some("theirs"));
    let message = h.message(&argocd, "argocd-secret").await;
    assert!(
        message.contains("key webhook.github.secret")
            && message.contains("field manager argocd-controller"),
        "{message}"
    );
    let warning = wait_for("a Conflict warning", async || {
        h.events(&argocd)
            .await
            .into_iter()
            .find(|e| e["reason"] == "Conflict" && e["regarding"]["name"] == "argocd-secret")
    })
    .await;
    assert!(
        warning["note"]
            .as_str()
            .is_some_and(|n| n.contains("argocd-controller")),
        "{warning}"
    );
    h.stop().await;
}

/// Names and notes at the API server's limits: a SealedSecret (and so its Secret) named
/// with 253 characters, the longest name there is, gets its Events, whose names are
/// derived from it and must fit 253 characters too; and a failure whose message is
/// KiBs long (a Merge of many long keys the target did not opt in to) gets its Warning,
/// whose note the API server caps at 1 KiB.
async fn a_name_of_253_characters_and_a_long_failure_still_get_their_events(backend: Backend) {
    let h = Harness::start(backend).await;
    let apps = h.ns("apps");
    // Labels of at most 63 characters: `seal` refuses a longer one, though the API
    // server takes any DNS-1123 subdomain of up to 253 characters.
    let label = |n: usize| "n".repeat(n);
    let name = format!(
        "long{}.{}.{}.{}",
        label(59),
        label(63),
        label(63),
        label(61)
    );
    assert_eq!(name.len(), 253);
    let keys: Vec<String> = (0..12)
        .map(|i| format!("{i:02}-{}", "k".repeat(200)))
        .collect();
    let target: Secret = serde_json::from_value(json!({
        "metadata": {"name": name}, "data": {"other": "a2VlcA=="}
    }))
    .expect("secret");
    secrets(&h, &apps)
        .create(&PostParams::default(), &target)
        .await
        .expect("created");
    let pairs: Vec<(&str, &str)> = keys.iter().map(|k| (k.as_str(), "v")).collect();
    h.create(&seal(
        &plain(&apps, &name, &pairs),
        &h.recipients(),
        &SealOptions {
            mode: Mode::Merge,
            ..Default::default()
        },
    ))
    .await;
    h.wait_reason(&apps, &name, "MergeNotAllowed").await;
    let message = h.message(&apps, &name).await;
    assert!(message.len() > 2 * 1024, "{} bytes", message.len());
    let event_about = async |reason: &str| {
        wait_for(&format!("a {reason} Event about {name}"), async || {
            h.events(&apps)
                .await
                .into_iter()
                .find(|e| e["reason"] == reason && e["regarding"]["name"] == name.as_str())
        })
        .await
    };
    let warning = event_about("MergeNotAllowed").await;
    let note = warning["note"].as_str().expect("note");
    assert!(note.len() <= 1024, "{} bytes", note.len());
    assert!(note.ends_with('…'), "{note}");
    let event_name = warning["metadata"]["name"].as_str().expect("name");
    assert!(event_name.len() <= 253, "{event_name}");

    // The target opts in: the values are merged, and the Normal Event is accepted too.
    secrets(&h, &apps)
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"metadata": {"annotations": {"seal.dev/merge-keys": "*"}}})),
        )
        .await
        .expect("opted in");
    h.wait_reason(&apps, &name, "Unsealed").await;
    let merged = h.secret(&apps, &name).await.expect("merged");
    assert_eq!(data_of(&merged).len(), keys.len() + 1);
    let normal = event_about("Unsealed").await;
    assert_eq!(normal["type"], "Normal");
    h.stop().await;
}

/// One rule of deploy/rbac.yaml: API groups, resources and verbs (resource names
/// narrow a rule; these checks only use rules that name none).
struct Rule {
    groups: Vec<String>,
    resources: Vec<String>,
    verbs: Vec<String>,
}

/// The rules deploy/rbac.yaml gives the controller: the ClusterRole's anywhere, the
/// Role's in its own namespace only.
fn rbac_rules() -> (Vec<Rule>, Vec<Rule>) {
    let documents = control_plane::deploy_documents().expect("deploy/ reads");
    let rules = |kind: &str| -> Vec<Rule> {
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        documents
            .iter()
            .filter(|d| d["kind"] == kind && d["metadata"]["name"] == "unseal")
            .flat_map(|d| d["rules"].as_array().cloned().unwrap_or_default())
            .filter(|r| r["resourceNames"].is_null())
            .map(|r| Rule {
                groups: strings(&r["apiGroups"]),
                resources: strings(&r["resources"]),
                verbs: strings(&r["verbs"]),
            })
            .collect()
    };
    (rules("ClusterRole"), rules("Role"))
}

fn grants(rules: &[Rule], group: &str, resource: &str, verb: &str) -> bool {
    rules.iter().any(|r| {
        r.groups.iter().any(|g| g == group)
            && r.resources.iter().any(|x| x == resource)
            && r.verbs.iter().any(|v| v == verb)
    })
}

/// The API server's answer to a request: allowed (any answer but 403) or refused (403).
fn allowed<T: std::fmt::Debug>(result: &kube::Result<T>) -> bool {
    !matches!(result, Err(kube::Error::Api(status)) if status.code == 403)
}

/// Least privilege, enforced by the real API server: the identity every controller of
/// these tests runs as (this test's ServiceAccount, bound as deploy/rbac.yaml binds the
/// real one) is refused writing a ConfigMap or a Lease outside its namespace and deleting
/// a SealedSecret; and what it may do with Secrets, ConfigMaps and Leases, here and in
/// its own namespace, is exactly what deploy/rbac.yaml's rules say.
async fn the_controller_identity_gets_only_what_rbac_yaml_grants(backend: Backend) {
    let h = Harness::start(backend).await;
    let (apps, controller_ns) = (h.ns("apps"), h.controller_ns());
    let controller = h.controller_client().await;
    h.create(&seal(
        &plain(&apps, "db", &[("k", "v")]),
        &h.recipients(),
        &SealOptions::default(),
    ))
    .await;
    h.wait_reason(&apps, "db", "Unsealed").await;
    let config_map: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "planted"}, "data": {"k": "v"}}))
            .expect("config map");
    let lease: Lease = serde_json::from_value(json!({
        "metadata": {"name": "planted"}, "spec": {"holderIdentity": "x"}
    }))
    .expect("lease");

    // What the brief of least privilege names: refused outright.
    let refused = [
        (
            "create a ConfigMap outside its namespace",
            allowed(
                &Api::<ConfigMap>::namespaced(controller.clone(), &apps)
                    .create(&PostParams::default(), &config_map)
                    .await,
            ),
        ),
        (
            "create a Lease outside its namespace",
            allowed(
                &Api::<Lease>::namespaced(controller.clone(), &apps)
                    .create(&PostParams::default(), &lease)
                    .await,
            ),
        ),
        (
            "delete a SealedSecret",
            allowed(
                &Api::<SealedSecret>::namespaced(controller.clone(), &apps)
                    .delete("db", &DeleteParams::default())
                    .await,
            ),
        ),
        (
            "patch a Secret",
            allowed(
                &Api::<Secret>::namespaced(controller.clone(), &apps)
                    .patch(
                        "db",
                        &PatchParams::default(),
                        &Patch::Merge(&json!({"metadata": {"labels": {"x": "y"}}})),
                    )
                    .await,
            ),
        ),
    ];
    for (what, was_allowed) in refused {
        assert!(!was_allowed, "the controller may {what}");
    }
    assert!(h.sealed(&apps, "db").await.is_some());

    // Reads and writes as deploy/rbac.yaml's rules say, in a watched namespace and in
    // its own.
    let (cluster_rules, own_rules) = rbac_rules();
    let mut differences = Vec::new();
    for ns in [&apps, &controller_ns] {
        let may = |group: &str, resource: &str, verb: &str| {
            grants(&cluster_rules, group, resource, verb)
                || (ns == &controller_ns && grants(&own_rules, group, resource, verb))
        };
        let secrets_api = Api::<Secret>::namespaced(controller.clone(), ns);
        let maps = Api::<ConfigMap>::namespaced(controller.clone(), ns);
        let leases = Api::<Lease>::namespaced(controller.clone(), ns);
        let checks = [
            (
                "get Secret",
                may("", "secrets", "get"),
                allowed(&secrets_api.get_opt("db").await),
            ),
            (
                "list Secrets",
                may("", "secrets", "list"),
                allowed(&secrets_api.list(&ListParams::default()).await),
            ),
            (
                "get ConfigMap",
                may("", "configmaps", "get"),
                allowed(&maps.get_opt("unseal-recipients").await),
            ),
            (
                "list ConfigMaps",
                may("", "configmaps", "list"),
                allowed(&maps.list(&ListParams::default()).await),
            ),
            (
                "delete ConfigMap",
                may("", "configmaps", "delete"),
                allowed(
                    &maps
                        .delete("unseal-recipients", &DeleteParams::default())
                        .await,
                ),
            ),
            (
                "get Lease",
                may("coordination.k8s.io", "leases", "get"),
                allowed(&leases.get_opt("unseal-leader").await),
            ),
            (
                "list Leases",
                may("coordination.k8s.io", "leases", "list"),
                allowed(&leases.list(&ListParams::default()).await),
            ),
            (
                "delete Lease",
                may("coordination.k8s.io", "leases", "delete"),
                allowed(
                    &leases
                        .delete("unseal-leader", &DeleteParams::default())
                        .await,
                ),
            ),
        ];
        for (what, expected, actual) in checks {
            if expected != actual {
                differences.push(format!(
                    "{what} in {ns}: rbac.yaml {} it, the API server {}",
                    if expected { "grants" } else { "does not grant" },
                    if actual { "allowed it" } else { "refused it" }
                ));
            }
        }
    }
    assert!(differences.is_empty(), "{differences:#?}");
    // The checks above cover both answers: some allowed, some refused.
    assert!(grants(&cluster_rules, "", "secrets", "get"));
    assert!(!grants(&cluster_rules, "", "configmaps", "list"));

    // SealedSecrets of all namespaces can be read (the cluster-wide rule).
    let all = Api::<DynamicObject>::all_with(controller.clone(), &sealed_secret_resource());
    assert!(allowed(&all.list(&ListParams::default()).await));
    h.stop().await;
}

fn sealed_secret_resource() -> ApiResource {
    let gvk = GroupVersionKind::gvk("seal.dev", "v1alpha1", "SealedSecret");
    ApiResource::from_gvk_with_plural(&gvk, "sealedsecrets")
}
