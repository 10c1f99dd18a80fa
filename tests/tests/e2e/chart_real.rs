//! The chart and the namespaced kustomize overlay installed for real: `helm install` (the
//! real helm of `scripts/helm`) or the overlay's objects applied into the real control
//! plane (kube-apiserver with RBAC, see `scripts/control-plane`), then the built `unseal`
//! binary run as the installed Deployment would run it: its args and environment as
//! rendered, the API server reached as the installed ServiceAccount (impersonated, so
//! RBAC is exactly what the install granted). A SealedSecret sealed to the key it makes
//! becomes its Secret. The namespaced installs also show the controller refused outside
//! its namespaces. The control plane has no nodes, so the controller runs here rather
//! than in a pod. The cluster-wide install also installs the chart's ServiceMonitor and
//! PrometheusRule, with the Prometheus Operator's CRDs (from its Go module) checking them,
//! and deploy/monitoring's. `helm upgrade` from cluster-wide to namespaced takes the
//! cluster-wide rights away. Skipped, saying so, where Go is absent (outside CI).
//!
//! One test at a time: a cluster-wide controller would reconcile the other tests'
//! SealedSecrets too (and mark them NoMatchingKey, as another cluster's would be).

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use control_plane::ControlPlane;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{DynamicObject, ListParams, PostParams};
use kube::config::Kubeconfig;
use kube::core::{ApiResource, GroupVersionKind};
use kube::{Api, Client};
use seal_e2e::*;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::chart::CHART;
use crate::deploy::{find, kustomization};
use crate::generators_real::{crds_in, module_dir};
use crate::tools::helm;

/// One controller against the shared control plane at a time (see the module's doc).
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The public example recipient (keys-example/), as a backup and trusted recipient.
const EXAMPLE_RECIPIENT: &str = "age1wkhm4lujjhde4zaq8s0jd48qqthgljl5j3l9etu06h8704gxzaqs968m74";

/// Generous, for a busy machine; every wait ends as soon as its state is reached.
const WAIT_AT_MOST: Duration = Duration::from_secs(120);

fn sealed_secret_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("seal.dev", "v1alpha1", "SealedSecret"),
        "sealedsecrets",
    )
}

