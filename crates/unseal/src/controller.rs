//! The kube-runtime `Controller` wiring: SealedSecrets in the watched namespaces (those
//! matching `--label-selector` when one is given), the
//! Secrets they own and the Secrets they merge keys into, each through a label-selected
//! watch only (no cluster-wide Secret cache). A change of keys re-tries only the
//! SealedSecrets that failed for want of a key (`NoMatchingKey`), not every object.
//!
//! Every watch is metadata-only (`PartialObjectMeta`): the cache holds no ciphertext
//! and no Secret data ever arrives through a watch, so memory stays flat with the number
//! of SealedSecrets; the reconciler reads the one SealedSecret it works on, unless its
//! sync record vouches that nothing changed ([`crate::sync_record`]). The cache keeps
//! only names, uid and generation (see [`slim`]); the sync records and, of the Secrets, a
//! stamp of uid and version are kept apart, small ([`crate::sync_record`]). Only a new
//! `metadata.generation` (a spec change) or a new uid triggers a reconcile, not our own
//! status and record writes ([`crate::generations`]), and what the SealedSecret watch
//! triggers reaches the scheduler through a [`Pacer`], at the pace the reconciles end,
//! so that a burst leaves no grown maps behind in kube-runtime's scheduler.

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{self, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Api, ResourceExt};
use seal_core::SealedSecret;
use tokio::sync::watch;

use crate::context::Context;
use crate::generations::{Generations, generation_of};
use crate::pacer::Pacer;
use crate::reconcile::{error_policy, reconcile};
use crate::secret_sync::{MANAGED_SELECTOR, MERGED_SELECTOR};
use crate::sync_record::stamps::stamp_of;
use crate::sync_record::{RECORD_ANNOTATION, SyncCaches, Tag};

/// Drops what the cache does not need from a watched SealedSecret: the reconciler reads
/// the object itself, so only its name, namespace, uid, generation and deletion time are
/// kept (its sync record is taken out before, into [`crate::sync_record::Records`]).
/// Annotations can be large (`kubectl apply` and Argo CD store the whole object,
/// ciphertext included, in `last-applied-configuration`), and so can `managedFields`; the
/// resource version and creation time are two more strings per object that nothing reads
/// from the cache (the watch keeps its own resource version).
fn slim(object: &mut PartialObjectMeta<SealedSecret>) {
    object.types = None;
    let meta = &mut object.metadata;
    meta.annotations = None;
    meta.managed_fields = None;
    meta.labels = None;
    meta.owner_references = None;
    meta.finalizers = None;
    meta.resource_version = None;
    meta.creation_timestamp = None;
    meta.generate_name = None;
    meta.self_link = None;
}

/// The sync record of a watched SealedSecret, parsed.
fn record_of(object: &PartialObjectMeta<SealedSecret>) -> Option<Tag> {
    Tag::parse(object.annotations().get(RECORD_ANNOTATION)?)
}

/// The SealedSecret that merges keys into a Secret: the one of the same name and
/// namespace (Merge mode writes into the Secret its SealedSecret is named after).
fn merged_into(
    secret: PartialObjectMeta<Secret>,
) -> Option<ObjectRef<PartialObjectMeta<SealedSecret>>> {
    let namespace = secret.namespace()?;
    Some(ObjectRef::new(&secret.name_any()).within(&namespace))
}

/// Keeps the backoff state to objects that exist: a deleted SealedSecret's entry goes
/// with its Delete event, and after a relist (where deletes during a watch outage are
/// not seen) every entry whose object is not in the cache goes too.
fn forget_backoff_of_gone_objects(
    ctx: &Context,
    known: &reflector::Store<PartialObjectMeta<SealedSecret>>,
    event: &Result<watcher::Event<PartialObjectMeta<SealedSecret>>, watcher::Error>,
) {
    match event {
        Ok(watcher::Event::Delete(gone)) => ctx.forget_failures(&format!(
            "{}/{}/",
            gone.namespace().unwrap_or_default(),
            gone.name_any()
        )),
        Ok(watcher::Event::InitDone) => ctx.retain_failures(|key| {
            let mut parts = key.splitn(3, '/');
            let (Some(ns), Some(name), Some(uid)) = (parts.next(), parts.next(), parts.next())
            else {
                return false;
            };
            known
                .get(&ObjectRef::new(name).within(ns))
                .is_some_and(|o| o.uid().as_deref() == Some(uid))
        }),
        _ => {}
    }
}

