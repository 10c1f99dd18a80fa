//! The install manifests: every file of deploy/kustomization.yaml read and checked for
//! the hardening the issue asks for, and every manifest (plus what `seal ingress` prints)
//! validated against the Kubernetes 1.30 schemas with `kubernetes-validate --strict`
//! (installed by `.ci/run`; skipped, saying so, on a machine without it, except in CI).

use std::process::Command;

use seal_e2e::*;
use serde_json::Value;

/// The objects of the kustomization in `dir` (relative to the repository).
pub(crate) fn kustomization(dir: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(repo_file(&format!("{dir}/kustomization.yaml")))
        .expect("kustomization");
    let k = &documents(&text)[0];
    let mut all = Vec::new();
    for file in k["resources"].as_array().expect("resources") {
        let path = repo_file(&format!("{dir}/{}", file.as_str().expect("file name")));
        all.extend(documents(
            &std::fs::read_to_string(&path).expect("manifest"),
        ));
    }
    all
}

/// deploy/cluster/ (namespace and CRD) then deploy/ (the controller).
fn rendered() -> Vec<Value> {
    let mut all = kustomization("deploy/cluster");
    all.extend(kustomization("deploy"));
    all
}

#[test]
fn uninstalling_the_controller_leaves_the_keys_namespace_and_the_crd() {
    let controller = kustomization("deploy");
    for doc in &controller {
        assert!(
            !matches!(
                doc["kind"].as_str(),
                Some("Namespace" | "CustomResourceDefinition")
            ),
            "`kubectl delete -k deploy/` would delete {}",
            doc["kind"]
        );
    }
    for doc in kustomization("deploy/cluster") {
        let keep = &doc["metadata"]["annotations"];
        assert_eq!(keep["helm.sh/resource-policy"], "keep", "{}", doc["kind"]);
        assert_eq!(
            keep["argocd.argoproj.io/sync-options"], "Delete=false,Prune=false",
            "{}",
            doc["kind"]
        );
    }
}

pub(crate) fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("{kind}/{name} missing"))
}

