//! Our controller beside the real bitnami sealed-secrets controller (`scripts/bench
//! bitnami [N]`), on one real control plane (crates/control-plane).
//!
//! Both sets of N SealedSecrets x 5 keys are written first, in namespaces of their own:
//! ours sealed with seal-core to an unseal key Secret made beforehand; bitnami's by the
//! real kubeseal (v0.36, built by `scripts/sealed-secrets`) with `--cert` of a key Secret
//! made beforehand from keys-example/. Sealing and writing are not timed. Then each
//! controller is started alone (one after the other, so they do not share the cores),
//! and measured from its process start until a watch has seen all N of its Secrets: the
//! time, its CPU seconds (/proc/PID/stat utime + stime) and its peak RSS (VmHWM), with
//! kube-apiserver + etcd's CPU over the same span beside them.
//!
//! The bitnami controller only runs in a cluster (it reads its ServiceAccount's files),
//! so it runs as the hand-over test runs it: in a private mount namespace (`unshare`)
//! where those files hold the cluster-admin token and CA, with client-side rate limiting
//! off (`--kubeclient-qps -1`; kube-rs, under unseal, has none either). unseal runs as
//! the benchmark always runs it: its ServiceAccount, impersonated.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DynamicObject, PostParams};
use kube::core::{GroupVersionKind, PartialObjectMeta};
use kube::discovery::ApiResource;
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::Value;

use crate::controller::{NS, Proc, mib, sealed_objects, spawn_controller};
use crate::controller_real::{component, controller_kubeconfig};

/// SealedSecrets written to the API server at once.
const PARALLEL_WRITES: usize = 16;

/// The label bitnami's Secrets carry (set in their template), to count them by.
const BITNAMI_LABEL: &str = "seal.dev/bench";

/// How long a controller may take to write its N Secrets.
const WITHIN: Duration = Duration::from_secs(1800);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// What one controller's run measured.
struct Run {
    /// From process start to the N-th Secret seen.
    time: Duration,
    /// The controller's CPU seconds over that span.
    cpu: f64,
    /// Its peak RSS (KiB) at the end of that span.
    peak: u64,
    /// kube-apiserver + etcd CPU seconds over that span.
    server_cpu: f64,
}

/// The N bitnami SealedSecrets, by the real kubeseal (one call, a stream of Secrets).
fn kubeseal(n: usize, namespaces: &[String]) -> anyhow::Result<Vec<Value>> {
    let mut manifest = String::new();
    for i in 0..n {
        let ns = &namespaces[i % namespaces.len()];
        manifest.push_str(&format!(
            "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s{i:05}\n  namespace: {ns}\n  labels:\n    {BITNAMI_LABEL}: bitnami\ndata:\n"
        ));
        for k in 0..5 {
            let value = STANDARD.encode(format!("value-{i}-{k}-0123456789abcdef"));
            manifest.push_str(&format!("  key{k}: {value}\n"));
        }
    }
    let out = control_plane::sealed_secrets::kubeseal(&["-o", "json"], &manifest)
        .map_err(anyhow::Error::msg)?;
    let objects = serde_json::Deserializer::from_str(&out)
        .into_iter::<Value>()
        .collect::<Result<Vec<_>, _>>()?;
    anyhow::ensure!(
        objects.len() == n,
        "kubeseal made {} SealedSecrets for {n} Secrets",
        objects.len()
    );
    Ok(objects)
}

/// Creates these objects of this resource, 16 at a time.
async fn create_all(
    admin: &kube::Client,
    resource: &ApiResource,
    objects: Vec<Value>,
) -> anyhow::Result<()> {
    futures::stream::iter(objects)
        .map(|object| async move {
            let object: DynamicObject = serde_json::from_value(object)?;
            let ns = object.metadata.namespace.clone().unwrap_or_default();
            Api::<DynamicObject>::namespaced_with(admin.clone(), &ns, resource)
                .create(&PostParams::default(), &object)
                .await?;
            anyhow::Ok(())
        })
        .buffer_unordered(PARALLEL_WRITES)
        .try_for_each(|()| async { Ok(()) })
        .await
}

