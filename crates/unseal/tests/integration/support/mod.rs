//! Test harness: an API-server double on loopback, a real `kube::Client` talking HTTP to
//! it, and the real controller (supervisor, leader election, key tasks, reconciler, HTTP
//! API) running against it. The double stands in for kube-apiserver, which cannot run on
//! the build machines; everything on the controller's side is the production code.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use apiserver_double::{ApiServerDouble, ResourceKind};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{ListParams, PostParams};
use kube::{Api, Client};
use seal_core::convert::{self, SealOptions};
use seal_core::{KeyRing, PlainSecret, Recipients, SealedSecret, SecretBytes};
use serde_json::Value;
use tokio::sync::watch;
use unseal::context::{Context, Settings};
use unseal::keys::secrets::KEY_SELECTOR;

/// The controller's namespace in tests.
pub const CONTROLLER_NS: &str = "seal-system";

/// A controller running against a double.
pub struct Harness {
    /// The API-server double.
    pub double: Arc<ApiServerDouble>,
    /// A client for the test's own requests.
    pub client: Client,
    /// Controllers started (usually one).
    pub controllers: Vec<Running>,
}

/// One running controller.
pub struct Running {
    /// Its context.
    pub ctx: Arc<Context>,
    /// Its HTTP address.
    pub http: String,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    /// Stops it and waits for it to finish.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
    }

    /// Ends it abruptly, as a crash would: nothing is drained and the Lease is not
    /// released.
    pub async fn kill(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

/// Short periods so that tests run fast.
pub fn fast_settings(identity: &str) -> Settings {
    let mut s = Settings::new(CONTROLLER_NS, identity);
    s.key_check_every = Duration::from_millis(200);
    s.lease_duration = Duration::from_secs(2);
    s.lease_renew_deadline = Duration::from_millis(1500);
    s.lease_renew_every = Duration::from_millis(100);
    s.resync_every = Duration::from_secs(600);
    s
}

/// A client for the double.
pub fn client_for(double: &ApiServerDouble) -> Client {
    let url = double.url().parse().expect("url");
    Client::try_from(kube::Config::new(url)).expect("client")
}

/// A client for the double whose requests carry `User-Agent: agent`, so that the
/// double's log tells them apart.
pub fn client_as(double: &ApiServerDouble, agent: &str) -> Client {
    use axum::http::{HeaderValue, header};
    let mut config = kube::Config::new(double.url().parse().expect("url"));
    config.headers.push((
        header::USER_AGENT,
        HeaderValue::from_str(agent).expect("agent"),
    ));
    Client::try_from(config).expect("client")
}

impl Harness {
    /// A double with one controller running.
    pub async fn start() -> Self {
        Self::start_with(fast_settings("replica-a")).await
    }

    /// A double with one controller running with these settings.
    pub async fn start_with(settings: Settings) -> Self {
        let double = Arc::new(ApiServerDouble::start().await.expect("double starts"));
        let client = client_for(&double);
        let mut h = Self {
            double,
            client,
            controllers: Vec::new(),
        };
        h.add_controller(settings).await;
        h.wait_ready(0).await;
        h
    }

    /// Starts another controller replica against the same double.
    pub async fn add_controller(&mut self, settings: Settings) {
        let client = client_as(&self.double, &settings.identity);
        let ctx = Context::new(client, settings);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let http = format!("http://{}", listener.local_addr().expect("addr"));
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(unseal::supervisor::run(ctx.clone(), listener, stopped));
        self.controllers.push(Running {
            ctx,
            http,
            stop,
            task,
        });
    }

    /// Waits until controller `i` is ready (keys loaded, caches synced when leading).
    pub async fn wait_ready(&self, i: usize) {
        let ctx = self.controllers[i].ctx.clone();
        wait_for("controller ready", || {
            (ctx.is_ready() && ctx.is_leader()).then_some(())
        })
        .await;
    }

    /// The first controller.
    pub fn ctx(&self) -> &Arc<Context> {
        &self.controllers[0].ctx
    }

    /// The active recipient as the first controller sees it.
    pub fn recipients(&self) -> Recipients {
        let set = self.ctx().keys.current();
        let mut r = Recipients::new();
        r.add_arg("test", &set.active().expect("active key").recipient)
            .expect("recipient");
        r
    }

    /// The identities in the key Secrets (read straight from the double).
    pub fn key_ring(&self) -> KeyRing {
        let secrets = self.double.with_store(|s| {
            s.list(
                &ResourceKind::secrets(),
                Some(CONTROLLER_NS),
                &apiserver_double_selector(KEY_SELECTOR),
                &apiserver_double_selector(""),
            )
        });
        let mut ring = KeyRing::new();
        for s in secrets {
            let secret: Secret = serde_json::from_value(s).expect("secret");
            ring.insert(
                unseal::keys::secrets::decode(&secret)
                    .expect("key")
                    .identity,
            );
        }
        ring
    }

    /// Number of key Secrets.
    pub async fn key_count(&self) -> usize {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), CONTROLLER_NS);
        api.list(&ListParams::default().labels(KEY_SELECTOR))
            .await
            .expect("list")
            .items
            .len()
    }

    /// Creates a SealedSecret through the API.
    pub async fn create(&self, sealed: &SealedSecret) -> SealedSecret {
        let ns = sealed.metadata.namespace.clone().expect("namespace");
        Api::<SealedSecret>::namespaced(self.client.clone(), &ns)
            .create(&PostParams::default(), sealed)
            .await
            .expect("created")
    }

    /// A Secret as stored in the double.
    pub fn secret(&self, ns: &str, name: &str) -> Option<Value> {
        self.double.get(&ResourceKind::secrets(), ns, name)
    }

    /// A SealedSecret as stored in the double.
    pub fn sealed(&self, ns: &str, name: &str) -> Option<Value> {
        self.double.get(
            &ResourceKind::new("seal.dev", "v1alpha1", "sealedsecrets"),
            ns,
            name,
        )
    }

    /// The Synced condition's (status, reason) of a SealedSecret, once it has one.
    pub fn condition(&self, ns: &str, name: &str) -> Option<(String, String)> {
        let obj = self.sealed(ns, name)?;
        let c = obj["status"]["conditions"]
            .as_array()?
            .iter()
            .find(|c| c["type"] == "Synced")?
            .clone();
        Some((
            c["status"].as_str()?.to_owned(),
            c["reason"].as_str()?.to_owned(),
        ))
    }

    /// Waits until the SealedSecret's condition has this reason.
    pub async fn wait_reason(&self, ns: &str, name: &str, reason: &str) {
        wait_for(&format!("{ns}/{name} reason {reason}"), || {
            self.condition(ns, name)
                .filter(|(_, r)| r == reason)
                .map(|_| ())
        })
        .await;
    }

    /// Stops every controller.
    pub async fn stop(self) {
        for c in self.controllers {
            c.stop().await;
        }
    }
}

