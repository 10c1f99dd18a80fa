//! Every scope's binding from the built binaries: a value opens where its scope allows and
//! is refused (exit 3, naming the field) when moved further.

use seal_e2e::*;
use serde_json::Value;

const SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: apps\nstringData:\n  password: hunter2-top-secret\n  username: orders\n";

fn seal_with(scope: &str) -> Value {
    let recipients = example_recipients();
    let out = run(
        "seal",
        &["-R", &recipients, "--scope", scope, "-o", "json"],
        Some(SECRET.as_bytes()),
    )
    .ok();
    serde_json::from_str(&out).expect("json")
}

fn recover(doc: &Value) -> Run {
    let identity = example_identity();
    run(
        "unseal",
        &["recover", "-i", &identity],
        Some(doc.to_string().as_bytes()),
    )
}

fn moved(doc: &Value, namespace: &str, name: &str) -> Value {
    let mut doc = doc.clone();
    doc["metadata"]["namespace"] = namespace.into();
    doc["metadata"]["name"] = name.into();
    doc
}

fn refused(run: Run, field: &str) {
    let line = run.fails_with(3);
    assert!(line.contains(&format!("sealed for {field} ")), "{line}");
    assert!(!line.contains("hunter2"), "{line}");
}

#[test]
fn strict_binds_namespace_and_name() {
    let doc = seal_with("strict");
    assert_eq!(doc["spec"]["scope"], "strict");
    recover(&doc).ok();
    refused(recover(&moved(&doc, "other", "db")), "namespace");
    refused(recover(&moved(&doc, "apps", "renamed")), "name");
}

#[test]
fn namespace_scope_allows_renaming_only() {
    let doc = seal_with("namespace");
    let out = recover(&moved(&doc, "apps", "renamed")).ok();
    assert_eq!(documents(&out)[0]["metadata"]["name"], "renamed");
    refused(recover(&moved(&doc, "other", "db")), "namespace");
}

#[test]
fn cluster_scope_travels_but_keys_stay_bound() {
    let doc = seal_with("cluster");
    let out = recover(&moved(&doc, "elsewhere", "anything")).ok();
    assert_eq!(
        secret_data(&documents(&out)[0])["password"],
        b"hunter2-top-secret"
    );
    let mut swapped = doc.clone();
    let data = &mut swapped["spec"]["encryptedData"];
    let (p, u) = (data["password"].clone(), data["username"].clone());
    data["password"] = u;
    data["username"] = p;
    refused(recover(&swapped), "key");
}

#[test]
fn claiming_a_narrower_scope_than_sealed_is_refused() {
    let mut doc = seal_with("cluster");
    doc["spec"]["scope"] = "strict".into();
    refused(recover(&doc), "scope");
}
