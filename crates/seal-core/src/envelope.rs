//! Sealing and opening one value: the v1 envelope (docs/FORMAT.md).
//!
//! A sealed value is `base64(age_v1_binary(header_line || value))`, encrypted to every
//! recipient at once so any one of their identities opens it.

use std::io::{Read, Write};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use crate::age_file;
use crate::binding::{Binding, Header};
use crate::ciphertext::{self, decode};
pub use crate::ciphertext::{ValueShape, shape};
use crate::error::OpenError;
use crate::keys::{KeyRing, Recipients};
use crate::secret_bytes::SecretBytes;

/// Sealing cannot go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// No recipient was given.
    #[error("no recipients to seal to")]
    NoRecipients,
    /// The age library refused (should not happen with X25519 recipients).
    #[error("age encryption failed: {0}")]
    Age(String),
}

/// Seals one value for `binding` to all `recipients`; returns the base64 text.
pub fn seal_value(
    binding: &Binding,
    value: &[u8],
    recipients: &Recipients,
) -> Result<String, SealError> {
    if recipients.is_empty() {
        return Err(SealError::NoRecipients);
    }
    let header = binding.header_line();
    let mut plaintext = Zeroizing::new(Vec::with_capacity(header.len() + value.len()));
    plaintext.extend_from_slice(header.as_bytes());
    plaintext.extend_from_slice(value);

    let encryptor = age::Encryptor::with_recipients(recipients.as_age())
        .map_err(|e| SealError::Age(e.to_string()))?;
    let mut sealed = Vec::with_capacity(plaintext.len() + 200 * recipients.len() + 64);
    let write = |sealed: &mut Vec<u8>| -> std::io::Result<()> {
        let mut writer = encryptor.wrap_output(sealed)?;
        writer.write_all(&plaintext)?;
        writer.finish()?;
        Ok(())
    };
    write(&mut sealed).map_err(|e| SealError::Age(e.to_string()))?;
    Ok(STANDARD.encode(sealed))
}

/// Opens a sealed value standing at `at`, with the identities of `keys` that `hint`
/// (the object's `spec.recipients`) says can open it; checks the header's binding.
/// The ciphertext's shape is checked first ([`ciphertext::check`]): a stanza flood is
/// refused before age parses it. A value of the shape `seal` writes is read in one pass
/// by [`crate::age_file`]; anything else by the `age` crate, with the same answers as
/// [`open_value_with_age`] gives (the fuzz target `envelope` holds the two to that).
pub fn open_value(
    sealed: &str,
    at: &Binding,
    keys: &KeyRing,
    hint: &[String],
) -> Result<SecretBytes, OpenError> {
    let bytes = decode(sealed)?;
    ciphertext::check(&bytes, hint)?;
    let plaintext = match age_file::open(&bytes, &keys.x25519_candidates(hint)) {
        age_file::Outcome::Opened(plaintext) => plaintext,
        age_file::Outcome::Refused(e) => return Err(e),
        age_file::Outcome::Unusual => open_with_age(&bytes, keys, hint)?,
    };
    bound_value(&plaintext, at)
}

/// [`open_value`] through the `age` crate's general reader only: the reference the
/// one-pass reader is checked against (tests, fuzzing) and measured against (the bench).
pub fn open_value_with_age(
    sealed: &str,
    at: &Binding,
    keys: &KeyRing,
    hint: &[String],
) -> Result<SecretBytes, OpenError> {
    let bytes = decode(sealed)?;
    ciphertext::check(&bytes, hint)?;
    bound_value(&open_with_age(&bytes, keys, hint)?, at)
}

/// The value after the header line, when the header binds it to `at`.
fn bound_value(plaintext: &[u8], at: &Binding) -> Result<SecretBytes, OpenError> {
    let (header, value) = Header::split(plaintext)?;
    at.accepts(&header)?;
    Ok(SecretBytes::copy_from(value))
}

/// Opens an age file of a shape [`age_file`] does not read (a multi-chunk payload, an
/// older header encoding) with the `age` crate.
pub(crate) fn open_with_age(
    bytes: &[u8],
    keys: &KeyRing,
    hint: &[String],
) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    let decryptor = age::Decryptor::new_buffered(bytes).map_err(|e| match e {
        age::DecryptError::InvalidMac => OpenError::DecryptFailed,
        _ => OpenError::NotAge,
    })?;
    let candidates = keys.candidates(hint);
    if candidates.is_empty() {
        return Err(OpenError::NoMatchingKey);
    }
    let mut reader = decryptor
        .decrypt(candidates.into_iter())
        .map_err(|e| match e {
            age::DecryptError::NoMatchingKeys => OpenError::NoMatchingKey,
            age::DecryptError::UnknownFormat | age::DecryptError::InvalidHeader => {
                OpenError::NotAge
            }
            _ => OpenError::DecryptFailed,
        })?;
    // Reserve the whole size first: a growing buffer would leave unwiped copies behind.
    let mut plaintext = Zeroizing::new(Vec::with_capacity(bytes.len()));
    reader
        .read_to_end(&mut plaintext)
        .map_err(|_| OpenError::DecryptFailed)?;
    Ok(plaintext)
}

