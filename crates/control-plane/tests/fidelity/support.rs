//! What the fidelity tests share: the production controller (`unseal::supervisor::run`)
//! running in the test against the real API server as the controller's ServiceAccount,
//! sealing with its key, and waiting on SealedSecrets through a watch.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use kube::api::{Api, DynamicObject};
use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;
use kube::runtime::{WatchStreamExt, watcher};
use seal_core::convert::{self, SealOptions};
use seal_core::{PlainSecret, Recipients, SecretBytes};
use serde_json::Value;
use tokio::sync::{Mutex, MutexGuard, watch};
use unseal::context::{Context, Settings};

/// The controller's namespace: deploy/rbac.yaml grants its Role there.
pub const CONTROLLER_NS: &str = "seal-system";

/// One test at a time in this binary: the controllers share the key Secrets and the
/// Lease in [`CONTROLLER_NS`], and a compaction expires every continue token issued
/// before it, another test's too.
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// Waits for this test's turn.
pub async fn turn() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().await
}

/// The SealedSecret resource.
pub fn sealed_secret_resource() -> ApiResource {
    let gvk = GroupVersionKind::gvk("seal.dev", "v1alpha1", "SealedSecret");
    ApiResource::from_gvk_with_plural(&gvk, "sealedsecrets")
}

/// SealedSecrets in `ns`, as generic objects.
pub fn sealed_secrets(client: &kube::Client, ns: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), ns, &sealed_secret_resource())
}

/// The production controller, running in this test.
pub struct Controller {
    /// Its context.
    pub ctx: Arc<Context>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Controller {
    /// Starts the controller with `client`, reconciling the SealedSecrets of `ns` only;
    /// returns once it leads, holds its keys and has synced its caches.
    pub async fn start(client: kube::Client, ns: &str, identity: &str) -> Self {
        let controller = Self::spawn(client, ns, identity).await;
        controller.wait_ready(Duration::from_secs(120)).await;
        controller
    }

    /// Starts the controller and returns at once.
    pub async fn spawn(client: kube::Client, ns: &str, identity: &str) -> Self {
        let mut settings = Settings::new(CONTROLLER_NS, identity);
        settings.watch_namespaces = vec![ns.to_owned()];
        settings.key_check_every = Duration::from_secs(1);
        // A predecessor aborted by a failed test leaves its Lease held: short terms.
        settings.lease_duration = Duration::from_secs(6);
        settings.lease_renew_deadline = Duration::from_secs(4);
        settings.lease_renew_every = Duration::from_millis(500);
        let ctx = Context::new(client, settings);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port for the controller's HTTP API");
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn({
            let ctx = ctx.clone();
            async move {
                if let Err(e) = unseal::supervisor::run(ctx, listener, stopped).await {
                    panic!("the controller failed: {e:#}");
                }
            }
        });
        Self { ctx, stop, task }
    }

    /// Waits until it leads, holds its keys and has synced its caches.
    pub async fn wait_ready(&self, within: Duration) {
        let ctx = self.ctx.clone();
        wait_until(
            "the controller leads, holds keys and synced",
            within,
            || ctx.is_leader() && ctx.is_ready(),
        )
        .await;
    }

    /// The controller's active recipient.
    pub fn recipients(&self) -> Recipients {
        let keys = self.ctx.keys.current();
        let active = keys.active().expect("an active key");
        let mut to = Recipients::new();
        to.add_arg("controller", &active.recipient)
            .expect("the active recipient");
        to
    }

    /// Stops it as SIGTERM would (the Lease released) and waits until it has.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("the controller stops within 30 s")
            .expect("the controller's task");
    }
}

/// Polls an in-process flag until it holds, at most `within`.
pub async fn wait_until(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < within, "{what}: not after {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A SealedSecret for `ns/name` holding `values`, sealed to `to`, as JSON.
pub fn sealed(ns: &str, name: &str, values: &[(&str, &[u8])], to: &Recipients) -> Value {
    let plain = PlainSecret {
        name: name.to_owned(),
        namespace: Some(ns.to_owned()),
        data: values
            .iter()
            .map(|(k, v)| ((*k).to_owned(), SecretBytes::copy_from(v)))
            .collect::<BTreeMap<_, _>>(),
        ..PlainSecret::default()
    };
    let sealed = convert::seal_secret(&plain, to, &SealOptions::default()).expect("sealed");
    serde_json::to_value(sealed).expect("a SealedSecret as JSON")
}

/// Whether a SealedSecret's current generation is Synced.
pub fn is_synced(object: &DynamicObject) -> bool {
    let generation = object.metadata.generation;
    let status = &object.data["status"];
    generation.is_some()
        && status["observedGeneration"].as_i64() == generation
        && status["conditions"].as_array().is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| c["type"] == "Synced" && c["status"] == "True")
        })
}

/// Waits, through a watch, until `count` SealedSecrets of `ns` are Synced for their
/// current generation, at most `within`.
pub async fn wait_all_synced(admin: &kube::Client, ns: &str, count: usize, within: Duration) {
    let api = sealed_secrets(admin, ns);
    let mut synced = std::collections::BTreeSet::new();
    let mut seen = 0usize;
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .applied_objects();
    futures::pin_mut!(stream);
    let waited = tokio::time::timeout(within, async {
        while synced.len() < count {
            let Some(object) = stream.try_next().await.expect("watching SealedSecrets") else {
                panic!("the SealedSecret watch ended");
            };
            seen += 1;
            let name = object.metadata.name.clone().unwrap_or_default();
            if is_synced(&object) {
                synced.insert(name);
            } else {
                synced.remove(&name);
            }
        }
    })
    .await;
    assert!(
        waited.is_ok(),
        "{count} SealedSecrets of {ns} Synced: only {} after {within:?} ({seen} events)",
        synced.len()
    );
}

/// Counts, through a list, the SealedSecrets of `ns` that are Synced.
pub async fn count_synced(admin: &kube::Client, ns: &str) -> usize {
    let api = sealed_secrets(admin, ns);
    let list: Vec<DynamicObject> = api
        .list(&Default::default())
        .await
        .expect("list SealedSecrets")
        .items;
    list.iter().filter(|o| is_synced(o)).count()
}

/// Creates `objects` (JSON) in `ns`, `parallel` at a time.
pub async fn create_all(admin: &kube::Client, ns: &str, objects: Vec<Value>, parallel: usize) {
    let api = sealed_secrets(admin, ns);
    futures::stream::iter(objects)
        .map(|object| {
            let api = api.clone();
            async move {
                let object: DynamicObject = serde_json::from_value(object).expect("an object");
                api.create(&Default::default(), &object)
                    .await
                    .unwrap_or_else(|e| panic!("creating {:?}: {e}", object.metadata.name))
            }
        })
        .buffer_unordered(parallel)
        .for_each(|_| async {})
        .await;
}
