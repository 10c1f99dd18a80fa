//! The `SealedSecret` custom resource (`seal.dev/v1alpha1`): what `seal` writes and the
//! controller turns into a Secret. Safe to commit: it holds only ciphertext and public keys.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::scope::Scope;

/// The API group.
pub const GROUP: &str = "seal.dev";
/// The API version.
pub const VERSION: &str = "v1alpha1";
/// `apiVersion` as it appears in manifests.
pub const API_VERSION: &str = "seal.dev/v1alpha1";
/// The kind.
pub const KIND: &str = "SealedSecret";
/// The prefix of labels and annotations that only the controller and the owners of
/// live Secrets set (`seal.dev/managed-by`, `seal.dev/sealing-key`, `seal.dev/merge-keys`,
/// …). A template that carries one is refused by the controller: otherwise whoever can
/// create a SealedSecret could make a Secret look like a sealing key or an opted-in
/// merge target. `seal` drops them when sealing.
pub const RESERVED_PREFIX: &str = "seal.dev/";

/// The desired Secret, sealed.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "seal.dev",
    version = "v1alpha1",
    kind = "SealedSecret",
    namespaced,
    status = "SealedSecretStatus",
    shortname = "sls",
    printcolumn = r#"{"name":"Synced","type":"string","jsonPath":".status.conditions[?(@.type==\"Synced\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Synced\")].reason"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct SealedSecretSpec {
    /// The scope every value was sealed with (the sealed header is the authority; a value
    /// whose header disagrees is refused).
    #[serde(default)]
    pub scope: Scope,
    /// How the controller writes the Secret.
    #[serde(default, skip_serializing_if = "Mode::is_owned")]
    pub mode: Mode,
    /// The `age1…` recipients the values are sealed to (public; lets the controller try only
    /// matching keys and lets tools answer "who can open this?").
    #[serde(default)]
    pub recipients: Vec<String>,
    /// What of the Secret besides its data: labels, annotations, type, immutability.
    #[serde(default, skip_serializing_if = "SecretTemplate::is_empty")]
    pub template: SecretTemplate,
    /// Key → sealed value (base64 of an age v1 ciphertext).
    #[serde(default)]
    pub encrypted_data: BTreeMap<String, String>,
}

/// How the controller writes the Secret.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Mode {
    /// The Secret of the same name is created and owned: deleted with the SealedSecret,
    /// restored when edited or deleted.
    #[default]
    Owned,
    /// Only the sealed keys are written into an existing Secret, which is neither owned nor
    /// deleted (e.g. `argocd-secret`).
    Merge,
}

impl Mode {
    /// Whether this is the default mode (not written out).
    pub fn is_owned(&self) -> bool {
        *self == Mode::Owned
    }
}

/// The non-secret parts of the Secret to produce.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretTemplate {
    /// Labels and annotations for the Secret.
    #[serde(default, skip_serializing_if = "TemplateMetadata::is_empty")]
    pub metadata: TemplateMetadata,
    /// The Secret's `type` (`Opaque` when absent).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// The Secret's `immutable` flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub immutable: Option<bool>,
}

impl SecretTemplate {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self.metadata.is_empty() && self.type_.is_none() && self.immutable.is_none()
    }
}

/// Labels and annotations of the Secret.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TemplateMetadata {
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl TemplateMetadata {
    /// Whether neither labels nor annotations are set.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.annotations.is_empty()
    }

    /// The first label or annotation under [`RESERVED_PREFIX`], as a field path
    /// (`spec.template.metadata.labels.seal.dev/…`).
    pub fn reserved_field(&self) -> Option<String> {
        let reserved = |k: &&String| is_reserved(k);
        if let Some(key) = self.labels.keys().find(reserved) {
            return Some(format!("spec.template.metadata.labels.{key}"));
        }
        self.annotations
            .keys()
            .find(reserved)
            .map(|key| format!("spec.template.metadata.annotations.{key}"))
    }
}

/// Whether a label or annotation key is reserved for the controller (its prefix, or a
/// subdomain of it such as `x.seal.dev/`).
pub fn is_reserved(key: &str) -> bool {
    key.split_once('/').is_some_and(|(prefix, _)| {
        let prefix = prefix.to_ascii_lowercase();
        prefix == "seal.dev" || prefix.ends_with(".seal.dev")
    })
}

/// What the controller last did with this SealedSecret.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SealedSecretStatus {
    /// The `metadata.generation` the conditions describe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Synced` with a reason (`Unsealed`, `DecryptFailed`, `ScopeMismatch`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

#[cfg(test)]
mod tests {
    use kube::CustomResourceExt;
    use kube::Resource;

    use super::*;

    #[test]
    fn resource_identity() {
        assert_eq!(SealedSecret::api_version(&()), API_VERSION);
        assert_eq!(SealedSecret::kind(&()), KIND);
        assert_eq!(SealedSecret::group(&()), GROUP);
        assert_eq!(SealedSecret::version(&()), VERSION);
    }

    #[test]
    fn reserved_metadata_is_found_in_labels_and_annotations() {
        let mut meta = TemplateMetadata::default();
        meta.labels.insert("app".into(), "db".into());
        assert_eq!(meta.reserved_field(), None);
        meta.annotations
            .insert("keys.SEAL.dev/created-at".into(), "2099".into());
        assert_eq!(
            meta.reserved_field().as_deref(),
            Some("spec.template.metadata.annotations.keys.SEAL.dev/created-at")
        );
        meta.labels
            .insert("seal.dev/sealing-key".into(), "true".into());
        assert_eq!(
            meta.reserved_field().as_deref(),
            Some("spec.template.metadata.labels.seal.dev/sealing-key")
        );
        assert!(!is_reserved("notseal.dev/x"));
        assert!(!is_reserved("seal.dev"));
    }

    #[test]
    fn crd_has_status_and_columns() {
        let crd = SealedSecret::crd();
        let json = serde_json::to_value(&crd).expect("serializes");
        let version = &json["spec"]["versions"][0];
        assert_eq!(version["name"], "v1alpha1");
        assert!(version["subresources"]["status"].is_object());
        let columns: Vec<&str> = version["additionalPrinterColumns"]
            .as_array()
            .expect("columns")
            .iter()
            .filter_map(|c| c["name"].as_str())
            .collect();
        assert_eq!(columns, ["Synced", "Reason", "Age"]);
    }
}
