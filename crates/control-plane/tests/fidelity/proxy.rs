//! A recording proxy between a client under test and the real API server: the client
//! speaks plain HTTP to it on loopback, and it forwards every request through a kube
//! client of the control plane (TLS, the bearer token, and impersonation of the user that
//! client was made for), streaming each answer back while keeping a copy. A test can
//! then read exactly what reached its client: every request, its `Accept` header, the
//! status answered and the whole body, watch streams included. It can also hold one
//! chosen request until the test releases it.

use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use tokio::sync::oneshot;

/// One request as the proxy saw it, and what it answered.
#[derive(Clone, Debug)]
pub struct Exchange {
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// The client's `Accept` header.
    pub accept: String,
    /// The status answered (`None` while waiting for the API server).
    pub status: Option<u16>,
    /// The body answered so far (the whole of it once the response ended).
    pub body: Arc<Mutex<Vec<u8>>>,
}

impl Exchange {
    /// The body answered so far, as text.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&lock(&self.body)).into_owned()
    }

    /// The path without its query.
    pub fn route(&self) -> &str {
        self.path.split('?').next().unwrap_or_default()
    }

    /// The value of query parameter `name`, percent-decoded enough for selectors.
    pub fn query(&self, name: &str) -> Option<String> {
        let (_, query) = self.path.split_once('?')?;
        query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then(|| percent_decode(v))
        })
    }

    /// A list or watch (a GET of a collection, not of one object).
    pub fn is_collection_read(&self, plural: &str) -> bool {
        self.method == "GET" && self.route().ends_with(&format!("/{plural}"))
    }

    /// A watch request.
    pub fn is_watch(&self) -> bool {
        matches!(self.query("watch").as_deref(), Some("true" | "1"))
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%' && i + 2 < bytes.len())
            .then(|| std::str::from_utf8(&bytes[i + 1..i + 3]).ok())
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (escaped, bytes[i]) {
            (Some(b), _) => {
                out.push(b);
                i += 3;
            }
            (None, b'+') => {
                out.push(b' ');
                i += 1;
            }
            (None, b) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

type Matcher = Box<dyn Fn(&str, &str) -> bool + Send + Sync>;

/// A request to hold: the first one `matches` accepts.
struct Hold {
    matches: Matcher,
    arrived: Option<oneshot::Sender<()>>,
    release: Option<oneshot::Receiver<()>>,
}

struct Shared {
    upstream: kube::Client,
    log: Mutex<Vec<Exchange>>,
    holds: Mutex<Vec<Hold>>,
}

/// A running proxy; stops when dropped.
pub struct Proxy {
    url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A request held by [`Proxy::hold_first`].
pub struct Held {
    arrived: oneshot::Receiver<()>,
    release: oneshot::Sender<()>,
}

impl Held {
    /// Waits until the request has arrived (and is being held).
    pub async fn arrived(&mut self) {
        (&mut self.arrived)
            .await
            .expect("the proxy dropped a held request");
    }

    /// Lets it go on to the API server.
    pub fn release(self) {
        let _ = self.release.send(());
    }
}

impl Proxy {
    /// Starts a proxy on 127.0.0.1 forwarding through `upstream`.
    pub async fn start(upstream: kube::Client) -> Self {
        let shared = Arc::new(Shared {
            upstream,
            log: Mutex::new(Vec::new()),
            holds: Mutex::new(Vec::new()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the proxy binds a loopback port");
        let url = format!(
            "http://{}",
            listener.local_addr().expect("the proxy's address")
        );
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, shared, task }
    }

    /// A kube client that talks to the API server through this proxy.
    pub fn client(&self) -> kube::Client {
        let url = self.url.parse().expect("the proxy's URL");
        kube::Client::try_from(kube::Config::new(url)).expect("a client for the proxy")
    }

    /// Every request so far, in the order they arrived.
    pub fn log(&self) -> Vec<Exchange> {
        lock(&self.shared.log).clone()
    }

    /// Holds the first request for which `matches(method, path_and_query)` is true.
    pub fn hold_first(&self, matches: impl Fn(&str, &str) -> bool + Send + Sync + 'static) -> Held {
        let (arrived_tx, arrived) = oneshot::channel();
        let (release, release_rx) = oneshot::channel();
        lock(&self.shared.holds).push(Hold {
            matches: Box::new(matches),
            arrived: Some(arrived_tx),
            release: Some(release_rx),
        });
        Held { arrived, release }
    }
}

/// Headers that belong to one connection, or that the upstream client sets itself.
fn forwarded(headers: &HeaderMap) -> HeaderMap {
    let mut out = headers.clone();
    for name in [
        header::HOST,
        header::CONNECTION,
        header::CONTENT_LENGTH,
        header::TRANSFER_ENCODING,
        header::AUTHORIZATION,
        // Plain bodies, so that the copy can be read.
        header::ACCEPT_ENCODING,
    ] {
        out.remove(name);
    }
    out
}

async fn forward(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let method = parts.method.to_string();
    let path = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned());
    let accept = parts
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let copy = Arc::new(Mutex::new(Vec::new()));
    let index = {
        let mut log = lock(&shared.log);
        log.push(Exchange {
            method: method.clone(),
            path: path.clone(),
            accept,
            status: None,
            body: copy.clone(),
        });
        log.len() - 1
    };
    let held = {
        let mut holds = lock(&shared.holds);
        let at = holds.iter().position(|h| (h.matches)(&method, &path));
        at.map(|at| holds.remove(at))
    };
    if let Some(mut hold) = held {
        if let Some(arrived) = hold.arrived.take() {
            let _ = arrived.send(());
        }
        if let Some(release) = hold.release.take() {
            let _ = release.await;
        }
    }
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let mut upstream = http::Request::builder()
        .method(parts.method.clone())
        .uri(path.as_str())
        .body(kube::client::Body::from(bytes.to_vec()))
        .expect("a request");
    *upstream.headers_mut() = forwarded(&parts.headers);
    let answer = match shared.upstream.send(upstream).await {
        Ok(answer) => answer,
        Err(e) => {
            lock(&shared.log)[index].status = Some(502);
            return (StatusCode::BAD_GATEWAY, e.to_string()).into_response();
        }
    };
    let (parts, body) = answer.into_parts();
    lock(&shared.log)[index].status = Some(parts.status.as_u16());
    let chunks = Body::new(body).into_data_stream().map(move |chunk| {
        if let Ok(bytes) = &chunk {
            lock(&copy).extend_from_slice(bytes);
        }
        chunk
    });
    let mut response = Response::new(Body::from_stream(chunks));
    *response.status_mut() = parts.status;
    let mut headers = parts.headers;
    for name in [
        header::CONNECTION,
        header::CONTENT_LENGTH,
        header::TRANSFER_ENCODING,
    ] {
        headers.remove(name);
    }
    *response.headers_mut() = headers;
    response
}
