//! [`Opener`]: decryption off the async runtime, with a bound on how much runs at once.
//!
//! Opening a value is CPU work (an X25519 exchange per stanza and key tried). Run on the
//! async runtime it would delay `/healthz`, `/readyz`, lease renewal and every other
//! reconcile while it lasts, so every open goes to tokio's blocking pool. Two lanes keep
//! the HTTP API from starving the reconciler and the other way round: each has its own
//! permits, and the API lane refuses after a short wait (instead of queueing without end)
//! when it is full.

use std::sync::Arc;

use seal_core::error::DocError;
use seal_core::{KeyRing, PlainSecret, SealedSecret, convert};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::keys::KeySet;

/// How long an HTTP call waits for a decryption slot before it is told to retry.
pub const API_QUEUE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Who asks for an open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// The reconciler: waits for a permit.
    Reconcile,
    /// The HTTP API (verify, reencrypt, migrate): waits at most [`API_QUEUE_WAIT`] for a permit.
    Api,
}

/// Why an open did not happen or did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum OpenFailure {
    /// A value did not open or a field is malformed.
    #[error(transparent)]
    Doc(#[from] DocError),
    /// The API lane is busy.
    #[error("too many decryptions under way; retry shortly")]
    Busy,
    /// The blocking task ended without an answer (runtime shutting down).
    #[error("the decryption task did not finish")]
    Aborted,
}

/// Bounded, off-runtime decryption for the reconciler and the HTTP API.
pub struct Opener {
    reconcile: Arc<Semaphore>,
    api: Arc<Semaphore>,
}

impl Opener {
    /// At most `reconcile` opens for the reconciler and `api` for the HTTP API at once.
    pub fn new(reconcile: usize, api: usize) -> Self {
        Self {
            reconcile: Arc::new(Semaphore::new(reconcile.max(1))),
            api: Arc::new(Semaphore::new(api.max(1))),
        }
    }

    /// Sized for this machine: one open per core for the reconciler, half of that
    /// (at least one) for the API.
    pub fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Self::new(cores, cores.div_ceil(2))
    }

    async fn permit(&self, lane: Lane) -> Result<OwnedSemaphorePermit, OpenFailure> {
        match lane {
            Lane::Reconcile => self
                .reconcile
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| OpenFailure::Aborted),
            // A short, fair (first come, first served) wait, then Busy: a queue without
            // end would let one client's backlog delay everyone for as long as it likes.
            Lane::Api => {
                match tokio::time::timeout(API_QUEUE_WAIT, self.api.clone().acquire_owned()).await {
                    Ok(Ok(permit)) => Ok(permit),
                    Ok(Err(_)) => Err(OpenFailure::Aborted),
                    Err(_) => Err(OpenFailure::Busy),
                }
            }
        }
    }

    /// Runs `work` with the keys on the blocking pool, holding a permit of `lane`.
    pub async fn run<T: Send + 'static>(
        &self,
        lane: Lane,
        keys: Arc<KeySet>,
        work: impl FnOnce(&KeyRing) -> Result<T, OpenFailure> + Send + 'static,
    ) -> Result<T, OpenFailure> {
        let permit = self.permit(lane).await?;
        let result = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work(&keys.ring)
        })
        .await;
        result.map_err(|_| OpenFailure::Aborted)?
    }

    /// Opens every value of `sealed` with `keys`, refused before any decryption when it
    /// would cost more than [`convert::MAX_WORK`] unwraps (see
    /// [`convert::open_within_budget`]).
    pub async fn open(
        &self,
        lane: Lane,
        sealed: Arc<SealedSecret>,
        keys: Arc<KeySet>,
    ) -> Result<PlainSecret, OpenFailure> {
        self.run(lane, keys, move |ring| {
            Ok(convert::open_within_budget(&sealed, ring)?)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_api_lane_refuses_when_full_past_its_wait_and_the_reconcile_lane_still_runs() {
        let opener = Arc::new(Opener::new(1, 1));
        let (hold, release) = std::sync::mpsc::channel::<()>();
        let (started_tx, started) = tokio::sync::oneshot::channel();
        let busy = {
            let opener = opener.clone();
            tokio::spawn(async move {
                opener
                    .run(Lane::Api, Arc::new(KeySet::default()), move |_| {
                        let _ = started_tx.send(());
                        let _ = release.recv();
                        Ok(())
                    })
                    .await
            })
        };
        started.await.expect("the first API open started");
        let refused = opener
            .run(Lane::Api, Arc::new(KeySet::default()), |_| Ok(()))
            .await;
        assert!(matches!(refused, Err(OpenFailure::Busy)));
        let other_lane = opener
            .run(Lane::Reconcile, Arc::new(KeySet::default()), |_| Ok(7))
            .await;
        assert_eq!(other_lane.ok(), Some(7));
        hold.send(()).expect("release");
        assert!(busy.await.expect("joined").is_ok());
    }
}