/// Runs the controllers until `stop` turns true.
pub async fn run(ctx: Arc<Context>, stop: watch::Receiver<bool>) {
    let client = ctx.client.clone();
    type Scope = (
        Option<String>,
        Api<PartialObjectMeta<SealedSecret>>,
        Api<PartialObjectMeta<Secret>>,
    );
    let scopes: Vec<Scope> = if ctx.settings.watch_namespaces.is_empty() {
        vec![(None, Api::all(client.clone()), Api::all(client))]
    } else {
        ctx.settings
            .watch_namespaces
            .iter()
            .map(|ns| {
                (
                    Some(ns.clone()),
                    Api::namespaced(client.clone(), ns),
                    Api::namespaced(client.clone(), ns),
                )
            })
            .collect()
    };
    let mut runs = Vec::new();
    let mut stores = Vec::new();
    let caches = Arc::new(SyncCaches::new(scopes.len()));
    ctx.set_sync_caches(caches.clone());
    for (feed, (namespace, sealed_api, secret_api)) in scopes.into_iter().enumerate() {
        // A new key re-tries the SealedSecrets that failed for want of one, and only them.
        let waiting = ctx.clone();
        let key_changes = futures::stream::unfold(ctx.keys.subscribe(), |mut rx| async move {
            rx.changed().await.ok().map(|_| ((), rx))
        })
        .flat_map(move |()| {
            futures::stream::iter(waiting.take_waiting_for_key(namespace.as_deref()))
        });
        // Every object is checked again now and then (a Merge target that lost its label
        // is out of its watch's sight): one timer for all, not one per object in the
        // scheduler, and with sync records a check of what is in sync is cheap.
        let every = ctx.settings.resync_every;
        let resyncs = futures::stream::unfold((), move |()| async move {
            tokio::time::sleep(every).await;
            Some(((), ()))
        });
        // The Secret watches feed the stamps before they trigger a reconcile.
        let secrets_of = |selector: &str, feed: usize| {
            let caches = caches.clone();
            watcher(
                secret_api.clone(),
                watcher::Config::default().labels(selector),
            )
            .default_backoff()
            .inspect(move |event| {
                caches.stamps.observe(feed, event, stamp_of);
            })
            .touched_objects()
        };
        let mut stopped = stop.clone();
        let (reader, writer) = reflector::store();
        let forgetting = ctx.clone();
        let known = reader.clone();
        let records = caches.clone();
        let selected = match &ctx.settings.label_selector {
            Some(selector) => watcher::Config::default().labels(selector),
            None => watcher::Config::default(),
        };
        let generations = Generations::new(1);
        let sealed = watcher(sealed_api, selected)
            .default_backoff()
            .inspect(move |event| {
                records.records.observe(feed, event, record_of);
            })
            .modify(slim)
            .reflect(writer)
            .inspect(move |event| forget_backoff_of_gone_objects(&forgetting, &known, event))
            .filter(move |event| std::future::ready(generations.observe(0, event, generation_of)))
            .applied_objects();
        // The watch is driven here, not by the controller: what it triggers waits in the
        // pacer, and reaches the scheduler as reconciles end.
        let pacer = Pacer::new();
        let pushing = pacer.clone();
        let mut watching = stop.clone();
        let watch = sealed
            .take_until(async move {
                let _ = watching.wait_for(|s| *s).await;
            })
            .for_each(move |object| {
                match object {
                    Ok(object) => pushing.push(ObjectRef::from_obj(&object)),
                    Err(e) => tracing::debug!(error = %e, "SealedSecret watch error"),
                }
                std::future::ready(())
            });
        let controller = Controller::for_stream(futures::stream::empty(), reader.clone())
            .reconcile_on(pacer.clone().triggers())
            .owns_stream(secrets_of(MANAGED_SELECTOR, 2 * feed))
            .watches_stream(secrets_of(MERGED_SELECTOR, 2 * feed + 1), merged_into)
            .reconcile_on(key_changes)
            .reconcile_all_on(resyncs)
            .with_config(controller::Config::default().concurrency(ctx.settings.concurrency))
            .graceful_shutdown_on(async move {
                let _ = stopped.wait_for(|s| *s).await;
            });
        stores.push(reader);
        let ctx = ctx.clone();
        let reconciles = controller
            .run(reconcile, error_policy, ctx)
            .for_each(move |result| {
                let ended = match &result {
                    Ok((object, _)) => Some((object.namespace.as_deref(), object.name.as_str())),
                    Err(
                        controller::Error::ObjectNotFound(object)
                        | controller::Error::ReconcilerFailed(_, object),
                    ) => Some((object.namespace.as_deref(), object.name.as_str())),
                    Err(_) => None,
                };
                if let Some((namespace, name)) = ended {
                    pacer.done(namespace, name);
                }
                if let Err(e) = result {
                    tracing::debug!(error = %e, "reconcile ended in error");
                }
                std::future::ready(())
            });
        runs.push(async move {
            futures::join!(reconciles, watch);
        });
    }
    let readiness = {
        let ctx = ctx.clone();
        async move {
            for store in stores {
                if store.wait_until_ready().await.is_err() {
                    return;
                }
            }
            ctx.sync_caches().stamps.listed().await;
            ctx.set_synced(true);
            tracing::info!("controller caches synced");
        }
    };
    tokio::join!(futures::future::join_all(runs), readiness);
    ctx.set_synced(false);
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
        FieldsV1, ManagedFieldsEntry, ObjectMeta, OwnerReference,
    };

    use kube::core::PartialObjectMetaExt;

    use super::*;

    /// A SealedSecret as `kubectl apply` or Argo CD leaves it: the whole object, with its
    /// ciphertext, in the last-applied annotation, field managers, labels, an owner.
    fn applied_by_kubectl() -> PartialObjectMeta<SealedSecret> {
        let ciphertext = "YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSBh".repeat(200);
        let last_applied = format!(
            r#"{{"apiVersion":"seal.dev/v1alpha1","kind":"SealedSecret","spec":{{"encryptedData":{{"password":"{ciphertext}"}}}}}}"#
        );
        ObjectMeta {
            name: Some("db".into()),
            namespace: Some("apps".into()),
            uid: Some("0b7f-uid".into()),
            generation: Some(3),
            resource_version: Some("123456".into()),
            annotations: Some(BTreeMap::from([
                (
                    "kubectl.kubernetes.io/last-applied-configuration".to_owned(),
                    last_applied,
                ),
                (
                    RECORD_ANNOTATION.to_owned(),
                    "v1.AAAAAAAAAAAAAAAAAAAAAA".into(),
                ),
            ])),
            labels: Some(BTreeMap::from([("app".into(), "db".into())])),
            managed_fields: Some(vec![ManagedFieldsEntry {
                manager: Some("kubectl-client-side-apply".into()),
                operation: Some("Update".into()),
                fields_v1: Some(FieldsV1(
                    serde_json::json!({"f:spec": {"f:encryptedData": {}}}),
                )),
                ..ManagedFieldsEntry::default()
            }]),
            owner_references: Some(vec![OwnerReference {
                name: "app".into(),
                ..OwnerReference::default()
            }]),
            finalizers: Some(vec!["example.com/keep".into()]),
            ..ObjectMeta::default()
        }
        .into_request_partial()
    }

    #[test]
    fn the_cache_keeps_no_annotation_field_manager_or_version_of_a_sealed_secret() {
        let mut object = applied_by_kubectl();
        slim(&mut object);
        assert_eq!(
            object.metadata,
            ObjectMeta {
                name: Some("db".into()),
                namespace: Some("apps".into()),
                uid: Some("0b7f-uid".into()),
                generation: Some(3),
                ..ObjectMeta::default()
            },
            "only what the reconciler and the triggers read"
        );
        assert!(object.types.is_none(), "no apiVersion and kind per object");
        let kept = serde_json::to_string(&object).map_or(usize::MAX, |json| json.len());
        assert!(kept < 200, "{kept} bytes of JSON kept for one object");
    }

    #[test]
    fn the_sync_record_is_read_before_the_annotations_go() {
        let object = applied_by_kubectl();
        assert!(record_of(&object).is_some(), "a well-formed record");
        let mut slimmed = object.clone();
        slim(&mut slimmed);
        assert!(record_of(&slimmed).is_none(), "gone from the cached object");
    }
}
