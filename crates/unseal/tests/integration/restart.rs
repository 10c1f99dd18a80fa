//! A restart and a key change cost only what changed (issue 16): a controller that starts
//! over objects it already synced reads no SealedSecret, opens no value and writes
//! nothing, yet heals a Secret edited or deleted while it was down, whatever the editor
//! did to the records; a new key re-tries only the SealedSecrets that failed for want of
//! one. Each runs on the double and on the real control plane; the requests counted are
//! the new controller's own, from the double's log or the real backend's client log.

use crate::support::*;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use seal_core::convert::SealOptions;
use serde_json::{Value, json};
use unseal::metrics::ResultLabel;
use unseal::sync_record::RECORD_ANNOTATION;

scenarios! {
    both: [
        a_restart_with_nothing_changed_reads_opens_and_writes_nothing,
        a_merge_target_in_sync_is_not_read_at_restart,
        secrets_edited_or_deleted_during_the_downtime_are_healed_at_start,
        a_copied_or_forged_record_does_not_stop_the_healing,
        a_new_key_re_tries_only_what_waited_for_a_key,
    ],
}

/// The identity of the controller started after the restart.
const AFTER: &str = "replica-after";

/// Creates `n` SealedSecrets `s0…` of two values each in `ns`, and waits until each is
/// synced and carries its sync record (the state a restart starts from).
async fn synced_objects(h: &Harness, ns: &str, n: usize) {
    let r = h.recipients();
    for i in 0..n {
        let name = format!("s{i}");
        let value = format!("value-{i}");
        h.create(&seal(
            &plain(ns, &name, &[("password", &value), ("user", "app")]),
            &r,
            &SealOptions::default(),
        ))
        .await;
    }
    for i in 0..n {
        let name = format!("s{i}");
        h.wait_reason(ns, &name, "Unsealed").await;
        wait_for(&format!("{ns}/{name} has its sync record"), async || {
            record_of(&h.sealed(ns, &name).await?).map(drop)
        })
        .await;
    }
}

fn record_of(sealed: &Value) -> Option<String> {
    sealed["metadata"]["annotations"][RECORD_ANNOTATION]
        .as_str()
        .map(str::to_owned)
}

/// Stops the running controller (as a rolling update does) and returns how many
/// requests the log held then.
async fn stop_controller(h: &mut Harness) -> usize {
    let running = h.controllers.remove(0);
    running.stop().await;
    h.log().len()
}

/// Starts the controller again, as [`AFTER`], and waits until it is ready.
async fn start_again(h: &mut Harness) {
    h.add_controller(fast_settings(AFTER)).await;
    h.wait_ready(0).await;
}

fn unchanged(h: &Harness) -> u64 {
    h.ctx()
        .metrics
        .reconciles
        .get_or_create(&ResultLabel {
            result: "unchanged",
        })
        .get()
}

fn opened(h: &Harness) -> u64 {
    h.ctx().metrics.opened.get()
}

/// The requests the new controller sent since `from`.
fn sent_after(h: &Harness, from: usize) -> Vec<Request> {
    h.log()
        .into_iter()
        .skip(from)
        .filter(|r| r.client == AFTER)
        .collect()
}

/// Whether a request reads one SealedSecret by name (not a list or a watch).
fn reads_one_sealed_secret(r: &Request) -> bool {
    let path = r.path.split('?').next().unwrap_or_default();
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    r.method == "GET" && parts.len() == 7 && parts[5] == "sealedsecrets"
}

async fn a_restart_with_nothing_changed_reads_opens_and_writes_nothing(backend: Backend) {
    const N: usize = 20;
    let mut h = Harness::start(backend).await;
    let apps = h.ns("apps");
    synced_objects(&h, &apps, N).await;
    let from = stop_controller(&mut h).await;
    start_again(&mut h).await;
    wait_for("every object found unchanged", async || {
        (unchanged(&h) >= N as u64).then_some(())
    })
    .await;
    assert_restart_cost_nothing(&h, from);
    h.stop().await;
}

