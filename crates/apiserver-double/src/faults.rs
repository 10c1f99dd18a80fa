//! Injected faults: make the next requests that match answer with an error status.

/// A fault to inject: the next `count` requests with this method whose path contains
/// `path_contains` get `status` (and a Kubernetes `Status` body) instead of being served.
#[derive(Clone, Debug)]
pub struct Fault {
    /// HTTP method, e.g. `PUT`; `*` for any.
    pub method: String,
    /// A substring of the path, e.g. `/secrets/`.
    pub path_contains: String,
    /// The status code to answer, e.g. 409 or 500.
    pub status: u16,
    /// How many requests it applies to.
    pub count: usize,
}

impl Fault {
    /// A fault for `count` requests.
    pub fn new(method: &str, path_contains: &str, status: u16, count: usize) -> Self {
        Self {
            method: method.to_owned(),
            path_contains: path_contains.to_owned(),
            status,
            count,
        }
    }

    /// Whether this fault applies to a request (and uses up one of its count if so).
    pub(crate) fn take(&mut self, method: &str, path: &str) -> bool {
        let applies = self.count > 0
            && (self.method == "*" || self.method.eq_ignore_ascii_case(method))
            && path.contains(&self.path_contains);
        if applies {
            self.count -= 1;
        }
        applies
    }
}
