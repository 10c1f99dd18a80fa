//! The Helm chart (deploy/chart/) checked with the real helm (`scripts/helm`, built from
//! its Go module): `helm lint --strict`; `helm template` with the default values renders
//! exactly the objects of `kubectl kustomize deploy/`; with every value set (ci/
//! every-value.yaml) each value lands where it should and the objects validate against
//! the Kubernetes schemas; values.schema.json refuses bad values with a message naming
//! the value; its CRD is what `unseal crd` prints; its alerts are the rules file's.
//! Skipped, saying so, where Go is absent (outside CI).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use seal_e2e::*;
use serde_json::{Value, json};

use crate::deploy::{find, kustomization, validate};
use crate::tools::{helm, run_ok, run_tool};

/// The chart, relative to the repository root.
pub const CHART: &str = "deploy/chart";

/// `helm template unseal deploy/chart --namespace seal-system` plus `args`, as documents.
pub fn template(helm: &Path, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["template", "unseal", CHART, "--namespace", "seal-system"];
    all.extend_from_slice(args);
    documents(&run_ok(helm, &all))
}

/// (kind, namespace, name) → object.
fn by_identity(docs: Vec<Value>) -> BTreeMap<(String, String, String), Value> {
    let mut map = BTreeMap::new();
    for d in docs {
        let key = (
            d["kind"].as_str().unwrap_or_default().to_owned(),
            d["metadata"]["namespace"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            d["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
        assert!(map.insert(key.clone(), d).is_none(), "{key:?} twice");
    }
    map
}

/// What `kubectl kustomize DIR` renders; where kubectl is absent, the kustomization's
/// files as they are (deploy/ has no transformers, so that is the same: the test in
/// deploy.rs checks it wherever kubectl exists).
fn kustomize(dir: &str) -> Vec<Value> {
    match Command::new("kubectl")
        .args(["kustomize", &repo_file(dir)])
        .output()
    {
        Ok(out) => {
            assert!(
                out.status.success(),
                "kubectl kustomize {dir}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            documents(&String::from_utf8_lossy(&out.stdout))
        }
        Err(_) => {
            eprintln!("note: kubectl not found; comparing with deploy/'s files as listed");
            kustomization(dir)
        }
    }
}

#[test]
fn helm_lint_strict_passes_with_default_and_with_every_value() {
    let Some(helm) = helm() else { return };
    for extra in [&[][..], &["-f", "deploy/chart/ci/every-value.yaml"][..]] {
        let mut args = vec!["lint", "--strict", CHART];
        args.extend_from_slice(extra);
        let out = run_ok(&helm, &args);
        assert!(out.contains("0 chart(s) failed"), "{out}");
    }
}

#[test]
fn default_values_render_exactly_what_kustomize_renders() {
    let Some(helm) = helm() else { return };
    let chart = by_identity(template(&helm, &[]));
    let kustomized = by_identity(kustomize("deploy"));
    assert_eq!(
        chart.keys().collect::<Vec<_>>(),
        kustomized.keys().collect::<Vec<_>>(),
        "the chart and deploy/ render different objects"
    );
    for (key, object) in &chart {
        assert_eq!(
            object, &kustomized[key],
            "{key:?} differs between the chart and deploy/"
        );
    }
}

#[test]
fn the_charts_crd_is_what_unseal_crd_prints() {
    let generated = run("unseal", &["crd"], None).ok();
    for path in [
        "deploy/chart/crds/sealedsecrets.seal.dev.yaml",
        "deploy/cluster/crd.yaml",
    ] {
        let file = std::fs::read_to_string(repo_file(path)).expect("CRD file");
        assert_eq!(
            documents(&file),
            documents(&generated),
            "{path} is not what `unseal crd` prints: regenerate it (unseal crd > {path})"
        );
    }
    // And helm installs it: --include-crds renders it.
    let Some(helm) = helm() else { return };
    let with_crds = template(&helm, &["--include-crds"]);
    find(
        &with_crds,
        "CustomResourceDefinition",
        "sealedsecrets.seal.dev",
    );
}

fn env_of(deployment: &Value) -> BTreeMap<String, Value> {
    deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .expect("env")
        .iter()
        .map(|e| {
            let value = e.get("value").cloned().unwrap_or(e["valueFrom"].clone());
            (e["name"].as_str().expect("name").to_owned(), value)
        })
        .collect()
}

#[test]
fn every_value_lands_where_it_belongs() {
    let Some(helm) = helm() else { return };
    let docs = template(&helm, &["-f", "deploy/chart/ci/every-value.yaml"]);
    let ns = "platform-secrets";
    for d in &docs {
        let what = format!("{} {}", d["kind"], d["metadata"]["name"]);
        assert_eq!(d["metadata"]["labels"]["team"], "platform", "{what}");
        assert_eq!(
            d["metadata"]["annotations"]["owner"], "platform@example.com",
            "{what}"
        );
    }
    let d = find(&docs, "Deployment", "unseal");
    assert_eq!(d["metadata"]["namespace"], ns);
    assert_eq!(d["spec"]["replicas"], 3);
    let pod = &d["spec"]["template"];
    assert_eq!(
        pod["metadata"]["labels"]["sidecar.istio.io/inject"],
        "false"
    );
    assert_eq!(
        pod["metadata"]["annotations"]["cluster-autoscaler.kubernetes.io/safe-to-evict"],
        "true"
    );
    // The selector stays what it was: a Deployment's selector cannot change on upgrade.
    assert_eq!(
        d["spec"]["selector"],
        json!({"matchLabels": {"app.kubernetes.io/name": "unseal"}})
    );
    let spec = &pod["spec"];
    assert_eq!(spec["imagePullSecrets"], json!([{"name": "regcred"}]));
    assert_eq!(spec["securityContext"]["fsGroup"], 10001);
    assert_eq!(spec["nodeSelector"]["kubernetes.io/os"], "linux");
    assert_eq!(spec["tolerations"][0]["value"], "platform");
    let c = &spec["containers"][0];
    assert_eq!(
        c["image"],
        "registry.example.com/platform/unseal:0.1.0-rc1@sha256:0000000000000000000000000000000000000000000000000000000000000001"
    );
    assert_eq!(c["imagePullPolicy"], "Always");
    assert_eq!(c["resources"]["limits"]["memory"], "256Mi");
    assert_eq!(c["resources"]["requests"]["cpu"], "50m");
    assert_eq!(c["securityContext"]["runAsNonRoot"], true);
    let env = env_of(d);
    let recipient = "age1wkhm4lujjhde4zaq8s0jd48qqthgljl5j3l9etu06h8704gxzaqs968m74";
    assert_eq!(env["UNSEAL_NAMESPACES"], "team-a,team-b");
    assert_eq!(env["UNSEAL_KEY_RENEW_PERIOD"], "30d");
    assert_eq!(env["UNSEAL_LABEL_SELECTOR"], "seal.dev/controller=blue");
    assert_eq!(env["UNSEAL_BACKUP_RECIPIENTS"], recipient);
    assert_eq!(env["UNSEAL_TRUSTED_RECIPIENTS"], recipient);
    assert_eq!(env["UNSEAL_LOG_FORMAT"], "text");
    assert!(
        !docs.iter().any(|d| d["kind"] == "NetworkPolicy"),
        "networkPolicy.enabled=false"
    );
    assert_eq!(
        find(&docs, "PodDisruptionBudget", "unseal")["spec"]["minAvailable"],
        2
    );
    let monitor = find(&docs, "ServiceMonitor", "unseal");
    assert_eq!(monitor["metadata"]["labels"]["release"], "prometheus");
    assert_eq!(monitor["spec"]["endpoints"][0]["interval"], "15s");
    assert_eq!(
        monitor["spec"]["namespaceSelector"]["matchNames"],
        json!([ns])
    );
    let rule = find(&docs, "PrometheusRule", "unseal");
    assert_eq!(rule["metadata"]["labels"]["release"], "prometheus");
    assert_eq!(rule["metadata"]["namespace"], ns);
    // The namespaced RBAC of watchNamespaces: see namespaced_values_grant_roles_only_there.
    for sa in docs.iter().filter(|d| d["kind"] == "ServiceAccount") {
        assert_eq!(sa["metadata"]["namespace"], ns);
    }
    // Every object Kubernetes itself serves validates against its schema (the
    // Prometheus Operator's kinds are not in the Kubernetes schemas).
    let core: Vec<&Value> = docs
        .iter()
        .filter(|d| {
            !d["apiVersion"]
                .as_str()
                .unwrap_or_default()
                .starts_with("monitoring.coreos.com/")
        })
        .collect();
    let text =
        seal_core::documents::render(&core, seal_core::documents::Format::Yaml).expect("renders");
    validate("chart-every-value.yaml", &text);
}

/// The rules that name `secrets`, per (kind, namespace).
fn secret_rules(docs: &[Value]) -> Vec<(String, String)> {
    docs.iter()
        .filter(|d| matches!(d["kind"].as_str(), Some("Role" | "ClusterRole")))
        .filter(|d| {
            d["rules"].as_array().is_some_and(|rules| {
                rules.iter().any(|r| {
                    r["resources"]
                        .as_array()
                        .is_some_and(|res| res.iter().any(|x| x == "secrets"))
                })
            })
        })
        .map(|d| {
            (
                d["kind"].as_str().unwrap_or_default().to_owned(),
                d["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_kubernetes_older_than_1_30_is_refused() {
    let Some(helm) = helm() else { return };
    let ran = run_tool(
        &helm,
        &["template", "unseal", CHART, "--kube-version", "1.29.0"],
    );
    assert!(!ran.ok, "rendered for 1.29:\n{}", ran.stdout);
    assert!(
        ran.stderr.contains("requires kubeVersion: >=1.30.0-0"),
        "{}",
        ran.stderr
    );
    // A single replica is fine without the disruption budget.
    run_ok(
        &helm,
        &[
            "template",
            "unseal",
            CHART,
            "--set",
            "replicas=1",
            "--set",
            "podDisruptionBudget.enabled=false",
        ],
    );
}

#[test]
fn namespaced_values_grant_roles_only_there() {
    let Some(helm) = helm() else { return };
    let docs = template(
        &helm,
        &[
            "--set",
            "watchNamespaces={team-a,team-b,team-a}",
            "--namespace",
            "seal-system",
        ],
    );
    for d in &docs {
        assert!(
            !matches!(
                d["kind"].as_str(),
                Some("ClusterRole" | "ClusterRoleBinding")
            ),
            "a namespaced install grants nothing cluster-wide: {}",
            d["kind"]
        );
    }
    let mut with_secrets = secret_rules(&docs);
    with_secrets.sort();
    assert_eq!(
        with_secrets,
        [
            ("Role".to_owned(), "seal-system".to_owned()),
            ("Role".to_owned(), "team-a".to_owned()),
            ("Role".to_owned(), "team-b".to_owned()),
        ],
        "Secrets only in the watched namespaces (once each) and the controller's own (its keys)"
    );
    for ns in ["team-a", "team-b"] {
        let binding = docs
            .iter()
            .find(|d| d["kind"] == "RoleBinding" && d["metadata"]["namespace"] == ns)
            .unwrap_or_else(|| panic!("a RoleBinding in {ns}"));
        assert_eq!(
            binding["subjects"],
            json!([{"kind": "ServiceAccount", "name": "unseal", "namespace": "seal-system"}])
        );
    }
    let env = env_of(find(&docs, "Deployment", "unseal"));
    assert_eq!(env["UNSEAL_NAMESPACES"], "team-a,team-b");
    // The default, by contrast, reconciles everywhere through the ClusterRole alone.
    let default = template(&helm, &[]);
    assert_eq!(
        secret_rules(&default),
        [("ClusterRole".to_owned(), String::new())]
    );
}

#[test]
fn bad_values_are_refused_naming_the_value() {
    let Some(helm) = helm() else { return };
    // An identity where a recipient belongs (made here, not written out: the secret-key
    // prefix stays out of the sources).
    let identity = format!(
        "trustedRecipients[0]={}-SECRET-KEY-1{}",
        "AGE",
        "Q".repeat(59)
    );
    let cases: &[(&str, &str)] = &[
        ("replicas=0", "/replicas"),
        ("replica=3", "additional properties 'replica' not allowed"),
        ("keyRenewPeriod=monthly", "/keyRenewPeriod"),
        ("backupRecipients[0]=age1bogus", "/backupRecipients/0"),
        (&identity, "/trustedRecipients/0"),
        ("logFormat=xml", "/logFormat"),
        ("labelSelector=app;rm", "/labelSelector"),
        ("watchNamespaces[0]=Team_A", "/watchNamespaces/0"),
        ("image.digest=latest", "/image/digest"),
        ("image.repository=", "/image/repository"),
        ("image.pullPolicy=Sometimes", "/image/pullPolicy"),
        ("networkPolicy.enabled=yes", "/networkPolicy/enabled"),
        ("serviceMonitor.interval=often", "/serviceMonitor/interval"),
        (
            "watchNamespaces[0]=seal-system",
            "seal-system is the controller's own namespace",
        ),
        (
            "replicas=1",
            "podDisruptionBudget.minAvailable (1) must be below replicas (1)",
        ),
        (
            "podDisruptionBudget.minAvailable=2",
            "podDisruptionBudget.minAvailable (2) must be below replicas (2)",
        ),
    ];
    for (set, expected) in cases {
        let ran = run_tool(
            &helm,
            &[
                "template",
                "unseal",
                CHART,
                "--namespace",
                "seal-system",
                "--set",
                set,
            ],
        );
        assert!(!ran.ok, "--set {set} was accepted:\n{}", ran.stdout);
        assert!(
            ran.stderr.contains(expected),
            "--set {set}: expected {expected:?} in:\n{}",
            ran.stderr
        );
    }
}

/// The spec of the first document of `path` (a PrometheusRule), or the whole document.
fn rules_in(path: &str) -> Value {
    let text = std::fs::read_to_string(repo_file(path)).expect("rules file");
    let doc = documents(&text).remove(0);
    match doc.get("spec") {
        Some(spec) => spec.clone(),
        None => doc,
    }
}

#[test]
fn the_alerts_are_one_source_in_three_places() {
    let file = rules_in("deploy/chart/files/unseal.rules.yaml");
    assert!(
        file["groups"][0]["rules"]
            .as_array()
            .is_some_and(|r| r.len() >= 6),
        "{file}"
    );
    assert_eq!(
        rules_in("deploy/monitoring/prometheusrule.yaml"),
        file,
        "deploy/monitoring/prometheusrule.yaml's spec differs from deploy/chart/files/unseal.rules.yaml"
    );
    let Some(helm) = helm() else { return };
    let docs = template(&helm, &["--set", "prometheusRule.enabled=true"]);
    assert_eq!(
        find(&docs, "PrometheusRule", "unseal")["spec"],
        file,
        "the chart's PrometheusRule differs from files/unseal.rules.yaml"
    );
    // The ServiceMonitor of deploy/monitoring and the chart's agree too.
    let docs = template(&helm, &["--set", "serviceMonitor.enabled=true"]);
    let plain = documents(
        &std::fs::read_to_string(repo_file("deploy/monitoring/servicemonitor.yaml"))
            .expect("servicemonitor.yaml"),
    );
    assert_eq!(
        find(&docs, "ServiceMonitor", "unseal"),
        &plain[0],
        "deploy/monitoring/servicemonitor.yaml differs from the chart's default ServiceMonitor"
    );
}

#[test]
fn the_namespaced_overlay_renders_what_the_chart_renders_for_the_same_namespaces() {
    let Some(helm) = helm() else { return };
    if Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_err()
    {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have kubectl (kustomize)"
        );
        eprintln!("SKIPPED: kubectl is not installed, so the overlay cannot be rendered");
        return;
    }
    let chart = by_identity(template(
        &helm,
        &["--set", "watchNamespaces={team-a,team-b}"],
    ));
    let overlay = by_identity(kustomize("examples/namespaced-install"));
    assert_eq!(
        chart.keys().collect::<Vec<_>>(),
        overlay.keys().collect::<Vec<_>>(),
        "the chart and the overlay render different objects"
    );
    for (key, object) in &chart {
        assert_eq!(
            object, &overlay[key],
            "{key:?} differs between the chart and examples/namespaced-install"
        );
    }
}

#[test]
fn the_readmes_argo_cd_application_renders_with_its_values() {
    let readme = std::fs::read_to_string(repo_file("README.md")).expect("README");
    let block = readme
        .split("```yaml\n")
        .map(|b| b.split("```").next().unwrap_or_default())
        .find(|b| b.contains("kind: Application") && b.contains("path: deploy/chart"))
        .expect("an Argo CD Application for the chart in the README");
    let app = documents(block).remove(0);
    let source = &app["spec"]["source"];
    assert_eq!(source["path"], CHART);
    assert_eq!(app["spec"]["destination"]["namespace"], "seal-system");
    let Some(helm) = helm() else { return };
    let dir = scratch();
    let values = write(
        dir.path(),
        "values.json",
        &source["helm"]["valuesObject"].to_string(),
    );
    let docs = template(&helm, &["-f", &values]);
    assert_eq!(
        find(&docs, "Deployment", "unseal")["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example.com/platform/unseal:0.1.0"
    );
}
