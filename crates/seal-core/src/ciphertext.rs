//! The public structure of a sealed value's age ciphertext, read and checked *before* the
//! age library sees it.
//!
//! age's header parser is quadratic in the number of recipient stanzas
//! (str4d/rage#368) and a reader tries every identity on every stanza, so a value with
//! thousands of well-formed stanzas costs seconds of CPU per attempt. A value made by
//! `seal` carries one X25519 stanza per recipient and at most one random "grease" stanza
//! (age adds one so that readers stay tolerant of unknown types), in a header of a few
//! hundred bytes. [`check`] refuses anything far outside that shape in time linear in the
//! header, which it never reads past [`MAX_HEADER`] bytes.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::error::OpenError;

/// The age v1 magic line every sealed value starts with (after base64 decoding).
const AGE_V1_MAGIC: &[u8] = b"age-encryption.org/v1\n";
/// The payload nonce that precedes the STREAM chunks.
const PAYLOAD_NONCE_LEN: usize = 16;
/// Plaintext bytes per STREAM chunk and the tag each chunk adds.
const CHUNK_LEN: usize = 64 * 1024;
const TAG_LEN: usize = 16;

/// The most X25519 stanzas a value may carry: one per recipient (cluster, break-glass
/// key, …). 64 recipients is far beyond any real use and keeps an open under a
/// millisecond per key.
pub const MAX_STANZAS: usize = 64;
/// The most non-X25519 stanzas: age's grease (one per file; two tolerated).
pub const MAX_GREASE: usize = 2;
/// The largest age header (magic line to MAC line) accepted: 64 X25519 stanzas take
/// about 8 KiB.
pub const MAX_HEADER: usize = 16 * 1024;

/// What can be told about a sealed value without opening it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueShape {
    /// Bytes of the age ciphertext (before base64).
    pub ciphertext_len: usize,
    /// Bytes of the age header (magic line to the end of the MAC line).
    pub header_len: usize,
    /// How many X25519 recipient stanzas it carries.
    pub x25519_stanzas: usize,
    /// How many stanzas of other types it carries (age adds random "grease" stanzas to
    /// some files so that readers stay tolerant; they are not recipients).
    pub other_stanzas: usize,
    /// Bytes of the sealed plaintext (header line plus value).
    pub plaintext_len: usize,
}

impl ValueShape {
    /// The value's own length, given the header line it was sealed with.
    pub fn value_len(&self, binding: &crate::binding::Binding) -> usize {
        self.plaintext_len
            .saturating_sub(binding.header_line().len())
    }
}

/// Decodes standard base64, ignoring ASCII whitespace (YAML may fold long scalars).
pub fn decode(sealed: &str) -> Result<Vec<u8>, OpenError> {
    let decoded = if sealed.bytes().any(|b| b.is_ascii_whitespace()) {
        let compact: Vec<u8> = sealed
            .bytes()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        STANDARD.decode(compact)
    } else {
        STANDARD.decode(sealed)
    };
    decoded.map_err(|_| OpenError::InvalidBase64)
}

/// Reads the public structure of a sealed value (base64 text): its stanzas and sizes.
/// Only the header's size is limited here; see [`check`] for the full shape rules.
pub fn shape(sealed: &str) -> Result<ValueShape, OpenError> {
    read(&decode(sealed)?)
}

/// Reads the structure of an age ciphertext (binary), refusing a header larger than
/// [`MAX_HEADER`] without reading past it.
pub fn read(bytes: &[u8]) -> Result<ValueShape, OpenError> {
    let header = bytes.strip_prefix(AGE_V1_MAGIC).ok_or(OpenError::NotAge)?;
    let (mut x25519_stanzas, mut other_stanzas) = (0usize, 0usize);
    let mut at = 0usize;
    let header_end = loop {
        if AGE_V1_MAGIC.len() + at > MAX_HEADER {
            return Err(OpenError::BadShape {
                problem: "the age header is larger than 16 KiB",
            });
        }
        let rest = &header[at..];
        let Some(eol) = rest.iter().take(MAX_HEADER + 1).position(|b| *b == b'\n') else {
            return Err(if rest.len() > MAX_HEADER {
                OpenError::BadShape {
                    problem: "the age header is larger than 16 KiB",
                }
            } else {
                OpenError::NotAge
            });
        };
        let line = &rest[..eol];
        at += eol + 1;
        if AGE_V1_MAGIC.len() + at > MAX_HEADER {
            return Err(OpenError::BadShape {
                problem: "the age header is larger than 16 KiB",
            });
        }
        if line.starts_with(b"---") {
            break at;
        }
        if let Some(stanza) = line.strip_prefix(b"-> ") {
            let tag = stanza.split(|b| *b == b' ').next().unwrap_or_default();
            if tag == b"X25519" {
                x25519_stanzas += 1;
            } else if tag.ends_with(b"-grease") {
                other_stanzas += 1;
            } else {
                return Err(OpenError::BadShape {
                    problem: "a recipient stanza of a type seal never writes (only X25519)",
                });
            }
            if x25519_stanzas > MAX_STANZAS {
                return Err(OpenError::BadShape {
                    problem: "more than 64 recipient stanzas",
                });
            }
            if other_stanzas > MAX_GREASE {
                return Err(OpenError::BadShape {
                    problem: "more than 2 grease stanzas",
                });
            }
        }
    };
    if x25519_stanzas == 0 {
        return Err(OpenError::NotAge);
    }
    let payload = header.len() - header_end;
    let stream = payload
        .checked_sub(PAYLOAD_NONCE_LEN)
        .filter(|s| *s >= TAG_LEN)
        .ok_or(OpenError::NotAge)?;
    let chunks = stream.div_ceil(CHUNK_LEN + TAG_LEN);
    Ok(ValueShape {
        ciphertext_len: bytes.len(),
        header_len: AGE_V1_MAGIC.len() + header_end,
        x25519_stanzas,
        other_stanzas,
        plaintext_len: stream - chunks * TAG_LEN,
    })
}

