//! [`Pacer`]: hands the controller's scheduler the SealedSecrets whose watch events call
//! for a reconcile at the pace the reconciles end, and keeps the others waiting in a queue
//! of its own that gives its memory back once it is drained.
//!
//! kube-runtime's scheduler takes every trigger the moment it arrives and keeps its
//! backlog in hash maps that never shrink. After a burst (the initial sync of 100,000
//! new SealedSecrets, or a restart, whose list triggers every one of them at once) their
//! capacity stayed allocated for good: some 200 bytes per SealedSecret at 10,000
//! (heaptrack, docs/PERFORMANCE.md). Here at most [`Pacer::WINDOW`] triggers are ahead
//! of the reconciles; a SealedSecret that waits is queued once however often it
//! changes, and keeps its place.
//!
//! A trigger counts as ahead from when it is handed over until a reconcile of the same
//! SealedSecret ends, whatever started that reconcile and however it ended, so the count
//! cannot creep up when the scheduler merges two triggers into one reconcile. Should it
//! stay full anyway (a reconcile that never reports), the pacer forgets it after
//! [`Pacer::STUCK_AFTER`] without any reconcile ending and hands over more: a stall
//! costs seconds, never the controller.

use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::Stream;
use tokio::sync::Notify;

use crate::context::SealedRef;

/// The queue between the SealedSecret watch and the controller's scheduler.
pub struct Pacer {
    state: Mutex<State>,
    wake: Notify,
    window: usize,
    stuck_after: Duration,
}

#[derive(Default)]
struct State {
    /// In arrival order, each SealedSecret once.
    waiting: VecDeque<SealedRef>,
    /// Hashes of namespace and name of those waiting.
    queued: HashSet<u64>,
    /// Hashes of namespace and name of those handed over whose reconcile has not ended.
    ahead: HashSet<u64>,
}

/// A queue this much bigger than what it holds is shrunk (a burst has drained).
const SHRINK_ABOVE: usize = 1024;

impl Pacer {
    /// Triggers handed to the scheduler ahead of the reconciles that ended: enough to
    /// keep every reconcile slot busy, few enough that the scheduler stays small.
    pub const WINDOW: usize = 64;

    /// How long a full window may go without any reconcile ending before the pacer
    /// stops waiting for it.
    pub const STUCK_AFTER: Duration = Duration::from_secs(10);

    /// A pacer with the default window and patience.
    pub fn new() -> Arc<Self> {
        Self::with(Self::WINDOW, Self::STUCK_AFTER)
    }

    /// A pacer that hands over at most `window` triggers ahead and waits `stuck_after`
    /// for a reconcile to end before it hands over more anyway.
    pub fn with(window: usize, stuck_after: Duration) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::default(),
            wake: Notify::new(),
            window: window.max(1),
            stuck_after,
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn hash(namespace: Option<&str>, name: &str) -> u64 {
        // One fixed random key per process: only this process compares the hashes.
        static KEY: std::sync::OnceLock<RandomState> = std::sync::OnceLock::new();
        KEY.get_or_init(RandomState::new)
            .hash_one((namespace.unwrap_or_default(), name))
    }

    /// Queues a reconcile of `object`; one already waiting keeps its place.
    pub fn push(&self, object: SealedRef) {
        let key = Self::hash(object.namespace.as_deref(), &object.name);
        let mut state = self.state();
        if state.queued.insert(key) {
            state.waiting.push_back(object);
            drop(state);
            self.wake.notify_one();
        }
    }

    /// A reconcile of `namespace/name` ended, whatever its outcome.
    pub fn done(&self, namespace: Option<&str>, name: &str) {
        let key = Self::hash(namespace, name);
        if self.state().ahead.remove(&key) {
            self.wake.notify_one();
        }
    }

    /// The next trigger to hand over, if the window has room.
    fn take(&self) -> Option<SealedRef> {
        let mut state = self.state();
        if state.ahead.len() >= self.window {
            return None;
        }
        let object = state.waiting.pop_front()?;
        let key = Self::hash(object.namespace.as_deref(), &object.name);
        state.queued.remove(&key);
        state.ahead.insert(key);
        if state.waiting.capacity() > SHRINK_ABOVE
            && state.waiting.len() * 4 < state.waiting.capacity()
        {
            state.waiting.shrink_to_fit();
            state.queued.shrink_to_fit();
        }
        Some(object)
    }

