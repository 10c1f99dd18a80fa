//! [`PlainSecret`]: a Kubernetes Secret manifest with its values in wiped-on-drop memory,
//! read field by field so that every error names the field (and never its value).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use serde_json::{Map, Value};
use zeroize::Zeroize;

use crate::error::DocError;
use crate::names;
use crate::sealed_secret::is_reserved;
use crate::secret_bytes::SecretBytes;

/// Annotations never carried into a SealedSecret: `kubectl apply` keeps the whole
/// plaintext object in this one.
pub const DROPPED_ANNOTATIONS: &[&str] = &["kubectl.kubernetes.io/last-applied-configuration"];

/// Secret types whose keys Kubernetes checks, with the key each must have.
const REQUIRED_KEYS: &[(&str, &[&str])] = &[
    ("kubernetes.io/dockerconfigjson", &[".dockerconfigjson"]),
    ("kubernetes.io/dockercfg", &[".dockercfg"]),
    ("kubernetes.io/tls", &["tls.crt", "tls.key"]),
    ("kubernetes.io/ssh-auth", &["ssh-privatekey"]),
];

/// A Secret with plaintext values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlainSecret {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`, when the manifest has one.
    pub namespace: Option<String>,
    /// `metadata.labels`.
    pub labels: BTreeMap<String, String>,
    /// `metadata.annotations`, without [`DROPPED_ANNOTATIONS`].
    pub annotations: BTreeMap<String, String>,
    /// `type`.
    pub type_: Option<String>,
    /// `immutable`.
    pub immutable: Option<bool>,
    /// `data` merged with `stringData` (which wins, as in Kubernetes).
    pub data: BTreeMap<String, SecretBytes>,
}

impl PlainSecret {
    /// Reads a Secret from a parsed document, then wipes every string of the document
    /// (the values now live only in [`SecretBytes`]). Server-side fields (uid,
    /// resourceVersion, managedFields, ownerReferences, status, …) are not carried over.
    pub fn from_value(mut value: Value) -> Result<Self, DocError> {
        let result = Self::read(&value);
        scrub(&mut value);
        result
    }

    fn read(value: &Value) -> Result<Self, DocError> {
        let Value::Object(root) = value else {
            return Err(DocError::field(
                "(document)",
                "expected a Kubernetes object (a mapping with apiVersion and kind)",
            ));
        };
        match root.get("kind") {
            Some(Value::String(kind)) if kind == "Secret" => {}
            Some(Value::String(kind)) => {
                return Err(DocError::field(
                    "kind",
                    format!("expected Secret, found {}", names::shown(kind)),
                ));
            }
            _ => return Err(DocError::field("kind", "missing (expected Secret)")),
        }
        match root.get("apiVersion") {
            Some(Value::String(v)) if v == "v1" => {}
            _ => return Err(DocError::field("apiVersion", "expected v1 for a Secret")),
        }
        let metadata = match root.get("metadata") {
            Some(Value::Object(m)) => m,
            _ => {
                return Err(DocError::field(
                    "metadata",
                    "missing (a Secret needs metadata.name)",
                ));
            }
        };
        let name = match metadata.get("name") {
            Some(Value::String(n)) => n.clone(),
            _ => return Err(DocError::field("metadata.name", "missing")),
        };
        names::check_object_name(&name).map_err(|p| DocError::field("metadata.name", p))?;
        let namespace = match metadata.get("namespace") {
            None | Some(Value::Null) => None,
            Some(Value::String(ns)) => {
                names::check_namespace(ns).map_err(|p| DocError::field("metadata.namespace", p))?;
                Some(ns.clone())
            }
            Some(_) => return Err(DocError::field("metadata.namespace", "expected a string")),
        };
        let mut labels = string_map(metadata, "labels", "metadata.labels")?;
        let mut annotations = string_map(metadata, "annotations", "metadata.annotations")?;
        // Set only by the controller (a Secret read back from a cluster carries them);
        // the controller refuses a template that holds one.
        labels.retain(|k, _| !is_reserved(k));
        annotations.retain(|k, _| !is_reserved(k));
        for dropped in DROPPED_ANNOTATIONS {
            if let Some(mut v) = annotations.remove(*dropped) {
                v.zeroize();
            }
        }
        let type_ = match root.get("type") {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) => Some(t.clone()),
            Some(_) => return Err(DocError::field("type", "expected a string")),
        };
        let immutable = match root.get("immutable") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => return Err(DocError::field("immutable", "expected true or false")),
        };
        let mut data = BTreeMap::new();
        for (key, value) in entries(root, "data")? {
            let field = format!("data.{key}");
            let Value::String(text) = value else {
                return Err(DocError::field(field, "expected a base64 string"));
            };
            let compact: zeroize::Zeroizing<String> = zeroize::Zeroizing::new(
                text.chars().filter(|c| !c.is_ascii_whitespace()).collect(),
            );
            let bytes = STANDARD.decode(compact.as_bytes()).map_err(|_| {
                DocError::field(field, "not valid base64 (use stringData for plain text)")
            })?;
            data.insert(key.clone(), SecretBytes::new(bytes));
        }
        for (key, value) in entries(root, "stringData")? {
            let Value::String(text) = value else {
                return Err(DocError::field(
                    format!("stringData.{key}"),
                    "expected a string (quote numbers and booleans)",
                ));
            };
            data.insert(key.clone(), SecretBytes::copy_from(text.as_bytes()));
        }
        if let Some(type_) = &type_
            && let Some((_, required)) = REQUIRED_KEYS.iter().find(|(t, _)| t == type_)
        {
            for key in *required {
                if !data.contains_key(*key) {
                    return Err(DocError::field(
                        "data",
                        format!("a Secret of type {type_} needs the key {key}"),
                    ));
                }
            }
        }
        Ok(Self {
            name,
            namespace,
            labels,
            annotations,
            type_,
            immutable,
            data,
        })
    }

    /// The Secret as a manifest to serialize (`data` in base64).
    pub fn manifest(&self) -> SecretManifest<'_> {
        SecretManifest {
            api_version: "v1",
            kind: "Secret",
            metadata: ManifestMetadata {
                name: &self.name,
                namespace: self.namespace.as_deref(),
                labels: &self.labels,
                annotations: &self.annotations,
            },
            type_: self.type_.as_deref(),
            immutable: self.immutable,
            data: &self.data,
        }
    }
}

