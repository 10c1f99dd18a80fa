//! The real backend: the control plane of `control_plane::get`, started once for this
//! binary and shared by every test in it, tests running in parallel. Each test
//! ([`TestCluster`]) gets:
//!
//! - its own controller namespace (`seal-xxxxx`) with the ServiceAccount `unseal`, and
//!   deploy/serviceaccount.yaml and deploy/rbac.yaml rendered for that namespace: the
//!   ClusterRole `unseal` (shared, the same for all), a ClusterRoleBinding of its own
//!   (`unseal-seal-xxxxx`) and the namespaced Roles and RoleBindings in its namespace.
//!   Its controllers impersonate `system:serviceaccount:seal-xxxxx:unseal`, so the API
//!   server authorizes every request they send by exactly what deploy/rbac.yaml grants;
//! - its own namespaces for the logical ones a scenario names (`apps` becomes
//!   `apps-xxxxx`), and its controllers watch only those (and their own namespace), so
//!   that controllers of tests running at the same time never see each other's objects.
//!
//! The CRD (deploy/cluster/crd.yaml) and the ClusterRole are applied once per binary.

use std::io::Write as _;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use control_plane::ControlPlane;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
use kube::api::DeleteParams;
use kube::client::ClientBuilder;
use kube::config::Kubeconfig;
use kube::{Api, Client};
use serde_json::{Value, json};

use super::Backend;
use super::request_log::RequestLog;

/// The namespace deploy/ installs the controller in, replaced by each test's own.
const DEPLOY_NS: &str = "seal-system";

