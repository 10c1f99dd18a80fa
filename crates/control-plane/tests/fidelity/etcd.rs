//! The control plane's etcd, reached directly (its JSON gateway on loopback) to compact
//! the history as kube-apiserver itself does every five minutes: the compaction revision
//! recorded under `compact_rev_key` (which kube-apiserver watches, and its watch cache
//! polls every 15 s), then the compaction.

use base64::Engine as _;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The key kube-apiserver's compactor keeps the last compacted revision under.
const COMPACT_REV_KEY: &str = "compact_rev_key";

/// etcd's client URL (`http://127.0.0.1:PORT`), read from the command line of the etcd
/// process that `scripts/control-plane up` started beside this kubeconfig.
pub fn client_url(kubeconfig: &std::path::Path) -> String {
    let dir = kubeconfig.parent().expect("the kubeconfig's folder");
    let pidfile = dir.join("etcd.pid");
    let text = std::fs::read_to_string(&pidfile).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (a control plane from scripts/control-plane?)",
            pidfile.display()
        )
    });
    let pid = text.split_whitespace().next().expect("a pid in etcd.pid");
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
        .unwrap_or_else(|e| panic!("etcd's command line (pid {pid}): {e}"));
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    args.iter()
        .position(|a| a == "--listen-client-urls")
        .and_then(|i| args.get(i + 1))
        .and_then(|urls| urls.split(',').next())
        .unwrap_or_else(|| panic!("no --listen-client-urls in etcd's command line: {args:?}"))
        .to_owned()
}

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// POSTs a JSON body to etcd's gateway and returns the JSON answer.
async fn post(url: &str, path: &str, body: &Value) -> Value {
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(host)
        .await
        .unwrap_or_else(|e| panic!("connecting to etcd at {host}: {e}"));
    let body = body.to_string();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("a request to etcd");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("etcd's answer");
    let text = String::from_utf8_lossy(&raw);
    let (head, payload) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(
        head.starts_with("HTTP/1.1 200"),
        "etcd {path}: {head}\n{payload}"
    );
    let payload = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(payload)
    } else {
        payload.to_owned()
    };
    serde_json::from_str(&payload).unwrap_or_else(|e| panic!("etcd {path}: {e}: {payload}"))
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

/// etcd's current revision.
pub async fn revision(url: &str) -> i64 {
    let answer = post(url, "/v3/kv/range", &json!({ "key": b64(COMPACT_REV_KEY) })).await;
    answer["header"]["revision"]
        .as_str()
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("no revision in etcd's answer: {answer}"))
}

/// Compacts etcd's history up to its current revision, as kube-apiserver's compactor
/// does; returns that revision. Every resourceVersion older than it is gone from etcd.
pub async fn compact(url: &str) -> i64 {
    let rev = revision(url).await;
    post(
        url,
        "/v3/kv/put",
        &json!({ "key": b64(COMPACT_REV_KEY), "value": b64(&rev.to_string()) }),
    )
    .await;
    post(
        url,
        "/v3/kv/compaction",
        &json!({ "revision": rev.to_string(), "physical": true }),
    )
    .await;
    rev
}