#[test]
fn the_deployment_is_hardened_and_highly_available() {
    let docs = rendered();
    let d = find(&docs, "Deployment", "unseal");
    assert_eq!(d["spec"]["replicas"], 2);
    let pod = &d["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let c = &pod["containers"][0];
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(
        c["securityContext"]["capabilities"]["drop"],
        serde_json::json!(["ALL"])
    );
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    for field in ["requests", "limits"] {
        assert!(c["resources"][field]["memory"].is_string(), "{field}");
        assert!(c["resources"][field]["cpu"].is_string(), "{field}");
    }
    assert_eq!(
        find(&docs, "PodDisruptionBudget", "unseal")["spec"]["minAvailable"],
        1
    );
    find(&docs, "NetworkPolicy", "unseal");
    find(&docs, "Service", "unseal");
    find(&docs, "CustomResourceDefinition", "sealedsecrets.seal.dev");
}

#[test]
fn rbac_is_least_privilege_and_recipients_are_public() {
    let docs = rendered();
    for doc in docs
        .iter()
        .filter(|d| d["kind"] == "ClusterRole" || d["kind"] == "Role")
    {
        for rule in doc["rules"].as_array().expect("rules") {
            let text = rule.to_string();
            assert!(!text.contains("\"*\""), "no wildcards: {text}");
        }
    }
    let reader = find(&docs, "Role", "unseal-recipients-reader");
    assert_eq!(
        reader["rules"][0]["resourceNames"],
        serde_json::json!(["unseal-recipients"])
    );
    let binding = find(&docs, "RoleBinding", "unseal-recipients-reader");
    assert_eq!(binding["subjects"][0]["name"], "system:authenticated");
    let cluster = find(&docs, "ClusterRole", "unseal");
    let secrets = cluster["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .find(|r| r["resources"] == serde_json::json!(["secrets"]))
        .expect("secrets rule");
    assert!(
        !secrets["verbs"]
            .as_array()
            .expect("verbs")
            .iter()
            .any(|v| v == "patch"),
        "the controller never patches Secrets"
    );
}

/// The validator as a command: the Python module (no PATH shim needed), else its script.
fn validator() -> Option<Vec<&'static str>> {
    let module = Command::new("python3")
        .args(["-m", "kubernetes_validate", "--version"])
        .output();
    if module.is_ok_and(|o| o.status.success()) {
        return Some(vec!["python3", "-m", "kubernetes_validate"]);
    }
    if Command::new("kubernetes-validate")
        .arg("--version")
        .output()
        .is_ok()
    {
        return Some(vec!["kubernetes-validate"]);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must have kubernetes-validate (.ci/run installs it)"
    );
    eprintln!("SKIPPED: kubernetes-validate is not installed (pip install kubernetes-validate)");
    None
}

pub(crate) fn validate(name: &str, text: &str) {
    let Some(tool) = validator() else { return };
    let dir = scratch();
    let file = write(dir.path(), name, text);
    let out = Command::new(tool[0])
        .args(&tool[1..])
        .args(["-k", "1.30.0", "--strict", "--no-warn", &file])
        .output()
        .expect("validator runs");
    assert!(
        out.status.success(),
        "{name} is not valid for Kubernetes 1.30:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_install_manifest_is_valid_for_kubernetes_1_30() {
    let text = seal_core::documents::render(&rendered(), seal_core::documents::Format::Yaml)
        .expect("renders");
    validate("deploy.yaml", &text);
    if Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_ok()
    {
        for dir in ["deploy/cluster", "deploy"] {
            let out = Command::new("kubectl")
                .args(["kustomize", &repo_file(dir)])
                .output()
                .expect("kubectl runs");
            assert!(
                out.status.success(),
                "{dir}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                documents(&String::from_utf8_lossy(&out.stdout)).len(),
                kustomization(dir).len(),
                "{dir}"
            );
        }
    }
    let snippet =
        std::fs::read_to_string(repo_file("deploy/argocd/argocd-cm-health.yaml")).expect("snippet");
    validate("argocd-cm.yaml", &snippet);
}

#[test]
fn generated_ingress_manifests_are_valid_for_kubernetes_1_30() {
    for mode in ["passthrough", "terminate"] {
        let out = run(
            "seal",
            &[
                "ingress",
                "--host",
                "argocd.example.com",
                "--cluster-issuer",
                "le",
                "--mode",
                mode,
            ],
            None,
        )
        .ok();
        validate(&format!("ingress-{mode}.yaml"), &out);
    }
}

/// Every install manifest and every generated Argo CD manifest is accepted by the
/// API-server double through kube's dynamic API (the double stands in for
/// kube-apiserver, which cannot run here; it checks names, namespaces and conflicts, not
/// schemas, which the kubernetes-validate test above does).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifests_are_accepted_by_the_api_server_double() {
    use kube::api::{ApiResource, DynamicObject, GroupVersionKind, PostParams};
    let double = apiserver_double::ApiServerDouble::start()
        .await
        .expect("double");
    let client = kube::Client::try_from(kube::Config::new(double.url().parse().expect("url")))
        .expect("client");
    let mut docs = rendered();
    for mode in ["passthrough", "terminate"] {
        let out = tokio::task::spawn_blocking(move || {
            run(
                "seal",
                &[
                    "ingress",
                    "--host",
                    "argocd.example.com",
                    "--cluster-issuer",
                    "le",
                    "--mode",
                    mode,
                ],
                None,
            )
            .ok()
        })
        .await
        .expect("joined");
        docs.extend(documents(&out));
    }
    for path in [
        "examples/sealed/db-credentials.yaml",
        "examples/sealed/harbor-regcred.yaml",
    ] {
        docs.extend(documents(
            &std::fs::read_to_string(repo_file(path)).expect("example"),
        ));
    }
    for doc in docs {
        let api_version = doc["apiVersion"].as_str().expect("apiVersion");
        let kind = doc["kind"].as_str().expect("kind");
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
        let object: DynamicObject = serde_json::from_value(doc.clone()).expect("object");
        let api: kube::Api<DynamicObject> = match doc["metadata"]["namespace"].as_str() {
            Some(ns) => kube::Api::namespaced_with(client.clone(), ns, &resource),
            None => kube::Api::all_with(client.clone(), &resource),
        };
        api.create(&PostParams::default(), &object)
            .await
            .unwrap_or_else(|e| panic!("{kind} {}: {e}", doc["metadata"]["name"]));
    }
    let stored = double.with_store(|s| s.resource_version());
    assert!(stored > 10, "objects were stored");
}
