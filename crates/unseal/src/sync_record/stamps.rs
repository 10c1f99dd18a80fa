//! [`Feeds`]: a small value per object of one or more watches, kept small: a 64-bit hash
//! of namespace and name to the value, no strings, no metadata. [`SecretStamps`] holds
//! the [`Stamp`] of every Secret the controller's label-selected, metadata-only Secret
//! watches see (owned Secrets and merge targets); [`Records`] the sync record [`Tag`] of
//! every SealedSecret (a map of annotations per object would cost some 700 bytes each).
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

use kube::ResourceExt;
use kube::runtime::watcher;
use tokio::sync::watch;

use super::{Stamp, Tag};

/// The stamps of the Secrets of every Secret watch.
pub type SecretStamps = Feeds<Stamp>;

/// The sync records of the SealedSecrets of every SealedSecret watch.
pub type Records = Feeds<Tag>;

/// What one watch has shown.
struct Feed<V> {
    /// Value per hashed `namespace/name`.
    live: HashMap<u64, V>,
    /// During a (re-)list: the names it has shown so far.
    relisting: Option<HashSet<u64>>,
    /// Whether a first list has completed.
    listed: bool,
}

impl<V> Default for Feed<V> {
    fn default() -> Self {
        Self {
            live: HashMap::new(),
            relisting: None,
            listed: false,
        }
    }
}

/// The values of the objects of every feed.
pub struct Feeds<V> {
    names: RandomState,
    feeds: Vec<Mutex<Feed<V>>>,
    listed: watch::Sender<usize>,
}

impl<V: Copy + PartialEq> Feeds<V> {
    /// Values for `feeds` watches, none listed yet.
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

    /// Takes in one event of the watch of feed `feed`; `value` gives an object's value
    /// (`None`: it has none, and is forgotten). Says whether an object applied brings a
    /// value other than the one held (first seen, changed, or none at all), so that it
    /// can serve as a filter; any other event, and an error, is `true`.
    pub fn observe<K: ResourceExt>(
        &self,
        feed: usize,
        event: &Result<watcher::Event<K>, watcher::Error>,
        value: impl Fn(&K) -> Option<V>,
    ) -> bool {
        let Ok(event) = event else { return true };
        let Some(slot) = self.feeds.get(feed) else {
            return true;
        };
        let key = |o: &K| self.name_hash(&o.namespace().unwrap_or_default(), &o.name_any());
        let mut state = slot.lock().unwrap_or_else(|p| p.into_inner());
        match event {
            watcher::Event::Init => state.relisting = Some(HashSet::new()),
            watcher::Event::InitApply(o) | watcher::Event::Apply(o) => {
                let k = key(o);
                let v = value(o);
                let before = match v {
                    Some(v) => state.live.insert(k, v),
                    None => state.live.remove(&k),
                };
                if let Some(seen) = state.relisting.as_mut() {
                    seen.insert(k);
                }
                return v.is_none() || before != v;
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
        true
    }

    /// The values of the object `namespace/name` in each feed that has it.
    pub fn lookup(&self, namespace: &str, name: &str) -> Vec<V> {
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

    /// How many objects the feeds hold, in total (for tests).
    pub fn len(&self) -> usize {
        self.feeds
            .iter()
            .map(|f| f.lock().unwrap_or_else(|p| p.into_inner()).live.len())
            .sum()
    }

    /// Whether the feeds hold no object.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The stamp of a watched Secret.
pub fn stamp_of<K: kube::Resource>(secret: &K) -> Option<Stamp> {
    Stamp::of_meta(secret.meta())
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::Secret;
    use kube::core::PartialObjectMeta;

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
        stamps.observe(0, &Ok(event), stamp_of);
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
