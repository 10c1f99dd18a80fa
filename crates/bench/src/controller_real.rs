//! The controller benchmark against the real control plane (`scripts/bench controller N
//! --real`): the same release `unseal run` child and the same SealedSecrets as against the
//! double, but the API server is kube-apiserver with etcd (crates/control-plane, started
//! for this process and stopped when it exits), and the controller runs as its
//! ServiceAccount (impersonated, so deploy/rbac.yaml is what it may do).
//!
//! The clock starts when the first SealedSecret is sent: against the real server, writing
//! N SealedSecrets takes time of its own (reported too), and the controller works while
//! they arrive. It stops when the N-th owned Secret exists; the figures after it wait
//! until every SealedSecret's status says Synced. Steady-state writes are read from
//! kube-apiserver's own request counters (`apiserver_request_total`), for Secrets,
//! SealedSecrets and ConfigMaps. The API server and etcd share the two cores; their CPU
//! time over the sync is reported beside the controller's.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, DynamicObject, ListParams, PostParams};
use kube::core::{GroupVersionKind, PartialObjectMeta};
use kube::discovery::ApiResource;
use kube::runtime::{WatchStreamExt, watcher};

use crate::controller::{Figures, NS, Proc, sealed_objects, spawn_controller};

/// SealedSecrets written to the API server at once.
const PARALLEL_WRITES: usize = 16;

/// The kubeconfig of the cluster admin, impersonating the controller's ServiceAccount
/// (kubeconfig's `as:`), in `dir`.
pub(crate) fn controller_kubeconfig(
    cluster: &control_plane::ControlPlane,
    dir: &std::path::Path,
) -> anyhow::Result<std::path::PathBuf> {
    let admin = std::fs::read_to_string(cluster.kubeconfig())?;
    let mut text = String::new();
    let mut added = false;
    for line in admin.lines() {
        text.push_str(line);
        text.push('\n');
        if line.trim_start().starts_with("token:") && !added {
            let indent = &line[..line.len() - line.trim_start().len()];
            text.push_str(&format!("{indent}as: {}\n", control_plane::CONTROLLER_USER));
            added = true;
        }
    }
    anyhow::ensure!(added, "no token in {}", cluster.kubeconfig().display());
    let path = dir.join("kubeconfig");
    std::fs::write(&path, text)?;
    Ok(path)
}

/// The pid in `DIR/NAME.pid` beside the kubeconfig (`scripts/control-plane` writes them).
pub(crate) fn component(cluster: &control_plane::ControlPlane, name: &str) -> Option<Proc> {
    let dir = cluster.kubeconfig().parent()?;
    let text = std::fs::read_to_string(dir.join(format!("{name}.pid"))).ok()?;
    text.split_whitespace().next()?.parse().ok().map(Proc)
}

/// Successful writes (create, update, patch, delete) kube-apiserver has served for
/// Secrets, SealedSecrets and ConfigMaps, from its metrics.
async fn writes(admin: &kube::Client) -> anyhow::Result<u64> {
    requests(admin, |verb, resource, code| {
        matches!(verb, "POST" | "PUT" | "PATCH" | "DELETE" | "APPLY")
            && matches!(resource, "secrets" | "sealedsecrets" | "configmaps")
            && code.starts_with('2')
    })
    .await
}

/// Requests kube-apiserver has served whose (verb, resource, code) `counted` accepts,
/// from its metrics (`apiserver_request_total`; verb GET is a single object, LIST and
/// WATCH are apart).
async fn requests(
    admin: &kube::Client,
    counted: impl Fn(&str, &str, &str) -> bool,
) -> anyhow::Result<u64> {
    let request = http::Request::get("/metrics").body(Vec::new())?;
    let text = admin.request_text(request).await?;
    let mut total = 0.0;
    for line in text
        .lines()
        .filter(|l| l.starts_with("apiserver_request_total{"))
    {
        let Some((labels, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let label = |name: &str| {
            labels
                .split(&format!("{name}=\""))
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or_default()
                .to_owned()
        };
        if counted(&label("verb"), &label("resource"), &label("code")) {
            total += value.parse::<f64>().unwrap_or(0.0);
        }
    }
    Ok(total as u64)
}

fn sealed_secret_resource() -> ApiResource {
    let gvk = GroupVersionKind::gvk("seal.dev", "v1alpha1", "SealedSecret");
    ApiResource::from_gvk_with_plural(&gvk, "sealedsecrets")
}

/// Whether a SealedSecret's current generation is Synced.
fn synced(object: &DynamicObject) -> bool {
    let status = &object.data["status"];
    object.metadata.generation.is_some()
        && status["observedGeneration"].as_i64() == object.metadata.generation
        && status["conditions"].as_array().is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "Synced" && c["status"] == "True")
        })
}

