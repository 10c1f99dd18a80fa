//! The alerts and the dashboard against the real tools and the real controller:
//! `promtool check rules` and `promtool test rules` (deploy/monitoring/
//! unseal.rules.test.yaml); a running controller (the production supervisor on the
//! API-server double, which stands in for kube-apiserver here only to make one
//! SealedSecret sync and one fail) is scraped, and every `unseal_*` metric the rules and
//! the dashboard's queries name must be among its series; `promtool check metrics` finds
//! nothing wrong with the scrape; every dashboard query parses as PromQL.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use apiserver_double::{ApiServerDouble, ResourceKind};
use seal_e2e::*;
use serde_json::Value;
use tokio::sync::watch;

use crate::tools::{promtool, run_ok};

const RULES: &str = "deploy/chart/files/unseal.rules.yaml";
const RULE_TESTS: &str = "deploy/monitoring/unseal.rules.test.yaml";
const DASHBOARD: &str = "deploy/monitoring/grafana-dashboard.json";

#[test]
fn promtool_checks_the_rules_and_their_unit_tests_pass() {
    let Some(promtool) = promtool() else { return };
    let out = run_ok(&promtool, &["check", "rules", RULES]);
    assert!(out.contains("SUCCESS"), "{out}");
    let out = run_ok(&promtool, &["test", "rules", RULE_TESTS]);
    assert!(out.contains("SUCCESS"), "{out}");
}

/// Every alert of the rules file has a unit test that expects it to fire.
#[test]
fn every_alert_has_a_unit_test_that_fires_it() {
    let rules = documents(&std::fs::read_to_string(repo_file(RULES)).expect("rules")).remove(0);
    let tests =
        documents(&std::fs::read_to_string(repo_file(RULE_TESTS)).expect("rule tests")).remove(0);
    let fired: BTreeSet<String> = tests["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .flat_map(|t| t["alert_rule_test"].as_array().cloned().unwrap_or_default())
        .filter(|a| a["exp_alerts"].as_array().is_some_and(|e| !e.is_empty()))
        .filter_map(|a| a["alertname"].as_str().map(str::to_owned))
        .collect();
    for rule in rules["groups"][0]["rules"].as_array().expect("rules") {
        let name = rule["alert"].as_str().expect("an alert");
        assert!(fired.contains(name), "no unit test fires {name}");
    }
}

/// The `unseal_*` metric names in a PromQL expression.
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("unseal_") {
        let preceded_by_ident = rest[..at]
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(tail.len());
        if !preceded_by_ident {
            names.push(tail[..end].to_owned());
        }
        rest = &tail[end..];
    }
    names
}

/// The expressions of the alert rules.
fn rule_exprs() -> Vec<String> {
    let rules = documents(&std::fs::read_to_string(repo_file(RULES)).expect("rules")).remove(0);
    rules["groups"][0]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|r| r["expr"].as_str().expect("expr").to_owned())
        .collect()
}

/// The queries of the dashboard's panels.
fn dashboard_exprs() -> Vec<String> {
    let dashboard: Value =
        serde_json::from_str(&std::fs::read_to_string(repo_file(DASHBOARD)).expect("dashboard"))
            .expect("the dashboard is JSON");
    let exprs: Vec<String> = dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .map(|t| t["expr"].as_str().expect("a target's expr").to_owned())
        .collect();
    assert!(exprs.len() >= 10, "{exprs:?}");
    exprs
}

#[test]
fn every_dashboard_query_is_valid_promql() {
    let Some(promtool) = promtool() else { return };
    // Each query as a recording rule: promtool parses it as Prometheus would.
    let mut rules = String::from("groups:\n- name: dashboard\n  rules:\n");
    for (i, expr) in dashboard_exprs().iter().enumerate() {
        rules.push_str(&format!(
            "  - record: dashboard:query_{i}\n    expr: {}\n",
            serde_json::to_string(expr).expect("json")
        ));
    }
    let dir = scratch();
    let file = write(dir.path(), "dashboard.rules.yaml", &rules);
    let out = run_ok(&promtool, &["check", "rules", &file]);
    assert!(out.contains("SUCCESS"), "{out}");
}

