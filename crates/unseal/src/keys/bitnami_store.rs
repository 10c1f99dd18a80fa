//! The imported bitnami sealed-secrets keys, for `POST /v1/migrate` only: one Secret in
//! the controller's namespace, [`SECRET_NAME`], labelled [`LABEL`], apart from the age
//! sealing keys (which carry [`super::secrets::KEY_LABEL`]).
//!
//! Each key is one data entry `KEY-ID.pem` holding the key as PKCS#8 PEM; the id is the
//! start of the key's public fingerprint, so importing the same key again changes
//! nothing. The Secret is read with the same distrust as a key Secret: one with
//! ownerReferences (made from a SealedSecret, or planted), one that also claims to be a
//! sealing key, or one without the label is refused; the age key loader in turn refuses
//! a Secret with [`LABEL`]. Once the migration is over, delete it:
//! `kubectl delete secret -n NAMESPACE unseal-bitnami-migration-keys`.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, ResourceExt};
use seal_core::bitnami::BitnamiKeys;
use seal_core::bitnami::keys::BitnamiKey;
use zeroize::Zeroizing;

use super::secrets::KEY_LABEL;

/// The Secret's name.
pub const SECRET_NAME: &str = "unseal-bitnami-migration-keys";
/// The label saying what the Secret is (value `"true"`).
pub const LABEL: &str = "seal.dev/bitnami-migration-keys";
/// How many hex digits of the fingerprint name a key's data entry.
const ID_HEX: usize = 16;

/// Why the stored keys could not be read (never with key material).
#[derive(Debug, thiserror::Error)]
#[error("bitnami key Secret {name}: {problem}")]
pub struct BadStore {
    /// The Secret's name.
    pub name: String,
    /// What is wrong.
    pub problem: String,
}

/// The data entry a key is stored under: `sha256-<16 hex digits>.pem`.
pub fn entry_name(key: &BitnamiKey) -> String {
    let hex = key
        .fingerprint()
        .strip_prefix("sha256:")
        .unwrap_or(key.fingerprint());
    format!("sha256-{}.pem", &hex[..ID_HEX.min(hex.len())])
}

/// Whether the bitnami controller wrote `secret` from a SealedSecret: it copies the
/// template's annotations, and the one that has it leave out the owner reference
/// (`skip-set-owner-references`) is among them, so an unowned Secret it made always
/// carries a `sealedsecrets.bitnami.com/` annotation. While both controllers run (the
/// migration), whoever may create bitnami SealedSecrets in the controller's namespace
/// could otherwise have it write a "key" that passes the ownerReferences check.
pub fn written_by_bitnami(secret: &Secret) -> bool {
    secret
        .annotations()
        .keys()
        .any(|k| k.starts_with(seal_core::bitnami::ANNOTATION_PREFIX))
}

/// Why `secret` is another controller's output, if it is: owned (a Secret unsealed from
/// a SealedSecret is owned by it) or written by the bitnami controller
/// ([`written_by_bitnami`]). The key Secrets, the bitnami key store and the key backup
/// are made by an admin or this controller, never so: one that is was planted.
pub fn made_by_another_controller(secret: &Secret) -> Option<&'static str> {
    if !secret.owner_references().is_empty() {
        return Some("has ownerReferences (never so here; was it made from a SealedSecret?)");
    }
    if written_by_bitnami(secret) {
        return Some(
            "carries a sealedsecrets.bitnami.com/ annotation (the bitnami controller wrote it from a SealedSecret, unowned by skip-set-owner-references)",
        );
    }
    None
}

/// Reads the keys of the store Secret, refusing one that is not trustworthy.
pub fn decode(secret: &Secret) -> Result<BitnamiKeys, BadStore> {
    let name = secret.name_any();
    let bad = |problem: String| BadStore {
        name: name.clone(),
        problem,
    };
    if let Some(problem) = made_by_another_controller(secret) {
        return Err(bad(problem.into()));
    }
    if secret.labels().get(LABEL).map(String::as_str) != Some("true") {
        return Err(bad(format!("lacks the label {LABEL}=true")));
    }
    if secret.labels().contains_key(KEY_LABEL) {
        return Err(bad(format!(
            "also carries {KEY_LABEL}: a Secret is either a sealing key or the bitnami store"
        )));
    }
    let mut keys = BitnamiKeys::new();
    for (entry, bytes) in secret.data.iter().flatten() {
        if !entry.ends_with(".pem") {
            return Err(bad(format!(
                "data entry {} is not a key (*.pem)",
                seal_core::names::shown(entry)
            )));
        }
        let text = Zeroizing::new(
            String::from_utf8(bytes.0.clone())
                .map_err(|_| bad(format!("{entry} is not PEM text")))?,
        );
        keys.add_file(entry, &text)
            .map_err(|e| bad(e.to_string()))?;
    }
    if keys.is_empty() {
        return Err(bad("holds no key".into()));
    }
    Ok(keys)
}

