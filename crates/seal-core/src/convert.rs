//! Secret → SealedSecret (sealing, public keys only) and SealedSecret → Secret (opening,
//! private keys), with the scope checks both directions share.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use crate::binding::Binding;
use crate::envelope::{self, SealError};
use crate::error::DocError;
use crate::keys::{KeyRing, Recipients};
use crate::names;
use crate::scope::Scope;
use crate::sealed_secret::{
    API_VERSION, KIND, Mode, SealedSecret, SealedSecretSpec, SecretTemplate, TemplateMetadata,
};
use crate::secret::PlainSecret;

/// How to seal.
#[derive(Clone, Debug, Default)]
pub struct SealOptions {
    /// The scope to bind values with.
    pub scope: Scope,
    /// The namespace for Secrets whose manifest has none (`-n`).
    pub default_namespace: Option<String>,
    /// How the controller should write the Secret.
    pub mode: Mode,
}

/// Seals every value of `secret` to `recipients`.
pub fn seal_secret(
    secret: &PlainSecret,
    recipients: &Recipients,
    options: &SealOptions,
) -> Result<SealedSecret, DocError> {
    let mut sealed = skeleton(secret, recipients, options)?;
    seal_into(&mut sealed, secret, recipients)?;
    Ok(sealed)
}

/// The SealedSecret for `secret` with everything but its values: metadata, scope, mode,
/// recipients and template, checked the same way [`seal_secret`] checks them.
pub fn skeleton(
    secret: &PlainSecret,
    recipients: &Recipients,
    options: &SealOptions,
) -> Result<SealedSecret, DocError> {
    let namespace = match (&secret.namespace, &options.default_namespace) {
        (Some(own), Some(flag)) if own != flag => {
            return Err(DocError::field(
                "metadata.namespace",
                format!(
                    "is {} but --namespace says {}; drop one of them",
                    names::shown(own),
                    names::shown(flag)
                ),
            ));
        }
        (Some(ns), _) | (None, Some(ns)) => Some(ns.clone()),
        (None, None) => None,
    };
    let mut sealed = SealedSecret::new(
        &secret.name,
        SealedSecretSpec {
            scope: options.scope,
            mode: options.mode,
            recipients: recipients.to_strings(),
            template: SecretTemplate {
                metadata: TemplateMetadata {
                    labels: secret.labels.clone(),
                    annotations: secret.annotations.clone(),
                },
                type_: secret.type_.clone(),
                immutable: secret.immutable,
            },
            encrypted_data: Default::default(),
        },
    );
    sealed.metadata.namespace = namespace;
    Ok(sealed)
}

/// Seals the values of `secret` into an existing SealedSecret, replacing only those keys:
/// every other key keeps its exact ciphertext (no Git churn). The binding comes from the
/// existing object (its scope, namespace and name).
pub fn seal_into(
    sealed: &mut SealedSecret,
    secret: &PlainSecret,
    recipients: &Recipients,
) -> Result<(), DocError> {
    for (key, value) in &secret.data {
        let binding = binding_of(sealed, key)?;
        let text = envelope::seal_value(&binding, value.expose(), recipients).map_err(|e| {
            let problem = match e {
                SealError::NoRecipients => "no recipients to seal to".to_owned(),
                other => other.to_string(),
            };
            DocError::field(format!("data.{key}"), problem)
        })?;
        sealed.spec.encrypted_data.insert(key.clone(), text);
    }
    Ok(())
}

/// Where a key of a SealedSecret stands, as a binding checked against its scope.
pub fn binding_of(sealed: &SealedSecret, key: &str) -> Result<Binding, DocError> {
    let namespace = sealed.metadata.namespace.as_deref().unwrap_or_default();
    let name = sealed.metadata.name.as_deref().unwrap_or_default();
    Binding::new(sealed.spec.scope, namespace, name, key).map_err(|e| {
        let field = if e.field == "key" {
            format!("data.{}", names::shown(key))
        } else {
            e.field.to_owned()
        };
        DocError::field(field, e.problem)
    })
}