/// Runs helm against the control plane, with helm's own folders in `home` (nothing of
/// the user's helm setup is read or written).
fn helm_on(helm: &Path, cluster: &ControlPlane, home: &Path, args: &[&str]) -> String {
    let out = Command::new(helm)
        .args(args)
        .arg("--kubeconfig")
        .arg(cluster.kubeconfig())
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .current_dir(repo_root())
        .output()
        .expect("helm runs");
    assert!(
        out.status.success(),
        "helm {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The controller process, killed if the test ends without stopping it.
struct Controller {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: TempDir,
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `client` may list Secrets in `controller_ns` (its keys), and SealedSecrets
/// and Secrets in each of `watched` (or SealedSecrets everywhere when none are listed).
async fn wait_for_rights(client: &Client, controller_ns: &str, watched: &[String]) {
    let sealed = sealed_secret_resource();
    let mut checks: Vec<(String, Api<DynamicObject>)> = Vec::new();
    let secrets = ApiResource::erase::<Secret>(&());
    checks.push((
        format!("Secrets in {controller_ns}"),
        Api::namespaced_with(client.clone(), controller_ns, &secrets),
    ));
    if watched.is_empty() {
        checks.push((
            "SealedSecrets everywhere".to_owned(),
            Api::all_with(client.clone(), &sealed),
        ));
    }
    for ns in watched {
        checks.push((
            format!("SealedSecrets in {ns}"),
            Api::namespaced_with(client.clone(), ns, &sealed),
        ));
        checks.push((
            format!("Secrets in {ns}"),
            Api::namespaced_with(client.clone(), ns, &secrets),
        ));
    }
    for (what, api) in checks {
        let deadline = Instant::now() + WAIT_AT_MOST;
        loop {
            match api.list_metadata(&ListParams::default().limit(1)).await {
                Ok(_) => break,
                Err(e) => assert!(
                    Instant::now() < deadline,
                    "the installed ServiceAccount may not list {what} after {WAIT_AT_MOST:?}: {e}"
                ),
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A plain HTTP/1.0 GET on loopback: (status, body), or `None` when nothing answers.
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
}

async fn get(port: u16, path: &'static str) -> Option<(u16, String)> {
    tokio::task::spawn_blocking(move || http_get(port, path))
        .await
        .expect("joined")
}

impl Controller {
    /// Starts the built `unseal` as `deployment`'s container would run in
    /// `controller_ns`: its args and env (fieldRefs resolved as the kubelet would), only
    /// the listen address moved to a free loopback port, and the API server reached as
    /// the ServiceAccount the Deployment names. Returns once /readyz answers 200.
    async fn start(cluster: &ControlPlane, deployment: &Value, controller_ns: &str) -> Self {
        let pod = &deployment["spec"]["template"]["spec"];
        let service_account = pod["serviceAccountName"]
            .as_str()
            .expect("a ServiceAccount");
        let container = &pod["containers"][0];
        let dir = scratch();
        let port = free_port();
        let mut env = BTreeMap::new();
        for e in container["env"].as_array().expect("env") {
            let name = e["name"].as_str().expect("env name").to_owned();
            let value = match (
                e.get("value"),
                e["valueFrom"]["fieldRef"]["fieldPath"].as_str(),
            ) {
                (Some(v), _) => v.as_str().expect("a string value").to_owned(),
                (None, Some("metadata.namespace")) => controller_ns.to_owned(),
                (None, Some("metadata.name")) => "unseal-chart-test-0".to_owned(),
                _ => panic!("env {name}: a source this test cannot resolve: {e}"),
            };
            env.insert(name, value);
        }
        assert_eq!(
            env.get("UNSEAL_LISTEN").map(String::as_str),
            Some("0.0.0.0:8080"),
            "the Service and probes expect port 8080"
        );
        env.insert("UNSEAL_LISTEN".to_owned(), format!("127.0.0.1:{port}"));
        // The installed ServiceAccount, impersonated, once the API server's authorizer has
        // seen the install's bindings (its RBAC cache follows a watch).
        let user = format!("system:serviceaccount:{controller_ns}:{service_account}");
        let watched: Vec<String> = env
            .get("UNSEAL_NAMESPACES")
            .map(|n| n.split(',').map(str::to_owned).collect())
            .unwrap_or_default();
        wait_for_rights(&cluster.client_as(&user).await, controller_ns, &watched).await;
        let mut kubeconfig = Kubeconfig::read_from(cluster.kubeconfig()).expect("kubeconfig");
        for auth in &mut kubeconfig.auth_infos {
            if let Some(info) = auth.auth_info.as_mut() {
                info.impersonate = Some(user.clone());
            }
        }
        let kubeconfig = write(
            dir.path(),
            "kubeconfig",
            &serde_json::to_string(&kubeconfig).expect("kubeconfig serializes"),
        );
        let args: Vec<&str> = container["args"]
            .as_array()
            .expect("args")
            .iter()
            .map(|a| a.as_str().expect("an arg"))
            .collect();
        let log = dir.path().join("unseal.log");
        let child = Command::new(binary("unseal"))
            .args(&args)
            .envs(&env)
            .env("KUBECONFIG", &kubeconfig)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("unseal starts");
        let mut controller = Self {
            child,
            port,
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + WAIT_AT_MOST;
        while get(port, "/readyz").await.map(|r| r.0) != Some(200) {
            if let Ok(Some(exit)) = controller.child.try_wait() {
                panic!("unseal exited ({exit}): {}", controller.logs());
            }
            assert!(
                Instant::now() < deadline,
                "unseal not ready after {WAIT_AT_MOST:?}: {}",
                controller.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        controller.port = port;
        controller
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The recipients it publishes, as a recipients file's text.
    async fn recipients(&self) -> String {
        let (status, body) = get(self.port, "/v1/recipients?format=text")
            .await
            .expect("recipients answer");
        assert_eq!(status, 200, "{body}");
        body
    }

    /// SIGTERM; it exits 0, having been refused nothing by RBAC along the way. Returns
    /// its logs.
    async fn stop(mut self) -> String {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let deadline = Instant::now() + WAIT_AT_MOST;
        let exit = loop {
            if let Some(exit) = self.child.try_wait().expect("wait") {
                break exit;
            }
            assert!(Instant::now() < deadline, "no exit after SIGTERM");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let logs = self.logs();
        assert_eq!(exit.code(), Some(0), "{logs}");
        let lower = logs.to_ascii_lowercase();
        assert!(
            !lower.contains("forbidden") && !lower.contains("code: 403"),
            "the install's RBAC refused the controller something: {logs}"
        );
        logs
    }
}

/// Seals a Secret `name` in `namespace` to the controller's recipients with the built
/// `seal`, creates the SealedSecret as admin and returns it.
async fn create_sealed(
    admin: &Client,
    recipients: &str,
    namespace: &str,
    name: &str,
    value: &str,
) -> Value {
    let dir = scratch();
    let recipients = write(dir.path(), "recipients.txt", recipients);
    let secret = write(
        dir.path(),
        "secret.yaml",
        &format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: {namespace}\nstringData:\n  password: {value}\n"
        ),
    );
    let out = tokio::task::spawn_blocking(move || run("seal", &["-R", &recipients, &secret], None))
        .await
        .expect("joined")
        .ok();
    let sealed = documents(&out).remove(0);
    let object: DynamicObject = serde_json::from_value(sealed.clone()).expect("an object");
    Api::<DynamicObject>::namespaced_with(admin.clone(), namespace, &sealed_secret_resource())
        .create(&PostParams::default(), &object)
        .await
        .unwrap_or_else(|e| panic!("creating SealedSecret {namespace}/{name}: {e}"));
    sealed
}

/// Waits until the Secret `namespace/name` exists, and checks it holds `value`.
async fn wait_for_secret(admin: &Client, namespace: &str, name: &str, value: &str) {
    let secrets: Api<Secret> = Api::namespaced(admin.clone(), namespace);
    let what = format!("Secret {namespace}/{name} written by the controller");
    let secret =
        control_plane::wait_for(&secrets, name, &what, WAIT_AT_MOST, |s: Option<&Secret>| {
            s.is_some()
        })
        .await
        .expect("the Secret");
    let data = secret.data.expect("data");
    assert_eq!(data["password"].0, value.as_bytes(), "{namespace}/{name}");
}

/// The Prometheus Operator's ServiceMonitor and PrometheusRule CRDs, from its Go module
/// (pinned in tests/crds/go.mod, verified against go.sum).
fn monitoring_crds() -> Vec<Value> {
    let dir = module_dir("github.com/prometheus-operator/prometheus-operator")
        .join("example/prometheus-operator-crd");
    let crds: Vec<Value> = crds_in(&dir)
        .into_iter()
        .filter(|c| {
            matches!(
                c["metadata"]["name"].as_str(),
                Some(
                    "servicemonitors.monitoring.coreos.com"
                        | "prometheusrules.monitoring.coreos.com"
                )
            )
        })
        .collect();
    assert_eq!(
        crds.len(),
        2,
        "the ServiceMonitor and PrometheusRule CRDs in {}",
        dir.display()
    );
    crds
}

/// The installed objects of a release, as helm rendered them.
fn release_manifest(
    helm: &Path,
    cluster: &ControlPlane,
    home: &Path,
    release: &str,
    ns: &str,
) -> Vec<Value> {
    documents(&helm_on(
        helm,
        cluster,
        home,
        &["get", "manifest", release, "--namespace", ns],
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chart_installs_and_the_controller_works_as_its_service_account() {
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(cluster) = control_plane::get() else {
        return;
    };
    let Some(helm) = helm() else { return };
    let admin = cluster.client().await;
    let ns = cluster.namespace(&admin, "unseal-chart").await;
    let apps = cluster.namespace(&admin, "apps").await;
    let home = scratch();
    // With the Prometheus Operator's CRDs present, the ServiceMonitor and PrometheusRule
    // install too, checked by their CRDs' schemas on the real API server.
    control_plane::apply(&admin, &monitoring_crds())
        .await
        .expect("the ServiceMonitor and PrometheusRule CRDs");
    // deploy/monitoring's plain objects (for kustomize users) are accepted as well.
    ensure_namespace(&admin, "seal-system").await;
    control_plane::apply(&admin, &kustomization("deploy/monitoring"))
        .await
        .expect("deploy/monitoring applies");
    let installed = helm_on(
        &helm,
        cluster,
        home.path(),
        &[
            "install",
            "unseal",
            CHART,
            "--namespace",
            &ns,
            "--set",
            "serviceMonitor.enabled=true",
            "--set",
            "prometheusRule.enabled=true",
        ],
    );
    // The default image is a placeholder, and the install says so.
    assert!(
        installed.contains(
            "WARNING: image.repository is still the placeholder set-your-registry.invalid/unseal"
        ),
        "{installed}"
    );
    let manifest = release_manifest(&helm, cluster, home.path(), "unseal", &ns);
    // The release is what the chart renders by default: cluster-wide RBAC bound to the
    // release namespace's ServiceAccount.
    for kind in ["ServiceMonitor", "PrometheusRule"] {
        let resource = ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("monitoring.coreos.com", "v1", kind),
            &format!("{}s", kind.to_ascii_lowercase()),
        );
        Api::<DynamicObject>::namespaced_with(admin.clone(), &ns, &resource)
            .get("unseal")
            .await
            .unwrap_or_else(|e| panic!("{kind} unseal installed: {e}"));
    }
    let binding = find(&manifest, "ClusterRoleBinding", "unseal");
    assert_eq!(binding["subjects"][0]["namespace"], json!(ns));
    let controller = Controller::start(cluster, find(&manifest, "Deployment", "unseal"), &ns).await;
    let recipients = controller.recipients().await;
    create_sealed(&admin, &recipients, &apps, "db", "chart-installed-value").await;
    wait_for_secret(&admin, &apps, "db", "chart-installed-value").await;
    // The recipients ConfigMap and the keys are in the release namespace.
    let keys: Api<Secret> = Api::namespaced(admin.clone(), &ns);
    let held = keys
        .list(&ListParams::default().labels("seal.dev/sealing-key=true"))
        .await
        .expect("key Secrets");
    assert_eq!(held.items.len(), 1, "one sealing key in {ns}");
    let (_, metrics) = get(controller.port, "/metrics").await.expect("metrics");
    assert!(metrics.contains("unseal_leader 1"), "{metrics}");
    controller.stop().await;
    helm_on(
        &helm,
        cluster,
        home.path(),
        &["uninstall", "unseal", "--namespace", &ns],
    );
    // Uninstalling keeps the keys (and the Secrets): a reinstall picks up where it left off.
    let held = keys
        .list(&ListParams::default().labels("seal.dev/sealing-key=true"))
        .await
        .expect("key Secrets");
    assert_eq!(held.items.len(), 1, "the key survives helm uninstall");
    assert!(
        Api::<Secret>::namespaced(admin.clone(), &apps)
            .get_opt("db")
            .await
            .expect("get")
            .is_some()
    );
}

/// The controller of a namespaced install (`deployment`, its objects applied) unseals
/// in `watched`, and its ServiceAccount is refused everything outside: SealedSecrets and
/// Secrets in `outside`, and anything cluster-wide.
/// With backup recipients in its environment, it also writes the key backup. Returns its
/// logs.
async fn namespaced_install_works_only_in_its_namespaces(
    cluster: &ControlPlane,
    admin: &Client,
    deployment: &Value,
    controller_ns: &str,
    watched: &[String],
    outside: &str,
) -> String {
    let controller = Controller::start(cluster, deployment, controller_ns).await;
    let recipients = controller.recipients().await;
    let env = deployment["spec"]["template"]["spec"]["containers"][0]["env"].to_string();
    if env.contains("UNSEAL_BACKUP_RECIPIENTS") {
        let secrets: Api<Secret> = Api::namespaced(admin.clone(), controller_ns);
        control_plane::wait_for(
            &secrets,
            "unseal-keys-backup",
            "the key backup Secret",
            WAIT_AT_MOST,
            |s: Option<&Secret>| s.is_some_and(|s| s.data.as_ref().is_some_and(|d| !d.is_empty())),
        )
        .await;
    }
    // One in a namespace it does not watch, sealed to its key all the same.
    // Named after the fresh `outside` namespace: the overlay's namespaces are fixed, and a
    // control plane reused across runs (SEAL_CONTROL_PLANE_KUBECONFIG) still has earlier ones.
    let name = format!("db-{}", outside.rsplit('-').next().unwrap_or("x"));
    let name = name.as_str();
    create_sealed(admin, &recipients, outside, name, "outside-value").await;
    for ns in watched {
        create_sealed(admin, &recipients, ns, name, "watched-value").await;
        wait_for_secret(admin, ns, name, "watched-value").await;
    }
    let service_account = cluster
        .client_as(&format!("system:serviceaccount:{controller_ns}:unseal"))
        .await;
    let forbidden = |what: &str, result: Result<(), kube::Error>| match result {
        Err(kube::Error::Api(status)) if status.code == 403 => {}
        other => panic!("{what}: expected 403 for the namespaced ServiceAccount, got {other:?}"),
    };
    let sealed_outside = Api::<DynamicObject>::namespaced_with(
        service_account.clone(),
        outside,
        &sealed_secret_resource(),
    );
    forbidden(
        "list SealedSecrets outside",
        sealed_outside.list(&ListParams::default()).await.map(drop),
    );
    forbidden(
        "list SealedSecrets cluster-wide",
        Api::<DynamicObject>::all_with(service_account.clone(), &sealed_secret_resource())
            .list(&ListParams::default())
            .await
            .map(drop),
    );
    let secrets_outside: Api<Secret> = Api::namespaced(service_account.clone(), outside);
    forbidden(
        "get a Secret outside",
        secrets_outside.get("anything").await.map(drop),
    );
    forbidden(
        "list Secrets outside",
        secrets_outside.list(&ListParams::default()).await.map(drop),
    );
    forbidden(
        "create a Secret outside",
        secrets_outside
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": "planted"}})).expect("Secret"),
            )
            .await
            .map(drop),
    );
    forbidden(
        "list Secrets cluster-wide",
        Api::<Secret>::all(service_account.clone())
            .list(&ListParams::default())
            .await
            .map(drop),
    );
    // So the SealedSecret outside got no Secret (the controller could not have written one).
    assert!(
        Api::<Secret>::namespaced(admin.clone(), outside)
            .get_opt(name)
            .await
            .expect("get")
            .is_none()
    );
    controller.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespaced_chart_install_works_in_its_namespaces_and_is_refused_outside() {
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(cluster) = control_plane::get() else {
        return;
    };
    let Some(helm) = helm() else { return };
    let admin = cluster.client().await;
    let ns = cluster.namespace(&admin, "unseal-chart-ns").await;
    let team_a = cluster.namespace(&admin, "team-a").await;
    let team_b = cluster.namespace(&admin, "team-b").await;
    let outside = cluster.namespace(&admin, "outside").await;
    let home = scratch();
    let watch = format!("watchNamespaces={{{team_a},{team_b}}}");
    let installed = helm_on(
        &helm,
        cluster,
        home.path(),
        &[
            "install",
            "unseal-namespaced",
            CHART,
            "--namespace",
            &ns,
            "--set",
            &watch,
            "--set",
            "image.repository=registry.example.com/platform/unseal",
            // Values that reach the controller's environment, parsed by the real binary.
            "--set",
            "keyRenewPeriod=30d",
            "--set",
            "logFormat=text",
            "--set",
            &format!("backupRecipients={{{EXAMPLE_RECIPIENT}}}"),
            "--set",
            &format!("trustedRecipients={{{EXAMPLE_RECIPIENT}}}"),
        ],
    );
    assert!(!installed.contains("WARNING"), "{installed}");
    assert!(
        installed.contains(&format!(
            "It reconciles SealedSecrets in these namespaces only: {team_a},{team_b}."
        )),
        "{installed}"
    );
    let manifest = release_manifest(&helm, cluster, home.path(), "unseal-namespaced", &ns);
    assert!(
        !manifest.iter().any(|d| matches!(
            d["kind"].as_str(),
            Some("ClusterRole" | "ClusterRoleBinding")
        )),
        "nothing cluster-wide"
    );
    let logs = namespaced_install_works_only_in_its_namespaces(
        cluster,
        &admin,
        find(&manifest, "Deployment", "unseal"),
        &ns,
        &[team_a, team_b],
        &outside,
    )
    .await;
    assert!(
        !logs.is_empty() && !logs.lines().any(|l| l.starts_with('{')),
        "logFormat text: {logs}"
    );
}

/// Creates the namespace `name` unless it exists.
async fn ensure_namespace(admin: &Client, name: &str) {
    let ns: Namespace =
        serde_json::from_value(json!({"metadata": {"name": name}})).expect("a Namespace");
    match Api::<Namespace>::all(admin.clone())
        .create(&PostParams::default(), &ns)
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => panic!("creating namespace {name}: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_namespaced_kustomize_overlay_works_in_its_namespaces_and_is_refused_outside() {
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(cluster) = control_plane::get() else {
        return;
    };
    let rendered = match Command::new("kubectl")
        .args(["kustomize", &repo_file("examples/namespaced-install")])
        .output()
    {
        Ok(out) => {
            assert!(
                out.status.success(),
                "kubectl kustomize examples/namespaced-install: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            documents(&String::from_utf8_lossy(&out.stdout))
        }
        Err(_) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must have kubectl (kustomize)"
            );
            eprintln!("SKIPPED: kubectl is not installed, so the overlay cannot be rendered");
            return;
        }
    };
    let admin = cluster.client().await;
    // The overlay's own namespaces, as a user would have them.
    for ns in ["seal-system", "team-a", "team-b"] {
        ensure_namespace(&admin, ns).await;
    }
    let outside = cluster.namespace(&admin, "outside").await;
    control_plane::apply(&admin, &rendered)
        .await
        .expect("the overlay applies");
    namespaced_install_works_only_in_its_namespaces(
        cluster,
        &admin,
        find(&rendered, "Deployment", "unseal"),
        "seal-system",
        &["team-a".to_owned(), "team-b".to_owned()],
        &outside,
    )
    .await;
}

/// Polls `request` every 20 ms until the API server refuses it (403), at most
/// [`WAIT_AT_MOST`]: RBAC changes reach the authorizer through a watch.
async fn wait_until_refused<F, Fut>(what: &str, request: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), kube::Error>>,
{
    let deadline = Instant::now() + WAIT_AT_MOST;
    loop {
        match request().await {
            Err(kube::Error::Api(status)) if status.code == 403 => return,
            other => assert!(
                Instant::now() < deadline,
                "{what}: still not refused after {WAIT_AT_MOST:?}: {other:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrading_to_a_namespaced_install_takes_the_cluster_wide_rights_away() {
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(cluster) = control_plane::get() else {
        return;
    };
    let Some(helm) = helm() else { return };
    let admin = cluster.client().await;
    let ns = cluster.namespace(&admin, "unseal-upgrade").await;
    let team = cluster.namespace(&admin, "team").await;
    let home = scratch();
    helm_on(
        &helm,
        cluster,
        home.path(),
        &["install", "unseal-upgrade", CHART, "--namespace", &ns],
    );
    let service_account = cluster
        .client_as(&format!("system:serviceaccount:{ns}:unseal"))
        .await;
    // Cluster-wide first: Secrets may be listed everywhere.
    wait_for_rights(&service_account, &ns, &[]).await;
    let everywhere: Api<Secret> = Api::all(service_account.clone());
    everywhere
        .list_metadata(&ListParams::default().limit(1))
        .await
        .expect("a cluster-wide install lists Secrets everywhere");
    let watch = format!("watchNamespaces={{{team}}}");
    helm_on(
        &helm,
        cluster,
        home.path(),
        &[
            "upgrade",
            "unseal-upgrade",
            CHART,
            "--namespace",
            &ns,
            "--set",
            &watch,
        ],
    );
    let manifest = release_manifest(&helm, cluster, home.path(), "unseal-upgrade", &ns);
    assert!(
        !manifest.iter().any(|d| matches!(
            d["kind"].as_str(),
            Some("ClusterRole" | "ClusterRoleBinding")
        )),
        "the upgraded release has nothing cluster-wide"
    );
    wait_until_refused("listing Secrets everywhere after the upgrade", || async {
        everywhere
            .list_metadata(&ListParams::default().limit(1))
            .await
            .map(drop)
    })
    .await;
    // And what the namespaced install grants is there.
    wait_for_rights(&service_account, &ns, std::slice::from_ref(&team)).await;
    helm_on(
        &helm,
        cluster,
        home.path(),
        &["uninstall", "unseal-upgrade", "--namespace", &ns],
    );
    wait_until_refused(
        "listing Secrets in the watched namespace after uninstall",
        || async {
            Api::<Secret>::namespaced(service_account.clone(), &team)
                .list_metadata(&ListParams::default().limit(1))
                .await
                .map(drop)
        },
    )
    .await;
}
