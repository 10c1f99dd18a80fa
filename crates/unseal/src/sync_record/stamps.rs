//! [`SecretStamps`]: the [`Stamp`] of every Secret the controller's label-selected,
//! metadata-only Secret watches see (owned Secrets and merge targets), kept small: a
//! 64-bit hash of namespace and name to a 16-byte stamp, no strings, no metadata.
//!
//! Each watch is one feed. A feed is updated from its watch stream before the event
//! goes on to trigger a reconcile, so a reconcile never checks a record against a version
//! older than the one that woke it. A re-list (after a watch outage) updates entries as
//! they come and, when it ends, forgets every entry it did not see: a Secret deleted
//! while the watch was down does not stay behind to vouch for a record.
//!
//! The hash of the name is keyed with a per-process random key, and a collision can only
//! cost work: a stamp holds the uid and version of the Secret it came from, so a record
//! never verifies against another Secret's stamp.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::core::PartialObjectMeta;
use kube::runtime::watcher;
use tokio::sync::watch;

use super::Stamp;

/// What one watch has shown.
#[derive(Default)]
struct Feed {
    /// Stamp per hashed `namespace/name`.
    live: HashMap<u64, Stamp>,
    /// During a (re-)list: the names it has shown so far.
    relisting: Option<HashSet<u64>>,
    /// Whether a first list has completed.
    listed: bool,
}

/// The stamps of the Secrets of every feed.
pub struct SecretStamps {
    names: RandomState,
    feeds: Vec<Mutex<Feed>>,
    listed: watch::Sender<usize>,
}

impl SecretStamps {
    /// Stamps for `feeds` watches, none listed yet.
    pub fn new(feeds: usize) -> Self {
        Self {
            names: RandomState::new(),
            feeds: (0..feeds).map(|_| Mutex::default()).collect(),
            listed: watch::channel(0).0,
        }
    }

    fn name_hash(&self, namespace: &str, name: &str) -> u64 {
        self.names.hash_one((namespace, name))
    }

    /// Takes in one event of the watch of feed `feed`.
    pub fn observe(
        &self,
        feed: usize,
        event: &Result<watcher::Event<PartialObjectMeta<Secret>>, watcher::Error>,
    ) {
        let Ok(event) = event else { return };
        let Some(slot) = self.feeds.get(feed) else {
            return;
        };
        let key = |o: &PartialObjectMeta<Secret>| {
            self.name_hash(&o.namespace().unwrap_or_default(), &o.name_any())
        };
        let mut state = slot.lock().unwrap_or_else(|p| p.into_inner());
        match event {
            watcher::Event::Init => state.relisting = Some(HashSet::new()),
            watcher::Event::InitApply(o) | watcher::Event::Apply(o) => {
                let k = key(o);
                match Stamp::of_meta(&o.metadata) {
                    Some(stamp) => {
                        state.live.insert(k, stamp);
                    }
                    None => {
                        state.live.remove(&k);
                    }
                }
                if let Some(seen) = state.relisting.as_mut() {
                    seen.insert(k);
                }
            }
            watcher::Event::Delete(o) => {
                let k = key(o);
                state.live.remove(&k);
                if let Some(seen) = state.relisting.as_mut() {
                    seen.remove(&k);
                }
            }
            watcher::Event::InitDone => {
                if let Some(seen) = state.relisting.take() {
                    state.live.retain(|k, _| seen.contains(k));
                }
                state.live.shrink_to_fit();
                if !state.listed {
                    state.listed = true;
                    drop(state);
                    self.listed.send_modify(|n| *n += 1);
                }
            }
        }
    }

    /// The stamps of the Secret `namespace/name` in each feed that has it.
    pub fn lookup(&self, namespace: &str, name: &str) -> Vec<Stamp> {
        let k = self.name_hash(namespace, name);
        self.feeds
            .iter()
            .filter_map(|f| {
                f.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .live
                    .get(&k)
                    .copied()
            })
            .collect()
    }

    /// Whether every feed has completed its first list.
    pub fn is_listed(&self) -> bool {
        *self.listed.borrow() >= self.feeds.len()
    }

    /// Waits until every feed has completed its first list.
    pub async fn listed(&self) {
        let mut rx = self.listed.subscribe();
        let all = self.feeds.len();
        let _ = rx.wait_for(|n| *n >= all).await;
    }

    /// How many Secrets the feeds hold, in total (for tests).
    pub fn len(&self) -> usize {
        self.feeds
            .iter()
            .map(|f| f.lock().unwrap_or_else(|p| p.into_inner()).live.len())
            .sum()
    }

    /// Whether the feeds hold no Secret.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(name: &str, uid: &str, version: &str) -> PartialObjectMeta<Secret> {
        let mut o = PartialObjectMeta::<Secret>::default();
        o.metadata.name = Some(name.into());
        o.metadata.namespace = Some("apps".into());
        o.metadata.uid = Some(uid.into());
        o.metadata.resource_version = Some(version.into());
        o
    }

    fn feed(stamps: &SecretStamps, event: watcher::Event<PartialObjectMeta<Secret>>) {
        stamps.observe(0, &Ok(event));
    }

    #[test]
    fn changes_replace_stamps_and_a_relist_forgets_what_it_did_not_see() {
        let stamps = SecretStamps::new(1);
        assert!(!stamps.is_listed());
        feed(&stamps, watcher::Event::Init);
        feed(&stamps, watcher::Event::InitApply(secret("a", "ua", "1")));
        feed(&stamps, watcher::Event::InitApply(secret("b", "ub", "2")));
        feed(&stamps, watcher::Event::InitDone);
        assert!(stamps.is_listed());
        assert_eq!(stamps.lookup("apps", "a"), vec![Stamp::of("ua", "1")]);
        feed(&stamps, watcher::Event::Apply(secret("a", "ua", "3")));
        assert_eq!(stamps.lookup("apps", "a"), vec![Stamp::of("ua", "3")]);
        // A re-list after a watch outage during which b was deleted and a edited: a's
        // new version counts at once, and b is forgotten when the list ends.
        feed(&stamps, watcher::Event::Init);
        feed(&stamps, watcher::Event::InitApply(secret("a", "ua", "5")));
        assert_eq!(stamps.lookup("apps", "a"), vec![Stamp::of("ua", "5")]);
        feed(&stamps, watcher::Event::InitDone);
        assert_eq!(stamps.lookup("apps", "b"), vec![]);
        feed(&stamps, watcher::Event::Delete(secret("a", "ua", "5")));
        assert!(stamps.is_empty());
        assert_eq!(stamps.lookup("other", "a"), vec![]);
    }
}