/// The most X25519 unwraps (stanzas × candidate keys, summed over the values) one
/// SealedSecret may cost to open. A real one costs a few per value; without a cap an
/// object of 100 values with 64 stanzas each would cost seconds of CPU per open, and a
/// controller re-opens it on every change of its Secret.
pub const MAX_WORK: usize = 4096;

/// What opening `sealed` with `keys` would cost, in X25519 unwraps (every stanza tried
/// with every candidate key), read from the ciphertexts' shapes without any crypto. A
/// value whose shape is refused is an error here already.
pub fn work(sealed: &SealedSecret, keys: &KeyRing) -> Result<usize, DocError> {
    let candidates = keys.candidates(&sealed.spec.recipients).len();
    let mut total = 0usize;
    for (key, text) in &sealed.spec.encrypted_data {
        let shape = crate::ciphertext::decode(text)
            .and_then(|bytes| crate::ciphertext::check(&bytes, &sealed.spec.recipients))
            .map_err(|error| DocError::Open {
                field: format!("spec.encryptedData.{key}"),
                error,
            })?;
        total = total.saturating_add(shape.x25519_stanzas.saturating_mul(candidates));
    }
    Ok(total)
}

/// [`open_sealed_secret`], refused before any decryption when it would cost more than
/// [`MAX_WORK`] unwraps.
pub fn open_within_budget(sealed: &SealedSecret, keys: &KeyRing) -> Result<PlainSecret, DocError> {
    let cost = work(sealed, keys)?;
    if cost > MAX_WORK {
        return Err(DocError::field(
            "spec.encryptedData",
            format!(
                "opening would take {cost} key unwraps (values × recipient stanzas × keys), over the limit of {MAX_WORK}"
            ),
        ));
    }
    open_sealed_secret(sealed, keys)
}

/// Opens every value of a SealedSecret and builds its Secret. Any value that does not
/// open fails the whole object: a partial Secret is never produced.
pub fn open_sealed_secret(sealed: &SealedSecret, keys: &KeyRing) -> Result<PlainSecret, DocError> {
    let mut data = std::collections::BTreeMap::new();
    for (key, text) in &sealed.spec.encrypted_data {
        let at = binding_of(sealed, key)?;
        let value =
            envelope::open_value(text, &at, keys, &sealed.spec.recipients).map_err(|error| {
                DocError::Open {
                    field: format!("spec.encryptedData.{key}"),
                    error,
                }
            })?;
        data.insert(key.clone(), value);
    }
    let template = &sealed.spec.template;
    Ok(PlainSecret {
        name: sealed.metadata.name.clone().unwrap_or_default(),
        namespace: sealed.metadata.namespace.clone(),
        labels: template.metadata.labels.clone(),
        annotations: template.metadata.annotations.clone(),
        type_: template.type_.clone(),
        immutable: template.immutable,
        data,
    })
}

/// Reads a SealedSecret from a parsed document; errors name the field.
pub fn sealed_secret_from_value(value: Value) -> Result<SealedSecret, DocError> {
    let Value::Object(root) = &value else {
        return Err(DocError::field(
            "(document)",
            "expected a Kubernetes object (a mapping)",
        ));
    };
    match root.get("kind").and_then(Value::as_str) {
        Some(KIND) => {}
        Some(other) => {
            return Err(DocError::field(
                "kind",
                format!("expected {KIND}, found {}", names::shown(other)),
            ));
        }
        None => {
            return Err(DocError::field(
                "kind",
                format!("missing (expected {KIND})"),
            ));
        }
    }
    if root.get("apiVersion").and_then(Value::as_str) != Some(API_VERSION) {
        return Err(DocError::field(
            "apiVersion",
            format!("expected {API_VERSION}"),
        ));
    }
    let sealed: SealedSecret = serde_path_to_error::deserialize(value).map_err(|e| {
        let field = e.path().to_string();
        DocError::field(field, without_quoted_input(&e.into_inner().to_string()))
    })?;
    match sealed.metadata.name.as_deref() {
        None => return Err(DocError::field("metadata.name", "missing")),
        Some(name) => {
            names::check_object_name(name).map_err(|p| DocError::field("metadata.name", p))?
        }
    }
    if let Some(ns) = sealed.metadata.namespace.as_deref() {
        names::check_namespace(ns).map_err(|p| DocError::field("metadata.namespace", p))?;
    }
    Ok(sealed)
}