    /// The triggers, at most the window ahead of the reconciles that ended. Never ends.
    pub fn triggers(self: Arc<Self>) -> impl Stream<Item = SealedRef> + Send {
        futures::stream::unfold(self, |pacer| async move {
            loop {
                if let Some(object) = pacer.take() {
                    return Some((object, pacer));
                }
                let woken = tokio::time::timeout(pacer.stuck_after, pacer.wake.notified()).await;
                if woken.is_err() {
                    let mut state = pacer.state();
                    if state.ahead.len() >= pacer.window {
                        tracing::debug!(
                            ahead = state.ahead.len(),
                            "no reconcile ended for a while: handing over more"
                        );
                        state.ahead.clear();
                    }
                }
            }
        })
    }

    /// How many wait, and how many are ahead (for tests and metrics).
    pub fn counts(&self) -> (usize, usize) {
        let state = self.state();
        (state.waiting.len(), state.ahead.len())
    }

    /// How many SealedSecrets the waiting queue has room for without growing.
    pub fn capacity(&self) -> usize {
        self.state().waiting.capacity()
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    use super::*;

    fn object(name: &str) -> SealedRef {
        SealedRef::new(name).within("apps")
    }

    #[tokio::test]
    async fn no_more_than_the_window_is_ahead_of_the_reconciles() {
        let pacer = Pacer::with(3, Duration::from_secs(3600));
        for i in 0..10 {
            pacer.push(object(&format!("s{i}")));
        }
        let mut triggers = Box::pin(pacer.clone().triggers());
        let mut handed = Vec::new();
        for _ in 0..3 {
            handed.push(triggers.next().await.map(|o| o.name));
        }
        assert_eq!(
            handed,
            [Some("s0".into()), Some("s1".into()), Some("s2".into())]
        );
        assert_eq!(pacer.counts(), (7, 3));
        // The fourth waits for a reconcile to end; a reconcile of something not handed
        // over (a Secret's owner, a resync) makes no room.
        let fourth = tokio::spawn(async move { triggers.next().await.map(|o| o.name) });
        pacer.done(Some("apps"), "unrelated");
        pacer.done(Some("other"), "s0");
        tokio::task::yield_now().await;
        assert!(!fourth.is_finished());
        pacer.done(Some("apps"), "s1");
        assert_eq!(fourth.await.ok().flatten(), Some("s3".into()));
        assert_eq!(pacer.counts(), (6, 3));
    }

    #[tokio::test]
    async fn a_sealed_secret_waits_once_and_keeps_its_place() {
        let pacer = Pacer::with(10, Duration::from_secs(3600));
        for name in ["a", "b", "a", "c", "b"] {
            pacer.push(object(name));
        }
        assert_eq!(pacer.counts(), (3, 0));
        let names: Vec<String> = pacer
            .clone()
            .triggers()
            .take(3)
            .map(|o| o.name)
            .collect()
            .await;
        assert_eq!(names, ["a", "b", "c"]);
        // Handed over and running: a new change queues it again (the scheduler holds it
        // until the running reconcile ends).
        pacer.push(object("a"));
        assert_eq!(pacer.counts(), (1, 3));
    }

    #[tokio::test]
    async fn a_drained_burst_gives_its_memory_back() {
        let pacer = Pacer::with(100_000, Duration::from_secs(3600));
        for i in 0..50_000 {
            pacer.push(object(&format!("s{i:05}")));
        }
        assert!(pacer.capacity() >= 50_000);
        let handed = pacer.clone().triggers().take(50_000).count().await;
        assert_eq!(handed, 50_000);
        assert!(
            pacer.capacity() <= SHRINK_ABOVE,
            "{} slots kept after the burst",
            pacer.capacity()
        );
    }

    #[tokio::test]
    async fn a_window_that_stays_full_is_forgotten_after_a_while() {
        let pacer = Pacer::with(1, Duration::from_millis(50));
        pacer.push(object("a"));
        pacer.push(object("b"));
        let names: Vec<String> = pacer
            .clone()
            .triggers()
            .take(2)
            .map(|o| o.name)
            .collect()
            .await;
        assert_eq!(names, ["a", "b"], "b handed over though a never reported");
    }
}
