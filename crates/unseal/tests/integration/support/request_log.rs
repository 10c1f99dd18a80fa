//! The controllers' requests as their clients sent them, for the real backend: the real
//! API server keeps no log a test can read, so each controller's `kube::Client` gets a
//! layer that records every request (its replica's identity, method, path, when it was
//! sent, the answer's status) in the same [`Request`] form as the double's log.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use apiserver_double::Request;
use http::{Request as HttpRequest, Response};

/// Every request the controllers of one test sent, in the order sent.
#[derive(Clone, Default)]
pub struct RequestLog(Arc<Mutex<Vec<Request>>>);

impl RequestLog {
    /// The layer that records a client's requests as sent by `client`.
    pub fn layer(&self, client: &str) -> Recording {
        Recording {
            log: self.clone(),
            client: client.to_owned(),
        }
    }

    /// The requests so far; `status` is `None` for one still unanswered (or that got no
    /// answer at all).
    pub fn requests(&self) -> Vec<Request> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Writes answered with success so far, per resource plural, leaving out the plurals
    /// named.
    pub fn writes_besides(&self, skip: &[&str]) -> BTreeMap<String, usize> {
        let mut writes = BTreeMap::new();
        for r in self.requests() {
            if !(r.is_write() && r.succeeded()) {
                continue;
            }
            let Some(plural) = plural_of(&r.path) else {
                continue;
            };
            if !skip.contains(&plural.as_str()) {
                *writes.entry(plural).or_default() += 1;
            }
        }
        writes
    }

    fn push(&self, request: Request) -> usize {
        let mut log = self.0.lock().unwrap_or_else(|p| p.into_inner());
        log.push(request);
        log.len() - 1
    }

    fn answered(&self, index: usize, status: Option<u16>) {
        let mut log = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = log.get_mut(index) {
            r.status = status;
        }
    }
}

/// The resource plural a path addresses (`/api/v1/namespaces/NS/secrets/NAME` gives
/// `secrets`; a subresource, `…/sealedsecrets/NAME/status`, gives its resource).
fn plural_of(path: &str) -> Option<String> {
    let path = path.split('?').next()?;
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    // api/v1/... or apis/GROUP/VERSION/...
    let rest = match *parts.first()? {
        "api" => parts.get(2..)?,
        "apis" => parts.get(3..)?,
        _ => return None,
    };
    let rest = match rest {
        ["namespaces", _, tail @ ..] if !tail.is_empty() => tail,
        other => other,
    };
    rest.first().map(|p| (*p).to_owned())
}

/// A `tower::Layer` adding the recording to a client's stack.
#[derive(Clone)]
pub struct Recording {
    log: RequestLog,
    client: String,
}

impl<S> tower::Layer<S> for Recording {
    type Service = Recorded<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Recorded {
            inner,
            log: self.log.clone(),
            client: self.client.clone(),
        }
    }
}

/// A client's service stack, recording each request it sends.
#[derive(Clone)]
pub struct Recorded<S> {
    inner: S,
    log: RequestLog,
    client: String,
}

impl<S, B, R> tower::Service<HttpRequest<B>> for Recorded<S>
where
    S: tower::Service<HttpRequest<B>, Response = Response<R>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: HttpRequest<B>) -> Self::Future {
        let index = self.log.push(Request {
            at: Instant::now(),
            method: request.method().to_string(),
            path: request
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default(),
            client: self.client.clone(),
            status: None,
        });
        let log = self.log.clone();
        let answer = self.inner.call(request);
        Box::pin(async move {
            let result = answer.await;
            log.answered(index, result.as_ref().ok().map(|r| r.status().as_u16()));
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::plural_of;

    #[test]
    fn paths_name_their_resource() {
        assert_eq!(
            plural_of("/api/v1/namespaces/a/secrets/db?x=1").as_deref(),
            Some("secrets")
        );
        assert_eq!(
            plural_of("/apis/seal.dev/v1alpha1/namespaces/a/sealedsecrets/db/status").as_deref(),
            Some("sealedsecrets")
        );
        assert_eq!(
            plural_of("/apis/coordination.k8s.io/v1/namespaces/s/leases/l").as_deref(),
            Some("leases")
        );
        assert_eq!(
            plural_of("/api/v1/namespaces/a").as_deref(),
            Some("namespaces")
        );
        assert_eq!(plural_of("/healthz"), None);
    }
}
