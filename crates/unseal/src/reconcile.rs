//! One reconcile: open the SealedSecret's values, write its Secret, report in its status,
//! an Event and the metrics. A value that does not open leaves the Secret exactly as it was.

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Patch, PatchParams};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource, ResourceExt};
use seal_core::error::DocError;
use seal_core::{Mode, SealedSecret};

use crate::context::Context;
use crate::keys::KeySet;
use crate::metrics::{ActionLabel, ReasonLabel, ResultLabel};
use crate::opener::{Lane, OpenFailure};
use crate::policy;
use crate::secret_sync::{self, FIELD_MANAGER, Synced, Written};
use crate::status::{self, Verdict};
use crate::sync_record::RECORD_ANNOTATION;

/// A reconcile that did not reach `Synced=True` (already reported in the status).
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The values did not open or the Secret could not be written.
    #[error("{reason}: {message}")]
    NotSynced {
        /// The condition reason.
        reason: &'static str,
        /// The condition message.
        message: String,
    },
    /// The status could not be written.
    #[error("writing status: {0}")]
    Status(#[source] kube::Error),
}

/// The reason of a value that no key held opens.
const NO_MATCHING_KEY: &str = "NoMatchingKey";

/// Longest wait between retries of a failing SealedSecret.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// `namespace/name`, for logs.
fn object_key(sealed: &impl ResourceExt) -> String {
    format!(
        "{}/{}",
        sealed.namespace().unwrap_or_default(),
        sealed.name_any()
    )
}

/// `namespace/name/uid`: the key of the backoff state, so that a SealedSecret deleted
/// and created again with the same name starts afresh.
fn failure_key(sealed: &impl ResourceExt) -> String {
    format!(
        "{}/{}",
        object_key(sealed),
        sealed.uid().unwrap_or_default()
    )
}

/// How long a reconcile waits for the Secret watches' first lists before it checks a
/// sync record: past it, the SealedSecret is reconciled in full.
const STAMPS_WAIT: Duration = Duration::from_secs(30);

/// Whether the SealedSecret's sync record (see [`crate::sync_record`]) vouches that its
/// Secret is still what the controller last left for this generation: then there is
/// nothing to read, open or write. Decided from the metadata-only caches alone.
async fn still_in_sync(meta: &PartialObjectMeta<SealedSecret>, ctx: &Context) -> bool {
    if meta.metadata.deletion_timestamp.is_some() {
        return false;
    }
    let (Some(uid), Some(generation)) = (meta.metadata.uid.as_deref(), meta.metadata.generation)
    else {
        return false;
    };
    let keys = ctx.keys.current();
    let Some(key) = keys.record_key.as_ref() else {
        return false;
    };
    let caches = ctx.sync_caches();
    let (namespace, name) = (meta.namespace().unwrap_or_default(), meta.name_any());
    let records = caches.records.lookup(&namespace, &name);
    if records.is_empty() {
        return false;
    }
    let stamps = &caches.stamps;
    if !stamps.is_listed()
        && tokio::time::timeout(STAMPS_WAIT, stamps.listed())
            .await
            .is_err()
    {
        return false;
    }
    let stamps = stamps.lookup(&namespace, &name);
    records.iter().any(|record| {
        stamps
            .iter()
            .any(|stamp| key.verifies_tag(record, uid, generation, stamp))
    })
}

/// Brings the SealedSecret's sync record to what it should be now: the record of this
/// generation and Secret version after a successful sync (`synced`), none after a
/// failure. Written only when it differs; a record that cannot be written only costs a
/// full reconcile later, so the error is logged, not returned.
async fn update_record(
    api: &Api<SealedSecret>,
    sealed: &SealedSecret,
    keys: &KeySet,
    synced: Option<&Synced>,
) {
    let current = sealed.annotations().get(RECORD_ANNOTATION);
    let wanted = match (synced.and_then(|s| s.stamp), keys.record_key.as_ref()) {
        (Some(stamp), Some(key)) => sealed
            .metadata
            .uid
            .as_deref()
            .zip(sealed.metadata.generation)
            .map(|(uid, generation)| key.record(uid, generation, &stamp)),
        _ => None,
    };
    if current == wanted.as_ref() {
        return;
    }
    let patch = serde_json::json!({"metadata": {"annotations": {RECORD_ANNOTATION: wanted}}});
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..Default::default()
    };
    if let Err(e) = api
        .patch(&sealed.name_any(), &params, &Patch::Merge(&patch))
        .await
    {
        tracing::warn!(object = %object_key(sealed), error = %e, "sync record not written");
    }
}

