//! Test harness: the real controller (supervisor, leader election, key tasks, reconciler,
//! HTTP API) against one of two API servers, chosen per test by [`Backend`]:
//!
//! - [`Backend::Double`]: the home-made API-server double on loopback. Fast, and able to
//!   inject faults, hold requests, log every request and be read and changed directly.
//! - [`Backend::Real`]: the real control plane of `control_plane::get` (kube-apiserver,
//!   kube-controller-manager and etcd of Kubernetes v1.37.2), shared by every test of this
//!   binary. Each test gets namespaces of its own (see [`real`]), and its controllers run
//!   as a ServiceAccount bound to what deploy/rbac.yaml grants, impersonated, so RBAC is
//!   enforced as in a cluster.
//!
//! A scenario is an `async fn(Backend)` written once against [`Harness`]: its reads
//! ([`Harness::secret`], [`Harness::sealed`], [`Harness::events`], …) go through the
//! double's store on the double and through the API (as cluster-admin) on the real
//! server, and its namespaces are logical names ([`Harness::ns`]). [`scenarios!`] makes
//! the `double::NAME` and `real::NAME` tests of each.

#![allow(dead_code)]

pub mod real;
pub mod request_log;

use std::sync::Arc;
use std::time::{Duration, Instant};

use apiserver_double::{ApiServerDouble, ResourceKind};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::api::events::v1::Event;
use kube::api::{DynamicObject, ListParams, PostParams};
use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;
use kube::{Api, Client};
use seal_core::convert::{self, SealOptions};
use seal_core::{KeyRing, PlainSecret, Recipients, SealedSecret, SecretBytes};
use serde_json::Value;
use tokio::sync::watch;
use unseal::context::{Context, Settings};
use unseal::keys::secrets::KEY_SELECTOR;

pub use apiserver_double::Request;

/// The controller's namespace on the double (on the real server each test has its own:
/// [`Harness::controller_ns`]).
pub const CONTROLLER_NS: &str = "seal-system";

/// The namespaces a scenario may use, by their logical names. On the double they are
/// these names; on the real server each test gets fresh ones ([`Harness::ns`]).
pub const NAMESPACES: [&str; 4] = ["apps", "argocd", "attacker", "team-b"];

/// Which API server a scenario runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The API-server double.
    Double,
    /// The real control plane.
    Real,
}

/// Makes two tests of each scenario named in `both` (an `async fn(Backend)` of the
/// module): `double::NAME` and `real::NAME`; and one, `real::NAME`, of each named in
/// `real` (what only the real API server can show). A real test whose control plane
/// cannot run (no Go, outside CI) passes without running, as the control-plane crate
/// says on stderr; once every real test selected has finished, the binary says how many
/// ran against the real control plane ([`real::Run`]).
macro_rules! scenarios {
    (both: [$($both:ident),* $(,)?] $(, real: [$($real:ident),* $(,)?])? $(,)?) => {
        /// The scenarios against the API-server double.
        mod double {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $both() {
                    super::$both($crate::support::Backend::Double).await;
                }
            )*
        }

        /// The scenarios against the real control plane.
        mod real {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $both() {
                    $crate::support::real::run(super::$both).await;
                }
            )*
            $($(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $real() {
                    $crate::support::real::run(super::$real).await;
                }
            )*)?
        }
    };
}
pub(crate) use scenarios;

/// The API server a harness runs against.
enum Server {
    Double(Arc<ApiServerDouble>),
    Real(real::TestCluster),
}

/// Controllers running against one backend, and what a test needs to drive and observe
/// them.
pub struct Harness {
    server: Server,
    /// A client for the test's own requests (cluster-admin on the real server).
    pub client: Client,
    /// Controllers started (usually one).
    pub controllers: Vec<Running>,
    controller_ns: String,
    namespaces: Vec<(&'static str, String)>,
}

/// One running controller.
pub struct Running {
    /// Its context.
    pub ctx: Arc<Context>,
    /// Its HTTP address.
    pub http: String,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    /// Stops it and waits for it to finish.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
    }

