//! A bitnami SealedSecret read field by field, and turned into the plain Secret it
//! stands for. What seal cannot express is refused by name, never silently dropped.
//!
//! Annotations (`sealedsecrets.bitnami.com/…`):
//! - `namespace-wide`, `cluster-wide` on the object give the scope (`"true"` or
//!   `"false"`; anything else, or both `"true"`, is refused); their copies in the
//!   template are dropped.
//! - `managed` in the template is dropped (it marks a live Secret, not a template).
//! - `patch` and `skip-set-owner-references` = `"true"` are refused: seal has no
//!   equivalent (a Secret it writes is either owned or a `Merge` target the Secret's owner
//!   opted into); `"false"` is dropped.
//! - any other bitnami annotation is refused as unknown.
//!
//! Template `data` (Go templates over the values) and the legacy whole-Secret
//! `spec.data` are refused.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::format::{self, FormatError, RsaBudget};
use super::keys::BitnamiKeys;
use super::{ANNOTATION_PREFIX, API_VERSION, MIGRATED_FROM_ANNOTATION};
use crate::convert::{self, SealOptions};
use crate::error::DocError;
use crate::keys::Recipients;
use crate::names;
use crate::scope::Scope;
use crate::sealed_secret::{Mode, SealedSecret, is_reserved};
use crate::secret::PlainSecret;

/// Whether a parsed document is a bitnami SealedSecret.
pub fn is_bitnami(value: &Value) -> bool {
    value.get("apiVersion").and_then(Value::as_str) == Some(API_VERSION)
        && value.get("kind").and_then(Value::as_str) == Some("SealedSecret")
}

