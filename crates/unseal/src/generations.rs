//! Which changes of a watched SealedSecret call for a reconcile: a new
//! `metadata.generation` (its spec changed) or another object under the same name (a new
//! uid), not the controller's own status and sync-record writes, which change neither.
//!
//! kube-runtime's `predicates::generation` filter does the same with a cache entry per
//! object holding its name, namespace and uid as strings and a time stamp: with its
//! hash-map slot 183 bytes per SealedSecret at 10,000 (measured with heaptrack,
//! docs/PERFORMANCE.md). Here an entry is a 64-bit hash of namespace and name to a
//! 64-bit hash of uid and generation, in a [`Feeds`] map (28 bytes there), and it
//! goes with the object's Delete event, or with a re-list that no longer sees the object,
//! instead of after an hour.

use std::hash::{DefaultHasher, Hash, Hasher};

use kube::Resource;

use crate::sync_record::stamps::Feeds;

/// The uid and generation of every watched SealedSecret, hashed, per watch.
pub type Generations = Feeds<u64>;

/// What a reconcile depends on in a watched object's metadata: its uid and generation,
/// hashed; `None` when it has no generation (every change of such an object passes).
pub fn generation_of<K: Resource>(object: &K) -> Option<u64> {
    let meta = object.meta();
    let generation = meta.generation?;
    let mut hash = DefaultHasher::new();
    meta.uid.hash(&mut hash);
    generation.hash(&mut hash);
    Some(hash.finish())
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use kube::core::{PartialObjectMeta, PartialObjectMetaExt};
    use kube::runtime::watcher::Event;
    use seal_core::SealedSecret;

    use super::*;

    fn sealed(
        name: &str,
        uid: &str,
        generation: Option<i64>,
        version: &str,
    ) -> PartialObjectMeta<SealedSecret> {
        ObjectMeta {
            name: Some(name.into()),
            namespace: Some("apps".into()),
            uid: Some(uid.into()),
            generation,
            resource_version: Some(version.into()),
            ..ObjectMeta::default()
        }
        .into_request_partial()
    }

    /// Whether the event would trigger a reconcile.
    fn passes(seen: &Generations, event: Event<PartialObjectMeta<SealedSecret>>) -> bool {
        seen.observe(0, &Ok(event), generation_of)
    }

    #[test]
    fn only_a_new_generation_or_a_new_object_passes() {
        let seen = Generations::new(1);
        assert!(passes(
            &seen,
            Event::Apply(sealed("a", "u1", Some(1), "10"))
        ));
        // Our own status or record write: a new resourceVersion, the same generation.
        assert!(!passes(
            &seen,
            Event::Apply(sealed("a", "u1", Some(1), "11"))
        ));
        assert!(passes(
            &seen,
            Event::Apply(sealed("a", "u1", Some(2), "12"))
        ));
        // Deleted and made again with generation 1: another object.
        assert!(passes(
            &seen,
            Event::Apply(sealed("a", "u2", Some(1), "13"))
        ));
        assert!(passes(
            &seen,
            Event::Delete(sealed("a", "u2", Some(1), "14"))
        ));
        assert!(passes(
            &seen,
            Event::Apply(sealed("a", "u2", Some(1), "15"))
        ));
        // Another object of the same name elsewhere is its own entry.
        let mut other = sealed("a", "u3", Some(1), "16");
        other.metadata.namespace = Some("web".into());
        assert!(passes(&seen, Event::Apply(other)));
        assert!(!passes(
            &seen,
            Event::Apply(sealed("a", "u2", Some(1), "17"))
        ));
        // No generation: nothing to compare, every change passes.
        assert!(passes(&seen, Event::Apply(sealed("b", "u4", None, "18"))));
        assert!(passes(&seen, Event::Apply(sealed("b", "u4", None, "19"))));
    }

    #[test]
    fn a_relist_passes_what_changed_while_the_watch_was_down_only() {
        let seen = Generations::new(1);
        assert!(passes(
            &seen,
            Event::Apply(sealed("a", "u1", Some(1), "10"))
        ));
        assert!(passes(
            &seen,
            Event::Apply(sealed("b", "u2", Some(1), "11"))
        ));
        assert!(passes(&seen, Event::Init));
        assert!(!passes(
            &seen,
            Event::InitApply(sealed("a", "u1", Some(1), "20"))
        ));
        assert!(passes(
            &seen,
            Event::InitApply(sealed("b", "u2", Some(2), "21"))
        ));
        assert!(passes(&seen, Event::InitDone));
        // a and c, deleted during the next outage, are forgotten with the re-list that
        // misses them: a made again with the same uid and generation passes once more.
        assert!(passes(
            &seen,
            Event::Apply(sealed("c", "u5", Some(1), "22"))
        ));
        assert!(passes(&seen, Event::Init));
        assert!(!passes(
            &seen,
            Event::InitApply(sealed("b", "u2", Some(2), "23"))
        ));
        assert!(passes(&seen, Event::InitDone));
        assert!(passes(
            &seen,
            Event::Apply(sealed("a", "u1", Some(1), "24"))
        ));
        assert_eq!(
            seen.len(),
            2,
            "a and b; c went with the re-list that missed it"
        );
    }
}
