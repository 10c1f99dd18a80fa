//! The Argo CD pieces from the built binary: the SealedSecret health check (the Lua run
//! in a real Lua 5.4 interpreter against sample objects), `seal ingress` in its three
//! modes, and `seal webhook` (the sealed secret opens to exactly what the Git host's
//! create-hook body carries, with no trailing newline).

use seal_e2e::*;
use serde_json::{Value, json};

fn health(object: &Value) -> (String, String) {
    let lua = mlua::Lua::new();
    let script = std::fs::read_to_string(repo_file("deploy/argocd/sealedsecret-health.lua"))
        .expect("lua file");
    use mlua::LuaSerdeExt;
    lua.globals()
        .set("obj", lua.to_value(object).expect("to lua"))
        .expect("set obj");
    let result: mlua::Table = lua.load(&script).eval().expect("script runs");
    (
        result.get("status").expect("status"),
        result.get("message").expect("message"),
    )
}

fn sealed_with(generation: i64, condition: Option<Value>, observed: i64) -> Value {
    let mut obj = json!({"apiVersion": "seal.dev/v1alpha1", "kind": "SealedSecret", "metadata": {"name": "x", "generation": generation}});
    if let Some(c) = condition {
        obj["status"] = json!({"observedGeneration": observed, "conditions": [c]});
    }
    obj
}

#[test]
fn health_check_follows_the_synced_condition_of_the_current_generation() {
    let synced = json!({"type": "Synced", "status": "True", "reason": "Unsealed", "message": "ok", "observedGeneration": 2});
    let failed = json!({"type": "Synced", "status": "False", "reason": "ScopeMismatch", "message": "sealed for namespace a", "observedGeneration": 2});
    assert_eq!(
        health(&sealed_with(2, Some(synced.clone()), 2)).0,
        "Healthy"
    );
    let (status, message) = health(&sealed_with(2, Some(failed.clone()), 2));
    assert_eq!(status, "Degraded");
    assert!(message.starts_with("ScopeMismatch: "), "{message}");
    assert_eq!(
        health(&sealed_with(3, Some(synced), 2)).0,
        "Progressing",
        "an older generation is not healthy"
    );
    assert_eq!(health(&sealed_with(3, Some(failed), 2)).0, "Progressing");
    assert_eq!(health(&sealed_with(1, None, 0)).0, "Progressing");
}

#[test]
fn the_committed_argocd_cm_snippet_is_what_seal_prints() {
    let printed = run("seal", &["argocd-health"], None).ok();
    let committed =
        std::fs::read_to_string(repo_file("deploy/argocd/argocd-cm-health.yaml")).expect("snippet");
    assert_eq!(
        printed, committed,
        "run `seal argocd-health > deploy/argocd/argocd-cm-health.yaml`"
    );
    let doc = &documents(&printed)[0];
    let lua =
        std::fs::read_to_string(repo_file("deploy/argocd/sealedsecret-health.lua")).expect("lua");
    assert_eq!(
        doc["data"]["resource.customizations.health.seal.dev_SealedSecret"],
        lua.as_str()
    );
}

fn ingress(extra: &[&str]) -> Vec<Value> {
    let mut args = vec![
        "ingress",
        "--host",
        "argocd.example.com",
        "--cluster-issuer",
        "letsencrypt-prod",
    ];
    args.extend(extra);
    documents(&run("seal", &args, None).ok())
}

fn check_ingress_rules(doc: &Value) {
    assert_eq!(doc["kind"], "Ingress");
    assert_eq!(doc["spec"]["ingressClassName"], "nginx");
    let annotations = doc["metadata"]["annotations"]
        .as_object()
        .expect("annotations");
    assert!(
        !annotations.contains_key("kubernetes.io/ingress.class"),
        "never both class forms"
    );
    assert!(!annotations.contains_key("kubernetes.io/tls-acme"));
    assert_eq!(
        annotations["cert-manager.io/cluster-issuer"],
        "letsencrypt-prod"
    );
    let secret = doc["spec"]["tls"][0]["secretName"]
        .as_str()
        .expect("tls secret");
    assert_ne!(
        secret, "argocd-secret",
        "cert-manager must never write into argocd-secret"
    );
}

