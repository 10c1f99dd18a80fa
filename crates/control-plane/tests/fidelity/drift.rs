//! The API-server double held to the real API server: the same requests go to both, and
//! the shapes of the answers (status codes, kinds and reasons, what a metadata-only
//! answer leaves out, pagination fields, watch events, defaults and the merged
//! `stringData`) must be the same. A difference names the step and both shapes, so drift
//! shows as soon as either side changes.

use std::sync::Arc;

use apiserver_double::ApiServerDouble;
use serde_json::{Value, json};

const METADATA: &str = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";
const METADATA_LIST: &str = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
const MERGE_PATCH: &str = "application/merge-patch+json";

/// One answer: status and body (JSON, or the lines of a watch).
struct Answer {
    status: u16,
    body: Value,
    lines: Vec<Value>,
}

/// Sends one request; a watch's body (ended by its `timeoutSeconds`) is read whole.
async fn send(
    client: &kube::Client,
    method: &str,
    path: &str,
    accept: Option<&str>,
    body: Option<(&str, Value)>,
) -> Answer {
    let mut request = http::Request::builder().method(method).uri(path);
    if let Some(accept) = accept {
        request = request.header(http::header::ACCEPT, accept);
    }
    let payload = match body {
        Some((content_type, body)) => {
            request = request.header(http::header::CONTENT_TYPE, content_type);
            body.to_string().into_bytes()
        }
        None => Vec::new(),
    };
    let request = request
        .body(kube::client::Body::from(payload))
        .expect("a request");
    let answer = client
        .send(request)
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let status = answer.status().as_u16();
    let bytes = axum::body::to_bytes(axum::body::Body::new(answer.into_body()), usize::MAX)
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: the body: {e}"));
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        body,
        lines,
    }
}

fn post(path: &str, body: Value) -> (&'static str, String, Option<(&'static str, Value)>) {
    ("POST", path.to_owned(), Some(("application/json", body)))
}

/// What is compared of an answer that is one object or a `Status`.
fn object_shape(a: &Answer) -> Value {
    let b = &a.body;
    let mut shape = json!({
        "status": a.status,
        "kind": b["kind"],
        "apiVersion": b["apiVersion"],
    });
    if b["kind"] == "Status" {
        shape["reason"] = b["reason"].clone();
    }
    for field in ["data", "stringData", "type", "spec"] {
        if let Some(v) = b.get(field) {
            shape[field] = v.clone();
        }
    }
    shape
}

/// What is compared of a list: kinds, count, what the items carry, pagination fields.
fn list_shape(a: &Answer) -> Value {
    let b = &a.body;
    let items = b["items"].as_array().cloned().unwrap_or_default();
    let mut kinds: Vec<String> = items
        .iter()
        .map(|i| i["kind"].as_str().unwrap_or("(none)").to_owned())
        .collect();
    kinds.dedup();
    json!({
        "status": a.status,
        "kind": b["kind"],
        "apiVersion": b["apiVersion"],
        "items": items.len(),
        "itemKinds": kinds,
        "itemsCarryData": items.iter().any(|i| i.get("data").is_some()),
        "itemsCarrySpec": items.iter().any(|i| i.get("spec").is_some()),
        "continue": b["metadata"]["continue"].as_str().is_some_and(|c| !c.is_empty()),
        "remainingItemCount": b["metadata"]["remainingItemCount"],
    })
}

/// What is compared of a watch: each event's type, kind, name and `app` label, and
/// whether its resourceVersion is `rv`.
fn watch_shape(a: &Answer, rv: &str) -> Value {
    let events: Vec<Value> = a
        .lines
        .iter()
        .filter(|e| e["type"] != "BOOKMARK")
        .map(|e| {
            let o = &e["object"];
            json!({
                "type": e["type"],
                "kind": o["kind"],
                "name": o["metadata"]["name"],
                "app": o["metadata"]["labels"]["app"],
                "atRv": o["metadata"]["resourceVersion"] == rv,
                "carriesData": o.get("data").is_some(),
            })
        })
        .collect();
    json!({ "status": a.status, "events": events })
}

