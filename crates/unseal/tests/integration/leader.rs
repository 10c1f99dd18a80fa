//! Leader election: never two leaders at once. On the double, each replica's client
//! sends its identity as `User-Agent`, so the double's request log (arrival times taken
//! on the same monotonic clock the replicas measure with) is an audit of who wrote what,
//! and when; the audits need that log, and its stalls and faults, so they run on the
//! double only. What the Lease itself records runs on the real control plane as well.
//!
//! The audits compare arrival times. A candidate takes the Lease only after the lease
//! duration has passed on its clock since it read the holder's last write, so its
//! taking write arrives more than a lease duration after that last write arrived.

use std::time::Duration;

use apiserver_double::{Fault, Request, Stall};
use seal_core::convert::SealOptions;
use tokio::time::Instant;
use unseal::clock::Clock;
use unseal::context::Settings;

use crate::support::*;

scenarios! {
    both: [
        a_replica_whose_clock_runs_a_minute_fast_never_takes_a_live_lease,
        the_lease_names_its_holder_with_times_from_its_clock_and_counts_transitions,
    ],
}

/// A 3 s lease, a 1 s renew deadline, renewals every 100 ms: a leader that cannot renew
/// stops at the latest 2 s after its last renewal, a peer starts 3 s after it at the
/// earliest.
fn election_settings(identity: &str) -> Settings {
    let mut s = fast_settings(identity);
    s.lease_duration = Duration::from_secs(3);
    s.lease_renew_deadline = Duration::from_secs(1);
    s.lease_renew_every = Duration::from_millis(100);
    s
}

/// [`election_settings`] for a leader that keeps writing: besides reconciling, it makes a
/// new sealing key every second.
fn busy_settings(identity: &str) -> Settings {
    let mut s = election_settings(identity);
    s.renew_period = Some(Duration::from_secs(1));
    s
}

async fn lease(h: &Harness) -> serde_json::Value {
    h.lease().await.expect("lease")
}

/// Writes by `client` other than to the Lease (reconciling, keys, Events), answered or
/// not: what only a leader may send.
fn work_of<'a>(log: &'a [Request], client: &str) -> Vec<&'a Request> {
    log.iter()
        .filter(|r| r.client == client && r.is_write() && !r.is_for("leases"))
        .collect()
}

/// Lease writes by `client` that the double accepted.
fn lease_writes<'a>(log: &'a [Request], client: &str) -> Vec<&'a Request> {
    log.iter()
        .filter(|r| r.client == client && r.is_write() && r.is_for("leases") && r.succeeded())
        .collect()
}

/// Whether `client` has read the Lease (so it is a candidate that has seen the holder).
fn has_read_lease(log: &[Request], client: &str) -> bool {
    log.iter()
        .any(|r| r.client == client && r.is_for("leases") && !r.is_write() && r.succeeded())
}

/// `client`'s first accepted Lease write at or after `since`: a candidate writes the
/// Lease only to take it.
fn took_lease(log: &[Request], client: &str, since: Instant) -> Option<Instant> {
    lease_writes(log, client)
        .into_iter()
        .map(|r| Instant::from_std(r.at))
        .find(|at| *at >= since)
}

