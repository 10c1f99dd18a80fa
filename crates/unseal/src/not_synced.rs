//! [`NotSynced`]: which SealedSecrets this replica last failed to sync, and why, counted
//! by reason into the `unseal_sealedsecrets_not_synced` gauge. A counter of failures
//! cannot say this: a failure that only a new spec or new keys can cure is not retried,
//! so its counter stops rising while the SealedSecret stays broken.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

use crate::metrics::ReasonLabel;

#[derive(Default)]
struct State {
    /// `namespace/name/uid` → the reason of its last failure.
    objects: HashMap<String, &'static str>,
    /// Every reason ever reported, so that its gauge goes back to 0 rather than vanish.
    reasons: BTreeSet<&'static str>,
}

/// Objects whose last reconcile failed, with its reason, and the gauges they are counted in.
pub struct NotSynced {
    state: Mutex<State>,
    gauge: Family<ReasonLabel, Gauge>,
}

impl NotSynced {
    /// A tracker reporting to `gauge`.
    pub fn new(gauge: Family<ReasonLabel, Gauge>) -> Self {
        Self {
            state: Mutex::new(State::default()),
            gauge,
        }
    }

    /// `object`'s last reconcile failed with `reason`.
    pub fn failed(&self, object: &str, reason: &'static str) {
        self.update(|s| {
            s.reasons.insert(reason);
            s.objects.insert(object.to_owned(), reason);
        });
    }

    /// `object` synced.
    pub fn synced(&self, object: &str) {
        self.update(|s| {
            s.objects.remove(object);
        });
    }

    /// Keeps only the objects `keep` accepts (the others are gone).
    pub fn retain(&self, keep: impl Fn(&str) -> bool) {
        self.update(|s| s.objects.retain(|k, _| keep(k)));
    }

    /// Forgets every object (this replica stopped reconciling: the leader reports now).
    pub fn clear(&self) {
        self.update(|s| s.objects.clear());
    }

    /// How many objects are not synced for `reason`.
    pub fn count(&self, reason: &str) -> usize {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.objects.values().filter(|r| **r == reason).count()
    }

    /// Changes the state, then sets each reason's gauge to its count (under the lock, so
    /// two updates cannot interleave their writes).
    fn update(&self, change: impl FnOnce(&mut State)) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        change(&mut state);
        for reason in &state.reasons {
            let n = state.objects.values().filter(|r| *r == reason).count();
            self.gauge
                .get_or_create(&ReasonLabel { reason })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gauge(family: &Family<ReasonLabel, Gauge>, reason: &'static str) -> i64 {
        family.get_or_create(&ReasonLabel { reason }).get()
    }

    #[test]
    fn counts_by_reason_and_returns_to_zero() {
        let family = Family::<ReasonLabel, Gauge>::default();
        let t = NotSynced::new(family.clone());
        t.failed("apps/a/1", "NoMatchingKey");
        t.failed("apps/b/2", "NoMatchingKey");
        t.failed("apps/c/3", "SecretNotOwned");
        assert_eq!(gauge(&family, "NoMatchingKey"), 2);
        assert_eq!(gauge(&family, "SecretNotOwned"), 1);
        // The same object failing again, for another reason, moves between reasons.
        t.failed("apps/a/1", "SecretNotOwned");
        assert_eq!(gauge(&family, "NoMatchingKey"), 1);
        assert_eq!(gauge(&family, "SecretNotOwned"), 2);
        t.synced("apps/b/2");
        t.retain(|k| k != "apps/c/3");
        assert_eq!(gauge(&family, "NoMatchingKey"), 0);
        assert_eq!(gauge(&family, "SecretNotOwned"), 1);
        assert_eq!(t.count("SecretNotOwned"), 1);
        t.clear();
        assert_eq!(gauge(&family, "SecretNotOwned"), 0);
    }
}
