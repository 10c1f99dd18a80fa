//! The shared core of `seal` and `unseal`: the sealing format v1, the `SealedSecret`
//! resource types, and the Secret ⇄ SealedSecret conversion.
//!
//! Nothing here talks to a cluster or spawns a runtime: every function is pure apart from
//! the small file helpers in [`files`], so this crate is fast to test.

mod aead;
mod age_file;
pub mod binding;
pub mod bitnami;
pub mod ciphertext;
pub mod convert;
pub mod documents;
pub mod envelope;
pub mod error;
pub mod files;
pub mod keys;
pub mod names;
pub mod scope;
pub mod sealed_secret;
pub mod secret;
pub mod secret_bytes;
pub mod wiping_buffer;
pub mod x25519;
pub mod yaml;

pub use binding::Binding;
pub use error::{Location, OpenError};
pub use keys::{KeyRing, Recipients};
pub use scope::Scope;
pub use sealed_secret::{Mode, SealedSecret, SealedSecretSpec, SealedSecretStatus, SecretTemplate};
pub use secret::PlainSecret;
pub use secret_bytes::SecretBytes;