/// The store Secret holding `entries` (data entry → PKCS#8 PEM).
fn encode(namespace: &str, entries: BTreeMap<String, ByteString>) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(SECRET_NAME.to_owned()),
            namespace: Some(namespace.to_owned()),
            labels: Some(BTreeMap::from([(LABEL.to_owned(), "true".to_owned())])),
            ..Default::default()
        },
        type_: Some("Opaque".to_owned()),
        data: Some(entries),
        ..Default::default()
    }
}

/// What an import did with one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// The key's public fingerprint.
    pub fingerprint: String,
    /// `false` when the store already held it.
    pub added: bool,
}

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The API server refused or failed.
    #[error(transparent)]
    Api(#[from] kube::Error),
    /// The existing store Secret is not trustworthy; it is left alone.
    #[error("{0}; delete it (kubectl delete secret) and import again")]
    Untrusted(BadStore),
    /// A key could not be exported for storage.
    #[error("a key ({0}) could not be encoded for storage")]
    Encode(String),
}

/// Adds `keys` to the store Secret in `namespace` (creating it), keeping what it holds;
/// a key already held is not written again.
pub async fn import(
    api: &Api<Secret>,
    namespace: &str,
    keys: &BitnamiKeys,
) -> Result<Vec<Imported>, ImportError> {
    let mut existing = api.get_opt(SECRET_NAME).await?;
    if let Some(secret) = &existing
        && let Err(bad) = decode(secret)
    {
        if let Some(s) = existing.as_mut() {
            wipe(s);
        }
        return Err(ImportError::Untrusted(bad));
    }
    let held = |entry: &str| {
        existing
            .as_ref()
            .and_then(|s| s.data.as_ref())
            .is_some_and(|d| d.contains_key(entry))
    };
    let mut done: Vec<Imported> = Vec::new();
    for key in keys.iter() {
        if !done.iter().any(|d| d.fingerprint == key.fingerprint()) {
            done.push(Imported {
                fingerprint: key.fingerprint().to_owned(),
                added: !held(&entry_name(key)),
            });
        }
    }
    if done.iter().all(|d| !d.added) {
        if let Some(s) = existing.as_mut() {
            wipe(s);
        }
        return Ok(done);
    }
    let mut entries: BTreeMap<String, ByteString> = existing
        .as_mut()
        .and_then(|s| s.data.take())
        .unwrap_or_default();
    for key in keys.iter() {
        if let std::collections::btree_map::Entry::Vacant(slot) = entries.entry(entry_name(key)) {
            let pem = key
                .to_pkcs8_pem()
                .ok_or_else(|| ImportError::Encode(key.fingerprint().to_owned()))?;
            slot.insert(ByteString(pem.as_bytes().to_vec()));
        }
    }
    let mut secret = encode(namespace, entries);
    let result = match existing {
        Some(old) => {
            // Replacing with the resourceVersion read: a concurrent change fails (409)
            // instead of being overwritten.
            secret.metadata.resource_version = old.metadata.resource_version;
            api.replace(SECRET_NAME, &PostParams::default(), &secret)
                .await
        }
        None => api.create(&PostParams::default(), &secret).await,
    };
    wipe(&mut secret);
    let mut stored = result?;
    wipe(&mut stored);
    Ok(done)
}

/// Wipes the key bytes of a Secret about to be dropped.
fn wipe(secret: &mut Secret) {
    use zeroize::Zeroize as _;
    for value in secret.data.iter_mut().flat_map(|d| d.values_mut()) {
        value.0.zeroize();
    }
}

