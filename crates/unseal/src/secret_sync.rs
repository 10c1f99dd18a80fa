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

use crate::wiped::Wiped;

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
/// The opt-in of a `Merge` target, set on the live Secret by whoever owns it: the keys
/// SealedSecrets may write into it, comma-separated, or `*` for any key. Without it
/// nothing is merged: whoever can create a SealedSecret must not be able to overwrite
/// any key of any Secret in the namespace (say, `admin.password` in `argocd-secret`).
pub const MERGE_KEYS_ANNOTATION: &str = "seal.dev/merge-keys";

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
    /// Merge mode, and the target has not opted in to these keys.
    #[error(
        "the Secret has not opted in to {what}: its owner must annotate it: kubectl annotate secret -n {namespace} {name} {MERGE_KEYS_ANNOTATION}={keys}"
    )]
    MergeNotAllowed {
        /// `merging` or `the keys …`.
        what: String,
        /// The target's namespace.
        namespace: String,
        /// The target's name.
        name: String,
        /// The annotation value that would allow this merge.
        keys: String,
    },
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
            SyncProblem::MergeNotAllowed { .. } => "MergeNotAllowed",
            SyncProblem::NotStored => "InvalidSpec",
            SyncProblem::Api(_) => "ApiError",
        }
    }
}

fn data_of(plain: &PlainSecret) -> Wiped<BTreeMap<String, ByteString>> {
    Wiped(
        plain
            .data
            .iter()
            .map(|(k, v)| (k.clone(), ByteString(v.expose().to_vec())))
            .collect(),
    )
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
    let desired = Wiped(Secret {
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
        data: Some(data.0.clone()),
        ..Default::default()
    });
    let Some(existing) = api.get_opt(&name).await?.map(Wiped) else {
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
        && (existing.data.as_ref() != Some(&*data) || template.immutable != Some(true));
    if type_or_default(&existing.type_) != type_or_default(&template.type_) || frozen {
        api.delete(&name, &DeleteParams::default()).await?;
        api.create(&PostParams::default(), &desired).await?;
        return Ok(Written::Recreated);
    }
    let mut next = existing.clone();
    next.data = Some(data.0.clone());
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

/// The keys a Merge target allows, from its [`MERGE_KEYS_ANNOTATION`]: `None` when it
/// has not opted in, `Some(None)` for any key (`*`).
fn merge_allowance(target: &Secret) -> Option<Option<Vec<&str>>> {
    let value = target.annotations().get(MERGE_KEYS_ANNOTATION)?;
    let keys: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .collect();
    if keys.contains(&"*") {
        Some(None)
    } else {
        Some(Some(keys))
    }
}

/// Refuses a merge the target has not opted in to, naming what is missing.
fn check_merge_allowed(target: &Secret, plain: &PlainSecret) -> Result<(), SyncProblem> {
    let refuse = |what: String, keys: Vec<&str>| SyncProblem::MergeNotAllowed {
        what,
        namespace: target.namespace().unwrap_or_default(),
        name: target.name_any(),
        keys: keys.join(","),
    };
    let wanted: Vec<&str> = plain.data.keys().map(String::as_str).collect();
    match merge_allowance(target) {
        None => Err(refuse("merging".to_owned(), wanted)),
        Some(None) => Ok(()),
        Some(Some(allowed)) => {
            let outside: Vec<&str> = wanted
                .iter()
                .copied()
                .filter(|k| !allowed.contains(k))
                .collect();
            if outside.is_empty() {
                return Ok(());
            }
            let mut all = allowed.clone();
            all.extend(outside.iter().copied());
            Err(refuse(format!("the keys {}", outside.join(", ")), all))
        }
    }
}

/// `Merge` mode: write only the sealed keys into the existing Secret, and the
/// [`MERGED_LABEL`] its watch selects on; its other keys, labels, annotations and owners
/// stay as they are. A missing Secret is reported, never created; a Secret that has not
/// opted in to these keys ([`MERGE_KEYS_ANNOTATION`]) is left untouched.
pub async fn sync_merge(
    api: &Api<Secret>,
    sealed: &SealedSecret,
    plain: &PlainSecret,
) -> Result<Written, SyncProblem> {
    let name = sealed.name_any();
    let Some(mut existing) = api.get_opt(&name).await?.map(Wiped) else {
        return Err(SyncProblem::Missing);
    };
    check_merge_allowed(&existing, plain)?;
    let mut data = Wiped(existing.data.take().unwrap_or_default());
    let before = data.clone();
    data.extend(data_of(plain).0.clone());
    let labeled = existing.labels().get(MERGED_LABEL).map(String::as_str) == Some(MANAGED_VALUE);
    if *data == *before && labeled {
        return Ok(Written::Unchanged);
    }
    existing.data = Some(data.0.clone());
    existing
        .labels_mut()
        .insert(MERGED_LABEL.to_owned(), MANAGED_VALUE.to_owned());
    api.replace(&name, &PostParams::default(), &existing)
        .await?;
    Ok(Written::Updated)
}

#[cfg(test)]
mod tests {
    use seal_core::SecretBytes;

    use super::*;

    fn target(annotation: Option<&str>) -> Secret {
        let mut s = Secret::default();
        s.metadata.name = Some("argocd-secret".into());
        s.metadata.namespace = Some("argocd".into());
        if let Some(a) = annotation {
            s.annotations_mut()
                .insert(MERGE_KEYS_ANNOTATION.into(), a.into());
        }
        s
    }

    fn plain(keys: &[&str]) -> PlainSecret {
        let mut p = PlainSecret::default();
        for k in keys {
            p.data.insert((*k).into(), SecretBytes::copy_from(b"v"));
        }
        p
    }

    #[test]
    fn merge_needs_the_targets_opt_in_for_every_key() {
        let wanted = plain(&["webhook.github.secret"]);
        let err = check_merge_allowed(&target(None), &wanted).expect_err("no opt-in");
        assert_eq!(err.reason(), "MergeNotAllowed");
        assert!(
            err.to_string().contains(
                "kubectl annotate secret -n argocd argocd-secret seal.dev/merge-keys=webhook.github.secret"
            ),
            "{err}"
        );
        assert!(check_merge_allowed(&target(Some("webhook.github.secret")), &wanted).is_ok());
        assert!(check_merge_allowed(&target(Some("*")), &wanted).is_ok());
        let greedy = plain(&["webhook.github.secret", "admin.password"]);
        let err = check_merge_allowed(&target(Some(" webhook.github.secret ,")), &greedy)
            .expect_err("admin.password not allowed");
        assert!(err.to_string().contains("the keys admin.password"), "{err}");
        assert!(check_merge_allowed(&target(Some("")), &wanted).is_err());
    }
}