/// The entries of `data` or `stringData`, with their key names checked.
fn entries<'a>(
    root: &'a Map<String, Value>,
    field: &str,
) -> Result<Vec<(&'a String, &'a Value)>, DocError> {
    match root.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(key, value)| {
                names::check_key(key)
                    .map_err(|p| DocError::field(format!("{field}.{}", names::shown(key)), p))?;
                Ok((key, value))
            })
            .collect(),
        Some(_) => Err(DocError::field(field, "expected a mapping of key to value")),
    }
}

fn string_map(
    metadata: &Map<String, Value>,
    key: &str,
    field: &str,
) -> Result<BTreeMap<String, String>, DocError> {
    match metadata.get(key) {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(DocError::field(
                    format!("{field}.{k}"),
                    "expected a string (quote it)",
                )),
            })
            .collect(),
        Some(_) => Err(DocError::field(field, "expected a mapping")),
    }
}

/// Overwrites every string in a document with zeros before it is dropped (for documents
/// that may hold plaintext values).
pub fn scrub(value: &mut Value) {
    match value {
        Value::String(s) => s.zeroize(),
        Value::Array(items) => items.iter_mut().for_each(scrub),
        Value::Object(map) => map.values_mut().for_each(scrub),
        _ => {}
    }
}

/// A Secret manifest ready to serialize.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretManifest<'a> {
    api_version: &'static str,
    kind: &'static str,
    metadata: ManifestMetadata<'a>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    type_: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    immutable: Option<bool>,
    data: &'a BTreeMap<String, SecretBytes>,
}

#[derive(Debug, Serialize)]
struct ManifestMetadata<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<&'a str>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    labels: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: &'a BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn problem(value: Value) -> String {
        PlainSecret::from_value(value)
            .expect_err("must fail")
            .to_string()
    }

    #[test]
    fn reads_data_and_string_data_and_drops_server_fields() {
        let secret = PlainSecret::from_value(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db", "namespace": "apps", "uid": "u", "resourceVersion": "1",
                "labels": {"app": "db", "seal.dev/managed-by": "unseal"},
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{…}", "team": "a",
                    "seal.dev/created-at": "2099-01-01T00:00:00Z"}},
            "type": "Opaque",
            "data": {"user": "YWRtaW4=", "both": "b2xk"},
            "stringData": {"both": "new"},
            "status": {}
        }))
        .expect("reads");
        assert_eq!(secret.name, "db");
        assert_eq!(secret.namespace.as_deref(), Some("apps"));
        assert_eq!(secret.data["user"].expose(), b"admin");
        assert_eq!(secret.data["both"].expose(), b"new");
        assert_eq!(secret.annotations.keys().collect::<Vec<_>>(), ["team"]);
        assert_eq!(secret.labels.keys().collect::<Vec<_>>(), ["app"]);
    }

    #[test]
    fn errors_name_the_field_never_the_value() {
        let base = |extra: Value| {
            let mut v = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}});
            if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
                m.extend(e);
            }
            v
        };
        let cases = [
            (
                json!({"kind": "ConfigMap", "apiVersion": "v1"}),
                "kind: expected Secret, found \"ConfigMap\"",
            ),
            (json!([1]), "(document): expected a Kubernetes object"),
            (
                base(json!({"data": {"pw": "hunter2!!"}})),
                "data.pw: not valid base64",
            ),
            (
                base(json!({"data": {"bad key": "YQ=="}})),
                "data.\"bad key\": a key may hold only",
            ),
            (
                base(json!({"stringData": {"port": 5432}})),
                "stringData.port: expected a string",
            ),
            (
                base(json!({"type": "kubernetes.io/tls", "data": {"tls.crt": "YQ=="}})),
                "needs the key tls.key",
            ),
            (
                json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "Bad"}}),
                "metadata.name: a name must",
            ),
        ];
        for (value, want) in cases {
            let got = problem(value);
            assert!(got.contains(want), "{got}");
            assert!(!got.contains("hunter2"));
        }
    }

    #[test]
    fn manifest_writes_base64_data() {
        let mut secret = PlainSecret {
            name: "db".into(),
            ..Default::default()
        };
        secret.data.insert("k".into(), SecretBytes::copy_from(b"v"));
        let json = serde_json::to_value(secret.manifest()).expect("serializes");
        assert_eq!(
            json,
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "data": {"k": "dg=="}})
        );
    }
}