/// Sends the instant a metadata watch of Secrets matching `selector` has seen `n`.
fn count_secrets(
    admin: &kube::Client,
    selector: &str,
    n: usize,
) -> tokio::sync::oneshot::Receiver<Instant> {
    let secrets: Api<PartialObjectMeta<Secret>> = Api::all(admin.clone());
    let config = watcher::Config::default().labels(selector);
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut seen = BTreeSet::new();
        let stream = watcher(secrets, config).default_backoff().applied_objects();
        futures::pin_mut!(stream);
        while let Ok(Some(secret)) = stream.try_next().await {
            seen.insert((secret.metadata.namespace, secret.metadata.name));
            if seen.len() >= n {
                let _ = tx.send(Instant::now());
                return;
            }
        }
    });
    rx
}

/// Starts a controller (`start`), measures it until `n` Secrets matching `selector`
/// exist, then stops it.
async fn measure(
    cluster: &control_plane::ControlPlane,
    admin: &kube::Client,
    selector: &str,
    n: usize,
    start: impl FnOnce() -> anyhow::Result<Child>,
) -> anyhow::Result<Run> {
    let made = count_secrets(admin, selector, n);
    let (apiserver, etcd) = (
        component(cluster, "kube-apiserver"),
        component(cluster, "etcd"),
    );
    let server_cpu =
        || apiserver.as_ref().map_or(0.0, Proc::cpu) + etcd.as_ref().map_or(0.0, Proc::cpu);
    let server_before = server_cpu();
    let started = Instant::now();
    let mut child = start()?;
    let proc = Proc(child.id());
    let done = tokio::time::timeout(WITHIN, made).await;
    let (cpu, peak) = (proc.cpu(), proc.status("VmHWM:"));
    let server_cpu = server_cpu() - server_before;
    let _ = child.kill();
    let _ = child.wait();
    let done = done
        .map_err(|_| anyhow::anyhow!("{n} Secrets not written within {WITHIN:?}"))?
        .map_err(|_| anyhow::anyhow!("the Secret watch ended"))?;
    Ok(Run {
        time: done - started,
        cpu,
        peak,
        server_cpu,
    })
}

/// Checks that one written Secret holds the values sealed into it.
async fn check_one(admin: &kube::Client, ns: &str) -> anyhow::Result<()> {
    let secret = Api::<Secret>::namespaced(admin.clone(), ns)
        .get("s00000")
        .await?;
    let data = secret.data.unwrap_or_default();
    for k in 0..5 {
        let want = format!("value-0-{k}-0123456789abcdef");
        anyhow::ensure!(
            data.get(&format!("key{k}")).map(|b| b.0.as_slice()) == Some(want.as_bytes()),
            "{ns}/s00000 does not hold key{k} as sealed"
        );
    }
    Ok(())
}

/// Starts the real bitnami controller, its key in `key_ns`, its log in `dir`.
fn start_bitnami(
    cluster: &control_plane::ControlPlane,
    bin: &Path,
    dir: &Path,
    key_ns: &str,
) -> anyhow::Result<Child> {
    let kubeconfig = cluster.kubeconfig();
    let text = std::fs::read_to_string(kubeconfig)?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.trim_start().strip_prefix(name))
            .map(|v| v.trim().to_owned())
            .ok_or_else(|| anyhow::anyhow!("no {name} in {}", kubeconfig.display()))
    };
    let (server, token) = (field("server:")?, field("token:")?);
    let ca = kubeconfig
        .parent()
        .ok_or_else(|| anyhow::anyhow!("no folder for {}", kubeconfig.display()))?
        .join("ca.crt");
    let ca = std::fs::read(ca)?;
    Ok(control_plane::bitnami_controller(
        &bin.join("controller"),
        dir,
        &control_plane::InCluster {
            server: &server,
            ca: &ca,
            token: &token,
            namespace: key_ns,
        },
    )?
    .spawn()?)
}

