//! Opening the age v1 files `seal` writes, in one pass, with our X25519 [`Identity`].
//!
//! Every sealed value is a small age file: a header of X25519 stanzas (and at most a
//! grease stanza), a MAC, a 16-byte nonce and one STREAM chunk. The `age` crate's
//! general reader parses the header twice over (a strict and a legacy grammar), boxes
//! each identity and zeroes a 64 KiB chunk buffer per file: together about a tenth of an
//! open beside the one Diffie-Hellman that has to be done. This reader does exactly what
//! the age specification (<https://c2sp.org/age>) says for such a file and nothing more:
//!
//! - the header, read strictly: the version line; stanzas `-> TAG ARG...` whose tag and
//!   arguments are non-empty runs of visible ASCII, each followed by its body in
//!   canonical unpadded base64, 64 characters a line and a last line shorter than 64;
//!   then `--- ` and the MAC in canonical base64 of 32 bytes;
//! - identities tried in order, each on every stanza in order; the first stanza that
//!   answers decides, as the `age` crate's reader does ([`Identity::unwrap_parts`]);
//! - the MAC: HMAC-SHA256 over the header up to and including `---`, keyed with
//!   HKDF-SHA256(ikm = file key, salt = empty, info = `header`), compared in constant
//!   time;
//! - the payload: key = HKDF-SHA256(ikm = file key, salt = the 16-byte nonce, info =
//!   `payload`), one chunk opened with ChaCha20-Poly1305 under the nonce of counter 0
//!   with the last-chunk flag set.
//!
//! Anything else — a header this strict grammar does not take (an older encoding the
//! `age` crate still reads), a payload of more than one chunk — is [`Outcome::Unusual`],
//! and the caller hands the file to the `age` crate: this reader only ever decides a
//! file the `age` crate would decide the same way.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::aead::{self, TAG_BYTES};
use crate::error::OpenError;
use crate::x25519::{Identity, Unwrapped};

/// The version line.
const MAGIC: &[u8] = b"age-encryption.org/v1\n";
/// The characters of a full body line.
const LINE: usize = 64;
/// The payload nonce.
const NONCE_BYTES: usize = 16;
/// Plaintext bytes of a full STREAM chunk.
const CHUNK_BYTES: usize = 64 * 1024;
/// The most stanzas read here; [`crate::ciphertext::check`] has refused more already.
const MAX_STANZAS: usize = crate::ciphertext::MAX_STANZAS + crate::ciphertext::MAX_GREASE;
/// The most arguments a stanza of ours may carry here (X25519 has one; grease a few).
const MAX_ARGS: usize = 8;

/// What this reader made of a file.
pub(crate) enum Outcome {
    /// Opened: the plaintext.
    Opened(Zeroizing<Vec<u8>>),
    /// Decided: it does not open, for this reason (the `age` crate's answer too).
    Refused(OpenError),
    /// Not a file of the shape read here: ask the `age` crate.
    Unusual,
}

/// One recipient stanza: its tag, arguments and decoded body.
struct Stanza<'a> {
    tag: &'a [u8],
    args: [&'a [u8]; MAX_ARGS],
    arg_count: usize,
    body: Vec<u8>,
}

/// A header read strictly, with what follows it.
struct Header<'a> {
    stanzas: Vec<Stanza<'a>>,
    /// The header up to and including `---`: what the MAC covers.
    covered: &'a [u8],
    mac: [u8; 32],
    payload: &'a [u8],
}

/// Opens `bytes` with the first of `identities` that one of its stanzas answers.
pub(crate) fn open(bytes: &[u8], identities: &[&Identity]) -> Outcome {
    let Some(header) = read_header(bytes) else {
        return Outcome::Unusual;
    };
    let Some((nonce, chunk)) = header.payload.split_first_chunk::<NONCE_BYTES>() else {
        return Outcome::Unusual;
    };
    if chunk.len() < TAG_BYTES || chunk.len() >= CHUNK_BYTES + TAG_BYTES {
        return Outcome::Unusual;
    }
    let Some(file_key) = unwrap(&header.stanzas, identities) else {
        return Outcome::Refused(OpenError::NoMatchingKey);
    };
    let file_key = match file_key {
        Ok(key) => key,
        Err(e) => return Outcome::Refused(e),
    };
    let mac_key = hkdf(&[], &file_key[..], b"header");
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&mac_key[..])
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(header.covered);
    if mac.verify_slice(&header.mac).is_err() {
        return Outcome::Refused(OpenError::DecryptFailed);
    }
    let payload_key = hkdf(nonce, &file_key[..], b"payload");
    let mut plaintext = Zeroizing::new(chunk.to_vec());
    // The STREAM nonce of the first chunk (counter 0), flagged as the last one.
    let mut last = [0u8; 12];
    last[11] = 1;
    let Some(len) = aead::open_in_place(&payload_key, last, &mut plaintext) else {
        return Outcome::Refused(OpenError::DecryptFailed);
    };
    plaintext.truncate(len);
    Outcome::Opened(plaintext)
}