    /// Ends it abruptly, as a crash would: nothing is drained and the Lease is not
    /// released.
    pub async fn kill(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

/// Short periods so that tests run fast. The harness sets the controller's namespace and
/// the namespaces it watches.
pub fn fast_settings(identity: &str) -> Settings {
    let mut s = Settings::new(CONTROLLER_NS, identity);
    s.key_check_every = Duration::from_millis(200);
    s.lease_duration = Duration::from_secs(2);
    s.lease_renew_deadline = Duration::from_millis(1500);
    s.lease_renew_every = Duration::from_millis(100);
    s.resync_every = Duration::from_secs(600);
    s
}

/// A client for the double.
pub fn client_for(double: &ApiServerDouble) -> Client {
    let url = double.url().parse().expect("url");
    Client::try_from(kube::Config::new(url)).expect("client")
}

/// A client for the double whose requests carry `User-Agent: agent`, so that the
/// double's log tells them apart.
pub fn client_as(double: &ApiServerDouble, agent: &str) -> Client {
    use axum::http::{HeaderValue, header};
    let mut config = kube::Config::new(double.url().parse().expect("url"));
    config.headers.push((
        header::USER_AGENT,
        HeaderValue::from_str(agent).expect("agent"),
    ));
    Client::try_from(config).expect("client")
}

/// The SealedSecret resource, for reading objects whole (status included).
fn sealed_secret_resource() -> ApiResource {
    let gvk = GroupVersionKind::gvk("seal.dev", "v1alpha1", "SealedSecret");
    ApiResource::from_gvk_with_plural(&gvk, "sealedsecrets")
}

/// An object as JSON (what the double stores, what the API server answers).
fn json_of(object: impl serde::Serialize) -> Value {
    serde_json::to_value(object).expect("an object serializes")
}

impl Harness {
    /// One controller running against `backend`.
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, fast_settings("replica-a")).await
    }

    /// One controller running against `backend` with these settings.
    pub async fn start_with(backend: Backend, settings: Settings) -> Self {
        let mut h = Self::without_controller(backend).await;
        h.add_controller(settings).await;
        h.wait_ready(0).await;
        h
    }

    /// The backend and the test's namespaces, and no controller yet (for a controller run
    /// another way, e.g. the `unseal` binary).
    pub async fn without_controller(backend: Backend) -> Self {
        let (server, client, controller_ns, namespaces) = match backend {
            Backend::Double => {
                let double = Arc::new(ApiServerDouble::start().await.expect("double starts"));
                let client = client_for(&double);
                let namespaces = NAMESPACES.map(|n| (n, n.to_owned())).to_vec();
                (
                    Server::Double(double),
                    client,
                    CONTROLLER_NS.to_owned(),
                    namespaces,
                )
            }
            Backend::Real => {
                let cluster = real::TestCluster::start(&NAMESPACES).await;
                let client = cluster.admin.clone();
                let controller_ns = cluster.controller_ns.clone();
                let namespaces = cluster.namespaces.clone();
                (Server::Real(cluster), client, controller_ns, namespaces)
            }
        };
        Self {
            server,
            client,
            controllers: Vec::new(),
            controller_ns,
            namespaces,
        }
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        match self.server {
            Server::Double(_) => Backend::Double,
            Server::Real(_) => Backend::Real,
        }
    }

    /// Whether this runs against the real control plane.
    pub fn is_real(&self) -> bool {
        self.backend() == Backend::Real
    }

    /// The double (for what only the double can do: faults, stalls, its store and log).
    /// Panics on the real backend.
    pub fn double(&self) -> &ApiServerDouble {
        match &self.server {
            Server::Double(double) => double,
            Server::Real(_) => panic!("this test needs the API-server double"),
        }
    }

    /// The real namespace of the logical namespace `name` (one of [`NAMESPACES`]).
    pub fn ns(&self, name: &str) -> String {
        self.namespaces
            .iter()
            .find(|(logical, _)| *logical == name)
            .map(|(_, real)| real.clone())
            .unwrap_or_else(|| panic!("{name} is not one of the test namespaces {NAMESPACES:?}"))
    }

    /// The controller's namespace (its keys, the recipients ConfigMap, the Lease).
    pub fn controller_ns(&self) -> String {
        self.controller_ns.clone()
    }

    /// The namespaces controllers watch: on the double all of them (an empty list), on
    /// the real server this test's, so that the controllers of tests running at the same
    /// time never see each other's objects.
    pub fn watched_namespaces(&self) -> Vec<String> {
        match self.server {
            Server::Double(_) => Vec::new(),
            Server::Real(_) => std::iter::once(self.controller_ns.clone())
                .chain(self.namespaces.iter().map(|(_, real)| real.clone()))
                .collect(),
        }
    }

