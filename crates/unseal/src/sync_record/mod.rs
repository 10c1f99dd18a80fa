//! The sync record: how a controller that restarts knows, from its metadata-only caches
//! alone, that a SealedSecret's Secret is still exactly what it wrote, so that it neither
//! reads the SealedSecret nor opens a value nor writes anything for it.
//!
//! After each successful reconcile the controller annotates the SealedSecret
//! ([`RECORD_ANNOTATION`]) with a MAC, under a key only it holds ([`RecordKey`], derived
//! from its oldest sealing key), over:
//! - the SealedSecret's uid and `metadata.generation` (its spec: a changed spec or a
//!   SealedSecret deleted and created again no longer matches);
//! - the [`Stamp`] of the Secret as the controller last wrote or read it: a digest of its
//!   uid and `resourceVersion`. The API server gives every change of a Secret (data,
//!   labels, annotations, owners) a new `resourceVersion`, and nobody can set it back: an
//!   edited Secret, or one deleted and made again, no longer matches.
//!
//! At start the metadata-only watches give the SealedSecret's annotation, uid and
//! generation and each Secret's uid and `resourceVersion` (kept small: [`stamps`]); when the MAC
//! verifies, nothing is to be done. Anyone who can write the SealedSecret's annotations
//! can only copy a record that was valid for exactly this object's current state (the MAC
//! binds the uid, generation and Secret version), or break it, which costs one full
//! reconcile; nobody without the sealing keys can make one. The MAC covers no secret value
//! (a plain hash of values would let anyone who reads the annotation brute-force short
//! passwords), and the record says nothing about them.

pub mod stamps;

use age::secrecy::ExposeSecret;
use age::x25519;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

pub use stamps::{Records, SecretStamps};

/// The annotation on a SealedSecret that holds its sync record.
pub const RECORD_ANNOTATION: &str = "seal.dev/synced";

/// The record format's version, the prefix of every record.
const VERSION: &str = "v1";

/// Bytes of the MAC kept in the record (128 bits).
const TAG_BYTES: usize = 16;

/// What the running controller's watches have shown about sync records: the stamps of
/// the Secrets and the records of the SealedSecrets.
pub struct SyncCaches {
    /// The Secrets' stamps, two feeds (owned, merged) per watched scope.
    pub stamps: SecretStamps,
    /// The SealedSecrets' records, one feed per watched scope.
    pub records: Records,
}

impl SyncCaches {
    /// Empty caches for `scopes` watched scopes.
    pub fn new(scopes: usize) -> Self {
        Self {
            stamps: SecretStamps::new(scopes * 2),
            records: Records::new(scopes),
        }
    }
}

/// A digest of a Secret's uid and `resourceVersion`: which version of which object the
/// controller last saw. Both are set by the API server alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Stamp([u8; 16]);

impl Stamp {
    /// The stamp of the Secret with this uid at this `resourceVersion`.
    pub fn of(uid: &str, resource_version: &str) -> Self {
        let mut hash = Sha256::new();
        hash.update(b"seal.dev/secret-stamp\0");
        hash.update((uid.len() as u64).to_be_bytes());
        hash.update(uid.as_bytes());
        hash.update(resource_version.as_bytes());
        let digest = hash.finalize();
        let mut out = [0u8; 16];
        out.copy_from_slice(&digest[..16]);
        Self(out)
    }

    /// The stamp of an object as stored (`None` when it has no uid or version, i.e. it
    /// was not read from the API server).
    pub fn of_meta(meta: &ObjectMeta) -> Option<Self> {
        Some(Self::of(
            meta.uid.as_deref()?,
            meta.resource_version.as_deref()?,
        ))
    }
}

/// The controller's key for sync records: HKDF-SHA256 of its oldest sealing identity,
/// with a label of its own, so that it is the same on every replica and across restarts
/// and renewals, and unknown to anyone who does not hold the sealing keys.
pub struct RecordKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for RecordKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecordKey(..)")
    }
}

impl RecordKey {
    /// The record key derived from `identity`.
    pub fn derive(identity: &x25519::Identity) -> Self {
        let secret = identity.to_string();
        let hkdf = hkdf::Hkdf::<Sha256>::new(
            Some(b"seal.dev/sync-record"),
            secret.expose_secret().as_bytes(),
        );
        let mut key = Zeroizing::new([0u8; 32]);
        // 32 bytes is always a valid HKDF-SHA256 output length.
        if hkdf.expand(b"v1", key.as_mut()).is_err() {
            key.fill(0);
        }
        Self(key)
    }

