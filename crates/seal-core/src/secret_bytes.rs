//! [`SecretBytes`]: plaintext secret bytes that are wiped from memory when dropped.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Serialize, Serializer};
use zeroize::Zeroizing;

/// Plaintext bytes of one secret value.
///
/// The buffer is zeroized on drop, `Debug` shows only the length, and there is no
/// `Display`: a value cannot end up in a log line or an error message by accident.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    /// Wraps bytes that are already owned (they are wiped when this value drops).
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// Copies a slice into a new wiped-on-drop buffer.
    pub fn copy_from(bytes: &[u8]) -> Self {
        Self::new(bytes.to_vec())
    }

    /// The plaintext bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// How many bytes the value holds.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value in standard padded base64, as a Secret's `data` holds it, in a buffer
    /// that is wiped on drop.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(self.expose()))
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes({} bytes)", self.0.len())
    }
}

/// Serializes as base64 (the form of a Secret's `data`); the temporary string is wiped.
impl Serialize for SecretBytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_base64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let value = SecretBytes::copy_from(b"hunter2");
        let shown = format!("{value:?}");
        assert_eq!(shown, "SecretBytes(7 bytes)");
        assert!(!shown.contains("hunter2"));
    }

    #[test]
    fn base64_is_standard_and_padded() {
        assert_eq!(&*SecretBytes::copy_from(b"ab").to_base64(), "YWI=");
    }
}
