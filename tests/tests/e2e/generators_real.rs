//! What `seal ingress` (passthrough, terminate, gateway), `seal webhook` and
//! `seal argocd-health` print, sent to the real API server as a server-side dry run
//! (`kubectl apply --server-side --dry-run=server`), with the third-party CRDs installed:
//! the Gateway API's standard channel and cert-manager's, both read from their Go modules
//! (tests/crds/go.mod pins them; `go mod download` verifies them against go.sum). Their
//! OpenAPI schemas and CEL rules run on every object, so a route or Certificate they
//! refuse fails here. Skipped, saying so, where Go is absent (as the control plane is).

use std::path::{Path, PathBuf};
use std::process::Command;

use kube::Client;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::{Discovery, Scope};
use seal_e2e::*;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

/// The field manager of the dry runs.
const MANAGER: &str = "seal-e2e";

/// Installed once per test binary (every test's control plane is the same).
static INSTALLED: OnceCell<Result<(), String>> = OnceCell::const_new();

/// A module of tests/crds, downloaded (verified against go.sum) into Go's module cache:
/// the folder it was unpacked into.
pub(crate) fn module_dir(path: &str) -> PathBuf {
    let crds = repo_root().join("tests/crds");
    let output = Command::new("go")
        .args(["mod", "download", "-json", path])
        .current_dir(&crds)
        .env("GOWORK", "off")
        .env("GOFLAGS", "-mod=readonly")
        .env("GOTOOLCHAIN", "local")
        .output()
        .unwrap_or_else(|e| panic!("go mod download {path} in {}: {e}", crds.display()));
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "go mod download -json {path}: {e}; stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert!(
        output.status.success() && answer.get("Error").is_none(),
        "go mod download {path} in tests/crds failed: {answer}; stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    PathBuf::from(
        answer["Dir"]
            .as_str()
            .expect("Dir in go mod download's answer"),
    )
}

/// Every CustomResourceDefinition in the YAML files of `dir`.
pub(crate) fn crds_in(dir: &Path) -> Vec<Value> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut crds = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("CRD file");
        let docs = seal_core::documents::parse(&file.display().to_string(), &text)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        crds.extend(
            docs.into_iter()
                .map(|d| d.value)
                .filter(|d| d["kind"] == "CustomResourceDefinition"),
        );
    }
    assert!(!crds.is_empty(), "no CRDs in {}", dir.display());
    crds
}

/// The Gateway API (standard channel) and cert-manager CRDs, and the namespaces the
/// generators write into.
async fn install(admin: &Client) -> Result<(), String> {
    let gateway = module_dir("sigs.k8s.io/gateway-api").join("config/crd/standard");
    let cert_manager = module_dir("github.com/cert-manager/cert-manager").join("deploy/crds");
    let mut documents = crds_in(&gateway);
    documents.extend(crds_in(&cert_manager));
    for ns in ["argocd", "gateways"] {
        documents.push(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}));
    }
    control_plane::apply(admin, &documents)
        .await
        .map_err(|e| e.to_string())
}

/// A cluster-admin client of the control plane with the CRDs installed; `None` without Go.
async fn cluster() -> Option<Client> {
    let cluster = control_plane::get()?;
    let admin = cluster.client().await;
    let installed = INSTALLED
        .get_or_init(|| async { install(&cluster.client().await).await })
        .await;
    if let Err(e) = installed {
        panic!("installing the Gateway API and cert-manager CRDs: {e}");
    }
    Some(admin)
}

/// Each document server-side applied as a dry run: `kind/name` and the API server's
/// refusal, for every document it refused.
async fn dry_run(admin: &Client, documents: &[Value]) -> Vec<String> {
    let discovery = Discovery::new(admin.clone())
        .run_aggregated()
        .await
        .expect("discovery");
    let mut refused = Vec::new();
    for document in documents {
        let object: DynamicObject =
            serde_json::from_value(document.clone()).expect("a Kubernetes object");
        let types = object.types.as_ref().expect("apiVersion and kind");
        let name = object.metadata.name.as_deref().expect("metadata.name");
        let gvk = GroupVersionKind::try_from(types).expect("apiVersion");
        let what = format!("{} {name}", types.kind);
        let Some((resource, capabilities)) = discovery.resolve_gvk(&gvk) else {
            refused.push(format!("{what}: the API server serves no {gvk:?}"));
            continue;
        };
        let api: Api<DynamicObject> = match capabilities.scope {
            Scope::Namespaced => Api::namespaced_with(
                admin.clone(),
                object.metadata.namespace.as_deref().unwrap_or("default"),
                &resource,
            ),
            Scope::Cluster => Api::all_with(admin.clone(), &resource),
        };
        let params = PatchParams::apply(MANAGER).force().dry_run();
        if let Err(e) = api.patch(name, &params, &Patch::Apply(document)).await {
            refused.push(format!("{what}: {e}"));
        }
    }
    refused
}

