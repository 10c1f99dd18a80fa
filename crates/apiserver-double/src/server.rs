//! The HTTP side: routes every request to the store, streams watches, injects faults.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc, watch};

use crate::audit::Request;
use crate::faults::{Fault, Stall};
use crate::page;
use crate::path::{self, ResourceKind, Target};
use crate::selector::Selector;
use crate::store::{ApiError, Change, ChangeType, ObjectKey, Store};

/// How often an idle watch sends a bookmark.
const BOOKMARK_EVERY: Duration = Duration::from_secs(1);

struct Shared {
    store: Mutex<Store>,
    faults: Mutex<Vec<Fault>>,
    requests: Mutex<Vec<Request>>,
    stalls: Mutex<Vec<Stall>>,
    /// Bumped by `release_stalled`: held requests wake up and fail.
    released: watch::Sender<u64>,
    drop_watches: watch::Sender<u64>,
    /// Watches from a resource version below this get 410 Gone.
    oldest_rv: Mutex<u64>,
    /// Service proxy backends: (namespace, "name:port") → base URL.
    services: Mutex<BTreeMap<(String, String), String>>,
}

impl Shared {
    fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running API-server double on a loopback port; stops when dropped.
pub struct ApiServerDouble {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ApiServerDouble {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ApiServerDouble {
    /// Starts a double on 127.0.0.1 with an ephemeral port.
    pub async fn start() -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            store: Mutex::new(Store::default()),
            faults: Mutex::new(Vec::new()),
            requests: Mutex::new(Vec::new()),
            stalls: Mutex::new(Vec::new()),
            released: watch::channel(0).0,
            drop_watches: watch::channel(0).0,
            oldest_rv: Mutex::new(0),
            services: Mutex::new(BTreeMap::new()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, shared, task })
    }

    /// The base URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kubeconfig file's text that points at this double.
    pub fn kubeconfig(&self, namespace: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: double\n  cluster:\n    server: {}\ncontexts:\n- name: double\n  context:\n    cluster: double\n    user: tester\n    namespace: {namespace}\ncurrent-context: double\nusers:\n- name: tester\n  user:\n    token: not-checked\n",
            self.url()
        )
    }

