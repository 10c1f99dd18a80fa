//! The request log: every request the double received, who sent it and when, so that a
//! test can audit which client wrote what, in which order (as an API server's audit log
//! would).

use std::time::Instant;

/// One request as the double received it.
#[derive(Clone, Debug)]
pub struct Request {
    /// When it arrived (before it was served or held).
    pub at: Instant,
    /// HTTP method, e.g. `PUT`.
    pub method: String,
    /// Path with query.
    pub path: String,
    /// The client's `User-Agent` header (empty when it sent none).
    pub client: String,
    /// The status answered; `None` while the request is still being served or held.
    pub status: Option<u16>,
}

impl Request {
    /// Whether it asked for a change (anything but GET, HEAD and OPTIONS), whatever the
    /// answer.
    pub fn is_write(&self) -> bool {
        !matches!(self.method.as_str(), "GET" | "HEAD" | "OPTIONS")
    }

    /// Whether it was answered with a 2xx status.
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    /// Whether it addresses this resource plural (e.g. `leases`), listed or by name.
    pub fn is_for(&self, plural: &str) -> bool {
        let path = self.path.split('?').next().unwrap_or_default();
        path.split('/').any(|segment| segment == plural)
    }
}