/// The file key from the first stanza that one of `identities`, in order, answers.
fn unwrap(
    stanzas: &[Stanza<'_>],
    identities: &[&Identity],
) -> Option<Result<Zeroizing<[u8; 16]>, OpenError>> {
    identities.iter().find_map(|identity| {
        stanzas.iter().find_map(|s| {
            match identity.unwrap_parts(s.tag, &s.args[..s.arg_count], &s.body) {
                Unwrapped::NotOurs => None,
                Unwrapped::Invalid => Some(Err(OpenError::NotAge)),
                Unwrapped::FileKey(key) => Some(Ok(key)),
            }
        })
    })
}

/// HKDF-SHA256 of `ikm` with `salt` and `info`, 32 bytes.
fn hkdf(salt: &[u8], ikm: &[u8], info: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut out = Zeroizing::new([0u8; 32]);
    hkdf::Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand(info, out.as_mut())
        .unwrap_or_else(|_| unreachable!("32 bytes is a valid HKDF-SHA256 length"));
    out
}

/// Reads the header strictly; `None` when it is not of the strict grammar.
fn read_header(bytes: &[u8]) -> Option<Header<'_>> {
    let mut at = MAGIC.len();
    if !bytes.starts_with(MAGIC) {
        return None;
    }
    let mut stanzas = Vec::with_capacity(2);
    loop {
        let (line, next) = line_at(bytes, at)?;
        if let Some(mac) = line.strip_prefix(b"--- ") {
            let mut out = [0u8; 33];
            if mac.len() != 43 || STANDARD_NO_PAD.decode_slice(mac, &mut out).ok()? != 32 {
                return None;
            }
            let mut mac = [0u8; 32];
            mac.copy_from_slice(&out[..32]);
            return Some(Header {
                stanzas,
                covered: &bytes[..at + 3],
                mac,
                payload: &bytes[next..],
            });
        }
        let mut words = line.strip_prefix(b"-> ")?.split(|b| *b == b' ');
        let tag = words.next().filter(|w| is_word(w))?;
        let mut args = [&[][..]; MAX_ARGS];
        let mut arg_count = 0;
        for word in words {
            if arg_count == MAX_ARGS || !is_word(word) {
                return None;
            }
            args[arg_count] = word;
            arg_count += 1;
        }
        let (body, after) = body_at(bytes, next)?;
        if stanzas.len() == MAX_STANZAS {
            return None;
        }
        stanzas.push(Stanza {
            tag,
            args,
            arg_count,
            body,
        });
        at = after;
    }
}

/// The line starting at `at` (without its newline) and where the next one starts.
fn line_at(bytes: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let rest = bytes.get(at..)?;
    let end = rest.iter().position(|b| *b == b'\n')?;
    Some((&rest[..end], at + end + 1))
}

/// A stanza body starting at `at`: full lines of 64 characters, then a shorter last
/// line (possibly empty), all canonical unpadded base64. Returns it decoded and where
/// the next line starts.
fn body_at(bytes: &[u8], mut at: usize) -> Option<(Vec<u8>, usize)> {
    let start = at;
    let mut lines = 0;
    loop {
        let (line, next) = line_at(bytes, at)?;
        if line.len() > LINE
            || !line
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
        {
            return None;
        }
        at = next;
        lines += 1;
        if line.len() < LINE {
            break;
        }
    }
    let body = if lines == 1 {
        STANDARD_NO_PAD.decode(&bytes[start..at - 1])
    } else {
        let text: Vec<u8> = bytes[start..at]
            .iter()
            .copied()
            .filter(|b| *b != b'\n')
            .collect();
        STANDARD_NO_PAD.decode(&text)
    };
    Some((body.ok()?, at))
}