#[test]
fn ingress_passthrough_is_the_seed_corrected() {
    let docs = ingress(&[]);
    assert_eq!(docs.len(), 1);
    check_ingress_rules(&docs[0]);
    assert_eq!(docs[0]["spec"]["tls"][0]["secretName"], "argocd-server-tls");
    assert_eq!(
        docs[0]["metadata"]["annotations"]["nginx.ingress.kubernetes.io/ssl-passthrough"],
        "true"
    );
    assert_eq!(
        docs[0]["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"]["name"],
        "https"
    );
    let stderr = run(
        "seal",
        &["ingress", "--host", "argocd.example.com", "--issuer", "ca"],
        None,
    )
    .stderr;
    assert!(stderr.contains("--enable-ssl-passthrough"), "{stderr}");
}

#[test]
fn ingress_terminate_splits_http_and_grpc() {
    let docs = ingress(&["--mode", "terminate"]);
    let kinds: Vec<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
    assert_eq!(kinds, ["Ingress", "Ingress", "ConfigMap"]);
    check_ingress_rules(&docs[0]);
    check_ingress_rules(&docs[1]);
    assert_eq!(
        docs[1]["spec"]["rules"][0]["host"],
        "grpc.argocd.example.com"
    );
    assert_eq!(
        docs[1]["metadata"]["annotations"]["nginx.ingress.kubernetes.io/backend-protocol"],
        "GRPC"
    );
    assert_ne!(
        docs[0]["spec"]["tls"][0]["secretName"],
        docs[1]["spec"]["tls"][0]["secretName"]
    );
    assert_eq!(docs[2]["metadata"]["name"], "argocd-cmd-params-cm");
    assert_eq!(docs[2]["data"]["server.insecure"], "true");
}

#[test]
fn ingress_gateway_makes_routes_and_a_certificate() {
    let docs = ingress(&[
        "--mode",
        "gateway",
        "--gateway",
        "public",
        "--gateway-namespace",
        "gateways",
    ]);
    let kinds: Vec<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
    assert_eq!(
        kinds,
        ["Certificate", "HTTPRoute", "GRPCRoute", "ConfigMap"]
    );
    assert_eq!(docs[1]["spec"]["parentRefs"][0]["name"], "public");
    assert_eq!(docs[2]["spec"]["hostnames"][0], "grpc.argocd.example.com");
    assert_eq!(docs[0]["metadata"]["namespace"], "gateways");
    let line = run(
        "seal",
        &[
            "ingress",
            "--host",
            "argocd.example.com",
            "--cluster-issuer",
            "x",
            "--mode",
            "gateway",
        ],
        None,
    )
    .fails_with(1);
    assert!(line.contains("--gateway NAME is required"), "{line}");
}

#[test]
fn ingress_bad_input() {
    for host in [
        "https://argocd.example.com",
        "argocd",
        "10.0.0.1",
        "Argo.example.com",
    ] {
        let line = run(
            "seal",
            &["ingress", "--host", host, "--cluster-issuer", "x"],
            None,
        )
        .fails_with(1);
        assert!(line.contains("--host: expected a DNS name"), "{line}");
    }
    let line = run("seal", &["ingress", "--host", "argocd.example.com"], None).fails_with(1);
    assert!(line.contains("--cluster-issuer or --issuer"), "{line}");
}