/// A consistent list (no resourceVersion): the API server serves it from its watch
/// cache once that cache has caught up with etcd, so a watch sent after it finds every
/// earlier write in the cache's history instead of waiting for it.
async fn settle(client: &kube::Client, path: &str) {
    let a = send(client, "GET", path, None, None).await;
    assert_eq!(a.status, 200, "GET {path}: {}", a.body);
}

fn rv_of(a: &Answer) -> String {
    a.body["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The scenario, run against one server: each step's name and the shape of its answer.
async fn scenario(client: &kube::Client, ns: &str) -> Vec<(String, Value)> {
    let secrets = format!("/api/v1/namespaces/{ns}/secrets");
    let sealed = format!("/apis/seal.dev/v1alpha1/namespaces/{ns}/sealedsecrets");
    let mut shapes = Vec::new();
    let mut note = |step: &str, shape: Value| shapes.push((step.to_owned(), shape));

    // Writes: stringData merged into data (and winning), the type defaulted; bad keys.
    let (m, p, b) = post(
        &secrets,
        json!({"metadata": {"name": "plain", "labels": {"app": "drift"}},
               "data": {"a": "eA==", "b": "eA=="}, "stringData": {"a": "1"}}),
    );
    let plain = send(client, m, &p, None, b).await;
    note("create with stringData", object_shape(&plain));
    let plain_rv = rv_of(&plain);
    for (step, body) in [
        (
            "a key with a space",
            json!({"metadata": {"name": "bad"}, "data": {"a b": "eA=="}}),
        ),
        (
            "a stringData key starting ..",
            json!({"metadata": {"name": "bad"}, "stringData": {"..x": "v"}}),
        ),
        (
            "a key of 254 characters",
            json!({"metadata": {"name": "bad"}, "data": {"k".repeat(254): "eA=="}}),
        ),
    ] {
        let (m, p, b) = post(&secrets, body);
        let a = send(client, m, &p, None, b).await;
        let mut shape = object_shape(&a);
        shape["namesTheKey"] = json!(
            a.body["message"]
                .as_str()
                .is_some_and(|m| m.contains("data["))
        );
        note(step, shape);
    }
    let mut p1_rv = String::new();
    for name in ["p1", "p2"] {
        let (m, p, b) = post(
            &secrets,
            json!({"metadata": {"name": name, "labels": {"app": "drift"}}, "data": {"k": "eA=="}}),
        );
        let a = send(client, m, &p, None, b).await;
        if name == "p1" {
            p1_rv = rv_of(&a);
        }
        note(&format!("create {name}"), json!({"status": a.status}));
    }
    let (m, p, b) = post(&secrets, json!({"metadata": {"name": "plain"}}));
    note(
        "create a taken name",
        object_shape(&send(client, m, &p, None, b).await),
    );
    let stale = json!({"metadata": {"name": "plain", "resourceVersion": "1"}, "data": {}});
    let a = send(
        client,
        "PUT",
        &format!("{secrets}/plain"),
        None,
        Some(("application/json", stale)),
    )
    .await;
    note("replace with a stale resourceVersion", object_shape(&a));
    let a = send(client, "GET", &format!("{secrets}/nope"), None, None).await;
    note("get a missing object", object_shape(&a));

    // Metadata only.
    let a = send(client, "GET", &secrets, Some(METADATA_LIST), None).await;
    note("metadata-only list", list_shape(&a));
    let a = send(
        client,
        "GET",
        &format!("{secrets}/plain"),
        Some(METADATA),
        None,
    )
    .await;
    note("metadata-only get", object_shape(&a));

    // Pages.
    let first = send(client, "GET", &format!("{secrets}?limit=2"), None, None).await;
    note("first page of 2", list_shape(&first));
    let token = first.body["metadata"]["continue"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let second = send(
        client,
        "GET",
        &format!("{secrets}?limit=2&continue={token}"),
        None,
        None,
    )
    .await;
    let mut shape = list_shape(&second);
    shape["atTheFirstPagesRv"] = json!(rv_of(&second) == rv_of(&first));
    note("second page", shape);
    let a = send(
        client,
        "GET",
        &format!("{secrets}?limit=2&labelSelector=app%3Ddrift"),
        None,
        None,
    )
    .await;
    note("first page of a selected list", list_shape(&a));
    let a = send(
        client,
        "GET",
        &format!("{secrets}?limit=2&continue=bm9uc2Vuc2U"),
        None,
        None,
    )
    .await;
    note("a bad continue token", object_shape(&a));

    // Updates: stringData merged on a patch too; an object that stops matching a
    // watch's selector is DELETED in its matching state, at the change's version.
    let patch = json!({"metadata": {"labels": {"app": "other"}}, "stringData": {"b": "2"}});
    let moved = send(
        client,
        "PATCH",
        &format!("{secrets}/plain"),
        None,
        Some((MERGE_PATCH, patch)),
    )
    .await;
    note("merge patch with stringData", object_shape(&moved));
    let moved_rv = rv_of(&moved);
    settle(client, &secrets).await;
    let watch = format!("{secrets}?watch=true&resourceVersion={plain_rv}&timeoutSeconds=1");
    let a = send(
        client,
        "GET",
        &format!("{watch}&labelSelector=app%3Ddrift"),
        None,
        None,
    )
    .await;
    note(
        "selected watch across an un-match",
        watch_shape(&a, &moved_rv),
    );
    let a = send(client, "GET", &watch, Some(METADATA), None).await;
    note("metadata-only watch", watch_shape(&a, &moved_rv));

    // Deletion: the answer, and the event's version (the deletion's, not the object's).
    let a = send(client, "DELETE", &format!("{secrets}/p1"), None, None).await;
    note(
        "delete a Secret",
        json!({"status": a.status, "kind": a.body["kind"]}),
    );
    settle(client, &secrets).await;
    let watch = format!(
        "{secrets}?watch=true&resourceVersion={p1_rv}&timeoutSeconds=1&fieldSelector=metadata.name%3Dp1"
    );
    let a = send(client, "GET", &watch, None, None).await;
    note("watch of a deletion", watch_shape(&a, &p1_rv));

    // SealedSecrets: the CRD's enums and defaults.
    for (step, spec) in [
        ("spec.mode not in the enum", json!({"mode": "Bogus"})),
        ("spec.scope not in the enum", json!({"scope": "galaxy"})),
        ("a valid SealedSecret", json!({"mode": "Merge"})),
    ] {
        let (m, p, b) = post(
            &sealed,
            json!({"apiVersion": "seal.dev/v1alpha1", "kind": "SealedSecret",
                   "metadata": {"name": "s"}, "spec": spec}),
        );
        let a = send(client, m, &p, None, b).await;
        let mut shape = object_shape(&a);
        shape["message"] = a.body["message"].clone();
        shape["generation"] = a.body["metadata"]["generation"].clone();
        note(step, shape);
    }
    let a = send(client, "GET", &sealed, Some(METADATA_LIST), None).await;
    note("metadata-only list of SealedSecrets", list_shape(&a));
    let a = send(client, "DELETE", &format!("{sealed}/s"), None, None).await;
    note(
        "delete a SealedSecret",
        json!({"status": a.status, "kind": a.body["kind"]}),
    );
    shapes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_double_answers_in_the_real_api_servers_shapes() {
    let Some(cluster) = control_plane::get() else {
        return;
    };
    let _turn = crate::support::turn().await;
    let admin = cluster.client().await;
    control_plane::install_deploy(&admin)
        .await
        .expect("deploy/ applies");
    let ns = cluster.namespace(&admin, "drift").await;
    let double = Arc::new(ApiServerDouble::start().await.expect("the double starts"));
    let url = double.url().parse().expect("the double's URL");
    let to_double = kube::Client::try_from(kube::Config::new(url)).expect("a client");

    let real = scenario(&admin, &ns).await;
    let imitated = scenario(&to_double, &ns).await;
    assert_eq!(real.len(), imitated.len());
    let differences: Vec<String> = real
        .iter()
        .zip(&imitated)
        .filter(|(r, d)| r.1 != d.1)
        .map(|(r, d)| format!("{}:\n  real:   {}\n  double: {}", r.0, r.1, d.1))
        .collect();
    assert!(
        differences.is_empty(),
        "the double differs from the real API server in {} of {} steps:\n{}",
        differences.len(),
        real.len(),
        differences.join("\n")
    );
}