/// A bitnami SealedSecret: where it stands, its scope, its template and its values.
#[derive(Debug, Clone, PartialEq)]
pub struct BitnamiSealedSecret {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace` (or the one given for objects without one).
    pub namespace: Option<String>,
    /// The scope its values were sealed with.
    pub scope: Scope,
    /// `spec.template.metadata.labels`.
    pub labels: BTreeMap<String, String>,
    /// `spec.template.metadata.annotations`, without bitnami's.
    pub annotations: BTreeMap<String, String>,
    /// `spec.template.type`.
    pub type_: Option<String>,
    /// `spec.template.immutable`.
    pub immutable: Option<bool>,
    /// `spec.encryptedData`: key → base64 sealed value.
    pub encrypted_data: BTreeMap<String, String>,
}

fn field(field: &str, problem: impl Into<String>) -> DocError {
    DocError::field(field, problem)
}

impl BitnamiSealedSecret {
    /// Reads one; `default_namespace` stands for a missing `metadata.namespace`.
    pub fn read(value: &Value, default_namespace: Option<&str>) -> Result<Self, DocError> {
        if !is_bitnami(value) {
            return Err(field(
                "kind",
                format!("expected a {API_VERSION} SealedSecret"),
            ));
        }
        let metadata = object(value.get("metadata"), "metadata")?
            .ok_or_else(|| field("metadata", "missing"))?;
        let name = match metadata.get("name") {
            Some(Value::String(n)) => n.clone(),
            _ => return Err(field("metadata.name", "missing")),
        };
        names::check_object_name(&name).map_err(|p| field("metadata.name", p))?;
        let namespace = match (metadata.get("namespace"), default_namespace) {
            (Some(Value::String(ns)), Some(given)) if ns != given => {
                return Err(field(
                    "metadata.namespace",
                    format!(
                        "is {} but --namespace says {}",
                        names::shown(ns),
                        names::shown(given)
                    ),
                ));
            }
            (Some(Value::String(ns)), _) => Some(ns.clone()),
            (None | Some(Value::Null), given) => given.map(str::to_owned),
            (Some(_), _) => return Err(field("metadata.namespace", "expected a string")),
        };
        if let Some(ns) = &namespace {
            names::check_namespace(ns).map_err(|p| field("metadata.namespace", p))?;
        }
        let object_annotations = strings(metadata.get("annotations"), "metadata.annotations")?;
        let scope = scope_of(&object_annotations)?;
        for key in object_annotations.keys() {
            if let Some(rest) = key.strip_prefix(ANNOTATION_PREFIX)
                && !matches!(rest, "namespace-wide" | "cluster-wide" | "managed")
            {
                return Err(field(
                    &format!("metadata.annotations.{}", names::shown(key)),
                    "an unknown sealed-secrets annotation; remove it or migrate this object by hand",
                ));
            }
        }
        if scope.binds_namespace() && namespace.is_none() {
            return Err(field(
                "metadata.namespace",
                format!("missing, and the {scope} scope binds the values to one; give --namespace"),
            ));
        }
        let spec = object(value.get("spec"), "spec")?.ok_or_else(|| field("spec", "missing"))?;
        if spec.get("data").is_some_and(|d| !d.is_null()) {
            return Err(field(
                "spec.data",
                "the legacy whole-Secret format is not supported; re-seal it with a current kubeseal (encryptedData) first, or seal the Secret with seal directly",
            ));
        }
        let template = object(spec.get("template"), "spec.template")?;
        let empty = Map::new();
        let template = template.unwrap_or(&empty);
        if let Some(data) = template.get("data")
            && !data.is_null()
            && data.as_object().is_none_or(|d| !d.is_empty())
        {
            return Err(field(
                "spec.template.data",
                "Go templates over the values cannot be expressed in seal; render them into plain values and seal the Secret with seal",
            ));
        }
        let template_meta =
            object(template.get("metadata"), "spec.template.metadata")?.unwrap_or(&empty);
        let labels = strings(template_meta.get("labels"), "spec.template.metadata.labels")?;
        let mut annotations = strings(
            template_meta.get("annotations"),
            "spec.template.metadata.annotations",
        )?;
        for (key, value) in &annotations {
            let Some(rest) = key.strip_prefix(ANNOTATION_PREFIX) else {
                continue;
            };
            let at = format!("spec.template.metadata.annotations.{}", names::shown(key));
            match rest {
                "namespace-wide" | "cluster-wide" | "managed" => {}
                "patch" | "skip-set-owner-references" if value != "true" => {}
                "patch" => {
                    return Err(field(
                        &at,
                        "seal does not patch a Secret it does not own; use a Merge-mode SealedSecret (seal --mode merge) and the seal.dev/merge-keys opt-in on that Secret",
                    ));
                }
                "skip-set-owner-references" => {
                    return Err(field(
                        &at,
                        "seal always owns the Secrets it writes in Owned mode; drop the annotation, or use a Merge-mode SealedSecret (seal --mode merge)",
                    ));
                }
                _ => {
                    return Err(field(
                        &at,
                        "an unknown sealed-secrets annotation; remove it or migrate this object by hand",
                    ));
                }
            }
        }
        annotations.retain(|k, _| !k.starts_with(ANNOTATION_PREFIX));
        if let Some(reserved) = labels
            .keys()
            .chain(annotations.keys())
            .find(|k| is_reserved(k))
        {
            return Err(field(
                "spec.template.metadata",
                format!(
                    "{} is reserved for seal's controller",
                    names::shown(reserved)
                ),
            ));
        }
        let type_ = match template.get("type") {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) => Some(t.clone()),
            Some(_) => return Err(field("spec.template.type", "expected a string")),
        };
        let immutable = match template.get("immutable") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => return Err(field("spec.template.immutable", "expected true or false")),
        };
        let encrypted_data = strings(spec.get("encryptedData"), "spec.encryptedData")?;
        for key in encrypted_data.keys() {
            names::check_key(key)
                .map_err(|p| field(&format!("spec.encryptedData.{}", names::shown(key)), p))?;
        }
        Ok(Self {
            name,
            namespace,
            scope,
            labels,
            annotations,
            type_,
            immutable,
            encrypted_data,
        })
    }

    /// The label every value was sealed with, by scope (`namespace/name`, `namespace`,
    /// nothing).
    pub fn label(&self) -> Vec<u8> {
        let namespace = self.namespace.as_deref().unwrap_or_default();
        match self.scope {
            Scope::Strict => format!("{namespace}/{}", self.name).into_bytes(),
            Scope::Namespace => namespace.as_bytes().to_vec(),
            Scope::Cluster => Vec::new(),
        }
    }

    /// Opens every value with `keys`: the plain Secret the bitnami controller would
    /// write. The first value that does not open is named.
    pub fn open(&self, keys: &BitnamiKeys) -> Result<PlainSecret, DocError> {
        self.open_within(keys, &mut RsaBudget::unlimited())
    }

    /// [`Self::open`], each RSA decryption tried taken from `budget` (the value at which
    /// it runs out is named).
    pub fn open_within(
        &self,
        keys: &BitnamiKeys,
        budget: &mut RsaBudget,
    ) -> Result<PlainSecret, DocError> {
        let label = self.label();
        let mut data = BTreeMap::new();
        for (key, text) in &self.encrypted_data {
            let value =
                format::open_base64(keys, text, &label, budget).map_err(|e: FormatError| {
                    field(
                        &format!("spec.encryptedData.{}", names::shown(key)),
                        e.to_string(),
                    )
                })?;
            data.insert(key.clone(), value);
        }
        Ok(PlainSecret {
            name: self.name.clone(),
            namespace: self.namespace.clone(),
            labels: self.labels.clone(),
            annotations: self.annotations.clone(),
            type_: self.type_.clone(),
            immutable: self.immutable,
            data,
        })
    }
}

impl BitnamiSealedSecret {
    /// Opens every value with `keys` and seals the Secret again to `recipients`: the seal
    /// SealedSecret this object migrates to, in its scope, an `Owned` one, marked
    /// [`MIGRATED_FROM_ANNOTATION`] so that the controller may take its Secret over. The
    /// one conversion `seal migrate` (offline) and the controller's `/v1/migrate` share.
    pub fn migrate(
        &self,
        keys: &BitnamiKeys,
        recipients: &Recipients,
    ) -> Result<SealedSecret, DocError> {
        self.migrate_within(keys, recipients, &mut RsaBudget::unlimited())
    }

    /// [`Self::migrate`] within an RSA budget (see [`Self::open_within`]).
    pub fn migrate_within(
        &self,
        keys: &BitnamiKeys,
        recipients: &Recipients,
        budget: &mut RsaBudget,
    ) -> Result<SealedSecret, DocError> {
        let plain = self.open_within(keys, budget)?;
        let options = SealOptions {
            scope: self.scope,
            default_namespace: None,
            mode: Mode::Owned,
        };
        let mut sealed = convert::seal_secret(&plain, recipients, &options)?;
        sealed
            .metadata
            .annotations
            .get_or_insert_default()
            .insert(MIGRATED_FROM_ANNOTATION.to_owned(), API_VERSION.to_owned());
        Ok(sealed)
    }

    /// How many RSA decryptions opening every value may take at most with `keys`,
    /// counted in RSA-4096 operations ([`super::format::rsa_cost`]): each value times the
    /// keys of its RSA block's size (a value whose length prefix fits no key costs none). Known before any decryption, from the lengths alone; an honest
    /// object usually takes far fewer (the key that opened the last value is tried
    /// first).
    pub fn rsa_work(&self, keys: &BitnamiKeys) -> usize {
        use base64::Engine as _;
        self.encrypted_data
            .values()
            .map(|text| {
                // The first three base64 characters hold the two length bytes.
                let head: String = text.trim().chars().take(4).collect();
                let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(head) else {
                    return 0;
                };
                let Some(prefix) = bytes.first_chunk::<2>() else {
                    return 0;
                };
                let size = usize::from(u16::from_be_bytes(*prefix));
                keys.iter().filter(|k| k.size() == size).count() * super::format::rsa_cost(size)
            })
            .sum()
    }
}

/// The scope from the object's annotations, as the bitnami controller reads it when it
/// opens values, but strict about values it would silently read as "not set".
fn scope_of(annotations: &BTreeMap<String, String>) -> Result<Scope, DocError> {
    let flag = |name: &str| -> Result<bool, DocError> {
        let key = format!("{ANNOTATION_PREFIX}{name}");
        match annotations.get(&key).map(String::as_str) {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(_) => Err(field(
                &format!("metadata.annotations.{key}"),
                "an unknown scope value (expected \"true\" or \"false\")",
            )),
        }
    };
    match (flag("namespace-wide")?, flag("cluster-wide")?) {
        (false, false) => Ok(Scope::Strict),
        (true, false) => Ok(Scope::Namespace),
        (false, true) => Ok(Scope::Cluster),
        (true, true) => Err(field(
            "metadata.annotations",
            "both namespace-wide and cluster-wide are \"true\"; an unknown scope (keep the one the values were sealed with)",
        )),
    }
}

fn object<'a>(
    value: Option<&'a Value>,
    at: &str,
) -> Result<Option<&'a Map<String, Value>>, DocError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(field(at, "expected a mapping")),
    }
}

fn strings(value: Option<&Value>, at: &str) -> Result<BTreeMap<String, String>, DocError> {
    let Some(map) = object(value, at)? else {
        return Ok(BTreeMap::new());
    };
    map.iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k.clone(), s.clone())),
            _ => Err(field(
                &format!("{at}.{}", names::shown(k)),
                "expected a string",
            )),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bitnami::format::seal_for_test;
    use crate::bitnami::keys::tests::test_keys;

    /// The work bound is read from the length prefixes alone: one RSA try per value and
    /// fitting key, none for a value whose block fits no key or does not decode.
    #[test]
    fn rsa_work_counts_fitting_keys_per_value_before_any_decryption() {
        use base64::Engine as _;
        let keys = test_keys();
        let key = keys.iter().next().expect("a key");
        let sealed =
            base64::engine::general_purpose::STANDARD.encode(seal_for_test(key, b"v", b"ns/db"));
        let doc = serde_json::json!({
            "apiVersion": API_VERSION, "kind": "SealedSecret",
            "metadata": {"name": "db", "namespace": "ns"},
            "spec": {"encryptedData": {"a": sealed, "b": sealed, "odd": "ABBB", "junk": "!!"}},
        });
        let object = BitnamiSealedSecret::read(&doc, None).expect("reads");
        assert_eq!(object.rsa_work(&keys), 2);
        assert_eq!(object.rsa_work(&BitnamiKeys::new()), 0);
    }
}