    /// Starts another controller replica, in the harness's controller namespace and
    /// watching [`Self::watched_namespaces`].
    pub async fn add_controller(&mut self, mut settings: Settings) {
        settings.namespace = self.controller_ns.clone();
        settings.watch_namespaces = self.watched_namespaces();
        let client = match &self.server {
            Server::Double(double) => client_as(double, &settings.identity),
            Server::Real(cluster) => cluster.controller_client(&settings.identity).await,
        };
        let ctx = Context::new(client, settings);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let http = format!("http://{}", listener.local_addr().expect("addr"));
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(unseal::supervisor::run(ctx.clone(), listener, stopped));
        self.controllers.push(Running {
            ctx,
            http,
            stop,
            task,
        });
    }

    /// A client that acts as the controllers do, for a test's own requests: on the real
    /// server it impersonates this test's controller ServiceAccount (RBAC applies), on the
    /// double it is one more client.
    pub async fn controller_client(&self) -> Client {
        match &self.server {
            Server::Double(double) => client_as(double, "controller"),
            Server::Real(cluster) => cluster.client_as_controller().await,
        }
    }

    /// Writes a kubeconfig for this backend into `dir` and returns its path: the test's
    /// own user (cluster-admin on the real server), or, `as_controller`, the identity the
    /// controllers of this test run as (on the real server the kubeconfig impersonates
    /// this test's controller ServiceAccount, `as:`).
    pub fn kubeconfig(&self, dir: &std::path::Path, as_controller: bool) -> std::path::PathBuf {
        let path = dir.join(if as_controller {
            "controller.kubeconfig"
        } else {
            "kubeconfig"
        });
        let text = match &self.server {
            Server::Double(double) => double.kubeconfig("default"),
            Server::Real(cluster) => cluster.kubeconfig(as_controller),
        };
        std::fs::write(&path, text).expect("kubeconfig written");
        path
    }

    /// Another place for a controller's keys, empty, as a cluster restored from a backup
    /// would be: on the double a fresh double, on the real server a fresh namespace.
    pub async fn fresh_controller_namespace(&mut self, dir: &std::path::Path) -> Fresh {
        match &mut self.server {
            Server::Double(_) => {
                let double = ApiServerDouble::start().await.expect("double starts");
                let kubeconfig = dir.join("fresh.kubeconfig");
                std::fs::write(&kubeconfig, double.kubeconfig("default")).expect("written");
                Fresh {
                    kubeconfig,
                    client: client_for(&double),
                    namespace: CONTROLLER_NS.to_owned(),
                    _double: Some(double),
                }
            }
            Server::Real(cluster) => {
                let namespace = cluster.extra_namespace("seal-fresh").await;
                let kubeconfig = dir.join("fresh.kubeconfig");
                std::fs::write(&kubeconfig, cluster.kubeconfig(false)).expect("written");
                Fresh {
                    kubeconfig,
                    client: self.client.clone(),
                    namespace,
                    _double: None,
                }
            }
        }
    }

    /// Waits until controller `i` is ready (keys loaded, caches synced when leading).
    pub async fn wait_ready(&self, i: usize) {
        let ctx = self.controllers[i].ctx.clone();
        wait_for("controller ready", async || {
            (ctx.is_ready() && ctx.is_leader()).then_some(())
        })
        .await;
    }

    /// The first controller.
    pub fn ctx(&self) -> &Arc<Context> {
        &self.controllers[0].ctx
    }

    /// The active recipient as the first controller sees it.
    pub fn recipients(&self) -> Recipients {
        let set = self.ctx().keys.current();
        let mut r = Recipients::new();
        r.add_arg("test", &set.active().expect("active key").recipient)
            .expect("recipient");
        r
    }