/// A selector as the double parses it.
pub fn apiserver_double_selector(text: &str) -> apiserver_double::LabelSelector {
    apiserver_double::LabelSelector::parse(text).expect("selector")
}

/// Polls `check` every 20 ms until it yields, or panics after 60 s naming `what`. The
/// bound only matters when something is broken; it is generous so that a machine whose
/// cores are busy with other work does not fail a test that is merely slow.
pub async fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A plaintext Secret.
pub fn plain(ns: &str, name: &str, data: &[(&str, &str)]) -> PlainSecret {
    let mut p = PlainSecret {
        name: name.to_owned(),
        namespace: Some(ns.to_owned()),
        ..Default::default()
    };
    for (k, v) in data {
        p.data
            .insert((*k).to_owned(), SecretBytes::copy_from(v.as_bytes()));
    }
    p
}

/// Seals a Secret to `recipients`.
pub fn seal(p: &PlainSecret, recipients: &Recipients, options: &SealOptions) -> SealedSecret {
    convert::seal_secret(p, recipients, options).expect("seals")
}

/// The decoded data of a stored Secret.
pub fn data_of(secret: &Value) -> std::collections::BTreeMap<String, String> {
    use base64::Engine as _;
    secret["data"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(v.as_str().expect("string"))
                        .expect("base64");
                    (k.clone(), String::from_utf8(bytes).expect("utf-8"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A plain HTTP/1.1 request over a fresh connection; returns status and body.
pub async fn http(base: &str, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let (status, _, body) = http_with_headers(base, method, path, body).await;
    (status, body)
}

/// A plain HTTP/1.1 request; returns status, the response head (lower-cased header lines)
/// and body.
pub async fn http_with_headers(
    base: &str,
    method: &str,
    path: &str,
    body: &[u8],
) -> (u16, String, String) {
    request(base, None, method, path, body).await
}

/// A request as it arrives through a proxy on behalf of `client` (its
/// `X-Forwarded-For`), so tests can be several clients from one address.
pub async fn http_as(
    base: &str,
    client: &str,
    method: &str,
    path: &str,
    body: &[u8],
) -> (u16, String, String) {
    request(base, Some(client), method, path, body).await
}

async fn request(
    base: &str,
    forwarded_for: Option<&str>,
    method: &str,
    path: &str,
    body: &[u8],
) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    let forwarded = forwarded_for
        .map(|c| format!("X-Forwarded-For: {c}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nContent-Type: application/yaml\r\n{forwarded}Connection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("write head");
    stream.write_all(body).await.expect("write body");
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (status, head.to_ascii_lowercase(), dechunk(body))
}

/// Undoes chunked transfer encoding when present (best effort, for test bodies).
fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    loop {
        let Some((size, tail)) = rest.split_once("\r\n") else {
            return body.to_owned();
        };
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            return body.to_owned();
        };
        if n == 0 {
            return out;
        }
        if tail.len() < n {
            return body.to_owned();
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
}
