//! `Owned` mode: the Secret of the SealedSecret's name, created and owned by it.
//!
//! Ownership is decided by the ownerReference's uid, not only its name: a Secret left by
//! an earlier SealedSecret of the same name (deleted, its Secret not yet collected) is
//! taken over, a Secret controlled by another controller never is, and adopting a
//! Secret says which of its keys it replaced. A change of `type` or immutability needs a
//! new Secret: the new one is validated by a server-side dry run first, and the old one
//! is left in place when the new one cannot be made.

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{DeleteParams, ObjectMeta, PostParams, Preconditions};
use kube::{Api, Resource, ResourceExt};
use seal_core::{PlainSecret, SealedSecret};

use super::handover;
use super::write_wars::WriteWars;
use super::{
    ADOPT_ANNOTATION, FIELD_MANAGER, MANAGED_LABEL, MANAGED_VALUE, SyncProblem, Synced, Written,
    conflict, data_of, write_params,
};
use crate::wiped::Wiped;

/// Whether an ownerReference names a SealedSecret called `name` (any uid).
pub fn names_sealed_secret(r: &OwnerReference, name: &str) -> bool {
    r.kind == "SealedSecret" && r.api_version.starts_with("seal.dev/") && r.name == name
}

/// How an existing Secret stands to this SealedSecret.
#[derive(Debug, PartialEq, Eq)]
pub enum Ownership {
    /// Owned by this very SealedSecret (same uid).
    Ours,
    /// Owned by an earlier SealedSecret of the same name (another uid): that one is gone,
    /// since names are unique, so the Secret is taken over.
    Orphaned,
    /// Not ours, annotated for adoption, and no other controller holds it.
    Adoptable,
    /// Not ours, annotated for adoption, but controlled by another controller.
    ControlledBy {
        /// Its kind.
        kind: String,
        /// Its name.
        name: String,
    },
    /// Controlled by the bitnami SealedSecret of the same name, and handed over to this
    /// one (see [`super::handover`]).
    HandedOver,
    /// Not ours and not annotated for adoption.
    Foreign,
}

/// Classifies `existing` for the SealedSecret whose controller reference is `owner`.
pub fn ownership(existing: &Secret, owner: &OwnerReference) -> Ownership {
    let refs = existing.owner_references();
    let ours = |r: &&OwnerReference| names_sealed_secret(r, &owner.name);
    if refs.iter().filter(ours).any(|r| r.uid == owner.uid) {
        return Ownership::Ours;
    }
    if refs.iter().any(|r| ours(&r)) {
        return Ownership::Orphaned;
    }
    let adoptable = existing
        .annotations()
        .get(ADOPT_ANNOTATION)
        .map(String::as_str)
        == Some("true");
    if !adoptable {
        return Ownership::Foreign;
    }
    match refs.iter().find(|r| r.controller == Some(true)) {
        Some(other) => Ownership::ControlledBy {
            kind: other.kind.clone(),
            name: other.name.clone(),
        },
        None => Ownership::Adoptable,
    }
}

/// The type as the API server stores it: absent and empty both mean `Opaque` (a
/// template with `type: ""` compared unequal to the stored `Opaque` and made the
/// controller re-create the Secret forty times a second).
fn type_or_default(t: &Option<String>) -> &str {
    match t.as_deref() {
        None | Some("") => "Opaque",
        Some(t) => t,
    }
}

/// The ownerReference of an owned Secret: the SealedSecret as its controller, blocking
/// its owner's deletion, so that a foreground deletion of the SealedSecret (`kubectl
/// delete --cascade=foreground`, Argo CD's foreground prune) waits until the garbage
/// collector has deleted the Secret. (kube's `controller_owner_ref` leaves
/// `blockOwnerDeletion` out, and without it the real API server deletes the owner first.)
fn owner_reference(sealed: &SealedSecret) -> Result<OwnerReference, SyncProblem> {
    let mut owner = sealed
        .controller_owner_ref(&())
        .ok_or(SyncProblem::NotStored)?;
    owner.block_owner_deletion = Some(true);
    Ok(owner)
}

/// The key under which Owned-mode rewrites of a Secret are counted as write-war rounds.
const OWNED_ROUND: &str = "(the Secret)";

