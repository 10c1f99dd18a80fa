//! Injected faults: make the next requests that match answer with an error status, or hold
//! them unanswered.

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

/// A stall to inject: requests whose path contains `path_contains` (from the client whose
/// `User-Agent` is `client`, or from any client) get no answer until
/// [`crate::ApiServerDouble::release_stalled`]; then they fail with 503 without reaching
/// the store, as requests lost on the way to an API server that stopped answering.
#[derive(Clone, Debug)]
pub struct Stall {
    /// A substring of the path, e.g. `/leases`.
    pub path_contains: String,
    /// The `User-Agent` of the client whose requests stall; `None` for every client.
    pub client: Option<String>,
}

impl Stall {
    /// Stalls every request whose path contains `path_contains`.
    pub fn new(path_contains: &str) -> Self {
        Self {
            path_contains: path_contains.to_owned(),
            client: None,
        }
    }

    /// Narrows the stall to the requests of the client whose `User-Agent` is `client`.
    pub fn from_client(mut self, client: &str) -> Self {
        self.client = Some(client.to_owned());
        self
    }

    /// Whether a request is held by this stall.
    pub(crate) fn holds(&self, path: &str, client: &str) -> bool {
        path.contains(&self.path_contains) && self.client.as_deref().is_none_or(|c| c == client)
    }
}
