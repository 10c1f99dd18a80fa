//! Reading bitnami sealed-secrets (`bitnami.com/v1alpha1` SealedSecrets) so that they can
//! be migrated to seal: their keys ([`keys`]), their per-value format ([`format`]) and
//! their objects ([`object`]). Only opening: seal never writes this format.

pub mod format;
pub mod keys;
pub mod object;

pub use keys::BitnamiKeys;
pub use object::BitnamiSealedSecret;

/// `apiVersion` of a bitnami SealedSecret.
pub const API_VERSION: &str = "bitnami.com/v1alpha1";
/// The API group of bitnami SealedSecrets, as it appears in an ownerReference's
/// `apiVersion` (`bitnami.com/v1alpha1`).
pub const GROUP: &str = "bitnami.com";
/// The prefix of bitnami's annotations.
pub const ANNOTATION_PREFIX: &str = "sealedsecrets.bitnami.com/";
/// The annotation `seal migrate` puts on the SealedSecrets it writes: the controller
/// takes over a Secret that a bitnami SealedSecret of the same name controls only when
/// this is present (and the Secret's data would not change).
pub const MIGRATED_FROM_ANNOTATION: &str = "seal.dev/migrated-from";