    /// The identities in the key Secrets, read from the store (the API on the real server).
    pub async fn key_ring(&self) -> KeyRing {
        let secrets: Vec<Secret> = match &self.server {
            Server::Double(double) => double
                .with_store(|s| {
                    s.list(
                        &ResourceKind::secrets(),
                        Some(&self.controller_ns),
                        &apiserver_double_selector(KEY_SELECTOR),
                        &apiserver_double_selector(""),
                    )
                })
                .into_iter()
                .map(|s| serde_json::from_value(s).expect("secret"))
                .collect(),
            Server::Real(_) => {
                Api::<Secret>::namespaced(self.client.clone(), &self.controller_ns)
                    .list(&ListParams::default().labels(KEY_SELECTOR))
                    .await
                    .expect("list key Secrets")
                    .items
            }
        };
        let mut ring = KeyRing::new();
        for secret in secrets {
            ring.insert(
                unseal::keys::secrets::decode(&secret)
                    .expect("key")
                    .identity,
            );
        }
        ring
    }

    /// Number of key Secrets.
    pub async fn key_count(&self) -> usize {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), &self.controller_ns);
        api.list(&ListParams::default().labels(KEY_SELECTOR))
            .await
            .expect("list")
            .items
            .len()
    }

    /// Creates a SealedSecret through the API.
    pub async fn create(&self, sealed: &SealedSecret) -> SealedSecret {
        let ns = sealed.metadata.namespace.clone().expect("namespace");
        Api::<SealedSecret>::namespaced(self.client.clone(), &ns)
            .create(&PostParams::default(), sealed)
            .await
            .expect("created")
    }

    /// One object as stored: from the double's store, or from the API server.
    async fn object<K>(&self, kind: ResourceKind, ns: &str, name: &str) -> Option<Value>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + std::fmt::Debug
            + serde::de::DeserializeOwned
            + serde::Serialize,
    {
        match &self.server {
            Server::Double(double) => double.get(&kind, ns, name),
            Server::Real(_) => Api::<K>::namespaced(self.client.clone(), ns)
                .get_opt(name)
                .await
                .unwrap_or_else(|e| panic!("reading {ns}/{name}: {e}"))
                .map(json_of),
        }
    }

    /// A Secret as stored.
    pub async fn secret(&self, ns: &str, name: &str) -> Option<Value> {
        self.object::<Secret>(ResourceKind::secrets(), ns, name)
            .await
    }

    /// A ConfigMap as stored.
    pub async fn config_map(&self, ns: &str, name: &str) -> Option<Value> {
        self.object::<ConfigMap>(ResourceKind::config_maps(), ns, name)
            .await
    }

    /// The leader Lease as stored.
    pub async fn lease(&self) -> Option<Value> {
        let kind = ResourceKind::new("coordination.k8s.io", "v1", "leases");
        self.object::<Lease>(kind, &self.controller_ns, "unseal-leader")
            .await
    }

    /// A SealedSecret as stored, status included.
    pub async fn sealed(&self, ns: &str, name: &str) -> Option<Value> {
        match &self.server {
            Server::Double(double) => double.get(
                &ResourceKind::new("seal.dev", "v1alpha1", "sealedsecrets"),
                ns,
                name,
            ),
            Server::Real(_) => Api::<DynamicObject>::namespaced_with(
                self.client.clone(),
                ns,
                &sealed_secret_resource(),
            )
            .get_opt(name)
            .await
            .unwrap_or_else(|e| panic!("reading SealedSecret {ns}/{name}: {e}"))
            .map(json_of),
        }
    }

    /// The Events (`events.k8s.io/v1`) in a namespace.
    pub async fn events(&self, ns: &str) -> Vec<Value> {
        match &self.server {
            Server::Double(double) => double.with_store(|s| {
                s.list(
                    &ResourceKind::new("events.k8s.io", "v1", "events"),
                    Some(ns),
                    &apiserver_double_selector(""),
                    &apiserver_double_selector(""),
                )
            }),
            Server::Real(_) => Api::<Event>::namespaced(self.client.clone(), ns)
                .list(&ListParams::default())
                .await
                .unwrap_or_else(|e| panic!("listing Events in {ns}: {e}"))
                .items
                .into_iter()
                .map(json_of)
                .collect(),
        }
    }

    /// The Warning Events with this reason in a namespace.
    pub async fn warnings(&self, ns: &str, reason: &str) -> usize {
        self.events(ns)
            .await
            .iter()
            .filter(|e| e["type"] == "Warning" && e["reason"] == reason)
            .count()
    }

    /// The controllers' requests in the order sent: on the double, every request it
    /// received (the test's own too); on the real server, what the controllers' clients
    /// sent and were answered ([`request_log`]).
    pub fn log(&self) -> Vec<Request> {
        match &self.server {
            Server::Double(double) => double.log(),
            Server::Real(cluster) => cluster.log.requests(),
        }
    }

    /// Whether the replica `identity` has read the Lease (so it is a candidate that has
    /// seen the holder).
    pub fn has_read_lease(&self, identity: &str) -> bool {
        self.log()
            .iter()
            .any(|r| r.client == identity && r.is_for("leases") && !r.is_write() && r.succeeded())
    }

    /// Successful writes so far, per resource plural, leaving out the plurals named: on
    /// the double every write it stored, on the real server the controllers' writes.
    pub fn writes_besides(&self, skip: &[&str]) -> std::collections::BTreeMap<String, usize> {
        match &self.server {
            Server::Double(double) => double.writes_besides(skip),
            Server::Real(cluster) => cluster.log.writes_besides(skip),
        }
    }

    /// The Synced condition's (status, reason) of a SealedSecret, once it has one.
    pub async fn condition(&self, ns: &str, name: &str) -> Option<(String, String)> {
        let obj = self.sealed(ns, name).await?;
        let c = obj["status"]["conditions"]
            .as_array()?
            .iter()
            .find(|c| c["type"] == "Synced")?
            .clone();
        Some((
            c["status"].as_str()?.to_owned(),
            c["reason"].as_str()?.to_owned(),
        ))
    }

    /// The Synced condition's message of a SealedSecret ("" when it has none).
    pub async fn message(&self, ns: &str, name: &str) -> String {
        self.sealed(ns, name)
            .await
            .and_then(|s| {
                s["status"]["conditions"]
                    .as_array()?
                    .iter()
                    .find(|c| c["type"] == "Synced")?["message"]
                    .as_str()
                    .map(str::to_owned)
            })
            .unwrap_or_default()
    }

    /// Waits until the SealedSecret's condition has this reason; for `Unsealed`, also
    /// until it carries its sync record, which the controller writes after the status
    /// (so that a test's next change does not race the end of that reconcile).
    pub async fn wait_reason(&self, ns: &str, name: &str, reason: &str) {
        wait_for(&format!("{ns}/{name} reason {reason}"), async || {
            self.condition(ns, name)
                .await
                .filter(|(_, r)| r == reason)
                .map(|_| ())
        })
        .await;
        if reason == "Unsealed" {
            wait_for(&format!("{ns}/{name} sync record"), async || {
                let sealed = self.sealed(ns, name).await?;
                sealed["metadata"]["annotations"][unseal::sync_record::RECORD_ANNOTATION]
                    .as_str()
                    .map(drop)
            })
            .await;
        }
    }

    /// Waits until the SealedSecret's status describes its current generation.
    pub async fn wait_observed(&self, ns: &str, name: &str) {
        wait_for(&format!("{ns}/{name} observed"), async || {
            let obj = self.sealed(ns, name).await?;
            let generation = obj["metadata"]["generation"].as_i64()?;
            (obj["status"]["observedGeneration"].as_i64() == Some(generation)).then_some(())
        })
        .await;
    }

    /// Stops every controller; on the real server, then deletes this test's namespaces
    /// and its ClusterRoleBinding (best effort: a failing test leaves them, for a look
    /// with `SEAL_CONTROL_PLANE_KEEP=1`, and they go with the control plane).
    pub async fn stop(self) {
        for c in self.controllers {
            c.stop().await;
        }
        if let Server::Real(cluster) = self.server {
            cluster.clean_up().await;
        }
    }
}