    /// Runs `f` with the store locked: read or change objects as another actor would.
    pub fn with_store<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        f(&mut self.shared.store())
    }

    /// One object, if it exists.
    pub fn get(&self, kind: &ResourceKind, namespace: &str, name: &str) -> Option<Value> {
        let key = ObjectKey {
            kind: kind.clone(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        };
        self.with_store(|s| s.get(&key).ok())
    }

    /// Injects a fault.
    pub fn inject(&self, fault: Fault) {
        self.shared
            .faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(fault);
    }

    /// Holds the requests that match `stall` unanswered until [`Self::release_stalled`].
    pub fn stall(&self, stall: Stall) {
        self.shared
            .stalls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(stall);
    }

    /// Ends every stall: the requests held fail with 503 (they never reach the store),
    /// and later ones are served.
    pub fn release_stalled(&self) {
        self.shared
            .stalls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.shared.released.send_modify(|g| *g += 1);
    }

    /// Ends every open watch stream (as when the API server restarts or a load balancer
    /// drops connections); clients must re-watch.
    pub fn drop_watches(&self) {
        self.shared.drop_watches.send_modify(|g| *g += 1);
    }

    /// Forgets the change history: watches from any older resource version now get
    /// 410 Gone, and clients must list again. Open watches are dropped too.
    pub fn expire_history(&self) {
        let rv = self.with_store(|s| s.resource_version());
        *self
            .shared
            .oldest_rv
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = rv;
        self.drop_watches();
    }

    /// Serves `…/namespaces/NS/services/NAME:PORT/proxy/…` by forwarding to `base`
    /// (`http://127.0.0.1:PORT`), as the API server's service proxy does.
    pub fn register_service(&self, namespace: &str, name_and_port: &str, base: &str) {
        self.shared
            .services
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                (namespace.to_owned(), name_and_port.to_owned()),
                base.to_owned(),
            );
    }

    /// Successful writes so far, per resource plural.
    pub fn writes(&self) -> BTreeMap<String, usize> {
        self.with_store(|s| s.writes())
    }

    /// Successful writes so far, per resource plural, leaving out the plurals named: a
    /// controller at rest still renews its Lease and may post Events, and a steady state
    /// is judged on everything else.
    pub fn writes_besides(&self, skip: &[&str]) -> BTreeMap<String, usize> {
        let mut writes = self.writes();
        writes.retain(|plural, _| !skip.contains(&plural.as_str()));
        writes
    }

    /// Every request so far: method and path with query.
    pub fn requests(&self) -> Vec<(String, String)> {
        self.log().into_iter().map(|r| (r.method, r.path)).collect()
    }

    /// Every request so far, in the order they arrived, with client, time and answer.
    pub fn log(&self) -> Vec<Request> {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

fn json_response(status: u16, body: &Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn error(e: &ApiError) -> Response {
    json_response(e.code, &e.body())
}

/// Logs the request, holds it while a stall matches, serves it, logs the answer.
async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    query: Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // Subscribed before the stalls are read, so a release in between is not missed.
    let mut released = shared.released.subscribe();
    let client = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let index = {
        let mut log = shared.requests.lock().unwrap_or_else(|p| p.into_inner());
        log.push(Request {
            at: Instant::now(),
            method: method.to_string(),
            path: uri
                .path_and_query()
                .map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned()),
            client: client.clone(),
            status: None,
        });
        log.len() - 1
    };
    let stalled = shared
        .stalls
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .any(|s| s.holds(uri.path(), &client));
    let response = if stalled {
        let _ = released.changed().await;
        error(&ApiError::new(
            503,
            "ServiceUnavailable",
            "stalled request released",
        ))
    } else {
        serve(shared.clone(), method, uri, query, headers, body).await
    };
    if let Some(entry) = shared
        .requests
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get_mut(index)
    {
        entry.status = Some(response.status().as_u16());
    }
    response
}

