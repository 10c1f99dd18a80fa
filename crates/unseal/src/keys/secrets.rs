//! Sealing keys as Secrets in the controller's namespace: one age identity each, labelled,
//! with its creation time and public recipient in annotations.
//!
//! Keys made by the controller are named `seal-key-NNNN` with a generation number; the
//! next key is `max + 1`, so two replicas (or `unseal rotate` and a renewal) racing for the
//! same renewal both try to create the same name and only one succeeds (409).

use std::collections::BTreeMap;
use std::str::FromStr;

use age::secrecy::ExposeSecret;
use age::x25519;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::jiff::Timestamp;
use kube::api::{ListParams, ObjectMeta, PostParams};
use kube::{Api, ResourceExt};
use zeroize::Zeroizing;

use super::lifecycle::RECIPIENTS_CONFIGMAP;
use super::registry;
use crate::clock;

/// The label every key Secret carries.
pub const KEY_LABEL: &str = "seal.dev/sealing-key";
/// The selector for key Secrets.
pub const KEY_SELECTOR: &str = "seal.dev/sealing-key=true";
/// Annotation: when the key was made (RFC 3339).
pub const CREATED_ANNOTATION: &str = "seal.dev/created-at";
/// Annotation: the key's public recipient.
pub const RECIPIENT_ANNOTATION: &str = "seal.dev/recipient";
/// Annotation `"true"`: the key opens values but is never the active (sealing) key. Set
/// on keys imported without `--activate`, so that a planted or stale backup cannot take
/// over sealing.
pub const OPEN_ONLY_ANNOTATION: &str = "seal.dev/open-only";
/// How far in the future a key's creation time may lie (clock skew between whoever made
/// it and this replica); a key "made" later than that is refused: the newest key is the
/// active one, so a far-future date would pin sealing to it and stop renewal.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;
/// The data key holding the identity file.
pub const IDENTITY_KEY: &str = "identity.txt";
/// Name prefix of generated keys.
const GENERATED_PREFIX: &str = "seal-key-";

/// A key read from its Secret.
pub struct StoredKey {
    /// The Secret's name.
    pub name: String,
    /// When it was made.
    pub created: Timestamp,
    /// The identity.
    pub identity: x25519::Identity,
    /// Whether it only opens (never the active key).
    pub open_only: bool,
}

/// Why a key Secret could not be read (the message never includes key material).
#[derive(Debug, thiserror::Error)]
#[error("key Secret {name}: {problem}")]
pub struct BadKey {
    /// The Secret's name.
    pub name: String,
    /// What is wrong.
    pub problem: &'static str,
}

/// Reads a key Secret. A Secret that has ownerReferences (the controller never owns a
/// key; a Secret unsealed from a SealedSecret is owned by it) or a creation time in the
/// future is refused: both are signs of a key someone planted.
pub fn decode(secret: &Secret) -> Result<StoredKey, BadKey> {
    let name = secret.name_any();
    let bad = |problem| BadKey {
        name: name.clone(),
        problem,
    };
    if let Some(problem) = super::bitnami_store::made_by_another_controller(secret) {
        return Err(bad(problem));
    }
    if secret.labels().contains_key(super::bitnami_store::LABEL) {
        return Err(bad(
            "carries seal.dev/bitnami-migration-keys: the bitnami migration keys are never sealing keys",
        ));
    }
    let bytes = secret
        .data
        .as_ref()
        .and_then(|d| d.get(IDENTITY_KEY))
        .ok_or_else(|| bad("no identity.txt"))?;
    let text = Zeroizing::new(
        String::from_utf8(bytes.0.clone()).map_err(|_| bad("identity.txt is not text"))?,
    );
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .ok_or_else(|| bad("identity.txt holds no AGE-SECRET-KEY-1 line"))?;
    let identity = x25519::Identity::from_str(line).map_err(|_| bad("malformed identity"))?;
    let created = secret
        .annotations()
        .get(CREATED_ANNOTATION)
        .and_then(|t| t.parse::<Timestamp>().ok())
        .or_else(|| secret.metadata.creation_timestamp.as_ref().map(|t| t.0))
        .unwrap_or(Timestamp::UNIX_EPOCH);
    if created.as_second() > clock::now().as_second() + MAX_CLOCK_SKEW_SECS {
        return Err(bad("its creation time lies in the future"));
    }
    let open_only = secret
        .annotations()
        .get(OPEN_ONLY_ANNOTATION)
        .is_some_and(|v| v == "true");
    Ok(StoredKey {
        name,
        created,
        identity,
        open_only,
    })
}

/// Builds the Secret for a key (`open_only`: it opens but never seals).
pub fn encode(
    name: &str,
    namespace: &str,
    identity: &x25519::Identity,
    created: Timestamp,
    open_only: bool,
) -> Secret {
    let recipient = identity.to_public().to_string();
    let mut file = Zeroizing::new(format!("# created: {created}\n# public key: {recipient}\n"));
    file.push_str(identity.to_string().expose_secret());
    file.push('\n');
    let mut annotations = BTreeMap::from([
        (CREATED_ANNOTATION.to_owned(), created.to_string()),
        (RECIPIENT_ANNOTATION.to_owned(), recipient),
    ]);
    if open_only {
        annotations.insert(OPEN_ONLY_ANNOTATION.to_owned(), "true".to_owned());
    }
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            labels: Some(BTreeMap::from([(KEY_LABEL.to_owned(), "true".to_owned())])),
            annotations: Some(annotations),
            ..Default::default()
        },
        type_: Some("Opaque".to_owned()),
        immutable: Some(true),
        data: Some(BTreeMap::from([(
            IDENTITY_KEY.to_owned(),
            ByteString(file.as_bytes().to_vec()),
        )])),
        ..Default::default()
    }
}