/// An empty controller namespace elsewhere ([`Harness::fresh_controller_namespace`]).
pub struct Fresh {
    /// A kubeconfig file for it (the test's own user).
    pub kubeconfig: std::path::PathBuf,
    /// A client for it.
    pub client: Client,
    /// The controller namespace.
    pub namespace: String,
    _double: Option<ApiServerDouble>,
}

/// A selector as the double parses it.
pub fn apiserver_double_selector(text: &str) -> apiserver_double::LabelSelector {
    apiserver_double::LabelSelector::parse(text).expect("selector")
}

/// How long [`wait_for`] waits at most: it only matters when something is broken, and is
/// generous so that a machine whose cores are busy with other work does not fail a test
/// that is merely slow.
pub const WAIT_AT_MOST: Duration = Duration::from_secs(60);

/// Checks `check` every 20 ms until it yields, or panics after [`WAIT_AT_MOST`] naming
/// `what`.
pub async fn wait_for<T>(what: &str, check: impl AsyncFnMut() -> Option<T>) -> T {
    wait_within(what, WAIT_AT_MOST, check).await
}

/// How long the garbage collector may take to delete what a deleted object owned, as a
/// bound for waits: on the real server it is asynchronous (within a second or two once it
/// knows the kind; a kind created after kube-controller-manager started is noticed at its
/// next discovery, up to 30 s later).
pub const GC_WITHIN: Duration = Duration::from_secs(120);

