//! Controller correctness (issue 12) on the API-server double, where faults can be
//! injected and every request is logged: ownership by uid, Owned→Merge release, atomic
//! re-creation, deletion in progress, write wars, size limits and backoff state. The
//! scenarios that depend on the real API server's garbage collector and validation run
//! on the real control plane as well.

use std::time::{Duration, Instant};

use crate::support::*;
use apiserver_double::{Fault, ResourceKind};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use seal_core::convert::SealOptions;
use seal_core::{Mode, SealedSecret};
use serde_json::json;

fn secrets(h: &Harness, ns: &str) -> Api<Secret> {
    Api::namespaced(h.client.clone(), ns)
}

fn sealed_api(h: &Harness, ns: &str) -> Api<SealedSecret> {
    Api::namespaced(h.client.clone(), ns)
}

fn requests_matching(h: &Harness, method: &str, path_end: &str) -> usize {
    h.double
        .requests()
        .iter()
        .filter(|(m, p)| m == method && p.split('?').next().is_some_and(|p| p.ends_with(path_end)))
        .count()
}

/// Waits until the SealedSecret's status describes its current generation.
async fn wait_observed(h: &Harness, ns: &str, name: &str) {
    wait_for(&format!("{ns}/{name} observed"), || {
        let obj = h.sealed(ns, name)?;
        let generation = obj["metadata"]["generation"].as_i64()?;
        (obj["status"]["observedGeneration"].as_i64() == Some(generation)).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_owned_to_merge_releases_the_secret_so_deleting_the_sealed_secret_keeps_it() {
    let h = Harness::start().await;
    h.create(&seal(
        &plain(
            "argocd",
            "argocd-secret",
            &[("webhook.github.secret", "w1")],
        ),
        &h.recipients(),
        &SealOptions::default(),
    ))
    .await;
    h.wait_reason("argocd", "argocd-secret", "Unsealed").await;
    // Its owner opts in to the webhook key, and the SealedSecret switches to Merge.
    let api = secrets(&h, "argocd");
    let opt_in =
        json!({"metadata": {"annotations": {"seal.dev/merge-keys": "webhook.github.secret"}}});
    api.patch(
        "argocd-secret",
        &PatchParams::default(),
        &Patch::Merge(&opt_in),
    )
    .await
    .expect("patched");
    let sealed = sealed_api(&h, "argocd");
    let mut current = sealed.get("argocd-secret").await.expect("read");
    let merged = seal(
        &plain(
            "argocd",
            "argocd-secret",
            &[("webhook.github.secret", "w2")],
        ),
        &h.recipients(),
        &SealOptions {
            mode: Mode::Merge,
            ..Default::default()
        },
    );
    current.spec = merged.spec;
    sealed
        .replace("argocd-secret", &PostParams::default(), &current)
        .await
        .expect("switched to Merge");
    let released = wait_for("released and merged", || {
        h.secret("argocd", "argocd-secret").filter(|s| {
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
    wait_for("SealedSecret gone", || {
        h.sealed("argocd", "argocd-secret").is_none().then_some(())
    })
    .await;
    let kept = h
        .secret("argocd", "argocd-secret")
        .expect("the target survives its SealedSecret");
    assert_eq!(data_of(&kept)["server.secretkey"], "keep");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_left_by_an_earlier_sealed_secret_is_taken_over_by_uid() {
    let h = Harness::start().await;
    let left: Secret = serde_json::from_value(json!({
        "metadata": {"name": "db", "labels": {"seal.dev/managed-by": "unseal"},
            "ownerReferences": [{"apiVersion": "seal.dev/v1alpha1", "kind": "SealedSecret",
                "name": "db", "uid": "uid-of-a-deleted-one", "controller": true}]},
        "data": {"password": "b2xk"}
    }))
    .expect("secret");
    secrets(&h, "apps")
        .create(&PostParams::default(), &left)
        .await
        .expect("created");
    let created = h
        .create(&seal(
            &plain("apps", "db", &[("password", "new")]),
            &h.recipients(),
            &SealOptions::default(),
        ))
        .await;
    let uid = created.uid().expect("uid");
    let taken = wait_for("taken over", || {
        h.secret("apps", "db")
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adoption_never_takes_a_secret_from_another_controller_and_names_replaced_keys() {
    let h = Harness::start().await;
    let api = secrets(&h, "apps");
    let controlled: Secret = serde_json::from_value(json!({
        "metadata": {"name": "theirs", "annotations": {"seal.dev/adopt": "true"},
            "ownerReferences": [{"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
                "name": "theirs", "uid": "e1", "controller": true}]},
        "data": {"password": "bWluZQ=="}
    }))
    .expect("secret");
    api.create(&PostParams::default(), &controlled)
        .await
        .expect("created");
    let before = h.secret("apps", "theirs").expect("stored");
    h.create(&seal(
        &plain("apps", "theirs", &[("password", "ours")]),
        &h.recipients(),
        &SealOptions::default(),
    ))
    .await;
    h.wait_reason("apps", "theirs", "SecretNotOwned").await;
    let message = h.sealed("apps", "theirs").expect("stored")["status"]["conditions"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(message.contains("ExternalSecret theirs"), "{message}");
    assert_eq!(h.secret("apps", "theirs"), Some(before));

    let free: Secret = serde_json::from_value(json!({
        "metadata": {"name": "free", "annotations": {"seal.dev/adopt": "true"}},
        "data": {"password": "bWluZQ==", "extra": "eA=="}
    }))
    .expect("secret");
    api.create(&PostParams::default(), &free)
        .await
        .expect("created");
    h.create(&seal(
        &plain("apps", "free", &[("password", "ours")]),
        &h.recipients(),
        &SealOptions::default(),
    ))
    .await;
    let note = wait_for("adoption event", || {
        h.double
            .with_store(|s| {
                s.list(
                    &ResourceKind::new("events.k8s.io", "v1", "events"),
                    Some("apps"),
                    &apiserver_double_selector(""),
                    &apiserver_double_selector(""),
                )
            })
            .iter()
            .find_map(|e| {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_type_change_the_api_server_refuses_leaves_the_old_secret_in_place() {
    let h = Harness::start().await;
    h.create(&seal(
        &plain("apps", "db", &[("password", "p")]),
        &h.recipients(),
        &SealOptions::default(),
    ))
    .await;
    h.wait_reason("apps", "db", "Unsealed").await;
    let before = h.secret("apps", "db").expect("stored");
    // Every create of a Secret is refused from now on: the dry run must catch it before
    // the old Secret is deleted.
    h.double
        .inject(Fault::new("POST", "/namespaces/apps/secrets", 422, 1000));
    let sealed = sealed_api(&h, "apps");
    let mut current = sealed.get("db").await.expect("read");
    current.spec.template.type_ = Some("example.com/other".to_owned());
    sealed
        .replace("db", &PostParams::default(), &current)
        .await
        .expect("type changed");
    wait_observed(&h, "apps", "db").await;
    assert_eq!(
        h.condition("apps", "db").map(|c| c.1),
        Some("CannotRecreate".to_owned())
    );
    assert_eq!(
        h.secret("apps", "db"),
        Some(before),
        "the old Secret is intact"
    );
    assert_eq!(requests_matching(&h, "DELETE", "/secrets/db"), 0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_secret_being_deleted_is_not_written() {
    let h = Harness::start().await;
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
    h.double.with_store(|s| {
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
    let reads = requests_matching(&h, "GET", "/sealedsecrets/dying");
    // GC deletes the Secret; the owns-watch wakes the controller.
    secrets(&h, "apps")
        .delete("dying", &DeleteParams::default())
        .await
        .expect("collected");
    wait_for("the controller looked again", || {
        (requests_matching(&h, "GET", "/sealedsecrets/dying") > reads).then_some(())
    })
    .await;
    let window = Instant::now() + Duration::from_secs(1);
    while Instant::now() < window {
        assert!(
            h.secret("apps", "dying").is_none(),
            "re-created for a dying owner"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        h.sealed("apps", "dying").is_some(),
        "still held by its finalizer"
    );
    drop(created);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_write_war_stops_with_a_conflict() {
    let mut settings = fast_settings("replica-a");
    settings.write_war_rounds = 3;
    let h = Harness::start_with(settings).await;
    let api = secrets(&h, "argocd");
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
            "argocd",
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
    h.wait_reason("argocd", "argocd-secret", "Unsealed").await;
    let theirs = json!({"data": {"webhook.github.secret": "dGhlaXJz"}});
    let value = |h: &Harness| {
        h.secret("argocd", "argocd-secret")
            .map(|s| data_of(&s)["webhook.github.secret"].clone())
    };
    // Three rounds: each time the other side writes, the controller puts its value back.
    for round in 0..3 {
        api.patch(
            "argocd-secret",
            &PatchParams::default(),
            &Patch::Merge(&theirs),
        )
        .await
        .expect("their write");
        wait_for(&format!("round {round} restored"), || {
            (value(&h).as_deref() == Some("ours")).then_some(())
        })
        .await;
    }
    // The fourth time it stops, says why, and leaves their value.
    api.patch(
        "argocd-secret",
        &PatchParams::default(),
        &Patch::Merge(&theirs),
    )
    .await
    .expect("their write");
    h.wait_reason("argocd", "argocd-secret", "Conflict").await;
    assert_eq!(value(&h).as_deref(), Some("theirs"));
    let message =
        h.sealed("argocd", "argocd-secret").expect("stored")["status"]["conditions"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
    assert!(
        message.contains("webhook.github.secret") && message.contains("another writer"),
        "{message}"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_that_would_pass_the_size_limit_writes_nothing() {
    use base64::Engine as _;
    let h = Harness::start().await;
    let api = secrets(&h, "apps");
    let big = base64::engine::general_purpose::STANDARD.encode(vec![b'x'; 1024 * 1024 - 100]);
    let target: Secret = serde_json::from_value(json!({
        "metadata": {"name": "big", "annotations": {"seal.dev/merge-keys": "*"}},
        "data": {"blob": big}
    }))
    .expect("secret");
    api.create(&PostParams::default(), &target)
        .await
        .expect("created");
    let before = h.secret("apps", "big").expect("stored");
    h.create(&seal(
        &plain("apps", "big", &[("more", &"y".repeat(200))]),
        &h.recipients(),
        &SealOptions {
            mode: Mode::Merge,
            ..Default::default()
        },
    ))
    .await;
    h.wait_reason("apps", "big", "TooLarge").await;
    assert_eq!(h.secret("apps", "big"), Some(before));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backoff_state_goes_with_the_object() {
    let h = Harness::start().await;
    let api = secrets(&h, "apps");
    let theirs: Secret = serde_json::from_value(json!({
        "metadata": {"name": "taken"}, "data": {"k": "eA=="}
    }))
    .expect("secret");
    api.create(&PostParams::default(), &theirs)
        .await
        .expect("created");
    h.create(&seal(
        &plain("apps", "taken", &[("k", "v")]),
        &h.recipients(),
        &SealOptions::default(),
    ))
    .await;
    h.wait_reason("apps", "taken", "SecretNotOwned").await;
    wait_for("backoff state kept", || {
        (h.ctx().failing() == 1).then_some(())
    })
    .await;
    sealed_api(&h, "apps")
        .delete("taken", &DeleteParams::default())
        .await
        .expect("deleted");
    // The pending retry finds it gone and forgets it.
    wait_for("backoff state forgotten", || {
        (h.ctx().failing() == 0).then_some(())
    })
    .await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_key_is_reported_stays_in_the_backup_and_its_name_is_never_reused() {
    use base64::Engine as _;
    let offline = age::x25519::Identity::generate();
    let mut to = seal_core::Recipients::new();
    to.insert(offline.to_public());
    let mut settings = fast_settings("replica-a");
    settings.backup_to = Some(to);
    let h = Harness::start_with(settings).await;
    let keys = secrets(&h, CONTROLLER_NS);
    unseal::keys::secrets::create_next(&keys, CONTROLLER_NS)
        .await
        .expect("rotated");
    let entries = |h: &Harness| -> Vec<String> {
        h.secret(CONTROLLER_NS, "unseal-keys-backup")
            .and_then(|s| s["data"].as_object().map(|m| m.keys().cloned().collect()))
            .unwrap_or_default()
    };
    wait_for("both keys backed up", || {
        (entries(&h) == ["seal-key-0001.age", "seal-key-0002.age"]).then_some(())
    })
    .await;
    // The newest key Secret is deleted by mistake.
    keys.delete("seal-key-0002", &DeleteParams::default())
        .await
        .expect("deleted");
    wait_for("the loss is reported", || {
        (h.ctx().keys.missing() == ["seal-key-0002"]).then_some(())
    })
    .await;
    assert_eq!(
        entries(&h),
        ["seal-key-0001.age", "seal-key-0002.age"],
        "the backup keeps the lost key"
    );
    let entry = h
        .secret(CONTROLLER_NS, "unseal-keys-backup")
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
    wait_for("a KeyMissing warning", || {
        h.double
            .with_store(|s| {
                s.list(
                    &ResourceKind::new("events.k8s.io", "v1", "events"),
                    Some(CONTROLLER_NS),
                    &apiserver_double_selector(""),
                    &apiserver_double_selector(""),
                )
            })
            .iter()
            .any(|e| e["reason"] == "KeyMissing")
            .then_some(())
    })
    .await;
    let (_, metrics) = http(&h.controllers[0].http, "GET", "/metrics", b"").await;
    assert!(metrics.contains("unseal_missing_keys 1"), "{metrics}");
    let next = unseal::keys::secrets::create_next(&keys, CONTROLLER_NS)
        .await
        .expect("rotated");
    assert_eq!(
        next,
        unseal::keys::secrets::Created::Made("seal-key-0003".to_owned()),
        "a lost key's name is not reused"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_type_is_opaque_and_never_loops() {
    let h = Harness::start().await;
    let mut typed = plain("apps", "db", &[("k", "v")]);
    typed.type_ = Some(String::new());
    h.create(&seal(&typed, &h.recipients(), &SealOptions::default()))
        .await;
    h.wait_reason("apps", "db", "Unsealed").await;
    // An edit makes the controller compare again: it restores the value, in place.
    secrets(&h, "apps")
        .patch(
            "db",
            &PatchParams::default(),
            &Patch::Merge(&json!({"data": {"k": "eA=="}})),
        )
        .await
        .expect("edited");
    wait_for("restored", || {
        h.secret("apps", "db").filter(|s| data_of(s)["k"] == "v")
    })
    .await;
    assert_eq!(
        requests_matching(&h, "DELETE", "/secrets/db"),
        0,
        "no re-creation"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owned_secret_someone_keeps_rewriting_stops_with_a_conflict() {
    let mut settings = fast_settings("replica-a");
    settings.write_war_rounds = 3;
    let h = Harness::start_with(settings).await;
    h.create(&seal(
        &plain("apps", "db", &[("k", "ours")]),
        &h.recipients(),
        &SealOptions::default(),
    ))
    .await;
    h.wait_reason("apps", "db", "Unsealed").await;
    let api = secrets(&h, "apps");
    let theirs = json!({"data": {"k": "dGhlaXJz"}});
    for round in 0..3 {
        api.patch("db", &PatchParams::default(), &Patch::Merge(&theirs))
            .await
            .expect("their write");
        wait_for(&format!("round {round} restored"), || {
            h.secret("apps", "db").filter(|s| data_of(s)["k"] == "ours")
        })
        .await;
    }
    api.patch("db", &PatchParams::default(), &Patch::Merge(&theirs))
        .await
        .expect("their write");
    h.wait_reason("apps", "db", "Conflict").await;
    assert_eq!(
        h.secret("apps", "db")
            .map(|s| data_of(&s)["k"].clone())
            .as_deref(),
        Some("theirs")
    );
    h.stop().await;
}