async fn serve(
    shared: Arc<Shared>,
    method: Method,
    uri: Uri,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let injected = {
        let mut faults = shared.faults.lock().unwrap_or_else(|p| p.into_inner());
        faults
            .iter_mut()
            .find_map(|f| f.take(method.as_str(), &path).then_some(f.status))
    };
    if let Some(status) = injected {
        let reason = match status {
            409 => "Conflict",
            404 => "NotFound",
            429 => "TooManyRequests",
            _ => "InternalError",
        };
        return error(&ApiError::new(status, reason, "injected fault"));
    }
    if let Some((namespace, service, rest)) = proxy_target(&path) {
        let backend = shared
            .services
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(namespace.clone(), service.clone()))
            .cloned();
        let Some(base) = backend else {
            return error(&ApiError::new(
                503,
                "ServiceUnavailable",
                format!("no endpoints available for service \"{service}\""),
            ));
        };
        let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/octet-stream")
            .to_owned();
        return forward(
            &base,
            method.as_str(),
            &format!("/{rest}{query}"),
            &content_type,
            &body,
        )
        .await;
    }
    let Some(target) = path::parse(&path) else {
        return error(&ApiError::new(404, "NotFound", format!("no route {path}")));
    };
    let parse_body = || {
        serde_json::from_slice::<Value>(&body)
            .map_err(|e| ApiError::new(400, "BadRequest", e.to_string()))
    };
    let namespace = target.namespace.clone().unwrap_or_default();
    let key = |name: &str| ObjectKey {
        kind: target.kind.clone(),
        namespace: namespace.clone(),
        name: name.to_owned(),
    };
    let status_only = target.subresource.as_deref() == Some("status");
    let result = match (&method, target.name.as_deref()) {
        (&Method::GET, Some(name)) => shared.store().get(&key(name)),
        (&Method::GET, None) => {
            let labels =
                match Selector::parse(query.get("labelSelector").map_or("", String::as_str)) {
                    Ok(s) => s,
                    Err(e) => return error(&ApiError::new(400, "BadRequest", e)),
                };
            let fields =
                match Selector::parse(query.get("fieldSelector").map_or("", String::as_str)) {
                    Ok(s) => s,
                    Err(e) => return error(&ApiError::new(400, "BadRequest", e)),
                };
            if matches!(query.get("watch").map(String::as_str), Some("true" | "1")) {
                let meta = metadata_only(&headers);
                return watch_stream(shared.clone(), target, labels, fields, &query, meta);
            }
            let oldest = *shared.oldest_rv.lock().unwrap_or_else(|p| p.into_inner());
            let store = shared.store();
            let scan = |after: Option<(&str, &str)>| {
                store.scan(
                    &target.kind,
                    target.namespace.as_deref(),
                    after,
                    &labels,
                    &fields,
                )
            };
            let limit = query.get("limit").and_then(|l| l.parse().ok());
            let selected = !labels.is_empty() || !fields.is_empty();
            let cont = query.get("continue").map(String::as_str);
            page::page(
                scan,
                store.resource_version(),
                oldest,
                limit,
                cont,
                selected,
            )
            .map(|p| {
                let mut metadata = json!({"resourceVersion": p.resource_version.to_string()});
                if let Some(token) = p.continue_token {
                    metadata["continue"] = json!(token);
                }
                if let Some(remaining) = p.remaining {
                    metadata["remainingItemCount"] = json!(remaining);
                }
                // The items of a list carry no apiVersion and kind: the list says them.
                let items: Vec<Value> = p
                    .items
                    .into_iter()
                    .cloned()
                    .map(|mut item| {
                        if let Some(map) = item.as_object_mut() {
                            map.remove("apiVersion");
                            map.remove("kind");
                        }
                        item
                    })
                    .collect();
                json!({
                    "apiVersion": target.kind.api_version(),
                    "kind": format!("{}List", target.kind.kind()),
                    "metadata": metadata,
                    "items": items,
                })
            })
        }
        (&Method::POST, None) if query.contains_key("dryRun") => {
            parse_body().and_then(|b| shared.store().check_create(&target.kind, &namespace, b))
        }
        (&Method::POST, None) => {
            parse_body().and_then(|b| shared.store().create(&target.kind, &namespace, b))
        }
        (&Method::PUT, Some(name)) => {
            parse_body().and_then(|b| shared.store().replace(&key(name), b, status_only))
        }
        (&Method::PATCH, Some(name)) => {
            let content_type = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if content_type.starts_with("application/merge-patch+json")
                || content_type.starts_with("application/strategic-merge-patch+json")
            {
                parse_body().and_then(|b| shared.store().patch(&key(name), &b, status_only))
            } else {
                Err(ApiError::new(
                    415,
                    "UnsupportedMediaType",
                    format!("patch type {content_type} is not implemented by the double"),
                ))
            }
        }
        (&Method::DELETE, Some(name)) => shared.store().delete(&key(name)).map(|gone| {
            // What the API server answers for an object deleted at once (no finalizers).
            json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "details": {
                    "name": name, "kind": target.kind.plural, "uid": gone["metadata"]["uid"],
                },
            })
        }),
        _ => Err(ApiError::new(
            405,
            "MethodNotAllowed",
            format!("{method} {path}"),
        )),
    };
    match result {
        Ok(value) => {
            let value = if metadata_only(&headers) {
                as_metadata(value)
            } else {
                value
            };
            json_response(if method == Method::POST { 201 } else { 200 }, &value)
        }
        Err(e) => error(&e),
    }
}

/// Whether the client asked for metadata only (`Accept: application/json;
/// as=PartialObjectMetadata;g=meta.k8s.io;v=v1`, or `…List` for a list), as kube's
/// `Api<PartialObjectMeta<K>>` and client-go's metadata informers do.
fn metadata_only(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("as=PartialObjectMetadata"))
}

