//! Lease-based leader election (coordination.k8s.io/v1 Lease), as client-go does it: one
//! replica reconciles and manages keys; every replica serves the HTTP API.
//!
//! - A candidate reads the Lease every retry period. It takes the Lease when nobody holds
//!   it, or when the holder has left it unchanged for the lease duration *as measured on
//!   the candidate's own monotonic clock since it last saw the record change*. The holder's
//!   `renewTime` is another machine's wall clock and is never compared with this one's, so
//!   a replica whose clock runs fast cannot take a live Lease.
//! - The leader renews every retry period. One failed renewal is retried; once the renew
//!   deadline has passed since its last successful renewal, it steps down. The deadline is
//!   shorter than the lease duration, so it has stopped before a peer can take over.
//! - Every request has its own timeout, and every write carries the resourceVersion read
//!   (409: someone else wrote first).
//!
//! This is safe as long as clocks *run* at about the same rate (not that they agree): a
//! lease of 15 s against a renew deadline of 10 s tolerates a leader whose clock is up to
//! 1.5 times slower than its peers'.

mod elector;
mod record;
mod timings;

use tokio::sync::watch;
use tokio::time::Instant;

pub use elector::{Attempt, Elector, LeaseError};
pub use record::Record;
pub use timings::{Timings, TimingsError};

/// Who this replica is and which Lease it competes for.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// The Lease's namespace.
    pub namespace: String,
    /// The Lease's name.
    pub lease: String,
    /// This replica's identity.
    pub identity: String,
}

/// Why a term ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TermEnd {
    /// The replica is shutting down (the Lease is still held, to be released).
    Shutdown,
    /// Another replica holds the Lease now.
    Lost(String),
    /// No renewal succeeded within the renew deadline.
    DeadlinePassed,
}

impl Elector {
    /// Tries every retry period until this replica leads; returns when the successful
    /// attempt started (its renew deadline counts from there), or `None` on shutdown.
    pub async fn acquire(&mut self, shutdown: &mut watch::Receiver<bool>) -> Option<Instant> {
        let mut last_holder = None;
        loop {
            if *shutdown.borrow() {
                return None;
            }
            let started = Instant::now();
            match self.try_acquire_or_renew().await {
                Ok(Attempt::Leading) => return Some(started),
                Ok(Attempt::HeldBy(holder)) => {
                    if last_holder.as_ref() != Some(&holder) {
                        tracing::info!(leader = %holder, "another replica leads");
                        last_holder = Some(holder);
                    }
                }
                Err(e) => tracing::debug!(error = %e, "lease not acquired"),
            }
            tokio::select! {
                _ = tokio::time::sleep(self.timings().retry_period()) => {}
                _ = shutdown.wait_for(|s| *s) => return None,
            }
        }
    }

    /// Renews every retry period while this replica leads, from a renewal that started at
    /// `renewed`. Returns as soon as a peer is seen holding the Lease, or the renew
    /// deadline has passed since the last successful renewal, or on shutdown.
    pub async fn hold(
        &mut self,
        mut renewed: Instant,
        shutdown: &mut watch::Receiver<bool>,
    ) -> TermEnd {
        let timings = *self.timings();
        loop {
            let deadline = renewed + timings.renew_deadline();
            let next = (Instant::now() + timings.retry_period()).min(deadline);
            tokio::select! {
                _ = tokio::time::sleep_until(next) => {}
                _ = shutdown.wait_for(|s| *s) => return TermEnd::Shutdown,
            }
            if Instant::now() >= deadline {
                return TermEnd::DeadlinePassed;
            }
            let started = Instant::now();
            match tokio::time::timeout_at(deadline, self.try_acquire_or_renew()).await {
                Ok(Ok(Attempt::Leading)) => renewed = started,
                Ok(Ok(Attempt::HeldBy(holder))) => return TermEnd::Lost(holder),
                Ok(Err(e)) => tracing::warn!(error = %e, "lease not renewed; will retry"),
                Err(_) => return TermEnd::DeadlinePassed,
            }
        }
    }
}