/// `Owned` mode: create the Secret, or bring the one we own back to what the
/// SealedSecret says (data exactly; template labels and annotations present; other labels
/// and annotations, set by other tools, left alone).
pub async fn sync_owned(
    api: &Api<Secret>,
    sealed: &SealedSecret,
    plain: &PlainSecret,
    wars: &WriteWars,
) -> Result<Synced, SyncProblem> {
    let name = sealed.name_any();
    let owner = owner_reference(sealed)?;
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
        let made = Wiped(api.create(&write_params(), &desired).await?);
        return Ok(Synced::of(Written::Created, &made));
    };
    if existing.metadata.deletion_timestamp.is_some() {
        return Err(SyncProblem::Terminating);
    }
    let mut standing = ownership(&existing, &owner);
    let same_type = type_or_default(&existing.type_) == type_or_default(&template.type_);
    if standing == Ownership::Foreign && handover::applies(&existing, sealed, &data, same_type) {
        standing = Ownership::HandedOver;
    }
    match &standing {
        Ownership::Foreign => return Err(SyncProblem::NotOwned),
        Ownership::ControlledBy { kind, name } => {
            return Err(SyncProblem::OwnedByAnother {
                kind: kind.clone(),
                name: name.clone(),
            });
        }
        Ownership::Ours | Ownership::Orphaned | Ownership::Adoptable | Ownership::HandedOver => {}
    }
    // Every rewrite of an existing Secret is a round of a possible fight (another writer
    // putting its version back, or a loop with the API server's own defaults): after a
    // few in a row for the same generation the controller stops and says so.
    let target = format!("{}/{name}", existing.namespace().unwrap_or_default());
    let generation = sealed.metadata.generation.unwrap_or_default();
    let round = OWNED_ROUND.to_owned();
    let in_a_war = || {
        wars.would_exceed(&target, generation, &[&round])
            .map(|(_, times)| conflict(&existing, None, times, wars))
    };
    let frozen = existing.immutable == Some(true)
        && (existing.data.as_ref() != Some(&*data) || template.immutable != Some(true));
    if type_or_default(&existing.type_) != type_or_default(&template.type_) || frozen {
        if let Some(war) = in_a_war() {
            return Err(war);
        }
        let made = Wiped(recreate(api, &existing, &desired).await?);
        wars.record(&target, generation, &[&round]);
        return Ok(Synced::of(Written::Recreated, &made));
    }
    let mut next = existing.clone();
    let _ = Wiped(next.data.replace(data.0.clone()));
    next.string_data = None;
    next.immutable = template.immutable;
    next.labels_mut().extend(labels);
    if !template.metadata.annotations.is_empty() {
        next.annotations_mut()
            .extend(template.metadata.annotations.clone());
    }
    let mut refs: Vec<OwnerReference> = existing
        .owner_references()
        .iter()
        .filter(|r| !names_sealed_secret(r, &owner.name))
        .filter(|r| {
            standing != Ownership::HandedOver || !handover::is_bitnami_controller(r, &owner.name)
        })
        .cloned()
        .collect();
    refs.push(owner);
    if existing.owner_references() != refs.as_slice() {
        next.metadata.owner_references = Some(refs);
    }
    if next == existing {
        return Ok(Synced::of(Written::Unchanged, &existing));
    }
    if let Some(war) = in_a_war() {
        return Err(war);
    }
    let stored = Wiped(api.replace(&name, &write_params(), &next).await?);
    wars.record(&target, generation, &[&round]);
    if standing == Ownership::HandedOver {
        tracing::info!(secret = %target, "taken over from the bitnami SealedSecret of the same name");
        return Ok(Synced::of(
            Written::Adopted {
                replaced: Vec::new(),
            },
            &stored,
        ));
    }
    if standing == Ownership::Adoptable {
        let before = existing.data.clone().unwrap_or_default();
        let replaced = before
            .iter()
            .filter(|(k, v)| data.get(*k) != Some(v))
            .map(|(k, _)| k.clone())
            .collect();
        let _ = Wiped(before);
        return Ok(Synced::of(Written::Adopted { replaced }, &stored));
    }
    Ok(Synced::of(Written::Updated, &stored))
}

