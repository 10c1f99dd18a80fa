//! A stateful Kubernetes API-server double for tests.
//!
//! The controller's fast tests drive the real `kube` client over real HTTP against this
//! server (the real control plane, crates/control-plane, runs what depends on the real
//! server). It keeps objects as JSON and implements what the controller uses: list and
//! watch with resourceVersion and bookmarks, pages (`limit` and `continue`, 410 Expired
//! once the history is gone), metadata-only answers (`Accept: …;as=PartialObjectMetadata`),
//! label and field selectors, get, create (409 when the name is taken), replace and
//! merge-patch with resourceVersion conflicts (409), the status subresource, delete with
//! ownerReference garbage collection, and what the API server does to the objects the
//! controller writes: a Secret's `stringData` merged into `data`, its type defaulted,
//! its keys checked and its type and immutable data kept; a SealedSecret's schema
//! defaults and enums. A watch filtered by a selector sees an object that stops matching
//! as DELETED, in the state it had while it matched, as the API server's watch cache
//! sends it. Tests can inject faults (a status code for the next matching requests, or
//! requests held unanswered), drop every open watch, count writes, and read a log of
//! every request with its client (`User-Agent`), arrival time and answer.
//!
//! What it leaves out, on purpose: authentication, admission webhooks, server-side
//! apply, strategic merge (treated as a JSON merge patch), finalizers, snapshots of
//! paged lists (a later page shows objects as they are now), and any schema validation
//! beyond the fields named above. crates/control-plane/tests/fidelity/drift.rs sends
//! the same requests to it and to the real API server and compares the answers' shapes.

mod admission;
mod audit;
mod faults;
mod page;
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