/// The stored keys, or `Ok(None)` when none were imported.
pub async fn load(api: &Api<Secret>) -> Result<Option<Secret>, kube::Error> {
    api.get_opt(SECRET_NAME).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::secrets;

    const TEST_KEY: &str = include_str!("../../../../keys-example/sealed-secrets.key");

    fn stored() -> Secret {
        let mut keys = BitnamiKeys::new();
        keys.add_file("k", TEST_KEY).expect("reads");
        let key = keys.iter().next().expect("a key");
        let pem = key.to_pkcs8_pem().expect("exports");
        encode(
            "seal-system",
            BTreeMap::from([(entry_name(key), ByteString(pem.as_bytes().to_vec()))]),
        )
    }

    #[test]
    fn the_store_reads_back_its_keys() {
        let keys = decode(&stored()).expect("reads");
        assert_eq!(keys.len(), 1);
        let mut original = BitnamiKeys::new();
        original.add_file("k", TEST_KEY).expect("reads");
        assert_eq!(
            keys.iter().next().map(BitnamiKey::fingerprint),
            original.iter().next().map(BitnamiKey::fingerprint)
        );
    }

    /// What an attacker who can create Secrets from SealedSecrets (or a mistake) puts in
    /// the controller's namespace: never read as the store.
    #[test]
    fn an_owned_unlabelled_or_double_labelled_store_is_refused() {
        let mut owned = stored();
        owned.metadata.owner_references = Some(vec![Default::default()]);
        let err = decode(&owned).expect_err("owned").to_string();
        assert!(err.contains("ownerReferences"), "{err}");
        let mut unlabelled = stored();
        unlabelled.metadata.labels = None;
        assert!(decode(&unlabelled).is_err());
        let mut both = stored();
        both.labels_mut()
            .insert(KEY_LABEL.to_owned(), "true".to_owned());
        let err = decode(&both).expect_err("both").to_string();
        assert!(err.contains(KEY_LABEL), "{err}");
        // What the bitnami controller writes, unowned, from an attacker's SealedSecret.
        let mut from_bitnami = stored();
        from_bitnami.annotations_mut().insert(
            "sealedsecrets.bitnami.com/skip-set-owner-references".to_owned(),
            "true".to_owned(),
        );
        let err = decode(&from_bitnami).expect_err("bitnami-made").to_string();
        assert!(err.contains("sealedsecrets.bitnami.com/"), "{err}");
        let mut age_from_bitnami = secrets::encode(
            "seal-key-9999",
            "seal-system",
            &age::x25519::Identity::generate(),
            crate::clock::now(),
            false,
        );
        age_from_bitnami.annotations_mut().insert(
            "sealedsecrets.bitnami.com/skip-set-owner-references".to_owned(),
            "true".to_owned(),
        );
        assert!(secrets::decode(&age_from_bitnami).is_err());
        let mut junk = stored();
        junk.data = Some(BTreeMap::from([(
            "x.pem".to_owned(),
            ByteString(b"AGE-SECRET-KEY-1QQQQ".to_vec()),
        )]));
        let err = decode(&junk).expect_err("junk").to_string();
        assert!(!err.contains("QQQQ"), "{err}");
    }

    /// The two kinds of key never stand in for each other: the bitnami store is not an
    /// age key, and an age key Secret is not the bitnami store.
    #[test]
    fn a_bitnami_store_is_never_an_age_key_and_the_other_way_round() {
        let err = secrets::decode(&stored())
            .err()
            .expect("refused")
            .to_string();
        assert!(err.contains(LABEL), "{err}");
        let mut relabelled = stored();
        relabelled
            .labels_mut()
            .insert(KEY_LABEL.to_owned(), "true".to_owned());
        assert!(secrets::decode(&relabelled).is_err());
        let age = secrets::encode(
            SECRET_NAME,
            "seal-system",
            &age::x25519::Identity::generate(),
            crate::clock::now(),
            false,
        );
        assert!(decode(&age).is_err(), "an age key read as a bitnami key");
        let mut age_labelled = age.clone();
        age_labelled
            .labels_mut()
            .insert(LABEL.to_owned(), "true".to_owned());
        assert!(decode(&age_labelled).is_err());
        assert!(secrets::decode(&age_labelled).is_err());
    }
}