/// Checks what the controller refuses, opens the values off the runtime and writes the
/// Secret.
async fn sync(sealed: &Arc<SealedSecret>, ctx: &Context) -> Result<Synced, Verdict> {
    let failed = |reason: &'static str, message: String| Verdict {
        synced: false,
        reason,
        message,
    };
    policy::admit(sealed, &ctx.settings.namespace)?;
    let namespace = sealed.namespace().unwrap_or_default();
    let keys = ctx.keys.current();
    ctx.metrics
        .opened
        .inc_by(sealed.spec.encrypted_data.len() as u64);
    let plain = ctx
        .opener
        .open(Lane::Reconcile, sealed.clone(), keys)
        .await
        .map_err(|e| match e {
            OpenFailure::Doc(DocError::Open { ref error, .. }) => {
                failed(error.reason(), e.to_string())
            }
            OpenFailure::Doc(DocError::Field { .. }) => failed("InvalidSpec", e.to_string()),
            other => failed("Internal", other.to_string()),
        })?;
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
    let written = match sealed.spec.mode {
        Mode::Owned => secret_sync::sync_owned(&api, sealed, &plain, &ctx.write_wars).await,
        Mode::Merge => secret_sync::sync_merge(&api, sealed, &plain, &ctx.write_wars).await,
    };
    written.map_err(|problem| failed(problem.reason(), problem.to_string()))
}

/// Whether a failure can only change with the SealedSecret's spec or the keys held (a
/// value that does not open, a malformed or refused spec): both already trigger a
/// reconcile, so retrying on a timer would only burn CPU (a stanza flood retried for
/// ever was one of the attacks this controller must withstand).
pub fn waits_for_a_change(reason: &str) -> bool {
    matches!(
        reason,
        "InvalidSpec"
            | "InvalidBase64"
            | "NotAge"
            | "NoMatchingKey"
            | "DecryptFailed"
            | "UnsupportedVersion"
            | "NotSealFormat"
            | "ScopeMismatch"
            | policy::RESERVED_NAMESPACE
    )
}