/// The same with one Merge SealedSecret (its record stamps the target Secret, which
/// another owner shares): alone, so that the one object found unchanged is it.
async fn a_merge_target_in_sync_is_not_read_at_restart(backend: Backend) {
    let mut h = Harness::start(backend).await;
    let argocd = h.ns("argocd");
    let target: Secret = serde_json::from_value(json!({
        "metadata": {"name": "argocd-secret",
                     "annotations": {"seal.dev/merge-keys": "webhook.github.secret"}},
        "data": {"server.secretkey": "a2VlcA=="},
    }))
    .expect("secret");
    Api::<Secret>::namespaced(h.client.clone(), &argocd)
        .create(&PostParams::default(), &target)
        .await
        .expect("merge target");
    let merge = SealOptions {
        mode: seal_core::Mode::Merge,
        ..Default::default()
    };
    h.create(&seal(
        &plain(&argocd, "argocd-secret", &[("webhook.github.secret", "w")]),
        &h.recipients(),
        &merge,
    ))
    .await;
    h.wait_reason(&argocd, "argocd-secret", "Unsealed").await;
    let from = stop_controller(&mut h).await;
    start_again(&mut h).await;
    wait_for("the Merge SealedSecret found unchanged", async || {
        (unchanged(&h) >= 1).then_some(())
    })
    .await;
    assert_restart_cost_nothing(&h, from);
    h.stop().await;
}

/// The new controller read no SealedSecret, wrote nothing but its Lease, opened nothing.
fn assert_restart_cost_nothing(h: &Harness, from: usize) {
    let sent = sent_after(h, from);
    let reads: Vec<&Request> = sent.iter().filter(|r| reads_one_sealed_secret(r)).collect();
    assert!(reads.is_empty(), "SealedSecrets read: {reads:#?}");
    let writes: Vec<&Request> = sent
        .iter()
        .filter(|r| r.is_write() && !r.is_for("leases"))
        .collect();
    assert!(writes.is_empty(), "writes: {writes:#?}");
    assert_eq!(opened(h), 0, "values opened");
    // The requests counted are the new controller's: it did list and watch.
    assert!(sent.iter().any(|r| r.is_for("sealedsecrets")));
}

async fn secrets_edited_or_deleted_during_the_downtime_are_healed_at_start(backend: Backend) {
    let mut h = Harness::start(backend).await;
    let apps = h.ns("apps");
    synced_objects(&h, &apps, 3).await;
    stop_controller(&mut h).await;
    // While no controller runs: s0's value is changed (every label, annotation and owner
    // kept, as someone covering their tracks would), s1 is deleted; s2 is left alone.
    let secrets: Api<Secret> = Api::namespaced(h.client.clone(), &apps);
    let mut edited = secrets.get("s0").await.expect("s0");
    edited.data.get_or_insert_default().insert(
        "password".into(),
        k8s_openapi::ByteString(b"tampered".to_vec()),
    );
    secrets
        .replace("s0", &PostParams::default(), &edited)
        .await
        .expect("edited");
    secrets
        .delete("s1", &DeleteParams::default())
        .await
        .expect("deleted");
    wait_for("s1 gone", async || {
        h.secret(&apps, "s1").await.is_none().then_some(())
    })
    .await;
    start_again(&mut h).await;
    wait_for("s0 healed", async || {
        h.secret(&apps, "s0")
            .await
            .filter(|s| data_of(s)["password"] == "value-0")
    })
    .await;
    wait_for("s1 made again", async || {
        h.secret(&apps, "s1")
            .await
            .filter(|s| data_of(s)["password"] == "value-1")
    })
    .await;
    wait_for("s2 found unchanged", async || {
        (unchanged(&h) >= 1).then_some(())
    })
    .await;
    // Only the two that changed were opened (two values each), if at all more than once.
    assert_eq!(opened(&h) % 2, 0);
    assert!(opened(&h) >= 4, "{} values opened", opened(&h));
    let s2 = h.secret(&apps, "s2").await.expect("s2");
    assert_eq!(data_of(&s2)["password"], "value-2");
    h.stop().await;
}

