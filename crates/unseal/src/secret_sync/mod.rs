//! Writing the opened values into the cluster: the owned Secret (`Owned` mode, [`owned`])
//! or the keys of an existing Secret (`Merge` mode, [`merge`]). Nothing is written when
//! the Secret already is what it should be, and a Secret that cannot be brought there is
//! left as it was.

pub mod handover;
pub mod merge;
pub mod owned;
pub mod write_wars;

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::PostParams;
use seal_core::PlainSecret;

pub use merge::sync_merge;
pub use owned::sync_owned;

use crate::sync_record::Stamp;
use crate::wiped::Wiped;
use write_wars::WriteWars;

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
/// The field manager the controller writes as (what the API server names in
/// `managedFields`, and what a write war reports about the other side).
pub const FIELD_MANAGER: &str = "unseal";
/// The most bytes of data a Secret may hold (the API server refuses more).
pub const MAX_SECRET_DATA: usize = 1024 * 1024;

/// What was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Written {
    /// Nothing: the Secret already matched.
    Unchanged,
    /// The Secret was created.
    Created,
    /// The Secret was updated in place.
    Updated,
    /// An existing Secret annotated for adoption was taken over; these of its keys were
    /// replaced or removed (names only).
    Adopted {
        /// Keys whose value was replaced or that were removed.
        replaced: Vec<String>,
    },
    /// The Secret was deleted and created again (type or immutability changed).
    Recreated,
}

impl Written {
    /// The metric label of a write, `None` when nothing was written.
    pub fn action(&self) -> Option<&'static str> {
        match self {
            Written::Unchanged => None,
            Written::Created => Some("create"),
            Written::Updated => Some("update"),
            Written::Adopted { .. } => Some("adopt"),
            Written::Recreated => Some("recreate"),
        }
    }
}

/// What a sync did, and the version of the Secret it left (for the sync record).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Synced {
    /// What was written.
    pub written: Written,
    /// The stamp of the Secret as written or found unchanged (`None` when the API server
    /// gave no uid or version).
    pub stamp: Option<Stamp>,
}

impl Synced {
    /// `written`, leaving `secret` as it now stands.
    pub fn of(written: Written, secret: &Secret) -> Self {
        Self {
            written,
            stamp: Stamp::of_meta(&secret.metadata),
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
    /// The Secret is annotated for adoption but another controller owns it.
    #[error(
        "the Secret is controlled by {kind} {name}; the controller does not take a Secret over from another controller"
    )]
    OwnedByAnother {
        /// The other controller's kind.
        kind: String,
        /// Its name.
        name: String,
    },
    /// Merge mode, and the target Secret does not exist.
    #[error("the Secret to merge into does not exist; Merge mode never creates it")]
    Missing,
    /// The Secret is being deleted.
    #[error("the Secret is being deleted; it is written again once it is gone")]
    Terminating,
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
    /// Merge mode: someone else keeps changing these keys back.
    #[error(
        "key {key} of the Secret was changed back {times} times in {window_minutes} minutes by {other}; the controller stops writing it until that stops (or the SealedSecret changes)"
    )]
    Conflict {
        /// The key.
        key: String,
        /// How many rewrites were seen.
        times: usize,
        /// In how many minutes.
        window_minutes: u64,
        /// The other field manager, when the API server tells, else "another writer".
        other: String,
    },
    /// The Secret would exceed the API server's size limit.
    #[error("the Secret would hold {bytes} bytes of data, over the 1 MiB limit")]
    TooLarge {
        /// Bytes of data after the write.
        bytes: usize,
    },
    /// A change of `type` or immutability needs a new Secret, and it cannot be made: the
    /// old one is left in place.
    #[error(
        "the Secret must be re-created (type or immutability changed) but {why}; the old Secret is left in place"
    )]
    CannotRecreate {
        /// Why (an API refusal of the dry run, or a finalizer).
        why: String,
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
            SyncProblem::NotOwned | SyncProblem::OwnedByAnother { .. } => "SecretNotOwned",
            SyncProblem::Missing => "SecretMissing",
            SyncProblem::Terminating => "SecretTerminating",
            SyncProblem::MergeNotAllowed { .. } => "MergeNotAllowed",
            SyncProblem::Conflict { .. } => "Conflict",
            SyncProblem::TooLarge { .. } => "TooLarge",
            SyncProblem::CannotRecreate { .. } => "CannotRecreate",
            SyncProblem::NotStored => "InvalidSpec",
            SyncProblem::Api(_) => "ApiError",
        }
    }
}

/// The opened values as Secret data (wiped on drop).
fn data_of(plain: &PlainSecret) -> Wiped<BTreeMap<String, ByteString>> {
    Wiped(
        plain
            .data
            .iter()
            .map(|(k, v)| (k.clone(), ByteString(v.expose().to_vec())))
            .collect(),
    )
}

/// The field manager other than this controller that last set `data.<key>` (any data
/// field when `key` is `None`), if the API server's `managedFields` say.
fn other_manager(secret: &Secret, key: Option<&str>) -> Option<String> {
    let field = key.map(|k| format!("f:{k}"));
    secret
        .metadata
        .managed_fields
        .as_ref()?
        .iter()
        .filter(|m| m.manager.as_deref() != Some(FIELD_MANAGER))
        .find(|m| {
            let data = m.fields_v1.as_ref().and_then(|f| f.0.get("f:data"));
            match &field {
                Some(field) => data.and_then(|d| d.get(field)).is_some(),
                None => data.is_some(),
            }
        })
        .and_then(|m| m.manager.clone())
}

/// The `Conflict` to report after `times` rounds of a write war over `key` of `secret`
/// (its whole data when `None`), naming the other side when the API server tells.
fn conflict(secret: &Secret, key: Option<&str>, times: usize, wars: &WriteWars) -> SyncProblem {
    SyncProblem::Conflict {
        key: key.unwrap_or("data").to_owned(),
        times,
        window_minutes: wars.window().as_secs() / 60,
        other: other_manager(secret, key).map_or_else(
            || "another writer".to_owned(),
            |m| format!("field manager {m}"),
        ),
    }
}

/// Parameters of every write: as [`FIELD_MANAGER`].
fn write_params() -> PostParams {
    PostParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, ManagedFieldsEntry};

    use super::*;

    #[test]
    fn the_other_field_manager_is_read_from_managed_fields() {
        let mut s = Secret::default();
        s.metadata.managed_fields = Some(vec![
            ManagedFieldsEntry {
                manager: Some(FIELD_MANAGER.into()),
                fields_v1: Some(FieldsV1(
                    serde_json::json!({"f:data": {"f:webhook.github.secret": {}}}),
                )),
                ..Default::default()
            },
            ManagedFieldsEntry {
                manager: Some("argocd-controller".into()),
                fields_v1: Some(FieldsV1(
                    serde_json::json!({"f:data": {"f:webhook.github.secret": {}}}),
                )),
                ..Default::default()
            },
        ]);
        assert_eq!(
            other_manager(&s, Some("webhook.github.secret")).as_deref(),
            Some("argocd-controller")
        );
        assert_eq!(other_manager(&s, Some("admin.password")), None);
        assert_eq!(
            other_manager(&s, None).as_deref(),
            Some("argocd-controller")
        );
    }
}