/// Creates a SealedSecret every 100 ms until aborted, so that whoever leads keeps
/// writing Secrets.
fn keep_sealing(h: &Harness) -> tokio::task::JoinHandle<()> {
    let client = h.client.clone();
    let recipients = h.recipients();
    tokio::spawn(async move {
        let api = kube::Api::<seal_core::SealedSecret>::namespaced(client, "apps");
        for n in 0.. {
            let p = plain("apps", &format!("load-{n}"), &[("k", "v")]);
            let sealed = seal(&p, &recipients, &SealOptions::default());
            let _ = api.create(&kube::api::PostParams::default(), &sealed).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}

/// Waits until `client` took the Lease (after `since`) and then sent `n` writes of work:
/// time enough for any other replica that still thought it led to write as well.
async fn wait_working_leader(h: &Harness, client: &str, since: Instant, n: usize) -> Instant {
    wait_for(&format!("{client} takes the lease and works"), async || {
        let log = h.double().log();
        let took = took_lease(&log, client, since)?;
        let work = work_of(&log, client)
            .into_iter()
            .filter(|r| Instant::from_std(r.at) > took)
            .count();
        (work >= n).then_some(took)
    })
    .await
}

#[tokio::test]
async fn a_leader_whose_lease_requests_hang_stops_writing_before_a_peer_takes_over() {
    let mut h = Harness::start_with(Backend::Double, busy_settings("replica-a")).await;
    h.add_controller(busy_settings("replica-b")).await;
    let load = keep_sealing(&h);
    wait_for("replica-a works and replica-b watches", async || {
        let log = h.double().log();
        (work_of(&log, "replica-a").len() >= 5 && has_read_lease(&log, "replica-b")).then_some(())
    })
    .await;
    // Every Lease request of the leader hangs from now on; its other requests still work.
    let stalled = Instant::now();
    h.double()
        .stall(Stall::new("/leases").from_client("replica-a"));
    let took = wait_working_leader(&h, "replica-b", stalled, 10).await;

    let log = h.double().log();
    let a_work = work_of(&log, "replica-a");
    let late: Vec<_> = a_work
        .iter()
        .filter(|r| Instant::from_std(r.at) >= took)
        .collect();
    assert!(
        late.is_empty(),
        "replica-a still wrote after replica-b took the lease: {late:#?}"
    );
    let last_a = a_work.last().map(|r| Instant::from_std(r.at));
    assert!(last_a.is_some_and(|at| at < took));
    assert!(!h.controllers[0].ctx.is_leader());
    load.abort();
    h.double().release_stalled();
    h.stop().await;
}

/// Replica-b's reads and writes: the double's log, or on the real server its client's.
async fn a_replica_whose_clock_runs_a_minute_fast_never_takes_a_live_lease(backend: Backend) {
    let mut h = Harness::start(backend).await;
    let lease_duration = h.ctx().settings.lease_duration;
    let mut fast = fast_settings("replica-b");
    fast.clock = Clock::ahead(Duration::from_secs(60));
    h.add_controller(fast).await;
    // The holder's renewTime is always a minute old on replica-b's clock. Watch replica-b
    // read the Lease for three lease durations.
    wait_for(
        "replica-b reads the lease for three lease durations",
        async || {
            let log = h.log();
            let reads: Vec<_> = log
                .iter()
                .filter(|r| r.client == "replica-b" && r.is_for("leases") && r.succeeded())
                .map(|r| r.at)
                .collect();
            let (first, last) = (reads.first()?, reads.last()?);
            (last.duration_since(*first) >= lease_duration * 3).then_some(())
        },
    )
    .await;
    let log = h.log();
    let b_writes: Vec<_> = log
        .iter()
        .filter(|r| r.client == "replica-b" && r.is_write())
        .collect();
    assert!(b_writes.is_empty(), "replica-b wrote: {b_writes:#?}");
    assert!(!h.controllers[1].ctx.is_leader());
    assert!(h.controllers[0].ctx.is_leader());
    assert_eq!(lease(&h).await["spec"]["holderIdentity"], "replica-a");
    h.stop().await;
}

#[tokio::test]
async fn a_crashed_leader_is_replaced_only_after_the_lease_duration_and_never_alongside() {
    let mut h = Harness::start_with(Backend::Double, busy_settings("replica-a")).await;
    h.add_controller(busy_settings("replica-b")).await;
    let lease_duration = h.ctx().settings.lease_duration;
    let load = keep_sealing(&h);
    wait_for("replica-a works and replica-b watches", async || {
        let log = h.double().log();
        (work_of(&log, "replica-a").len() >= 5 && has_read_lease(&log, "replica-b")).then_some(())
    })
    .await;
    let crashed = Instant::now();
    h.controllers.remove(0).kill().await;
    let took = wait_working_leader(&h, "replica-b", crashed, 10).await;

    let log = h.double().log();
    // One identity at a time: every write of replica-a arrived before any of replica-b.
    let writes = |client: &str| -> Vec<Instant> {
        log.iter()
            .filter(|r| r.client == client && r.is_write())
            .map(|r| Instant::from_std(r.at))
            .collect()
    };
    let (a, b) = (writes("replica-a"), writes("replica-b"));
    let a_last = a.iter().max().copied().expect("replica-a wrote");
    let b_first = b.iter().min().copied().expect("replica-b wrote");
    assert!(
        a_last < b_first,
        "writes of both replicas interleave: replica-a's last {:?} after replica-b's first",
        a_last - b_first
    );
    // And only once the lease duration had passed since the last renewal accepted.
    let renewed = lease_writes(&log, "replica-a")
        .last()
        .map(|r| Instant::from_std(r.at))
        .expect("replica-a renewed");
    assert!(
        took - renewed > lease_duration,
        "replica-b took over {:?} after replica-a's last renewal",
        took - renewed
    );
    assert_eq!(lease(&h).await["spec"]["holderIdentity"], "replica-b");
    load.abort();
    h.stop().await;
}

#[tokio::test]
async fn failed_renewals_within_the_deadline_keep_the_term() {
    let h = Harness::start(Backend::Double).await;
    // Which requests start a term: the controller's first list of SealedSecrets.
    let term_starts = || {
        h.double()
            .log()
            .iter()
            .filter(|r| {
                let path = r.path.split('?').next().unwrap_or_default();
                r.client == "replica-a"
                    && r.method == "GET"
                    && path.ends_with("/sealedsecrets")
                    && !r.path.contains("watch=")
            })
            .count()
    };
    wait_for("the term's controller lists", async || {
        (term_starts() == 1).then_some(())
    })
    .await;
    // The next renewal meets a conflict, the one after a server error.
    h.double().inject(Fault::new("PUT", "/leases/", 409, 1));
    h.double().inject(Fault::new("PUT", "/leases/", 500, 1));
    wait_for("a renewal succeeds after two failed", async || {
        let renewals: Vec<_> = h
            .double()
            .log()
            .iter()
            .filter(|r| r.method == "PUT" && r.is_for("leases"))
            .filter_map(|r| r.status)
            .collect();
        renewals
            .windows(3)
            .any(|w| w == [409, 500, 200])
            .then_some(())
    })
    .await;
    assert!(h.ctx().is_leader());
    assert_eq!(term_starts(), 1, "the term was restarted");
    h.stop().await;
}

async fn the_lease_names_its_holder_with_times_from_its_clock_and_counts_transitions(
    backend: Backend,
) {
    let mut h = Harness::start(backend).await;
    let record = lease(&h).await;
    let spec = &record["spec"];
    assert_eq!(spec["holderIdentity"], "replica-a");
    assert_eq!(spec["leaseDurationSeconds"], 2);
    assert_eq!(spec["leaseTransitions"], 0);
    let time = |v: &serde_json::Value| -> k8s_openapi::jiff::Timestamp {
        v.as_str().expect("time").parse().expect("RFC 3339")
    };
    let now = Clock::system().now();
    assert!(time(&spec["acquireTime"]) <= time(&spec["renewTime"]));
    assert!(
        now.duration_since(time(&spec["renewTime"])).abs()
            < k8s_openapi::jiff::SignedDuration::from_secs(10)
    );

    // A replica whose clock runs a minute ahead takes over when the leader leaves.
    let mut fast = fast_settings("replica-b");
    fast.clock = Clock::ahead(Duration::from_secs(60));
    h.add_controller(fast).await;
    wait_for("replica-b reads the lease", async || {
        h.has_read_lease("replica-b").then_some(())
    })
    .await;
    h.controllers.remove(0).stop().await;
    let taken = wait_for("replica-b takes the lease and renews it", async || {
        let record = lease(&h).await;
        let spec = &record["spec"];
        (spec["holderIdentity"] == "replica-b"
            && time(&spec["renewTime"]) > time(&spec["acquireTime"]))
        .then(|| record.clone())
    })
    .await;
    let spec = &taken["spec"];
    assert_eq!(spec["leaseTransitions"], 1);
    let ahead = time(&spec["acquireTime"]).duration_since(Clock::system().now());
    assert!(
        ahead > k8s_openapi::jiff::SignedDuration::from_secs(50),
        "acquireTime is not from replica-b's clock: {ahead:?} ahead"
    );
    h.stop().await;
}