/// The attacker may write Secrets and SealedSecrets in the namespace (not the sealing
/// keys). While the controller is down they change s0's value and give s0 the record of
/// s1 (valid, but for another object); they delete s2's Secret and make a look-alike
/// (same labels, same ownerReference, same annotations) holding their own value; and
/// they give s3 a record of their own making. Every one is healed at start.
async fn a_copied_or_forged_record_does_not_stop_the_healing(backend: Backend) {
    let mut h = Harness::start(backend).await;
    let apps = h.ns("apps");
    synced_objects(&h, &apps, 4).await;
    stop_controller(&mut h).await;
    let secrets: Api<Secret> = Api::namespaced(h.client.clone(), &apps);
    let sealed: Api<seal_core::SealedSecret> = Api::namespaced(h.client.clone(), &apps);
    let annotate = async |name: &str, record: &str| {
        sealed
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(&json!({"metadata": {"annotations": {RECORD_ANNOTATION: record}}})),
            )
            .await
            .expect("annotated");
    };
    let tamper = |mut s: Secret| {
        s.data
            .get_or_insert_default()
            .insert("password".into(), k8s_openapi::ByteString(b"evil".to_vec()));
        s
    };

    let s0 = secrets.get("s0").await.expect("s0");
    secrets
        .replace("s0", &PostParams::default(), &tamper(s0))
        .await
        .expect("s0 tampered");
    let s1_record = record_of(&h.sealed(&apps, "s1").await.expect("s1")).expect("record");
    annotate("s0", &s1_record).await;

    let s2 = secrets.get("s2").await.expect("s2");
    secrets
        .delete("s2", &DeleteParams::default())
        .await
        .expect("s2 deleted");
    wait_for("s2 gone", async || {
        h.secret(&apps, "s2").await.is_none().then_some(())
    })
    .await;
    let mut look_alike = tamper(s2);
    look_alike.metadata.uid = None;
    look_alike.metadata.resource_version = None;
    look_alike.metadata.creation_timestamp = None;
    look_alike.metadata.managed_fields = None;
    secrets
        .create(&PostParams::default(), &look_alike)
        .await
        .expect("look-alike made");

    let s3 = secrets.get("s3").await.expect("s3");
    secrets
        .replace("s3", &PostParams::default(), &tamper(s3))
        .await
        .expect("s3 tampered");
    annotate("s3", "v1.AAAAAAAAAAAAAAAAAAAAAA").await;

    start_again(&mut h).await;
    for (name, value) in [("s0", "value-0"), ("s2", "value-2"), ("s3", "value-3")] {
        wait_for(&format!("{name} healed"), async || {
            h.secret(&apps, name)
                .await
                .filter(|s| data_of(s)["password"] == value)
        })
        .await;
    }
    // s1 alone was left as it was, and its record still vouches for it.
    wait_for("s1 found unchanged", async || {
        (unchanged(&h) >= 1).then_some(())
    })
    .await;
    let s0_record = wait_for("s0's own record again", async || {
        record_of(&h.sealed(&apps, "s0").await?).filter(|r| *r != s1_record)
    })
    .await;
    assert_ne!(s0_record, s1_record);
    h.stop().await;
}

/// A SealedSecret sealed to a key the controller does not hold waits; importing that key
/// re-tries it alone: none of the synced SealedSecrets is read or opened again. A
/// rotation (a new active key) then re-tries nothing at all: a SealedSecret created
/// after it is unsealed, and still no synced one was read.
async fn a_new_key_re_tries_only_what_waited_for_a_key(backend: Backend) {
    const N: usize = 20;
    let mut h = Harness::start(backend).await;
    let (apps, controller_ns) = (h.ns("apps"), h.controller_ns());
    synced_objects(&h, &apps, N).await;
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
    // A restart first, so that no reconcile of the first sync is still pending: once
    // the new controller has found all N unchanged and byok waiting, nothing else would
    // read a SealedSecret for a re-sync period.
    stop_controller(&mut h).await;
    start_again(&mut h).await;
    wait_for(
        "every object found unchanged, byok waiting for a key",
        async || (unchanged(&h) >= N as u64 && h.ctx().waiting_for_key_count() == 1).then_some(()),
    )
    .await;
    let keys: Api<Secret> = Api::namespaced(h.client.clone(), &controller_ns);
    let opened_before = opened(&h);
    let from = h.log().len();
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
    h.wait_reason(&apps, "byok", "Unsealed").await;
    // byok's one value, once for the re-try and at most once more for the reconcile its
    // own Secret write wakes (when that runs before the watch shows its sync record).
    let values = opened(&h) - opened_before;
    assert!(
        (1..=2).contains(&values),
        "{values} values opened; byok has one"
    );
    assert_eq!(h.ctx().waiting_for_key_count(), 0);

    let before = h.recipients().to_strings();
    unseal::keys::secrets::create_next(&keys, &controller_ns)
        .await
        .expect("rotated");
    wait_for("new active key", async || {
        (h.recipients().to_strings() != before).then_some(())
    })
    .await;
    h.create(&seal(
        &plain(&apps, "probe", &[("k", "v")]),
        &h.recipients(),
        &SealOptions::default(),
    ))
    .await;
    h.wait_reason(&apps, "probe", "Unsealed").await;
    let reads: Vec<String> = h
        .log()
        .into_iter()
        .skip(from)
        .filter(|r| r.client == AFTER && reads_one_sealed_secret(r))
        .map(|r| r.path)
        .filter(|p| !p.contains("/sealedsecrets/byok") && !p.contains("/sealedsecrets/probe"))
        .collect();
    assert!(reads.is_empty(), "synced objects read again: {reads:#?}");
    h.stop().await;
}