/// What `seal ingress --host argocd.example.com ARGS` prints, as documents.
fn ingress(args: &[&str]) -> Vec<Value> {
    let mut all = vec!["ingress", "--host", "argocd.example.com"];
    all.extend(args);
    let docs = documents(&run("seal", &all, None).ok());
    assert!(!docs.is_empty(), "seal {all:?} printed nothing");
    docs
}

/// Asserts the API server accepted every document.
async fn assert_accepted(admin: &Client, what: &str, documents: &[Value]) {
    let refused = dry_run(admin, documents).await;
    assert!(
        refused.is_empty(),
        "{what}: the real API server refused:\n{}",
        refused.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seal_ingress_passthrough_and_terminate_are_accepted_by_the_real_api_server() {
    let Some(admin) = cluster().await else { return };
    for issuer in [["--cluster-issuer", "letsencrypt-prod"], ["--issuer", "ca"]] {
        for mode in ["passthrough", "terminate"] {
            let docs = ingress(&[issuer[0], issuer[1], "--mode", mode]);
            assert_accepted(
                &admin,
                &format!("seal ingress --mode {mode} {issuer:?}"),
                &docs,
            )
            .await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seal_ingress_gateway_routes_and_certificate_pass_their_crd_schemas_and_cel_rules() {
    let Some(admin) = cluster().await else { return };
    let variants: [&[&str]; 3] = [
        &[
            "--cluster-issuer",
            "letsencrypt-prod",
            "--gateway",
            "public",
            "--gateway-namespace",
            "gateways",
        ],
        &["--issuer", "ca", "--gateway", "public"],
        &[
            "--cluster-issuer",
            "x",
            "--gateway",
            "public",
            "--grpc-host",
            "cli.argocd.example.com",
        ],
    ];
    for extra in variants {
        let mut args = vec!["--mode", "gateway"];
        args.extend(extra);
        let docs = ingress(&args);
        let kinds: Vec<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
        assert_eq!(
            kinds,
            ["Certificate", "HTTPRoute", "GRPCRoute", "ConfigMap"]
        );
        assert_accepted(&admin, &format!("seal ingress {args:?}"), &docs).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seal_webhook_and_argocd_health_are_accepted_by_the_real_api_server() {
    let Some(admin) = cluster().await else { return };
    let recipients = example_recipients();
    for provider in ["github", "gitlab", "bitbucketserver", "gogs", "azuredevops"] {
        let sealed = run(
            "seal",
            &[
                "webhook",
                "--provider",
                provider,
                "--argocd-url",
                "https://argocd.example.com",
                "--secret-stdin",
                "-R",
                &recipients,
            ],
            Some(b"chosen-secret"),
        )
        .ok();
        assert_accepted(
            &admin,
            &format!("seal webhook --provider {provider}"),
            &documents(&sealed),
        )
        .await;
    }
    let health = documents(&run("seal", &["argocd-health"], None).ok());
    assert_eq!(health[0]["kind"], "ConfigMap");
    // The snippet names no namespace (it is merged into argocd-cm where Argo CD runs).
    let mut cm = health[0].clone();
    if cm["metadata"]["namespace"].is_null() {
        cm["metadata"]["namespace"] = json!("argocd");
    }
    assert_accepted(&admin, "seal argocd-health", &[cm]).await;
}

/// The check has teeth: objects that the CRDs' schemas and CEL rules refuse are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_installed_crds_refuse_what_their_schemas_and_cel_rules_forbid() {
    let Some(admin) = cluster().await else { return };
    let route = |path: &str| {
        json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": "bad", "namespace": "argocd"},
            "spec": {"parentRefs": [{"name": "public"}],
                     "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": path}}]}]},
        })
    };
    let bad = [
        // A CEL rule: a PathPrefix must start with '/'.
        route("no-slash"),
        // The schema: a GRPCRoute hostname is a DNS name.
        json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "GRPCRoute",
            "metadata": {"name": "bad", "namespace": "argocd"},
            "spec": {"hostnames": ["not a host"]},
        }),
        // The schema: a Certificate needs an issuerRef and a secretName.
        json!({
            "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": {"name": "bad", "namespace": "argocd"},
            "spec": {"dnsNames": ["argocd.example.com"]},
        }),
    ];
    for object in bad {
        let refused = dry_run(&admin, std::slice::from_ref(&object)).await;
        assert_eq!(refused.len(), 1, "accepted: {object}");
        assert!(
            refused[0].contains("422") || refused[0].contains("Invalid"),
            "{}",
            refused[0]
        );
    }
    // The same route with a valid path is accepted: the refusal above was the path's.
    assert_accepted(&admin, "a valid HTTPRoute", &[route("/")]).await;
}
