//! The sealing keys: how they are stored as Secrets, held in memory, renewed, published and
//! backed up.

pub mod backup;
pub mod lifecycle;
pub mod secrets;
pub mod store;

pub use store::{KeyInfo, KeySet, KeyStore};