/// Checks an age ciphertext (binary) against the shape `seal` produces before it goes
/// to the age library: at most [`MAX_STANZAS`] X25519 stanzas and never more than the
/// object's `spec.recipients` lists (`hint`, when not empty), only grease besides, and
/// a header under [`MAX_HEADER`].
pub fn check(bytes: &[u8], hint: &[String]) -> Result<ValueShape, OpenError> {
    let shape = read(bytes)?;
    if !hint.is_empty() && shape.x25519_stanzas > hint.len() {
        return Err(OpenError::BadShape {
            problem: "more recipient stanzas than spec.recipients lists",
        });
    }
    Ok(shape)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header with `x` X25519 stanzas and `grease` grease stanzas, then a MAC line and a
    /// minimal payload. Not a valid age file (the MAC is zeros), which the shape check
    /// cannot and need not tell.
    fn forged(x: usize, grease: usize, tag: &str) -> Vec<u8> {
        let mut out = AGE_V1_MAGIC.to_vec();
        for _ in 0..x {
            out.extend_from_slice(b"-> X25519 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n");
            out.extend_from_slice(b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n");
        }
        for _ in 0..grease {
            out.extend_from_slice(format!("-> {tag} a b\n\n").as_bytes());
        }
        out.extend_from_slice(b"--- AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n");
        out.extend_from_slice(&[0u8; PAYLOAD_NONCE_LEN + TAG_LEN + 5]);
        out
    }

    #[test]
    fn a_normal_header_passes_and_is_measured() {
        let shape = check(&forged(3, 1, "x-grease"), &[]).expect("fine");
        assert_eq!(shape.x25519_stanzas, 3);
        assert_eq!(shape.other_stanzas, 1);
        assert_eq!(shape.plaintext_len, 5);
    }

    #[test]
    fn a_stanza_flood_is_refused_without_reading_past_the_cap() {
        let flood = forged(6000, 0, "");
        let started = std::time::Instant::now();
        let err = check(&flood, &[]).expect_err("flood");
        assert!(started.elapsed() < std::time::Duration::from_millis(50));
        assert!(matches!(err, OpenError::BadShape { .. }), "{err:?}");
        assert_eq!(err.reason(), "InvalidSpec");
        assert!(check(&forged(MAX_STANZAS, 0, ""), &[]).is_ok());
        assert!(check(&forged(MAX_STANZAS + 1, 0, ""), &[]).is_err());
    }

    #[test]
    fn more_stanzas_than_listed_recipients_is_refused() {
        let hint = vec!["age1a".to_owned(), "age1b".to_owned()];
        assert!(check(&forged(2, 1, "q-grease"), &hint).is_ok());
        let err = check(&forged(3, 0, ""), &hint).expect_err("too many");
        assert!(err.to_string().contains("spec.recipients"), "{err}");
    }

    #[test]
    fn foreign_stanza_types_and_grease_floods_are_refused() {
        let err = check(&forged(1, 1, "scrypt"), &[]).expect_err("scrypt");
        assert!(err.to_string().contains("only X25519"), "{err}");
        assert!(check(&forged(1, MAX_GREASE + 1, "z-grease"), &[]).is_err());
    }

    #[test]
    fn a_header_that_ends_past_the_cap_is_refused() {
        // A last line long enough to carry the MAC line past 16 KiB (found by fuzzing).
        let mut bytes = AGE_V1_MAGIC.to_vec();
        bytes.extend_from_slice(b"-> X25519 a\n");
        bytes.extend(std::iter::repeat_n(b'A', MAX_HEADER - 100));
        bytes.extend_from_slice(b"\n--- ");
        bytes.extend(std::iter::repeat_n(b'A', 200));
        bytes.extend_from_slice(b"\n");
        bytes.extend_from_slice(&[0u8; PAYLOAD_NONCE_LEN + TAG_LEN]);
        let err = check(&bytes, &[]).expect_err("header over the cap");
        assert!(err.to_string().contains("16 KiB"), "{err}");
    }

    #[test]
    fn a_huge_header_line_is_refused() {
        let mut bytes = AGE_V1_MAGIC.to_vec();
        bytes.extend_from_slice(b"-> X25519 ");
        bytes.extend(std::iter::repeat_n(b'A', 100_000));
        let err = check(&bytes, &[]).expect_err("huge");
        assert!(err.to_string().contains("16 KiB"), "{err}");
        assert_eq!(check(b"hello", &[]), Err(OpenError::NotAge));
    }
}
