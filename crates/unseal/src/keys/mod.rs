//! The sealing keys: how they are stored as Secrets, held in memory, renewed, published and
//! backed up.

pub mod backup;
pub mod backup_store;
pub mod bitnami_store;
pub mod lifecycle;
pub mod missing;
pub mod publication;
pub mod registry;
pub mod secrets;
pub mod store;

pub use store::{KeyInfo, KeySet, KeyStore};