/// The key Secrets in the namespace.
pub async fn list(api: &Api<Secret>) -> kube::Result<Vec<Secret>> {
    Ok(api
        .list(&ListParams::default().labels(KEY_SELECTOR))
        .await?
        .items)
}

/// What creating the next key did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    /// This call made the key with this name.
    Made(String),
    /// A concurrent peer made it first.
    PeerWon(String),
}

/// Creates the next generated key, `seal-key-(max + 1)`, where max covers the key
/// Secrets and every key the registry remembers (so a lost key's name is never reused).
/// A 409 means a peer created the same generation concurrently: that key counts, no
/// second one is made.
pub async fn create_next(api: &Api<Secret>, namespace: &str) -> kube::Result<Created> {
    let existing = list(api).await?;
    let maps: Api<ConfigMap> = Api::namespaced(api.clone().into_client(), namespace);
    let known = match maps.get_opt(RECIPIENTS_CONFIGMAP).await? {
        Some(map) => map
            .data
            .and_then(|d| d.get(registry::KNOWN_KEYS).map(|t| registry::parse(t)))
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let next = existing
        .iter()
        .filter_map(|s| registry::generation(&s.name_any()))
        .max()
        .unwrap_or(0)
        .max(registry::highest_generation(&known))
        + 1;
    let name = format!("{GENERATED_PREFIX}{next:04}");
    let secret = encode(
        &name,
        namespace,
        &x25519::Identity::generate(),
        clock::now(),
        false,
    );
    match api.create(&PostParams::default(), &secret).await {
        Ok(_) => Ok(Created::Made(name)),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(Created::PeerWon(name)),
        Err(e) => Err(e),
    }
}

/// Stores an identity brought from outside (a restored backup or your own key), unless a
/// key with its recipient is already held. A restored key keeps its former name when that
/// name is free (so the generation order survives a restore); otherwise it is named
/// `seal-key-imported-…`. It opens values but never becomes the active key unless
/// `activate` (then it is stamped as made now, so it is the newest). Returns the name
/// when a Secret was created.
pub async fn import(
    api: &Api<Secret>,
    namespace: &str,
    identity: &x25519::Identity,
    created: Timestamp,
    former_name: Option<&str>,
    activate: bool,
) -> kube::Result<Option<String>> {
    let created = if activate {
        clock::now()
    } else {
        created.min(clock::now())
    };
    let recipient = identity.to_public().to_string();
    let existing = list(api).await?;
    let held = existing
        .iter()
        .any(|s| s.annotations().get(RECIPIENT_ANNOTATION) == Some(&recipient));
    if held {
        return Ok(None);
    }
    let taken = |n: &str| existing.iter().any(|s| s.name_any() == n);
    let tail: String = recipient.chars().skip(4).take(12).collect();
    let name = match former_name {
        Some(n) if n.starts_with(GENERATED_PREFIX) && !taken(n) => n.to_owned(),
        _ => format!("{GENERATED_PREFIX}imported-{tail}"),
    };
    match api
        .create(
            &PostParams::default(),
            &encode(&name, namespace, identity, created, !activate),
        )
        .await
    {
        Ok(_) => Ok(Some(name)),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_then_decode() {
        let identity = x25519::Identity::generate();
        let created: Timestamp = "2026-01-02T03:04:05Z".parse().expect("time");
        let secret = encode("seal-key-0007", "seal-system", &identity, created, false);
        let key = decode(&secret).expect("decodes");
        assert_eq!(key.name, "seal-key-0007");
        assert_eq!(key.created, created);
        assert_eq!(
            key.identity.to_public().to_string(),
            identity.to_public().to_string()
        );
        assert_eq!(registry::generation("seal-key-0007"), Some(7));
        assert_eq!(registry::generation("seal-key-imported-abc"), None);
    }

    #[test]
    fn bad_key_secrets_are_named_without_material() {
        let mut secret = encode(
            "k",
            "ns",
            &x25519::Identity::generate(),
            Timestamp::UNIX_EPOCH,
            false,
        );
        secret.data = Some(BTreeMap::from([(
            IDENTITY_KEY.to_owned(),
            ByteString(b"AGE-SECRET-KEY-1BROKEN".to_vec()),
        )]));
        let err = decode(&secret).err().expect("fails").to_string();
        assert_eq!(err, "key Secret k: malformed identity");
    }

    #[test]
    fn planted_keys_are_refused() {
        let identity = x25519::Identity::generate();
        let future: Timestamp = "2099-01-01T00:00:00Z".parse().expect("time");
        let planted = encode("seal-key-9999", "ns", &identity, future, false);
        let err = decode(&planted).err().expect("future").to_string();
        assert!(err.contains("in the future"), "{err}");
        let mut owned = encode("db", "ns", &identity, clock::now(), false);
        owned.metadata.owner_references = Some(vec![Default::default()]);
        let err = decode(&owned).err().expect("owned").to_string();
        assert!(err.contains("ownerReferences"), "{err}");
        let open_only = encode("k", "ns", &identity, clock::now(), true);
        assert!(decode(&open_only).expect("decodes").open_only);
    }
}