/// Runs both controllers on one real control plane and prints them side by side.
pub async fn run(n: usize) -> anyhow::Result<()> {
    let bin = tokio::task::spawn_blocking(control_plane::sealed_secrets::bin)
        .await?
        .map_err(anyhow::Error::msg)?
        .to_path_buf();
    let cluster = tokio::task::spawn_blocking(control_plane::get)
        .await?
        .ok_or_else(|| anyhow::anyhow!("Go not found: the real control plane cannot be built"))?;
    let admin = cluster.client().await;
    control_plane::install_deploy(&admin).await?;
    let crd_text = std::fs::read_to_string(bin.join("../crd.yaml"))?;
    let crd: Vec<Value> = seal_core::documents::parse("crd.yaml", &crd_text)?
        .into_iter()
        .map(|d| d.value)
        .collect();
    control_plane::apply(&admin, &crd).await?;
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..10 {
        ours.push(cluster.namespace(&admin, "seal").await);
        theirs.push(cluster.namespace(&admin, "bitnami").await);
    }
    let key_ns = cluster.namespace(&admin, "bitnami-keys").await;

    // Our key, made as unseal makes one, and N SealedSecrets sealed to it.
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let key =
        unseal::keys::secrets::encode("seal-key-0001", NS, &identity, unseal::clock::now(), false);
    Api::<Secret>::namespaced(admin.clone(), NS)
        .create(&PostParams::default(), &key)
        .await?;
    let seal_gvk = GroupVersionKind::gvk("seal.dev", "v1alpha1", "SealedSecret");
    let seal_resource = ApiResource::from_gvk_with_plural(&seal_gvk, "sealedsecrets");
    create_all(
        &admin,
        &seal_resource,
        sealed_objects(n, &recipient, &ours)?,
    )
    .await?;

    // bitnami's key (the example one) and N SealedSecrets by kubeseal.
    let bitnami_key: Secret = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "sealed-secrets-key-bench", "labels": {"sealedsecrets.bitnami.com/sealed-secrets-key": "active"}},
        "type": "kubernetes.io/tls",
        "data": {
            "tls.key": STANDARD.encode(std::fs::read(repo_root().join("keys-example/sealed-secrets.key"))?),
            "tls.crt": STANDARD.encode(std::fs::read(repo_root().join("keys-example/sealed-secrets.crt"))?),
        },
    }))?;
    Api::<Secret>::namespaced(admin.clone(), &key_ns)
        .create(&PostParams::default(), &bitnami_key)
        .await?;
    let bitnami_gvk = GroupVersionKind::gvk("bitnami.com", "v1alpha1", "SealedSecret");
    let bitnami_resource = ApiResource::from_gvk_with_plural(&bitnami_gvk, "sealedsecrets");
    let sealed = {
        let theirs = theirs.clone();
        tokio::task::spawn_blocking(move || kubeseal(n, &theirs)).await??
    };
    create_all(&admin, &bitnami_resource, sealed).await?;
    println!(
        "\n== controllers side by side: {n} SealedSecrets x 5 keys each, one real kube-apiserver + etcd =="
    );

    let dir = tempfile::tempdir()?;
    let kubeconfig = controller_kubeconfig(cluster, dir.path())?;
    let unseal = measure(
        cluster,
        &admin,
        unseal::secret_sync::MANAGED_SELECTOR,
        n,
        || spawn_controller(&kubeconfig, "127.0.0.1:0"),
    )
    .await?;
    check_one(&admin, &ours[0]).await?;
    let bitnami = measure(cluster, &admin, BITNAMI_LABEL, n, || {
        start_bitnami(cluster, &bin, dir.path(), &key_ns)
    })
    .await;
    let bitnami = match bitnami {
        Ok(run) => run,
        Err(e) => {
            let log = std::fs::read_to_string(dir.path().join("bitnami-controller.log"))
                .unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            eprintln!("the bitnami controller's log, last lines (newest first):");
            for line in tail {
                eprintln!("  {line}");
            }
            return Err(e);
        }
    };
    check_one(&admin, &theirs[0]).await?;

    let row = |name: &str, r: &Run| {
        println!(
            "  {name:<22} {:>8.2} s {:>8.2} CPU-s {:>8.1} MiB peak   (kube-apiserver + etcd: {:.2} CPU-s)",
            r.time.as_secs_f64(),
            r.cpu,
            mib(r.peak),
            r.server_cpu
        );
    };
    println!("  from process start to all {n} Secrets written:");
    row("unseal (release)", &unseal);
    row("bitnami v0.36.0", &bitnami);
    println!(
        "  bitnami / unseal:      time {:.2}x, CPU {:.2}x, peak RSS {:.2}x",
        bitnami.time.as_secs_f64() / unseal.time.as_secs_f64(),
        bitnami.cpu / unseal.cpu,
        mib(bitnami.peak) / mib(unseal.peak)
    );
    Ok(())
}