/// Polls every 20 ms for up to a minute.
async fn wait(what: &str, check: impl Fn() -> bool) {
    for _ in 0..3000 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Seals a Secret `apps/NAME` to the recipients in `recipients` (a file) with the built
/// `seal`.
async fn sealed(recipients: String, name: &'static str) -> Value {
    tokio::task::spawn_blocking(move || {
        let dir = scratch();
        let secret = write(
            dir.path(),
            "secret.yaml",
            &format!(
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: apps\nstringData:\n  password: scraped\n"
            ),
        );
        documents(&run("seal", &["-R", &recipients, &secret], None).ok()).remove(0)
    })
    .await
    .expect("joined")
}

/// A controller that has synced one SealedSecret and failed one (NoMatchingKey: sealed
/// to the example key, which it does not hold), scraped.
async fn scrape() -> String {
    let double = Arc::new(ApiServerDouble::start().await.expect("double"));
    let client = kube::Client::try_from(kube::Config::new(double.url().parse().expect("url")))
        .expect("client");
    let mut settings = unseal::context::Settings::new("seal-system", "scraped");
    settings.lease_renew_every = Duration::from_millis(100);
    settings.key_check_every = Duration::from_millis(200);
    let mut backup = seal_core::Recipients::new();
    backup
        .add_file(
            "recipients.txt",
            &std::fs::read_to_string(example_recipients()).expect("recipients"),
        )
        .expect("recipients");
    settings.backup_to = Some(backup);
    let ctx = unseal::context::Context::new(client, settings);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(unseal::supervisor::run(ctx.clone(), listener, stopped));
    let c = ctx.clone();
    wait("leader with a key", move || {
        c.is_ready() && c.is_leader() && c.keys.current().active().is_some()
    })
    .await;
    let dir = scratch();
    let own = ctx
        .keys
        .current()
        .active()
        .expect("key")
        .recipient
        .to_string();
    let own = write(dir.path(), "own.txt", &format!("{own}\n"));
    let kind = ResourceKind::new("seal.dev", "v1alpha1", "sealedsecrets");
    for doc in [
        sealed(own, "synced").await,
        sealed(example_recipients(), "foreign").await,
    ] {
        double
            .with_store(|s| s.create(&kind, "apps", doc))
            .expect("created");
    }
    let (d, c) = (double.clone(), ctx.clone());
    // The counters move after the writes they count: wait for them, not only the writes.
    wait("one synced, one NoMatchingKey, a backup", move || {
        let text = c.metrics.render_text();
        d.get(&ResourceKind::secrets(), "apps", "synced").is_some()
            && c.not_synced.count("NoMatchingKey") == 1
            && c.metrics.backup_success.get() > 0
            && text.contains("unseal_secret_writes_total{action=\"create\"} 1")
            && text.contains("unseal_reconciles_total{result=\"synced\"}")
            && text.contains("unseal_reconcile_errors_total{reason=\"NoMatchingKey\"}")
    })
    .await;
    let text = get_metrics(port, None).await;
    // What Prometheus asks for: the same samples as OpenMetrics.
    let open = get_metrics(port, Some("application/openmetrics-text;version=1.0.0")).await;
    assert!(open.ends_with("# EOF\n"), "{open}");
    assert!(!text.contains("# EOF"), "{text}");
    let _ = stop.send(true);
    text
}

/// GET /metrics with an optional Accept header; the body.
async fn get_metrics(port: u16, accept: Option<&'static str>) -> String {
    tokio::task::spawn_blocking(move || {
        use std::io::{Read as _, Write as _};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let accept = accept
            .map(|a| format!("Accept: {a}\r\n"))
            .unwrap_or_default();
        write!(
            s,
            "GET /metrics HTTP/1.0\r\nHost: localhost\r\n{accept}\r\n"
        )
        .expect("request");
        let mut response = String::new();
        s.read_to_string(&mut response).expect("response");
        let (head, body) = response.split_once("\r\n\r\n").expect("a response");
        assert!(head.contains(" 200 "), "{head}");
        body.to_owned()
    })
    .await
    .expect("joined")
}

/// The metric names of the samples in an exposition.
fn series_names(exposition: &str) -> BTreeSet<String> {
    exposition
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rules_and_the_dashboard_name_only_metrics_the_controller_serves() {
    let exposition = scrape().await;
    let served = series_names(&exposition);
    for (source, exprs) in [(RULES, rule_exprs()), (DASHBOARD, dashboard_exprs())] {
        let mut named = 0;
        for expr in &exprs {
            for name in metric_names(expr) {
                named += 1;
                assert!(
                    served.contains(&name),
                    "{source}: {name} (in `{expr}`) is not among the controller's metrics: {served:?}"
                );
            }
        }
        assert!(named >= 8, "{source} names {named} metrics");
    }
    // The new gauges say what they should.
    for line in [
        "unseal_sealedsecrets_not_synced{reason=\"NoMatchingKey\"} 1",
        "unseal_key_renew_period_seconds 2592000",
        "unseal_key_backup_enabled 1",
        "unseal_leader 1",
    ] {
        assert!(
            exposition.contains(line),
            "{line} missing from\n{exposition}"
        );
    }
    let Some(promtool) = promtool() else { return };
    let mut check = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool runs");
    {
        use std::io::Write as _;
        let mut stdin = check.stdin.take().expect("stdin");
        stdin.write_all(exposition.as_bytes()).expect("written");
    }
    let out = check.wait_with_output().expect("promtool finishes");
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics on the scrape:\n{}{}\n--- scraped:\n{exposition}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