/// A tag or argument: one or more visible ASCII characters.
fn is_word(word: &[u8]) -> bool {
    !word.is_empty() && word.iter().all(|b| (0x21..=0x7e).contains(b))
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use chacha20poly1305::aead::Aead;
    use chacha20poly1305::{ChaCha20Poly1305, KeyInit};
    use x25519_dalek::{PublicKey, StaticSecret};

    use super::*;
    use crate::keys::KeyRing;

    /// A key ring of one new identity, and that identity.
    fn identity() -> (KeyRing, age::x25519::Identity) {
        let id = age::x25519::Identity::generate();
        let mut ring = KeyRing::new();
        ring.insert(id.clone());
        (ring, id)
    }

    /// `plaintext` sealed by the `age` crate to `to`, in that order.
    fn seal_to(to: &[age::x25519::Recipient], plaintext: &[u8]) -> Vec<u8> {
        let encryptor =
            age::Encryptor::with_recipients(to.iter().map(|r| r as _)).expect("recipients");
        let mut out = Vec::new();
        let mut writer = encryptor.wrap_output(&mut out).expect("writer");
        writer.write_all(plaintext).expect("write");
        writer.finish().expect("finish");
        out
    }

    /// What the `age` crate's reader makes of `bytes` with `ring` (the reference).
    fn reference(bytes: &[u8], ring: &KeyRing) -> Result<Vec<u8>, OpenError> {
        crate::envelope::open_with_age(bytes, ring, &[]).map(|p| p.to_vec())
    }

    /// Ours must agree with the reference whenever it decides; `Unusual` defers to it.
    /// Returns whether ours decided.
    fn agrees(bytes: &[u8], ring: &KeyRing) -> bool {
        let theirs = reference(bytes, ring);
        match open(bytes, &ring.x25519_candidates(&[])) {
            Outcome::Opened(p) => {
                assert_eq!(Ok(p.to_vec()), theirs, "we opened what age does not");
                true
            }
            Outcome::Refused(e) => {
                assert_eq!(Err(e), theirs, "we refused differently from age");
                true
            }
            Outcome::Unusual => false,
        }
    }

    #[test]
    fn opens_what_age_seals_and_leaves_multi_chunk_payloads_to_age() {
        let (ring, id) = identity();
        let other = || age::x25519::Identity::generate().to_public();
        for size in [
            0usize,
            1,
            100,
            CHUNK_BYTES - 1,
            CHUNK_BYTES,
            3 * CHUNK_BYTES + 7,
        ] {
            let plaintext: Vec<u8> = (0..size).map(|i| (i * 7) as u8).collect();
            // Ours first, in the middle and last among three recipients.
            for at in 0..3 {
                let mut to = vec![other(), other()];
                to.insert(at, id.to_public());
                let sealed = seal_to(&to, &plaintext);
                match open(&sealed, &ring.x25519_candidates(&[])) {
                    Outcome::Opened(p) if size < CHUNK_BYTES => {
                        assert_eq!(p.as_slice(), plaintext.as_slice(), "size {size}")
                    }
                    Outcome::Unusual if size >= CHUNK_BYTES => {
                        assert_eq!(reference(&sealed, &ring), Ok(plaintext.clone()))
                    }
                    _ => panic!("size {size}, recipient {at}: not as expected"),
                }
            }
        }
        let stranger = seal_to(&[other()], b"not for us");
        assert!(matches!(
            open(&stranger, &ring.x25519_candidates(&[])),
            Outcome::Refused(OpenError::NoMatchingKey)
        ));
        assert!(agrees(&stranger, &ring));
    }

    /// Every byte of a real file changed in turn (three ways each): whatever ours
    /// decides, the `age` crate decides the same; and every change to the payload is
    /// ours to refuse.
    #[test]
    fn every_single_byte_change_is_decided_as_the_age_crate_decides() {
        let (ring, id) = identity();
        let to = [
            age::x25519::Identity::generate().to_public(),
            id.to_public(),
        ];
        let sealed = seal_to(&to, b"seal.dev/v1 apps/db password\nhunter2");
        assert!(agrees(&sealed, &ring));
        let header_end = sealed
            .windows(4)
            .position(|w| w == b"--- ")
            .expect("mac line");
        let mac_end = header_end + 4 + 43;
        assert_eq!(sealed[mac_end], b'\n');
        for i in 0..sealed.len() {
            for flip in [0x01u8, 0x20, 0x80] {
                let mut bad = sealed.clone();
                bad[i] ^= flip;
                let decided = agrees(&bad, &ring);
                // Past the MAC line, every change is ours to refuse.
                assert!(decided || i <= mac_end, "byte {i} ^ {flip:#x} left to age");
            }
        }
        for cut in [1, 16, 17, sealed.len() - header_end] {
            assert!(
                agrees(&sealed[..sealed.len() - cut], &ring) || cut > 17,
                "cut {cut}"
            );
        }
    }

    /// A file made here by hand, step by step as the specification says: a grease
    /// stanza of `grease` (tag, arguments, body bytes), then an X25519 stanza for `to`
    /// sharing `ephemeral` (or `share` verbatim), the MAC, and `plaintext`.
    fn forge(
        grease: (&str, &[u8]),
        to: &age::x25519::Identity,
        share: Option<[u8; 32]>,
        plaintext: &[u8],
    ) -> Vec<u8> {
        let file_key = [0x5au8; 16];
        let ours = crate::x25519::Identity::from_age(to);
        let e = StaticSecret::from([0x17u8; 32]);
        let share = share.unwrap_or(*PublicKey::from(&e).as_bytes());
        let shared = e.diffie_hellman(&PublicKey::from(ours.public_bytes()));
        let mut salt = share.to_vec();
        salt.extend_from_slice(&ours.public_bytes());
        let wrap_key = hkdf(&salt, shared.as_bytes(), b"age-encryption.org/v1/X25519");
        let body = ChaCha20Poly1305::new((&*wrap_key).into())
            .encrypt(&[0u8; 12].into(), &file_key[..])
            .expect("wraps");
        let wrapped = |bytes: &[u8]| {
            let text = STANDARD_NO_PAD.encode(bytes);
            let mut out = String::new();
            for line in text.as_bytes().chunks(LINE) {
                out.push_str(std::str::from_utf8(line).expect("ascii"));
                out.push('\n');
            }
            if text.len().is_multiple_of(LINE) {
                out.push('\n');
            }
            out
        };
        let mut header = String::from("age-encryption.org/v1\n");
        header.push_str(&format!("-> {}\n{}", grease.0, wrapped(grease.1)));
        header.push_str(&format!(
            "-> X25519 {}\n{}",
            STANDARD_NO_PAD.encode(share),
            wrapped(&body)
        ));
        header.push_str("---");
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&hkdf(&[], &file_key, b"header")[..])
            .expect("key");
        mac.update(header.as_bytes());
        let mut out = header.into_bytes();
        out.extend_from_slice(b" ");
        out.extend_from_slice(
            STANDARD_NO_PAD
                .encode(mac.finalize().into_bytes())
                .as_bytes(),
        );
        out.push(b'\n');
        let nonce = [0x33u8; NONCE_BYTES];
        out.extend_from_slice(&nonce);
        let mut last = [0u8; 12];
        last[11] = 1;
        out.extend(
            ChaCha20Poly1305::new((&*hkdf(&nonce, &file_key, b"payload")).into())
                .encrypt(&last.into(), plaintext)
                .expect("seals"),
        );
        out
    }

    #[test]
    fn a_hand_made_file_opens_here_and_in_the_age_crate_alike() {
        let (ring, id) = identity();
        // Grease bodies of 0, 47, 48 (one full line and an empty last line) and 100
        // bytes (two lines), with arguments.
        for len in [0usize, 47, 48, 100] {
            let body = vec![0xa5u8; len];
            let file = forge(("x-grease a.b +/=", &body), &id, None, b"value");
            match open(&file, &ring.x25519_candidates(&[])) {
                Outcome::Opened(p) => assert_eq!(p.as_slice(), b"value"),
                _ => panic!("a grease body of {len} bytes"),
            }
            assert!(agrees(&file, &ring));
        }
    }

    #[test]
    fn low_order_shares_and_malformed_stanzas_are_refused_as_age_refuses_them() {
        let (ring, id) = identity();
        let mut one = [0u8; 32];
        one[0] = 1;
        for share in [[0u8; 32], one] {
            let file = forge(("x-grease", b""), &id, Some(share), b"value");
            assert!(matches!(
                open(&file, &ring.x25519_candidates(&[])),
                Outcome::Refused(OpenError::NotAge)
            ));
            assert!(agrees(&file, &ring));
        }
        let good = forge(("x-grease", b""), &id, None, b"value");
        let text = String::from_utf8_lossy(&good).into_owned();
        // An empty argument (two spaces), a control character in a tag, a body line too
        // long, a non-canonical MAC: not the strict grammar, so left to the age crate,
        // which refuses them.
        for (from, to) in [
            ("-> x-grease", "-> x-grease "),
            ("-> x-grease", "-> x-gr\u{7f}ase"),
            ("-> X25519 ", "-> X25519  "),
        ] {
            let bad = text.replacen(from, to, 1);
            let mut bytes = bad.as_bytes().to_vec();
            bytes.truncate(bad.find("---").expect("mac") + 48);
            bytes.extend_from_slice(&good[text.find("---").expect("mac") + 48..]);
            assert!(matches!(
                open(&bytes, &ring.x25519_candidates(&[])),
                Outcome::Unusual
            ));
            assert!(reference(&bytes, &ring).is_err(), "{to:?}");
        }
    }
}