    fn mac(&self, sealed_uid: &str, generation: i64, stamp: &Stamp) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.0.as_ref())
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(b"seal.dev/synced v1\0");
        mac.update(&(sealed_uid.len() as u64).to_be_bytes());
        mac.update(sealed_uid.as_bytes());
        mac.update(&generation.to_be_bytes());
        mac.update(&stamp.0);
        mac
    }

    /// The record for the SealedSecret `sealed_uid` at `generation` whose Secret is at
    /// `stamp`.
    pub fn record(&self, sealed_uid: &str, generation: i64, stamp: &Stamp) -> String {
        let tag = self
            .mac(sealed_uid, generation, stamp)
            .finalize()
            .into_bytes();
        format!("{VERSION}.{}", URL_SAFE_NO_PAD.encode(&tag[..TAG_BYTES]))
    }

    /// Whether `record` is this key's record for that SealedSecret, generation and Secret
    /// version (compared in constant time).
    pub fn verifies(&self, record: &str, sealed_uid: &str, generation: i64, stamp: &Stamp) -> bool {
        Tag::parse(record).is_some_and(|tag| self.verifies_tag(&tag, sealed_uid, generation, stamp))
    }

    /// [`Self::verifies`] for a record already parsed.
    pub fn verifies_tag(
        &self,
        tag: &Tag,
        sealed_uid: &str,
        generation: i64,
        stamp: &Stamp,
    ) -> bool {
        self.mac(sealed_uid, generation, stamp)
            .verify_truncated_left(&tag.0)
            .is_ok()
    }
}

/// A record's MAC as the controller keeps it in memory: 16 bytes, not the annotation's
/// text in a map of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tag([u8; TAG_BYTES]);

impl Tag {
    /// The MAC of a record (`None` when it is not one of this version's form).
    pub fn parse(record: &str) -> Option<Self> {
        let encoded = record.strip_prefix(VERSION)?.strip_prefix('.')?;
        let mut tag = [0u8; TAG_BYTES];
        match URL_SAFE_NO_PAD.decode_slice(encoded, &mut tag) {
            Ok(TAG_BYTES) => Some(Self(tag)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> RecordKey {
        RecordKey::derive(&x25519::Identity::generate())
    }

    #[test]
    fn a_record_verifies_only_for_the_same_object_generation_and_secret_version() {
        let k = key();
        let stamp = Stamp::of("secret-uid", "41");
        let record = k.record("sealed-uid", 3, &stamp);
        assert!(k.verifies(&record, "sealed-uid", 3, &stamp));
        assert!(!k.verifies(&record, "sealed-uid", 4, &stamp), "generation");
        assert!(!k.verifies(&record, "other-uid", 3, &stamp), "object");
        assert!(
            !k.verifies(&record, "sealed-uid", 3, &Stamp::of("secret-uid", "42")),
            "an edited Secret has another resourceVersion"
        );
        assert!(
            !k.verifies(&record, "sealed-uid", 3, &Stamp::of("new-uid", "41")),
            "a Secret made again has another uid"
        );
        assert!(
            !key().verifies(&record, "sealed-uid", 3, &stamp),
            "another controller's key"
        );
    }

    #[test]
    fn forged_and_malformed_records_do_not_verify() {
        let k = key();
        let stamp = Stamp::of("u", "1");
        let record = k.record("s", 1, &stamp);
        let mut flipped = record.clone().into_bytes();
        let last = flipped.len() - 2;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).expect("ascii");
        for forged in [
            "",
            "v1.",
            "v1",
            "v2.AAAAAAAAAAAAAAAAAAAAAA",
            "v1.AAAAAAAAAAAAAAAAAAAAAA",
            &flipped,
            &record[..record.len() - 1],
            &format!("{record}A"),
        ] {
            assert!(!k.verifies(forged, "s", 1, &stamp), "{forged:?} verified");
        }
    }

    #[test]
    fn the_key_is_stable_for_an_identity_and_the_stamp_separates_its_fields() {
        let id = x25519::Identity::generate();
        let stamp = Stamp::of("u", "1");
        assert_eq!(
            RecordKey::derive(&id).record("s", 1, &stamp),
            RecordKey::derive(&id).record("s", 1, &stamp)
        );
        assert_ne!(Stamp::of("ab", "c"), Stamp::of("a", "bc"));
        let mut meta = ObjectMeta::default();
        assert_eq!(Stamp::of_meta(&meta), None);
        meta.uid = Some("u".into());
        meta.resource_version = Some("1".into());
        assert_eq!(Stamp::of_meta(&meta), Some(stamp));
    }
}
