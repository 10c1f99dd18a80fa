//! A stateful Kubernetes API-server double for tests.
//!
//! No real kube-apiserver can run on the machines this project is built on, so the
//! controller's tests drive the real `kube` client over real HTTP against this server. It
//! keeps objects as JSON and implements what the controller uses: list and watch with
//! resourceVersion and bookmarks, label and field selectors, get, create (409 when the name
//! is taken), replace and merge-patch with resourceVersion conflicts (409), the status
//! subresource, delete with ownerReference garbage collection, and the rules Kubernetes
//! applies to Secrets (type and immutable data cannot change). Tests can inject faults
//! (a status code for the next matching requests, or requests held unanswered), drop every
//! open watch, count writes, and read a log of every request with its client
//! (`User-Agent`), arrival time and answer.
//!
//! What it leaves out, on purpose: authentication, admission, server-side apply,
//! strategic merge (treated as a JSON merge patch), finalizers, and pagination (lists are
//! returned whole).

mod audit;
mod faults;
mod patch;
mod path;
mod selector;
mod server;
mod store;

pub use audit::Request;
pub use faults::{Fault, Stall};
pub use path::ResourceKind;
pub use selector::Selector as LabelSelector;
pub use server::ApiServerDouble;
pub use store::{ApiError, Change, ChangeType, ObjectKey, Store};