/// A serde message with every quoted piece of the input replaced by `"…"`: serde names
/// the value it did not expect (`invalid type: string "…", expected a boolean`,
/// ``unknown variant `…`, expected one of …``), and that value may be a private key
/// pasted into the wrong field. What follows `, expected` is serde's own (the type's
/// names) and is kept.
fn without_quoted_input(message: &str) -> String {
    let (told, expected) = match message.split_once(", expected") {
        Some((told, rest)) => (told, format!(", expected{rest}")),
        None => (message, String::new()),
    };
    let mut out = String::with_capacity(message.len());
    let mut open: Option<char> = None;
    for c in told.chars() {
        match open {
            None if c == '"' || c == '`' => {
                out.push(c);
                out.push('…');
                open = Some(c);
            }
            None => out.push(c),
            Some(q) if c == q => {
                out.push(c);
                open = None;
            }
            Some(_) => {}
        }
    }
    out.push_str(&expected);
    out
}

/// A SealedSecret with only what belongs in Git: server-side metadata (uid,
/// resourceVersion, managedFields, status, …) removed.
pub fn for_git(sealed: &SealedSecret) -> SealedSecret {
    let metadata = &sealed.metadata;
    SealedSecret {
        metadata: ObjectMeta {
            name: metadata.name.clone(),
            namespace: metadata.namespace.clone(),
            labels: metadata.labels.clone(),
            annotations: metadata.annotations.clone(),
            ..Default::default()
        },
        spec: sealed.spec.clone(),
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use age::secrecy::ExposeSecret;
    use age::x25519;
    use zeroize::Zeroizing;

    use super::*;
    use crate::secret_bytes::SecretBytes;

    fn keys() -> (KeyRing, Recipients) {
        let id = x25519::Identity::generate();
        let mut recipients = Recipients::new();
        recipients.insert(id.to_public());
        let mut ring = KeyRing::new();
        ring.add_file(
            "k",
            &Zeroizing::new(id.to_string().expose_secret().to_owned()),
        )
        .expect("parses");
        (ring, recipients)
    }

    fn secret(namespace: Option<&str>) -> PlainSecret {
        let mut s = PlainSecret {
            name: "db".into(),
            namespace: namespace.map(str::to_owned),
            type_: Some("Opaque".into()),
            ..Default::default()
        };
        s.labels.insert("app".into(), "db".into());
        s.data
            .insert("password".into(), SecretBytes::copy_from(b"p\x00w"));
        s.data
            .insert("user".into(), SecretBytes::copy_from(b"admin"));
        s
    }

    #[test]
    fn seal_then_open_gives_the_same_secret() {
        let (ring, recipients) = keys();
        let plain = secret(Some("apps"));
        let sealed = seal_secret(&plain, &recipients, &SealOptions::default()).expect("seals");
        assert_eq!(sealed.spec.recipients, recipients.to_strings());
        assert_eq!(sealed.spec.template.metadata.labels["app"], "db");
        let opened = open_sealed_secret(&sealed, &ring).expect("opens");
        assert_eq!(opened, plain);
    }

    #[test]
    fn strict_scope_needs_a_namespace_and_flags_must_agree() {
        let (_, recipients) = keys();
        let err = seal_secret(&secret(None), &recipients, &SealOptions::default())
            .expect_err("no namespace");
        assert!(
            err.to_string().starts_with("metadata.namespace: required"),
            "{err}"
        );
        let options = SealOptions {
            default_namespace: Some("other".into()),
            ..Default::default()
        };
        let err = seal_secret(&secret(Some("apps")), &recipients, &options).expect_err("conflict");
        assert!(err.to_string().contains("--namespace says"), "{err}");
        let options = SealOptions {
            scope: Scope::Cluster,
            ..Default::default()
        };
        assert!(seal_secret(&secret(None), &recipients, &options).is_ok());
    }

    #[test]
    fn moving_a_strict_secret_fails_and_a_namespace_scoped_one_may_be_renamed() {
        let (ring, recipients) = keys();
        let mut sealed = seal_secret(&secret(Some("apps")), &recipients, &SealOptions::default())
            .expect("seals");
        sealed.metadata.name = Some("renamed".into());
        let err = open_sealed_secret(&sealed, &ring).expect_err("renamed");
        assert!(matches!(err, DocError::Open { .. }), "{err}");

        let options = SealOptions {
            scope: Scope::Namespace,
            ..Default::default()
        };
        let mut sealed = seal_secret(&secret(Some("apps")), &recipients, &options).expect("seals");
        sealed.metadata.name = Some("renamed".into());
        assert!(open_sealed_secret(&sealed, &ring).is_ok());
        sealed.metadata.namespace = Some("other".into());
        assert!(open_sealed_secret(&sealed, &ring).is_err());
    }

    #[test]
    fn seal_into_changes_only_the_given_keys() {
        let (ring, recipients) = keys();
        let mut sealed = seal_secret(&secret(Some("apps")), &recipients, &SealOptions::default())
            .expect("seals");
        let before = sealed.spec.encrypted_data.clone();
        let mut update = PlainSecret {
            name: "db".into(),
            ..Default::default()
        };
        update
            .data
            .insert("password".into(), SecretBytes::copy_from(b"new"));
        update
            .data
            .insert("extra".into(), SecretBytes::copy_from(b"x"));
        seal_into(&mut sealed, &update, &recipients).expect("seals");
        assert_eq!(sealed.spec.encrypted_data["user"], before["user"]);
        assert_ne!(sealed.spec.encrypted_data["password"], before["password"]);
        let opened = open_sealed_secret(&sealed, &ring).expect("opens");
        assert_eq!(opened.data["password"].expose(), b"new");
        assert_eq!(opened.data["extra"].expose(), b"x");
    }

    #[test]
    fn the_work_of_an_open_is_counted_and_capped() {
        let (ring, recipients) = keys();
        let mut sealed = seal_secret(&secret(Some("apps")), &recipients, &SealOptions::default())
            .expect("seals");
        assert_eq!(
            work(&sealed, &ring).expect("counts"),
            2,
            "2 values x 1 stanza x 1 key"
        );
        let value = sealed.spec.encrypted_data["password"].clone();
        for i in 0..(MAX_WORK + 1) {
            sealed
                .spec
                .encrypted_data
                .insert(format!("k{i}"), value.clone());
        }
        let err = open_within_budget(&sealed, &ring).expect_err("too much work");
        assert!(err.to_string().contains("over the limit"), "{err}");
    }

    #[test]
    fn a_value_in_the_wrong_field_is_not_echoed() {
        let err = sealed_secret_from_value(serde_json::json!({
            "apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": "x"},
            "spec": {"template": {"immutable": "AGE-SECRET-KEY-1SECRETVALUE"}}
        }))
        .expect_err("not a boolean");
        let shown = err.to_string();
        assert!(!shown.contains("SECRETVALUE"), "{shown}");
        assert!(shown.contains("expected a boolean"), "{shown}");
        let err = sealed_secret_from_value(serde_json::json!({
            "apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": "x"},
            "spec": {"scope": "AGE-SECRET-KEY-1SECRETVALUE"}
        }))
        .expect_err("not a scope");
        let shown = err.to_string();
        assert!(!shown.contains("SECRETVALUE"), "{shown}");
        assert!(shown.contains("expected one of `strict`"), "{shown}");
    }

    #[test]
    fn sealed_secret_documents_are_checked() {
        let err =
            sealed_secret_from_value(serde_json::json!({"apiVersion": "v1", "kind": "Secret"}))
                .expect_err("not sealed");
        assert_eq!(
            err.to_string(),
            "kind: expected SealedSecret, found \"Secret\""
        );
        let err = sealed_secret_from_value(serde_json::json!({
            "apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": "x"},
            "spec": {"scope": "galaxy", "encryptedData": {}}
        }))
        .expect_err("bad scope");
        assert!(err.to_string().starts_with("spec.scope: "), "{err}");
    }
}
