//! The `Synced` condition and `observedGeneration`, written only when they change.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};
use seal_core::{SealedSecret, SealedSecretStatus};
use serde_json::json;

use crate::clock;

/// The condition type.
pub const SYNCED: &str = "Synced";

/// How a reconcile ended, as the status reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Whether the Secret is what the SealedSecret says.
    pub synced: bool,
    /// `Unsealed` or a failure reason.
    pub reason: &'static str,
    /// A message without any secret value.
    pub message: String,
}

/// The status for a verdict; the transition time is kept when the condition's status
/// did not change.
pub fn desired(sealed: &SealedSecret, verdict: &Verdict) -> SealedSecretStatus {
    let status = if verdict.synced { "True" } else { "False" };
    let previous = sealed
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == SYNCED));
    let last_transition_time = match previous {
        Some(c) if c.status == status => c.last_transition_time.clone(),
        _ => Time(clock::now()),
    };
    SealedSecretStatus {
        observed_generation: sealed.metadata.generation,
        conditions: vec![Condition {
            type_: SYNCED.to_owned(),
            status: status.to_owned(),
            reason: verdict.reason.to_owned(),
            message: verdict.message.clone(),
            observed_generation: sealed.metadata.generation,
            last_transition_time,
        }],
    }
}

/// Whether the stored status already reports the same outcome: the same status and
/// reason of the Synced condition for the same generation. A message that differs only
/// in wording (an API error's text) is not worth a write.
pub fn same_outcome(sealed: &SealedSecret, status: &SealedSecretStatus) -> bool {
    let Some(stored) = sealed.status.as_ref() else {
        return false;
    };
    let condition = |s: &SealedSecretStatus| {
        s.conditions
            .iter()
            .find(|c| c.type_ == SYNCED)
            .map(|c| (c.status.clone(), c.reason.clone(), c.observed_generation))
    };
    stored.observed_generation == status.observed_generation
        && condition(stored) == condition(status)
}

/// The reason of the stored condition, if any.
pub fn previous_reason(sealed: &SealedSecret) -> Option<&str> {
    sealed
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == SYNCED))
        .map(|c| c.reason.as_str())
}

/// Writes the status subresource (a merge patch of `.status`), on condition that the
/// SealedSecret is still the version this result was computed from: a stale result (a
/// slow reconcile, a replica that lost the lease) gets 409 instead of overwriting a newer
/// one.
pub async fn write(
    api: &Api<SealedSecret>,
    sealed: &SealedSecret,
    status: &SealedSecretStatus,
) -> kube::Result<()> {
    let patch = json!({
        "metadata": {"resourceVersion": sealed.metadata.resource_version},
        "status": status,
    });
    api.patch_status(
        &sealed.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    Ok(())
}