/// Reconciles one SealedSecret, named by the metadata-only cache: it is read in full here.
pub async fn reconcile(
    meta: Arc<PartialObjectMeta<SealedSecret>>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let started = Instant::now();
    let reference = ObjectRef::from_obj(meta.as_ref());
    if still_in_sync(&meta, &ctx).await {
        ctx.metrics
            .reconciles
            .get_or_create(&ResultLabel {
                result: "unchanged",
            })
            .inc();
        return Ok(Action::await_change());
    }
    let namespace = meta.namespace().unwrap_or_default();
    let api: Api<SealedSecret> = Api::namespaced(ctx.client.clone(), &namespace);
    let sealed = match api.get_opt(&meta.name_any()).await {
        Ok(Some(sealed)) => Arc::new(sealed),
        Ok(None) => {
            ctx.forget_failures(&format!("{}/", object_key(meta.as_ref())));
            ctx.stop_waiting_for_key(&reference);
            return Ok(Action::await_change());
        }
        Err(e) => {
            return Err(ReconcileError::NotSynced {
                reason: "ApiError",
                message: format!("reading the SealedSecret: {e}"),
            });
        }
    };
    if sealed.metadata.deletion_timestamp.is_some() {
        // Being deleted (a finalizer, or foreground deletion waiting for its Secret): a
        // write now would re-create a Secret that points at a dying owner.
        ctx.forget_failures(&format!("{}/", object_key(sealed.as_ref())));
        ctx.stop_waiting_for_key(&reference);
        return Ok(Action::await_change());
    }
    let keys_version = ctx.keys.version();
    let outcome = sync(&sealed, &ctx).await;
    if outcome.is_err() {
        // Before the status: a record must never outlive a failure it does not know of.
        update_record(&api, &sealed, &ctx.keys.current(), None).await;
    }
    let verdict = match &outcome {
        Ok(_) => Verdict {
            synced: true,
            reason: "Unsealed",
            message: format!(
                "Secret written from {} sealed values",
                sealed.spec.encrypted_data.len()
            ),
        },
        Err(v) => v.clone(),
    };
    let previous_reason = status::previous_reason(&sealed).map(str::to_owned);
    let desired = status::desired(&sealed, &verdict);
    if !status::same_outcome(&sealed, &desired) {
        status::write(&api, &sealed, &desired)
            .await
            .map_err(ReconcileError::Status)?;
    }
    if let Ok(synced) = &outcome {
        update_record(&api, &sealed, &ctx.keys.current(), Some(synced)).await;
    }
    ctx.metrics
        .duration
        .observe(started.elapsed().as_secs_f64());
    let object = sealed.object_ref(&());
    match outcome {
        Ok(Synced { written, .. }) => {
            ctx.stop_waiting_for_key(&reference);
            ctx.metrics
                .reconciles
                .get_or_create(&ResultLabel { result: "synced" })
                .inc();
            ctx.record_success(&failure_key(sealed.as_ref()));
            if let Some(action) = written.action() {
                ctx.metrics
                    .secret_writes
                    .get_or_create(&ActionLabel { action })
                    .inc();
                tracing::info!(object = %object_key(sealed.as_ref()), action, "Secret written");
                let note = match &written {
                    Written::Adopted { replaced } if !replaced.is_empty() => format!(
                        "Secret adopted; its keys {} were replaced or removed by the sealed values",
                        replaced.join(", ")
                    ),
                    _ => format!("Secret {action}d from the sealed values"),
                };
                let event = Event {
                    type_: EventType::Normal,
                    reason: "Unsealed".to_owned(),
                    note: Some(note),
                    action: "Unseal".to_owned(),
                    secondary: None,
                };
                if let Err(e) = ctx.recorder.publish(&event, &object).await {
                    tracing::debug!(error = %e, "event not published");
                }
            }
            Ok(Action::await_change())
        }
        Err(verdict) => {
            ctx.metrics
                .reconciles
                .get_or_create(&ResultLabel { result: "failed" })
                .inc();
            ctx.metrics
                .errors
                .get_or_create(&ReasonLabel {
                    reason: verdict.reason,
                })
                .inc();
            ctx.not_synced
                .failed(&failure_key(sealed.as_ref()), verdict.reason);
            tracing::warn!(object = %object_key(sealed.as_ref()), reason = verdict.reason, message = %verdict.message, "not synced");
            if verdict.reason == NO_MATCHING_KEY {
                // Only a new key can cure this: the key changes re-try it (and it only),
                // unless the keys changed while it was being opened.
                ctx.wait_for_key(reference, keys_version);
            } else {
                ctx.stop_waiting_for_key(&reference);
            }
            if previous_reason.as_deref() != Some(verdict.reason) {
                let event = Event {
                    type_: EventType::Warning,
                    reason: verdict.reason.to_owned(),
                    note: Some(verdict.message.clone()),
                    action: "Unseal".to_owned(),
                    secondary: None,
                };
                if let Err(e) = ctx.recorder.publish(&event, &object).await {
                    tracing::debug!(error = %e, "event not published");
                }
            }
            Err(ReconcileError::NotSynced {
                reason: verdict.reason,
                message: verdict.message,
            })
        }
    }
}

/// Retries a failing SealedSecret with exponential backoff: 1 s, 2 s, 4 s, … up to 5 min;
/// a failure only a new spec or new keys can cure ([`waits_for_a_change`]) waits for
/// that change instead.
pub fn error_policy(
    sealed: Arc<PartialObjectMeta<SealedSecret>>,
    error: &ReconcileError,
    ctx: Arc<Context>,
) -> Action {
    if let ReconcileError::NotSynced { reason, .. } = error
        && waits_for_a_change(reason)
        && (*reason != NO_MATCHING_KEY || ctx.is_waiting_for_key(&ObjectRef::from_obj(&*sealed)))
    {
        return Action::await_change();
    }
    let failures = ctx.record_failure(&failure_key(sealed.as_ref()));
    let exponent = failures.saturating_sub(1).min(16);
    Action::requeue(Duration::from_secs(1u64 << exponent).min(MAX_BACKOFF))
}