#[cfg(test)]
mod tests {
    use age::secrecy::ExposeSecret;
    use age::x25519;

    use super::*;
    use crate::scope::Scope;

    fn ring_and_recipients(n: usize) -> (Vec<KeyRing>, Recipients) {
        let mut recipients = Recipients::new();
        let rings = (0..n)
            .map(|_| {
                let id = x25519::Identity::generate();
                recipients.insert(id.to_public());
                let mut ring = KeyRing::new();
                ring.add_file(
                    "k",
                    &Zeroizing::new(id.to_string().expose_secret().to_owned()),
                )
                .expect("identity parses");
                ring
            })
            .collect();
        (rings, recipients)
    }

    fn binding() -> Binding {
        Binding::new(Scope::Strict, "apps", "db", "password").expect("valid")
    }

    #[test]
    fn round_trip_with_each_of_two_recipients() {
        let (rings, recipients) = ring_and_recipients(2);
        let sealed = seal_value(&binding(), b"s3cr3t\x00\xff", &recipients).expect("seals");
        for ring in &rings {
            let opened =
                open_value(&sealed, &binding(), ring, &recipients.to_strings()).expect("opens");
            assert_eq!(opened.expose(), b"s3cr3t\x00\xff");
        }
    }

    #[test]
    fn sealing_is_randomised() {
        let (_, recipients) = ring_and_recipients(1);
        let a = seal_value(&binding(), b"x", &recipients).expect("seals");
        let b = seal_value(&binding(), b"x", &recipients).expect("seals");
        assert_ne!(a, b);
    }

    #[test]
    fn wrong_key_tamper_and_move_are_told_apart() {
        let (rings, recipients) = ring_and_recipients(1);
        let (others, _) = ring_and_recipients(1);
        let sealed = seal_value(&binding(), b"v", &recipients).expect("seals");
        let hint = recipients.to_strings();

        let err = open_value(&sealed, &binding(), &others[0], &[]).expect_err("other key");
        assert_eq!(err, OpenError::NoMatchingKey);
        let err = open_value(&sealed, &binding(), &others[0], &hint).expect_err("hinted away");
        assert_eq!(err, OpenError::NoMatchingKey);

        let mut raw = STANDARD.decode(&sealed).expect("base64");
        let last = raw.len() - 1;
        raw[last] ^= 1;
        let tampered = STANDARD.encode(raw);
        let err = open_value(&tampered, &binding(), &rings[0], &hint).expect_err("tampered");
        assert_eq!(err, OpenError::DecryptFailed);

        let moved = Binding {
            namespace: "elsewhere".into(),
            ..binding()
        };
        let err = open_value(&sealed, &moved, &rings[0], &hint).expect_err("moved");
        assert_eq!(err.reason(), "ScopeMismatch");

        let err = open_value("%%%", &binding(), &rings[0], &hint).expect_err("not base64");
        assert_eq!(err, OpenError::InvalidBase64);
        let err = open_value("aGVsbG8=", &binding(), &rings[0], &hint).expect_err("not age");
        assert_eq!(err, OpenError::NotAge);
    }

    #[test]
    fn shape_counts_stanzas_and_sizes_exactly() {
        let (_, recipients) = ring_and_recipients(3);
        for len in [0usize, 16, 70_000] {
            let value = vec![7u8; len];
            let sealed = seal_value(&binding(), &value, &recipients).expect("seals");
            let shape = shape(&sealed).expect("parses");
            assert_eq!(shape.x25519_stanzas, 3);
            assert_eq!(shape.value_len(&binding()), len);
            assert_eq!(
                shape.ciphertext_len,
                STANDARD.decode(&sealed).expect("b64").len()
            );
        }
    }

    #[test]
    fn no_recipients_is_an_error() {
        assert!(matches!(
            seal_value(&binding(), b"v", &Recipients::new()),
            Err(SealError::NoRecipients)
        ));
    }
}