/// Replaces `existing` with `desired`, which needs a new object (another type, or an
/// immutable Secret whose data changes). Refused, leaving `existing` in place, when a
/// finalizer would keep the old one or a server-side dry run refuses the new one.
async fn recreate(
    api: &Api<Secret>,
    existing: &Secret,
    desired: &Secret,
) -> Result<Secret, SyncProblem> {
    if !existing.finalizers().is_empty() {
        return Err(SyncProblem::CannotRecreate {
            why: format!(
                "the finalizers {} would keep the old Secret",
                existing.finalizers().join(", ")
            ),
        });
    }
    let mut probe = desired.clone();
    let prefix: String = desired.name_any().chars().take(200).collect();
    probe.metadata.name = None;
    probe.metadata.generate_name = Some(format!("{prefix}-"));
    let dry_run = PostParams {
        dry_run: true,
        field_manager: Some(FIELD_MANAGER.to_owned()),
    };
    let probed = api.create(&dry_run, &probe).await;
    let _ = Wiped(probe);
    if let Err(e) = probed {
        return Err(SyncProblem::CannotRecreate {
            why: format!("the API server refuses the new Secret ({e})"),
        });
    }
    let preconditions = Preconditions {
        uid: existing.uid(),
        resource_version: existing.resource_version(),
    };
    api.delete(
        &existing.name_any(),
        &DeleteParams {
            preconditions: Some(preconditions),
            ..Default::default()
        },
    )
    .await?;
    Ok(api.create(&write_params(), desired).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(uid: &str) -> OwnerReference {
        OwnerReference {
            api_version: "seal.dev/v1alpha1".into(),
            kind: "SealedSecret".into(),
            name: "db".into(),
            uid: uid.into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }
    }

    fn secret(refs: Vec<OwnerReference>, adopt: bool) -> Secret {
        let mut s = Secret::default();
        s.metadata.name = Some("db".into());
        s.metadata.owner_references = Some(refs);
        if adopt {
            s.annotations_mut()
                .insert(ADOPT_ANNOTATION.into(), "true".into());
        }
        s
    }

    #[test]
    fn the_owner_reference_blocks_the_owners_deletion() {
        let spec = seal_core::SealedSecretSpec {
            scope: Default::default(),
            mode: seal_core::Mode::Owned,
            recipients: Vec::new(),
            template: Default::default(),
            encrypted_data: Default::default(),
        };
        let mut sealed = SealedSecret::new("db", spec);
        assert!(matches!(
            owner_reference(&sealed),
            Err(SyncProblem::NotStored)
        ));
        sealed.metadata.uid = Some("u".into());
        let reference = owner_reference(&sealed).expect("stored");
        assert_eq!(reference.controller, Some(true));
        assert_eq!(reference.block_owner_deletion, Some(true));
        assert_eq!(
            (reference.name.as_str(), reference.uid.as_str()),
            ("db", "u")
        );
    }

    #[test]
    fn an_empty_type_is_opaque() {
        assert_eq!(type_or_default(&Some(String::new())), "Opaque");
        assert_eq!(type_or_default(&None), "Opaque");
        assert_eq!(
            type_or_default(&Some("kubernetes.io/tls".into())),
            "kubernetes.io/tls"
        );
    }

    #[test]
    fn ownership_goes_by_uid_and_respects_other_controllers() {
        let me = owner("new");
        assert_eq!(
            ownership(&secret(vec![owner("new")], false), &me),
            Ownership::Ours
        );
        assert_eq!(
            ownership(&secret(vec![owner("old")], false), &me),
            Ownership::Orphaned
        );
        assert_eq!(ownership(&secret(vec![], false), &me), Ownership::Foreign);
        assert_eq!(ownership(&secret(vec![], true), &me), Ownership::Adoptable);
        let mut other = owner("x");
        other.kind = "ExternalSecret".into();
        other.api_version = "external-secrets.io/v1".into();
        other.name = "db".into();
        assert_eq!(
            ownership(&secret(vec![other], true), &me),
            Ownership::ControlledBy {
                kind: "ExternalSecret".into(),
                name: "db".into()
            }
        );
    }
}