/// An answer as metadata only: an object becomes a `PartialObjectMetadata` (its
/// `metadata` alone), a list a `PartialObjectMetadataList` of them; a `Status` stays.
fn as_metadata(value: Value) -> Value {
    let partial = |object: &Value| {
        json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({})),
        })
    };
    match value["kind"].as_str() {
        Some("Status") => value,
        Some(kind) if kind.ends_with("List") && value["items"].is_array() => json!({
            "kind": "PartialObjectMetadataList",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": value["metadata"].clone(),
            "items": value["items"].as_array().map(|items| items.iter().map(partial).collect::<Vec<_>>()),
        }),
        _ => partial(&value),
    }
}

/// `/api/v1/namespaces/NS/services/NAME:PORT/proxy/REST` → (NS, NAME:PORT, REST).
fn proxy_target(path: &str) -> Option<(String, String, String)> {
    let rest = path.strip_prefix("/api/v1/namespaces/")?;
    let (namespace, rest) = rest.split_once("/services/")?;
    let (service, rest) = rest.split_once("/proxy")?;
    Some((
        namespace.to_owned(),
        service.to_owned(),
        rest.trim_start_matches('/').to_owned(),
    ))
}

/// Forwards one request over plain HTTP/1.1 and relays status, content type and body.
async fn forward(
    base: &str,
    method: &str,
    path_and_query: &str,
    content_type: &str,
    body: &[u8],
) -> Response {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = base.trim_start_matches("http://").trim_end_matches('/');
    let Ok(mut stream) = tokio::net::TcpStream::connect(host).await else {
        return error(&ApiError::new(
            503,
            "ServiceUnavailable",
            "error trying to reach service: connection refused",
        ));
    };
    let head = format!(
        "{method} {path_and_query} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nX-Forwarded-For: 127.0.0.1\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut raw = Vec::new();
    let sent = async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body).await?;
        stream.read_to_end(&mut raw).await
    }
    .await;
    if sent.is_err() {
        return error(&ApiError::new(
            503,
            "ServiceUnavailable",
            "error trying to reach service",
        ));
    }
    let text = String::from_utf8_lossy(&raw);
    let Some((head, payload)) = text.split_once("\r\n\r\n") else {
        return error(&ApiError::new(
            502,
            "BadGateway",
            "malformed response from service",
        ));
    };
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .unwrap_or(502);
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let upstream_type = head
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "text/plain".to_owned());
    let payload = if chunked {
        dechunk(payload)
    } else {
        payload.to_owned()
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut response = (status, [(header::CONTENT_TYPE, upstream_type)], payload).into_response();
    // Like the API server's proxy, pass the service's own headers on (not the hop-by-hop
    // ones, which belong to each connection).
    for line in head.lines().skip(1) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim().to_ascii_lowercase();
        let hop_by_hop = matches!(
            name.as_str(),
            "connection"
                | "transfer-encoding"
                | "content-length"
                | "keep-alive"
                | "content-type"
                | "date"
        );
        if hop_by_hop {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            header::HeaderValue::from_str(value.trim()),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response
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

/// Decides what a watcher with these selectors sees of a change: the change itself, an
/// ADDED/DELETED when the object starts or stops matching, or nothing.
fn visible(
    change: &Change,
    target: &Target,
    labels: &Selector,
    fields: &Selector,
) -> Option<(&'static str, Value)> {
    if change.key.kind != target.kind
        || target
            .namespace
            .as_ref()
            .is_some_and(|ns| ns != &change.key.namespace)
    {
        return None;
    }
    let matches = |v: &Value| labels.matches_labels(v) && fields.matches_fields(v);
    let now = matches(&change.object);
    let before = change.previous.as_ref().is_some_and(matches);
    match change.change {
        ChangeType::Added if now => Some(("ADDED", change.object.clone())),
        ChangeType::Deleted if now => Some(("DELETED", change.object.clone())),
        ChangeType::Modified => match (before, now) {
            (true, true) => Some(("MODIFIED", change.object.clone())),
            (false, true) => Some(("ADDED", change.object.clone())),
            // As the API server's watch cache does: the object as it was when it still
            // matched, at the resource version of the change that made it stop.
            (true, false) => {
                let mut gone = change
                    .previous
                    .clone()
                    .unwrap_or_else(|| change.object.clone());
                gone["metadata"]["resourceVersion"] = json!(change.rv.to_string());
                Some(("DELETED", gone))
            }
            (false, false) => None,
        },
        _ => None,
    }
}

/// One watch event, as a line of JSON; its object as metadata only when `meta`.
fn line(kind: &str, object: &Value, meta: bool) -> Bytes {
    let object = if meta {
        as_metadata(object.clone())
    } else {
        object.clone()
    };
    let mut text = json!({"type": kind, "object": object}).to_string();
    text.push('\n');
    Bytes::from(text)
}

fn watch_stream(
    shared: Arc<Shared>,
    target: Target,
    labels: Selector,
    fields: Selector,
    query: &HashMap<String, String>,
    meta: bool,
) -> Response {
    let since: Option<u64> = query
        .get("resourceVersion")
        .and_then(|v| v.parse().ok())
        .filter(|v| *v > 0);
    let timeout = query
        .get("timeoutSeconds")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(300);
    let bookmarks = query
        .get("allowWatchBookmarks")
        .is_some_and(|v| v == "true");
    let (tx, rx) = mpsc::channel::<Bytes>(4096);
    let mut dropped = shared.drop_watches.subscribe();
    tokio::spawn(async move {
        let oldest = *shared.oldest_rv.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(rv) = since.filter(|rv| *rv < oldest) {
            let gone = ApiError::new(
                410,
                "Expired",
                format!("too old resource version: {rv} ({oldest})"),
            );
            let _ = tx.send(line("ERROR", &gone.body(), meta)).await;
            return;
        }
        let (mut changes, backlog, mut last) = {
            let store = shared.store();
            let sub = store.subscribe();
            match since {
                Some(since) => {
                    let backlog: Vec<_> = store
                        .changes_since(since)
                        .into_iter()
                        .filter_map(|c| {
                            visible(&c, &target, &labels, &fields).map(|(k, o)| (c.rv, k, o))
                        })
                        .collect();
                    (sub, backlog, since)
                }
                None => {
                    let rv = store.resource_version();
                    let items =
                        store.list(&target.kind, target.namespace.as_deref(), &labels, &fields);
                    (
                        sub,
                        items.into_iter().map(|o| (rv, "ADDED", o)).collect(),
                        rv,
                    )
                }
            }
        };
        for (rv, kind, object) in backlog {
            if tx.send(line(kind, &object, meta)).await.is_err() {
                return;
            }
            last = last.max(rv);
        }
        let deadline = tokio::time::sleep(Duration::from_secs(timeout));
        tokio::pin!(deadline);
        let mut tick = tokio::time::interval(BOOKMARK_EVERY);
        loop {
            tokio::select! {
                received = changes.recv() => match received {
                    Ok(change) if change.rv > last => {
                        last = change.rv;
                        if let Some((kind, object)) = visible(&change, &target, &labels, &fields)
                            && tx.send(line(kind, &object, meta)).await.is_err()
                        {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let gone = ApiError::new(410, "Expired", "watch fell behind");
                        let _ = tx.send(line("ERROR", &gone.body(), meta)).await;
                        return;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = tick.tick(), if bookmarks => {
                    let mark = json!({
                        "apiVersion": target.kind.api_version(),
                        "kind": target.kind.kind(),
                        "metadata": {"resourceVersion": last.to_string()},
                    });
                    if tx.send(line("BOOKMARK", &mark, meta)).await.is_err() {
                        return;
                    }
                }
                _ = &mut deadline => return,
                _ = dropped.changed() => return,
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|bytes| (Ok::<_, Infallible>(bytes), rx))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
