//! [`KeyStore`]: the keys this replica holds, swapped atomically when the key Secrets
//! change, with a notification for whoever must react (re-sync, re-publish).

use std::sync::{Arc, RwLock};

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::jiff::Timestamp;
use seal_core::KeyRing;
use tokio::sync::watch;

use super::secrets;
use crate::sync_record::RecordKey;

/// Public facts about one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    /// The Secret's name.
    pub name: String,
    /// Its `age1…` recipient.
    pub recipient: String,
    /// When it was made.
    pub created: Timestamp,
    /// Whether it only opens values (imported without `--activate`): never active.
    pub open_only: bool,
}

/// One consistent view of the keys.
#[derive(Debug, Default)]
pub struct KeySet {
    /// The identities, for opening.
    pub ring: KeyRing,
    /// Facts about each key, newest first; the first that is not open-only is the active
    /// one.
    pub keys: Vec<KeyInfo>,
    /// Key Secrets that were skipped as unreadable or untrusted (planted, owned, from the
    /// future): a number to alert on.
    pub refused: usize,
    /// The key of sync records, derived from the oldest key held (the same across
    /// renewals and on every replica); `None` when no key is held.
    pub record_key: Option<RecordKey>,
}

impl KeySet {
    /// Builds the set from key Secrets; unreadable ones are skipped and reported.
    pub fn from_secrets<'a>(
        secrets: impl IntoIterator<Item = &'a Secret>,
    ) -> (Self, Vec<secrets::BadKey>) {
        let mut set = KeySet::default();
        let mut bad = Vec::new();
        let mut oldest: Option<(Timestamp, String)> = None;
        for secret in secrets {
            match secrets::decode(secret) {
                Ok(key) => {
                    let rank = (key.created, key.name.clone());
                    if oldest.as_ref().is_none_or(|o| rank < *o) {
                        set.record_key = Some(RecordKey::derive(&key.identity));
                        oldest = Some(rank);
                    }
                    set.keys.push(KeyInfo {
                        name: key.name,
                        recipient: key.identity.to_public().to_string(),
                        created: key.created,
                        open_only: key.open_only,
                    });
                    set.ring.insert(key.identity);
                }
                Err(e) => bad.push(e),
            }
        }
        set.keys
            .sort_by(|a, b| b.created.cmp(&a.created).then_with(|| b.name.cmp(&a.name)));
        set.keys.dedup_by(|a, b| a.recipient == b.recipient);
        set.refused = bad.len();
        (set, bad)
    }

    /// The key new values are sealed to: the newest that is not open-only.
    pub fn active(&self) -> Option<&KeyInfo> {
        self.keys.iter().find(|k| !k.open_only)
    }
}

/// The current [`KeySet`], shared by the reconciler and the HTTP API.
pub struct KeyStore {
    current: RwLock<Arc<KeySet>>,
    changed: watch::Sender<u64>,
    /// Names of keys the registry remembers but no key Secret holds.
    missing: RwLock<Vec<String>>,
}

impl Default for KeyStore {
    fn default() -> Self {
        Self {
            current: RwLock::new(Arc::new(KeySet::default())),
            changed: watch::channel(0).0,
            missing: RwLock::new(Vec::new()),
        }
    }
}

impl KeyStore {
    /// The keys now.
    pub fn current(&self) -> Arc<KeySet> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Replaces the keys; notifies watchers when the recipients changed.
    pub fn replace(&self, set: KeySet) {
        let differs = {
            let now = self.current();
            now.keys != set.keys || now.refused != set.refused
        };
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(set);
        if differs {
            self.changed.send_modify(|n| *n += 1);
        }
    }

    /// Records the keys found missing (by the leader, from the registry).
    pub fn set_missing(&self, names: Vec<String>) {
        *self.missing.write().unwrap_or_else(|p| p.into_inner()) = names;
    }

    /// The keys found missing, by name.
    pub fn missing(&self) -> Vec<String> {
        self.missing
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Whether any key is loaded.
    pub fn is_loaded(&self) -> bool {
        !self.current().keys.is_empty()
    }

    /// How many times the key set has changed so far (a receiver of [`Self::subscribe`]
    /// sees every change after the one it returns).
    pub fn version(&self) -> u64 {
        *self.changed.borrow()
    }

    /// A receiver that changes whenever the key set does.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use age::x25519;

    use super::*;

    #[test]
    fn newest_key_is_active_and_bad_keys_are_skipped() {
        let t = |s: &str| s.parse::<Timestamp>().expect("time");
        let old = secrets::encode(
            "seal-key-0001",
            "ns",
            &x25519::Identity::generate(),
            t("2026-01-01T00:00:00Z"),
            false,
        );
        let new = secrets::encode(
            "seal-key-0002",
            "ns",
            &x25519::Identity::generate(),
            t("2026-02-01T00:00:00Z"),
            false,
        );
        let imported = secrets::encode(
            "seal-key-imported-x",
            "ns",
            &x25519::Identity::generate(),
            t("2026-03-01T00:00:00Z"),
            true,
        );
        let mut broken = old.clone();
        broken.metadata.name = Some("broken".into());
        broken.data = None;
        let (set, bad) = KeySet::from_secrets([&old, &new, &broken, &imported]);
        assert_eq!(set.active().map(|k| k.name.as_str()), Some("seal-key-0002"));
        assert_eq!(set.ring.len(), 3);
        assert_eq!(bad.len(), 1);
        assert_eq!(set.refused, 1);
        let store = KeyStore::default();
        let rx = store.subscribe();
        store.replace(set);
        assert!(rx.has_changed().expect("open"));
        assert!(store.is_loaded());
    }
}