/// [`wait_for`] with another bound.
pub async fn wait_within<T>(
    what: &str,
    bound: Duration,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + bound;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {bound:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Creates a ConfigMap to stand for another controller's object, and returns an
/// ownerReference to it (with `controller` set as asked). The owner must exist: on the
/// real server the garbage collector deletes a dependent whose owners are all gone.
pub async fn other_owner(h: &Harness, ns: &str, name: &str, controller: bool) -> Value {
    let made = Api::<ConfigMap>::namespaced(h.client.clone(), ns)
        .create(
            &PostParams::default(),
            &serde_json::from_value(serde_json::json!({"metadata": {"name": name}}))
                .expect("config map"),
        )
        .await
        .unwrap_or_else(|e| panic!("creating ConfigMap {ns}/{name}: {e}"));
    let mut reference = serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap", "name": name,
        "uid": made.metadata.uid.expect("uid"),
    });
    if controller {
        reference["controller"] = Value::Bool(true);
    }
    reference
}

/// A plaintext Secret.
pub fn plain(ns: &str, name: &str, data: &[(&str, &str)]) -> PlainSecret {
    let mut p = PlainSecret {
        name: name.to_owned(),
        namespace: Some(ns.to_owned()),
        ..Default::default()
    };
    for (k, v) in data {
        p.data
            .insert((*k).to_owned(), SecretBytes::copy_from(v.as_bytes()));
    }
    p
}

/// Seals a Secret to `recipients`.
pub fn seal(p: &PlainSecret, recipients: &Recipients, options: &SealOptions) -> SealedSecret {
    convert::seal_secret(p, recipients, options).expect("seals")
}

/// The decoded data of a stored Secret.
pub fn data_of(secret: &Value) -> std::collections::BTreeMap<String, String> {
    use base64::Engine as _;
    secret["data"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(v.as_str().expect("string"))
                        .expect("base64");
                    (k.clone(), String::from_utf8(bytes).expect("utf-8"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A plain HTTP/1.1 request over a fresh connection; returns status and body.
pub async fn http(base: &str, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let (status, _, body) = http_with_headers(base, method, path, body).await;
    (status, body)
}

/// A plain HTTP/1.1 request; returns status, the response head (lower-cased header lines)
/// and body.
pub async fn http_with_headers(
    base: &str,
    method: &str,
    path: &str,
    body: &[u8],
) -> (u16, String, String) {
    request(base, None, method, path, body).await
}

/// A request as it arrives through a proxy on behalf of `client` (its
/// `X-Forwarded-For`), so tests can be several clients from one address.
pub async fn http_as(
    base: &str,
    client: &str,
    method: &str,
    path: &str,
    body: &[u8],
) -> (u16, String, String) {
    request(base, Some(client), method, path, body).await
}

async fn request(
    base: &str,
    forwarded_for: Option<&str>,
    method: &str,
    path: &str,
    body: &[u8],
) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    let forwarded = forwarded_for
        .map(|c| format!("X-Forwarded-For: {c}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nContent-Type: application/yaml\r\n{forwarded}Connection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("write head");
    stream.write_all(body).await.expect("write body");
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (status, head.to_ascii_lowercase(), dechunk(body))
}

/// Undoes chunked transfer encoding when present (best effort, for test bodies).
fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    loop {
        let Some((size, tail)) = rest.split_once("\r\n") else {
            return body.to_owned();
        };
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            return body.to_owned();
        };
        if n == 0 {
            return out;
        }
        if tail.len() < n {
            return body.to_owned();
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
}
