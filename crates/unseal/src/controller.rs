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
//! only names, versions and the sync record (see [`slim`]); of the Secrets only a stamp
//! of uid and version is kept ([`SecretStamps`]). Only a new `metadata.generation` (a
//! spec change) triggers a reconcile, not our own status and record writes.

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{self, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{WatchStreamExt, predicates, reflector, watcher};
use kube::{Api, ResourceExt};
use seal_core::SealedSecret;
use tokio::sync::watch;

use crate::context::Context;
use crate::reconcile::{error_policy, reconcile};
use crate::secret_sync::{MANAGED_SELECTOR, MERGED_SELECTOR};
use crate::sync_record::stamps::stamp_of;
use crate::sync_record::{RECORD_ANNOTATION, SyncCaches, Tag};

/// Drops what the cache does not need from a watched SealedSecret: the reconciler reads
/// the object itself, so only its name, namespace and versions are kept (its sync record
/// is taken out before, into [`Records`]). Annotations can be large (`kubectl apply`
/// stores the whole object, ciphertext included, in `last-applied-configuration`), and so
/// can `managedFields`.
fn slim(object: &mut PartialObjectMeta<SealedSecret>) {
    object.types = None;
    let meta = &mut object.metadata;
    meta.annotations = None;
    meta.managed_fields = None;
    meta.labels = None;
    meta.owner_references = None;
    meta.finalizers = None;
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
            .inspect(move |event| caches.stamps.observe(feed, event, stamp_of))
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
        let sealed = watcher(sealed_api, selected)
            .default_backoff()
            .inspect(move |event| records.records.observe(feed, event, record_of))
            .modify(slim)
            .reflect(writer)
            .inspect(move |event| forget_backoff_of_gone_objects(&forgetting, &known, event))
            .applied_objects()
            .predicate_filter(predicates::generation, Default::default());
        let controller = Controller::for_stream(sealed, reader.clone())
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
        runs.push(
            controller
                .run(reconcile, error_policy, ctx)
                .for_each(|result| async move {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "reconcile ended in error");
                    }
                }),
        );
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