/// Runs the benchmark against the real control plane.
pub async fn run(n: usize) -> anyhow::Result<Figures> {
    let cluster = tokio::task::spawn_blocking(control_plane::get)
        .await?
        .ok_or_else(|| anyhow::anyhow!("Go not found: the real control plane cannot be built"))?;
    let admin = cluster.client().await;
    control_plane::install_deploy(&admin).await?;
    let mut teams = Vec::new();
    for _ in 0..10 {
        teams.push(cluster.namespace(&admin, "team").await);
    }
    let dir = tempfile::tempdir()?;
    let kubeconfig = controller_kubeconfig(cluster, dir.path())?;
    let child = spawn_controller(&kubeconfig, "127.0.0.1:0")?;
    let proc = Proc(child.id());
    let recipients: Api<ConfigMap> = Api::namespaced(admin.clone(), NS);
    let waiting = Instant::now();
    let recipient = loop {
        if let Some(cm) = recipients.get_opt("unseal-recipients").await?
            && let Some(active) = cm.data.as_ref().and_then(|d| d.get("active"))
        {
            break active.clone();
        }
        anyhow::ensure!(
            waiting.elapsed() < Duration::from_secs(120),
            "the controller published no recipient within 120 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let keys = Api::<Secret>::namespaced(admin.clone(), NS)
        .list_metadata(&ListParams::default().labels(unseal::keys::secrets::KEY_SELECTOR))
        .await?
        .items
        .len();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_empty = proc.status("VmRSS:");
    let objects = sealed_objects(n, &recipient, &teams)?;

    // Owned Secrets counted as they appear, through a metadata watch.
    let owned: Api<PartialObjectMeta<Secret>> = Api::all(admin.clone());
    let config = watcher::Config::default().labels(unseal::secret_sync::MANAGED_SELECTOR);
    let (made_tx, made) = tokio::sync::oneshot::channel::<Instant>();
    let counter = tokio::spawn(async move {
        let mut seen = BTreeSet::new();
        let stream = watcher(owned, config).default_backoff().applied_objects();
        futures::pin_mut!(stream);
        while let Ok(Some(secret)) = stream.try_next().await {
            seen.insert((secret.metadata.namespace, secret.metadata.name));
            if seen.len() >= n {
                let _ = made_tx.send(Instant::now());
                return;
            }
        }
    });
    let (apiserver, etcd) = (
        component(cluster, "kube-apiserver"),
        component(cluster, "etcd"),
    );
    let server_cpu =
        || apiserver.as_ref().map_or(0.0, Proc::cpu) + etcd.as_ref().map_or(0.0, Proc::cpu);
    let load_at_start = crate::controller::load_average();
    let (cpu_before, server_cpu_before) = (proc.cpu(), server_cpu());
    let started = Instant::now();
    let api_for = |ns: &str| {
        Api::<DynamicObject>::namespaced_with(admin.clone(), ns, &sealed_secret_resource())
    };
    futures::stream::iter(objects)
        .map(|object| {
            let object: DynamicObject = serde_json::from_value(object).expect("a SealedSecret");
            let api = api_for(object.metadata.namespace.as_deref().unwrap_or_default());
            async move { api.create(&PostParams::default(), &object).await }
        })
        .buffer_unordered(PARALLEL_WRITES)
        .try_for_each(|_| async { Ok(()) })
        .await?;
    let written = started.elapsed();
    let done = tokio::time::timeout(Duration::from_secs(1800), made)
        .await
        .map_err(|_| anyhow::anyhow!("{n} owned Secrets not made within 30 minutes"))??;
    counter.abort();
    let elapsed = done - started;

    // Every status written too, before the steady state is measured.
    let all: Api<DynamicObject> = Api::all_with(admin.clone(), &sealed_secret_resource());
    let mut synced_names = BTreeSet::new();
    let stream = watcher(all, watcher::Config::default())
        .default_backoff()
        .applied_objects();
    futures::pin_mut!(stream);
    while synced_names.len() < n {
        let Some(object) = tokio::time::timeout(Duration::from_secs(600), stream.try_next())
            .await
            .map_err(|_| {
                anyhow::anyhow!("only {} of {n} Synced after 10 minutes", synced_names.len())
            })??
        else {
            anyhow::bail!("the SealedSecret watch ended");
        };
        let key = (
            object.metadata.namespace.clone(),
            object.metadata.name.clone(),
        );
        if synced(&object) {
            synced_names.insert(key);
        } else {
            synced_names.remove(&key);
        }
    }
    let cpu = proc.cpu() - cpu_before;
    let server_cpu = server_cpu() - server_cpu_before;
    let peak = proc.status("VmHWM:");
    let writes_before = writes(&admin).await?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let writes_after = writes(&admin).await?;
    let idle_synced = proc.status("VmRSS:");
    tokio::time::sleep(Duration::from_secs(12)).await;
    let idle_settled = proc.status("VmRSS:");
    let key_secrets: Api<Secret> = Api::namespaced(admin.clone(), NS);
    let server = crate::restart::Server {
        counts: async || {
            Ok((
                requests(&admin, |verb, resource, _| {
                    verb == "GET" && resource == "sealedsecrets"
                })
                .await?,
                writes(&admin).await?,
            ))
        },
        add_key: async |secret: Secret| {
            key_secrets.create(&PostParams::default(), &secret).await?;
            Ok(())
        },
        active: async || {
            Ok(recipients
                .get_opt("unseal-recipients")
                .await?
                .and_then(|cm| cm.data?.get("active").cloned()))
        },
    };
    let restart = crate::restart::run(
        &server,
        child,
        &kubeconfig,
        n,
        "the real kube-apiserver + etcd",
    )
    .await?;
    let figures = Figures {
        restart: Some(restart),
        n,
        keys,
        sync: elapsed,
        cpu,
        server_cpu: Some(("kube-apiserver + etcd", server_cpu)),
        load: format!(
            "{load_at_start} at the start, {} after",
            crate::controller::load_average()
        ),
        idle_empty,
        idle_synced,
        idle_settled,
        peak,
        steady_writes: (writes_after - writes_before).to_string(),
    };
    figures.print("against the real kube-apiserver + etcd on loopback (sharing the cores)");
    println!(
        "  writing the {n} SealedSecrets: {:.2} s ({:.0}/s, {PARALLEL_WRITES} at a time); kube-apiserver + etcd: {:.2} CPU-s over the sync",
        written.as_secs_f64(),
        n as f64 / written.as_secs_f64(),
        server_cpu
    );
    Ok(figures)
}

/// The real run's figures beside the double's, as ratios.
pub fn compare(real: &Figures, double: &Figures) {
    println!(
        "\n== controller: the real API server beside the double ({} SealedSecrets) ==",
        real.n
    );
    println!(
        "  initial sync:      {:.2} s vs {:.2} s = {:.2}x",
        real.sync.as_secs_f64(),
        double.sync.as_secs_f64(),
        real.sync.as_secs_f64() / double.sync.as_secs_f64()
    );
    println!(
        "  CPU per reconcile: {:.3} ms vs {:.3} ms = {:.2}x",
        real.cpu_per_reconcile_ms(),
        double.cpu_per_reconcile_ms(),
        real.cpu_per_reconcile_ms() / double.cpu_per_reconcile_ms()
    );
    println!(
        "  RSS idle, synced:  {:.1} MiB vs {:.1} MiB; peak {:.1} MiB vs {:.1} MiB",
        crate::controller::mib(real.idle_synced),
        crate::controller::mib(double.idle_synced),
        crate::controller::mib(real.peak),
        crate::controller::mib(double.peak)
    );
    if let (Some(r), Some(d)) = (&real.restart, &double.restart) {
        println!(
            "  restart, every object known in sync after the caches: {:.2} s vs {:.2} s; SealedSecrets read {} vs {}, values opened {} vs {}, writes {} vs {}",
            r.steady_after_ready.as_secs_f64(),
            d.steady_after_ready.as_secs_f64(),
            r.reads,
            d.reads,
            r.opened,
            d.opened,
            r.writes,
            d.writes
        );
    }
}