/// One test's share of the real control plane.
pub struct TestCluster {
    plane: &'static ControlPlane,
    /// A cluster-admin client.
    pub admin: Client,
    /// This test's controller namespace.
    pub controller_ns: String,
    /// This test's namespaces: (logical name, real name).
    pub namespaces: Vec<(&'static str, String)>,
    /// What this test's controllers sent.
    pub log: RequestLog,
    binding: String,
    extra: Vec<String>,
}

impl TestCluster {
    /// Creates this test's namespaces and RBAC. Panics when the control plane is not
    /// running ([`run`] only calls scenarios when it is).
    pub async fn start(logical: &[&'static str]) -> Self {
        let plane = control_plane::get().expect("the real control plane runs");
        let admin = plane.client().await;
        shared_setup(&admin).await;
        let controller_ns = plane.namespace(&admin, "seal").await;
        let mut namespaces = Vec::new();
        for name in logical {
            namespaces.push((*name, plane.namespace(&admin, name).await));
        }
        let rbac = rbac_for(&controller_ns);
        let binding = rbac
            .iter()
            .find(|d| d["kind"] == "ClusterRoleBinding")
            .and_then(|d| d["metadata"]["name"].as_str())
            .expect("deploy/rbac.yaml binds the ClusterRole")
            .to_owned();
        control_plane::apply(&admin, &rbac)
            .await
            .unwrap_or_else(|e| panic!("deploy/rbac.yaml for {controller_ns}: {e}"));
        Self {
            plane,
            admin,
            controller_ns,
            namespaces,
            log: RequestLog::default(),
            binding,
            extra: Vec::new(),
        }
    }

    /// The user the controllers of this test run as.
    pub fn controller_user(&self) -> String {
        format!("system:serviceaccount:{}:unseal", self.controller_ns)
    }

    /// A client for a controller replica: impersonating this test's ServiceAccount, its
    /// requests recorded in [`Self::log`] as sent by `identity`.
    pub async fn controller_client(&self, identity: &str) -> Client {
        let mut config = self.plane.config().await;
        config.auth_info.impersonate = Some(self.controller_user());
        ClientBuilder::try_from(config)
            .unwrap_or_else(|e| panic!("a kube client: {e}"))
            .with_layer(&self.log.layer(identity))
            .build()
    }

    /// One more namespace (`PREFIX-xxxxx`), deleted with the others.
    pub async fn extra_namespace(&mut self, prefix: &str) -> String {
        let name = self.plane.namespace(&self.admin, prefix).await;
        self.extra.push(name.clone());
        name
    }

    /// The cluster-admin kubeconfig's text, or (`as_controller`) the same impersonating
    /// this test's controller ServiceAccount.
    pub fn kubeconfig(&self, as_controller: bool) -> String {
        let path = self.plane.kubeconfig();
        let mut file =
            Kubeconfig::read_from(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if as_controller {
            for user in &mut file.auth_infos {
                if let Some(auth) = user.auth_info.as_mut() {
                    auth.impersonate = Some(self.controller_user());
                }
            }
        }
        // JSON is YAML: the kubeconfig loaders read it as it is.
        serde_json::to_string(&file).expect("a kubeconfig serializes")
    }

    /// A client impersonating this test's controller ServiceAccount, unrecorded.
    pub async fn client_as_controller(&self) -> Client {
        self.plane.client_as(&self.controller_user()).await
    }

    /// Deletes this test's namespaces and ClusterRoleBinding, without waiting for the
    /// namespaces to be emptied (best effort).
    pub async fn clean_up(self) {
        let namespaces: Api<Namespace> = Api::all(self.admin.clone());
        let names = std::iter::once(&self.controller_ns)
            .chain(self.namespaces.iter().map(|(_, real)| real))
            .chain(&self.extra);
        for name in names {
            let _ = namespaces.delete(name, &DeleteParams::background()).await;
        }
        let _ = Api::<ClusterRoleBinding>::all(self.admin.clone())
            .delete(&self.binding, &DeleteParams::default())
            .await;
    }
}

/// The documents of deploy/ of these kinds.
fn deploy_documents(kinds: &[&str]) -> Vec<Value> {
    control_plane::deploy_documents()
        .expect("deploy/ reads")
        .into_iter()
        .filter(|d| d["kind"].as_str().is_some_and(|k| kinds.contains(&k)))
        .collect()
}

/// The CRD and the ClusterRole `unseal`, the same for every test: applied once. (The
/// control plane creates the CRD when it starts; applying it again also covers one
/// started by hand, `SEAL_CONTROL_PLANE_KUBECONFIG`.)
async fn shared_setup(admin: &Client) {
    static DONE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    DONE.get_or_init(|| async {
        let documents = deploy_documents(&["CustomResourceDefinition", "ClusterRole"]);
        assert_eq!(
            documents.len(),
            2,
            "deploy/ holds one CRD and one ClusterRole"
        );
        control_plane::apply(admin, &documents)
            .await
            .unwrap_or_else(|e| panic!("the CRD and the ClusterRole: {e}"));
    })
    .await;
}

/// deploy/serviceaccount.yaml and the bindings of deploy/rbac.yaml for a controller in
/// `namespace`: what is namespaced moves there, the ClusterRoleBinding gets a name of
/// its own and binds that namespace's ServiceAccount. The ClusterRole is shared.
fn rbac_for(namespace: &str) -> Vec<Value> {
    let mut documents = deploy_documents(&[
        "ServiceAccount",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
    ]);
    for d in &mut documents {
        if d["metadata"]["namespace"] == DEPLOY_NS {
            d["metadata"]["namespace"] = json!(namespace);
        }
        if d["kind"] == "ClusterRoleBinding" {
            let name = d["metadata"]["name"].as_str().unwrap_or("unseal");
            d["metadata"]["name"] = json!(format!("{name}-{namespace}"));
        }
        if let Some(subjects) = d.get_mut("subjects").and_then(Value::as_array_mut) {
            for s in subjects {
                if s["namespace"] == DEPLOY_NS {
                    s["namespace"] = json!(namespace);
                }
            }
        }
    }
    let text = serde_json::to_string(&documents).expect("json");
    assert!(
        !text.contains(DEPLOY_NS),
        "deploy/rbac.yaml names {DEPLOY_NS} where the test harness does not replace it: {text}"
    );
    documents
}

/// Runs a scenario on the real control plane, or passes without running it when there
/// is none (no Go, outside CI: the control-plane crate says so). Counted ([`Run`]).
pub async fn run<F: Future<Output = ()>>(scenario: impl FnOnce(Backend) -> F) {
    let run = Run::begin();
    if control_plane::get().is_none() {
        run.skipped();
        return;
    }
    scenario(Backend::Real).await;
    drop(run);
}

/// Counts the real tests as they finish; the last one of those this binary was asked
/// to run says how many ran against the real control plane, how many failed, and how
/// long they took, on stderr (the test harness does not capture it), so that `cargo
/// test` shows it.
pub struct Run {
    skipped: bool,
}

static STARTED: OnceLock<Instant> = OnceLock::new();
static FINISHED: AtomicUsize = AtomicUsize::new(0);
static FAILED: AtomicUsize = AtomicUsize::new(0);
static SKIPPED: AtomicUsize = AtomicUsize::new(0);

impl Run {
    fn begin() -> Self {
        STARTED.get_or_init(Instant::now);
        selected();
        Self { skipped: false }
    }

    fn skipped(mut self) {
        self.skipped = true;
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if self.skipped {
            SKIPPED.fetch_add(1, Ordering::SeqCst);
        } else if std::thread::panicking() {
            FAILED.fetch_add(1, Ordering::SeqCst);
        }
        let finished = FINISHED.fetch_add(1, Ordering::SeqCst) + 1;
        if Some(finished) != *selected() {
            return;
        }
        let took = STARTED.get().map(Instant::elapsed).unwrap_or_default();
        let (failed, skipped) = (
            FAILED.load(Ordering::SeqCst),
            SKIPPED.load(Ordering::SeqCst),
        );
        let ran = finished - skipped;
        let line = if ran == 0 {
            format!(
                "real control plane: none of the {finished} selected tests ran (no control plane)"
            )
        } else {
            format!(
                "real control plane: {ran} {} ran against kube-apiserver ({failed} failed) in {:.1} s",
                if ran == 1 { "test" } else { "tests" },
                took.as_secs_f64()
            )
        };
        let _ = writeln!(std::io::stderr(), "{line}");
    }
}

/// How many `real::` tests this run of the binary selected: the test harness lists the
/// tests its arguments (filters, `--skip`, `--exact`, …) select when asked with `--list`,
/// so the binary asks itself. `None` when that fails (then nothing is said).
fn selected() -> &'static Option<usize> {
    static SELECTED: OnceLock<Option<usize>> = OnceLock::new();
    SELECTED.get_or_init(|| {
        let mut args = std::env::args();
        let exe = args.next()?;
        let listed = std::process::Command::new(exe)
            .args(args.filter(|a| a != "--list"))
            .arg("--list")
            .output()
            .ok()?;
        listed.status.success().then(|| {
            String::from_utf8_lossy(&listed.stdout)
                .lines()
                .filter(|l| l.ends_with(": test") && l.contains("::real::"))
                .count()
        })
    })
}
