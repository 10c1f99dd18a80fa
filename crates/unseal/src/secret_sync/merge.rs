//! `Merge` mode: only the sealed keys, written into an existing Secret that opted in to
//! them ([`MERGE_KEYS_ANNOTATION`]); its other keys, labels, annotations and owners stay.
//!
//! A Secret this SealedSecret used to own (it was `Owned`, then switched to `Merge`) is
//! released first: the ownerReference and the managed label go, so that deleting the
//! SealedSecret can never make the garbage collector delete a Secret such as
//! `argocd-secret`. A key someone else keeps changing back is a write war: after a few
//! rounds the controller stops and says who the other side is ([`super::write_wars`]).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use kube::{Api, ResourceExt};
use seal_core::{PlainSecret, SealedSecret};

use super::owned::names_sealed_secret;
use super::write_wars::WriteWars;
use super::{
    MANAGED_LABEL, MANAGED_VALUE, MAX_SECRET_DATA, MERGE_KEYS_ANNOTATION, MERGED_LABEL,
    SyncProblem, Synced, Written, conflict, data_of, write_params,
};
use crate::wiped::Wiped;

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

/// Removes what made the Secret ours in `Owned` mode: the ownerReference to a
/// SealedSecret of this name and the managed label. Returns whether anything changed.
fn release(secret: &mut Secret, sealed_name: &str) -> bool {
    let mut changed = false;
    if let Some(refs) = secret.metadata.owner_references.as_mut() {
        let before = refs.len();
        refs.retain(|r| !names_sealed_secret(r, sealed_name));
        changed |= refs.len() != before;
        if refs.is_empty() {
            secret.metadata.owner_references = None;
        }
    }
    if secret.labels().get(MANAGED_LABEL).map(String::as_str) == Some(MANAGED_VALUE) {
        secret.labels_mut().remove(MANAGED_LABEL);
        changed = true;
    }
    changed
}

/// `Merge` mode: write only the sealed keys into the existing Secret, and the
/// [`MERGED_LABEL`] its watch selects on. A missing Secret is reported, never created; a
/// Secret that has not opted in to these keys is left untouched (but released, if this
/// SealedSecret used to own it).
pub async fn sync_merge(
    api: &Api<Secret>,
    sealed: &SealedSecret,
    plain: &PlainSecret,
    wars: &WriteWars,
) -> Result<Synced, SyncProblem> {
    let name = sealed.name_any();
    let Some(mut existing) = api.get_opt(&name).await?.map(Wiped) else {
        return Err(SyncProblem::Missing);
    };
    if existing.metadata.deletion_timestamp.is_some() {
        return Err(SyncProblem::Terminating);
    }
    let released = release(&mut existing, &name);
    if let Err(refused) = check_merge_allowed(&existing, plain) {
        if released {
            api.replace(&name, &write_params(), &existing).await?;
        }
        return Err(refused);
    }
    let wanted = data_of(plain);
    let mut data = Wiped(existing.data.take().unwrap_or_default());
    let changed: Vec<String> = wanted
        .iter()
        .filter(|(k, v)| data.get(*k) != Some(v))
        .map(|(k, _)| k.clone())
        .collect();
    let labeled = existing.labels().get(MERGED_LABEL).map(String::as_str) == Some(MANAGED_VALUE);
    if changed.is_empty() && labeled && !released {
        return Ok(Synced::of(Written::Unchanged, &existing));
    }
    let target = format!("{}/{name}", existing.namespace().unwrap_or_default());
    // A key that is there with another value was changed by someone else since we wrote
    // it (or is a new value from Git); either way a round of a possible war.
    let rewritten: Vec<&String> = changed.iter().filter(|k| data.contains_key(*k)).collect();
    let generation = sealed.metadata.generation.unwrap_or_default();
    if let Some((key, times)) = wars.would_exceed(&target, generation, &rewritten) {
        return Err(conflict(&existing, Some(key), times, wars));
    }
    // The values replaced are wiped, not merely dropped.
    for (key, value) in wanted.iter() {
        if let Some(old) = data.insert(key.clone(), value.clone()) {
            let _ = Wiped(Some(BTreeMap::from([(key.clone(), old)])));
        }
    }
    let bytes: usize = data.iter().map(|(k, v)| k.len() + v.0.len()).sum();
    if bytes > MAX_SECRET_DATA {
        return Err(SyncProblem::TooLarge { bytes });
    }
    existing.data = Some(data.0.clone());
    existing
        .labels_mut()
        .insert(MERGED_LABEL.to_owned(), MANAGED_VALUE.to_owned());
    let stored = Wiped(api.replace(&name, &write_params(), &existing).await?);
    wars.record(&target, generation, &rewritten);
    Ok(Synced::of(Written::Updated, &stored))
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
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

    #[test]
    fn release_drops_only_our_reference_and_label() {
        let mut s = target(None);
        let ours = OwnerReference {
            api_version: "seal.dev/v1alpha1".into(),
            kind: "SealedSecret".into(),
            name: "argocd-secret".into(),
            uid: "u".into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        };
        let theirs = OwnerReference {
            kind: "ConfigMap".into(),
            api_version: "v1".into(),
            name: "x".into(),
            uid: "y".into(),
            ..Default::default()
        };
        s.metadata.owner_references = Some(vec![ours, theirs.clone()]);
        s.labels_mut()
            .insert(MANAGED_LABEL.into(), MANAGED_VALUE.into());
        assert!(release(&mut s, "argocd-secret"));
        assert_eq!(s.owner_references(), &[theirs]);
        assert!(!s.labels().contains_key(MANAGED_LABEL));
        assert!(!release(&mut s, "argocd-secret"));
    }
}