#[test]
fn webhook_secret_opens_to_what_the_github_body_carries() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch();
    let d = dir.path();
    let recipients = example_recipients();
    let run_ = run_in(
        d,
        "seal",
        &[
            "webhook",
            "--provider",
            "github",
            "--argocd-url",
            "https://argocd.example.com",
            "-R",
            &recipients,
            "--hook-body",
            "hook.json",
            "-w",
            "webhook.yaml",
        ],
        None,
    );
    assert!(
        run_.stderr
            .contains("payload URL:  https://argocd.example.com/api/webhook"),
        "{}",
        run_.stderr
    );
    run_.ok();
    let mode = std::fs::metadata(d.join("hook.json"))
        .expect("body")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let body: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("hook.json")).expect("body"))
            .expect("json");
    assert_eq!(body["config"]["content_type"], "json");
    assert_eq!(body["events"], json!(["push"]));
    let shared = body["config"]["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    assert_eq!(shared.len(), 64);
    assert!(shared.bytes().all(|b| b.is_ascii_hexdigit()));
    let sealed = std::fs::read_to_string(d.join("webhook.yaml")).expect("sealed");
    assert!(!sealed.contains(&shared));
    let doc = &documents(&sealed)[0];
    assert_eq!(doc["metadata"]["name"], "argocd-secret");
    assert_eq!(doc["metadata"]["namespace"], "argocd");
    assert_eq!(doc["spec"]["mode"], "Merge");
    let identity = example_identity();
    let opened = run_in(
        d,
        "unseal",
        &["recover", "-i", &identity, "webhook.yaml"],
        None,
    )
    .ok();
    let data = secret_data(&documents(&opened)[0]);
    assert_eq!(
        data["webhook.github.secret"],
        shared.as_bytes(),
        "no trailing newline, same secret"
    );
}

#[test]
fn webhook_from_stdin_and_per_provider_keys() {
    let recipients = example_recipients();
    let identity = example_identity();
    for (provider, key) in [
        ("gitlab", "webhook.gitlab.secret"),
        ("bitbucket", "webhook.bitbucket.uuid"),
        ("bitbucketserver", "webhook.bitbucketserver.secret"),
        ("gogs", "webhook.gogs.secret"),
        ("azuredevops", "webhook.azuredevops.password"),
    ] {
        let out = run(
            "seal",
            &[
                "webhook",
                "--provider",
                provider,
                "--argocd-url",
                "https://argocd.example.com/",
                "--secret-stdin",
                "-R",
                &recipients,
            ],
            Some(b"chosen-secret\n"),
        );
        // The one-time opt-in of argocd-secret, without which the controller merges nothing.
        let wanted = if provider == "azuredevops" {
            "webhook.azuredevops.username,webhook.azuredevops.password".to_owned()
        } else {
            key.to_owned()
        };
        let annotate = format!(
            "kubectl annotate secret -n argocd argocd-secret seal.dev/merge-keys={wanted}\n"
        );
        assert!(out.stderr.contains(&annotate), "{provider}: {}", out.stderr);
        let sealed = out.ok();
        let opened = run(
            "unseal",
            &["recover", "-i", &identity],
            Some(sealed.as_bytes()),
        )
        .ok();
        let data = secret_data(&documents(&opened)[0]);
        assert_eq!(data[key], b"chosen-secret", "{provider}");
        if provider == "azuredevops" {
            assert_eq!(data["webhook.azuredevops.username"], b"argocd");
        }
    }
}

#[test]
fn webhook_bad_input() {
    let recipients = example_recipients();
    let cases: [(&[&str], &str); 4] = [
        (
            &[
                "--provider",
                "github",
                "--argocd-url",
                "http://argocd.example.com",
            ],
            "--argocd-url: must start with https://",
        ),
        (
            &["--provider", "github", "--argocd-url", "https://not a host"],
            "--argocd-url: expected a DNS name",
        ),
        (
            &[
                "--provider",
                "bitbucket",
                "--argocd-url",
                "https://argocd.example.com",
            ],
            "Bitbucket Cloud has no shared secret",
        ),
        (
            &[
                "--provider",
                "github",
                "--argocd-url",
                "https://argocd.example.com",
                "--hook-body",
                "-",
            ],
            "give -w for the SealedSecret",
        ),
    ];
    for (args, want) in cases {
        let mut all = vec!["webhook", "-R", &recipients];
        all.extend(args);
        let line = run("seal", &all, None).fails_with(1);
        assert!(line.contains(want), "{line}");
    }
    let unknown = run(
        "seal",
        &[
            "webhook",
            "--provider",
            "svn",
            "--argocd-url",
            "https://a.b",
            "-R",
            &recipients,
        ],
        None,
    );
    assert_eq!(unknown.code, Some(2));
}
