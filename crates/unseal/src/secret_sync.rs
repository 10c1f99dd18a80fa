//! Writing the opened values into the cluster: the owned Secret (`Owned` mode) or the keys
//! of an existing Secret (`Merge` mode). Nothing is written when the Secret already is
//! what it should be.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{DeleteParams, ObjectMeta, PostParams};
use kube::{Api, Resource, ResourceExt};
use seal_core::{PlainSecret, SealedSecret};

/// The label on every Secret the controller owns; its watch selects on it.
pub const MANAGED_LABEL: &str = "seal.dev/managed-by";
/// The value of [`MANAGED_LABEL`].
pub const MANAGED_VALUE: &str = "unseal";
/// The selector for owned Secrets.
pub const MANAGED_SELECTOR: &str = "seal.dev/managed-by=unseal";
/// The label on Secrets the controller merges keys into (`Merge` mode), so that a watch
/// sees them change and their sealed keys are put back at once, not at the next re-sync.
pub const MERGED_LABEL: &str = "seal.dev/merged-by";
/// The selector for merge targets.
pub const MERGED_SELECTOR: &str = "seal.dev/merged-by=unseal";
/// An existing Secret with this annotation set to `"true"` may be taken over.
pub const ADOPT_ANNOTATION: &str = "seal.dev/adopt";

/// What was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Written {
    /// Nothing: the Secret already matched.
    Unchanged,
    /// The Secret was created.
    Created,
    /// The Secret was updated in place.
    Updated,
    /// The Secret was deleted and created again (type or immutability changed).
    Recreated,
}

impl Written {
    /// The metric label of a write, `None` when nothing was written.
    pub fn action(self) -> Option<&'static str> {
        match self {
            Written::Unchanged => None,
            Written::Created => Some("create"),
            Written::Updated => Some("update"),
            Written::Recreated => Some("recreate"),
        }
    }
}

/// Why the Secret could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SyncProblem {
    /// A Secret of that name exists and is not ours.
    #[error(
        "a Secret of this name exists and is not owned by this SealedSecret (annotate it {ADOPT_ANNOTATION}=true to let the controller take it over)"
    )]
    NotOwned,
    /// Merge mode, and the target Secret does not exist.
    #[error("the Secret to merge into does not exist; Merge mode never creates it")]
    Missing,
    /// The SealedSecret was not read from the API (it has no uid to own the Secret by).
    #[error("the SealedSecret has no uid")]
    NotStored,
    /// The API refused or failed.
    #[error("API error: {0}")]
    Api(#[from] kube::Error),
}

impl SyncProblem {
    /// The condition reason.
    pub fn reason(&self) -> &'static str {
        match self {
            SyncProblem::NotOwned => "SecretNotOwned",
            SyncProblem::Missing => "SecretMissing",
            SyncProblem::NotStored => "InvalidSpec",
            SyncProblem::Api(_) => "ApiError",
        }
    }
}

fn data_of(plain: &PlainSecret) -> BTreeMap<String, ByteString> {
    plain
        .data
        .iter()
        .map(|(k, v)| (k.clone(), ByteString(v.expose().to_vec())))
        .collect()
}

fn is_our_owner_ref(r: &OwnerReference, sealed: &SealedSecret) -> bool {
    r.kind == "SealedSecret"
        && r.api_version.starts_with("seal.dev/")
        && Some(&r.name) == sealed.metadata.name.as_ref()
}

fn type_or_default(t: &Option<String>) -> &str {
    t.as_deref().unwrap_or("Opaque")
}

/// `Owned` mode: create the Secret, or bring the one we own back to what the
/// SealedSecret says (data exactly; template labels and annotations present; other labels
/// and annotations, set by other tools, left alone).
pub async fn sync_owned(
    api: &Api<Secret>,
    sealed: &SealedSecret,
    plain: &PlainSecret,
) -> Result<Written, SyncProblem> {
    let name = sealed.name_any();
    let owner = sealed
        .controller_owner_ref(&())
        .ok_or(SyncProblem::NotStored)?;
    let template = &sealed.spec.template;
    let mut labels = template.metadata.labels.clone();
    labels.insert(MANAGED_LABEL.to_owned(), MANAGED_VALUE.to_owned());
    let data = data_of(plain);
    let desired = Secret {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: sealed.metadata.namespace.clone(),
            labels: Some(labels.clone()),
            annotations: (!template.metadata.annotations.is_empty())
                .then(|| template.metadata.annotations.clone()),
            owner_references: Some(vec![owner.clone()]),
            ..Default::default()
        },
        type_: template.type_.clone(),
        immutable: template.immutable,
        data: Some(data.clone()),
        ..Default::default()
    };
    let Some(existing) = api.get_opt(&name).await? else {
        api.create(&PostParams::default(), &desired).await?;
        return Ok(Written::Created);
    };
    let owned = existing
        .owner_references()
        .iter()
        .any(|r| is_our_owner_ref(r, sealed));
    let adoptable = existing
        .annotations()
        .get(ADOPT_ANNOTATION)
        .map(String::as_str)
        == Some("true");
    if !owned && !adoptable {
        return Err(SyncProblem::NotOwned);
    }
    let frozen = existing.immutable == Some(true)
        && (existing.data.as_ref() != Some(&data) || template.immutable != Some(true));
    if type_or_default(&existing.type_) != type_or_default(&template.type_) || frozen {
        api.delete(&name, &DeleteParams::default()).await?;
        api.create(&PostParams::default(), &desired).await?;
        return Ok(Written::Recreated);
    }
    let mut next = existing.clone();
    next.data = Some(data);
    next.string_data = None;
    next.immutable = template.immutable;
    next.labels_mut().extend(labels);
    if !template.metadata.annotations.is_empty() {
        next.annotations_mut()
            .extend(template.metadata.annotations.clone());
    }
    let ours_exact = existing
        .owner_references()
        .iter()
        .filter(|r| is_our_owner_ref(r, sealed))
        .eq([&owner]);
    if !ours_exact {
        let mut refs: Vec<OwnerReference> = existing
            .owner_references()
            .iter()
            .filter(|r| !is_our_owner_ref(r, sealed))
            .cloned()
            .collect();
        refs.push(owner);
        next.metadata.owner_references = Some(refs);
    }
    if next == existing {
        return Ok(Written::Unchanged);
    }
    api.replace(&name, &PostParams::default(), &next).await?;
    Ok(Written::Updated)
}

/// `Merge` mode: write only the sealed keys into the existing Secret, and the
/// [`MERGED_LABEL`] its watch selects on; its other keys, labels, annotations and owners
/// stay as they are. A missing Secret is reported, never
/// created.
pub async fn sync_merge(
    api: &Api<Secret>,
    sealed: &SealedSecret,
    plain: &PlainSecret,
) -> Result<Written, SyncProblem> {
    let name = sealed.name_any();
    let Some(mut existing) = api.get_opt(&name).await? else {
        return Err(SyncProblem::Missing);
    };
    let mut data = existing.data.clone().unwrap_or_default();
    let before = data.clone();
    data.extend(data_of(plain));
    let labeled = existing.labels().get(MERGED_LABEL).map(String::as_str) == Some(MANAGED_VALUE);
    if data == before && labeled {
        return Ok(Written::Unchanged);
    }
    existing.data = Some(data);
    existing
        .labels_mut()
        .insert(MERGED_LABEL.to_owned(), MANAGED_VALUE.to_owned());
    api.replace(&name, &PostParams::default(), &existing)
        .await?;
    Ok(Written::Updated)
}
