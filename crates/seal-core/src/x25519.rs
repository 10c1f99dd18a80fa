//! [`Identity`]: age's X25519 recipient stanza opened with the identity's public key
//! computed once, not once per stanza.
//!
//! The `age` crate's own X25519 identity derives its public key (a fixed-base scalar
//! multiplication, about a fifth of an open) again for every stanza it tries, for the
//! HKDF salt. This one is the same unwrap, byte for byte as the age specification
//! (<https://c2sp.org/age#x25519-recipient-stanza>) describes it, with every check the
//! `age` crate makes:
//!
//! - a stanza of another type is not ours (`None`);
//! - exactly one argument, the ephemeral share: canonical unpadded base64 of exactly 32
//!   bytes, and a body of exactly 32 bytes (the wrapped file key and its tag), or the
//!   header is invalid;
//! - the X25519 shared secret must not be all zeros (a low-order ephemeral share makes it
//!   so whatever the identity: the header is invalid);
//! - wrap key = HKDF-SHA256(ikm = shared secret, salt = ephemeral share ‖ our public
//!   key, info = `age-encryption.org/v1/X25519`), 32 bytes;
//! - the file key = ChaCha20-Poly1305 open of the body with the wrap key and a zero
//!   nonce; a body that does not open is another recipient's stanza (`None`), as age
//!   cannot tell which stanza is whose.

use age::DecryptError;
use age::secrecy::ExposeSecret;
use age_core::format::{FILE_KEY_BYTES, FileKey, Stanza};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::{Zeroize, Zeroizing};

/// The stanza type.
const TAG: &str = "X25519";
/// The HKDF info of the wrap key.
const LABEL: &[u8] = b"age-encryption.org/v1/X25519";
/// The ephemeral share's length.
const SHARE_BYTES: usize = 32;
/// The body's length: the file key and the Poly1305 tag.
const BODY_BYTES: usize = FILE_KEY_BYTES + 16;
/// The Bech32 prefix of an identity.
const SECRET_KEY_HRP: &str = "age-secret-key-";

/// An age X25519 identity with its public key computed once.
#[derive(Clone)]
pub struct Identity {
    secret: StaticSecret,
    public: PublicKey,
}

impl Identity {
    /// The same identity as `identity` (read from its `AGE-SECRET-KEY-1…` form).
    pub fn from_age(identity: &age::x25519::Identity) -> Self {
        let text = identity.to_string();
        let bytes = age_core::primitives::bech32_decode(
            text.expose_secret(),
            |_| (),
            |hrp| {
                (hrp.to_lowercase() == SECRET_KEY_HRP)
                    .then_some(())
                    .ok_or(())
            },
            |_, data| {
                let mut buf = Zeroizing::new([0u8; 32]);
                let mut n = 0;
                for b in data {
                    if n == 32 {
                        return Err(());
                    }
                    buf[n] = b;
                    n += 1;
                }
                if n == 32 { Ok(buf) } else { Err(()) }
            },
        )
        .unwrap_or_else(|()| unreachable!("age writes its identities in this form"));
        Self::from_bytes(*bytes)
    }

    /// The identity of this 32-byte X25519 scalar.
    pub fn from_bytes(mut scalar: [u8; 32]) -> Self {
        let secret = StaticSecret::from(scalar);
        scalar.zeroize();
        let public = PublicKey::from(&secret);
        Self { secret, public }
    }

    /// The public key (what an `age1…` recipient encodes).
    pub fn public_bytes(&self) -> [u8; 32] {
        *self.public.as_bytes()
    }
}

/// What one recipient stanza says to an [`Identity`].
pub(crate) enum Unwrapped {
    /// Another type, or another recipient's stanza (its body does not open).
    NotOurs,
    /// A malformed X25519 stanza or a low-order share: the whole header is invalid.
    Invalid,
    /// The file key.
    FileKey(Zeroizing<[u8; FILE_KEY_BYTES]>),
}

impl Identity {
    /// Unwraps one stanza given as its tag, arguments and decoded body: the one
    /// implementation behind both [`age::Identity`] and [`crate::age_file`].
    pub(crate) fn unwrap_parts(&self, tag: &[u8], args: &[&[u8]], body: &[u8]) -> Unwrapped {
        if tag != TAG.as_bytes() {
            return Unwrapped::NotOurs;
        }
        let share = match args {
            [arg] => {
                // One byte of room: an argument that decodes to more than 32 bytes fails.
                let mut buf = [0u8; SHARE_BYTES + 1];
                match STANDARD_NO_PAD.decode_slice(arg, &mut buf) {
                    Ok(SHARE_BYTES) => {
                        let mut share = [0u8; SHARE_BYTES];
                        share.copy_from_slice(&buf[..SHARE_BYTES]);
                        share
                    }
                    _ => return Unwrapped::Invalid,
                }
            }
            _ => return Unwrapped::Invalid,
        };
        if body.len() != BODY_BYTES {
            return Unwrapped::Invalid;
        }
        let shared = self.secret.diffie_hellman(&PublicKey::from(share));
        if !shared.was_contributory() {
            return Unwrapped::Invalid;
        }
        let mut salt = [0u8; 64];
        salt[..32].copy_from_slice(&share);
        salt[32..].copy_from_slice(self.public.as_bytes());
        let mut wrap_key = Zeroizing::new([0u8; 32]);
        hkdf::Hkdf::<Sha256>::new(Some(&salt), shared.as_bytes())
            .expand(LABEL, wrap_key.as_mut())
            .unwrap_or_else(|_| unreachable!("32 bytes is a valid HKDF-SHA256 length"));
        let mut opened = Zeroizing::new([0u8; BODY_BYTES]);
        opened.copy_from_slice(body);
        if crate::aead::open_in_place(&wrap_key, [0u8; 12], opened.as_mut()) != Some(FILE_KEY_BYTES)
        {
            return Unwrapped::NotOurs;
        }
        let mut file_key = Zeroizing::new([0u8; FILE_KEY_BYTES]);
        file_key.copy_from_slice(&opened[..FILE_KEY_BYTES]);
        Unwrapped::FileKey(file_key)
    }
}

impl age::Identity for Identity {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, DecryptError>> {
        let args: Vec<&[u8]> = stanza.args.iter().map(|a| a.as_bytes()).collect();
        match self.unwrap_parts(stanza.tag.as_bytes(), &args, &stanza.body) {
            Unwrapped::NotOurs => None,
            Unwrapped::Invalid => Some(Err(DecryptError::InvalidHeader)),
            Unwrapped::FileKey(key) => Some(Ok(FileKey::init_with_mut(|k| {
                k.copy_from_slice(key.as_slice())
            }))),
        }
    }
}

#[cfg(test)]
mod tests {
    use age::secrecy::ExposeSecret as _;
    use age_core::format::Stanza;

    use chacha20poly1305::aead::Aead;
    use chacha20poly1305::{ChaCha20Poly1305, KeyInit};

    use super::*;

    /// A stanza for `to` wrapping `file_key`, made here step by step as the age
    /// specification says, with a fixed ephemeral scalar (the vectors below).
    fn wrap(to: &[u8; 32], ephemeral: [u8; 32], file_key: &[u8; 16]) -> Stanza {
        let e = StaticSecret::from(ephemeral);
        let share = PublicKey::from(&e);
        let shared = e.diffie_hellman(&PublicKey::from(*to));
        let mut salt = [0u8; 64];
        salt[..32].copy_from_slice(share.as_bytes());
        salt[32..].copy_from_slice(to);
        let mut key = [0u8; 32];
        hkdf::Hkdf::<Sha256>::new(Some(&salt), shared.as_bytes())
            .expand(LABEL, &mut key)
            .expect("length");
        let body = ChaCha20Poly1305::new((&key).into())
            .encrypt(&[0u8; 12].into(), file_key.as_slice())
            .expect("seals");
        Stanza {
            tag: TAG.into(),
            args: vec![STANDARD_NO_PAD.encode(share.as_bytes())],
            body,
        }
    }

    fn copy(s: &Stanza) -> Stanza {
        Stanza {
            tag: s.tag.clone(),
            args: s.args.clone(),
            body: s.body.clone(),
        }
    }

    fn unwrap(id: &Identity, s: &Stanza) -> Option<Result<[u8; 16], String>> {
        age::Identity::unwrap_stanza(id, s)
            .map(|r| r.map(|k| *k.expose_secret()).map_err(|e| format!("{e:?}")))
    }

    const SCALAR: [u8; 32] = [0x42; 32];
    const EPHEMERAL: [u8; 32] = [0x17; 32];
    const FILE_KEY: [u8; 16] = *b"0123456789abcdef";

    #[test]
    fn the_stanza_vector_opens_byte_for_byte() {
        let id = Identity::from_bytes(SCALAR);
        let stanza = wrap(&id.public_bytes(), EPHEMERAL, &FILE_KEY);
        // The committed vector: any change in how the stanza is computed changes these.
        assert_eq!(
            stanza.args[0], "8T/vPvqVmKKiP8dWv2iP6LvX9s+VKLuu87REJojwqzE",
            "ephemeral share"
        );
        assert_eq!(
            STANDARD_NO_PAD.encode(&stanza.body),
            "E2/LzDDPQu2ISjnSWqp6l8Bkub8KXKWy2gjjdQ7Jywg",
            "body"
        );
        assert_eq!(unwrap(&id, &stanza), Some(Ok(FILE_KEY)));
        // The age crate, an independent implementation, reads the vector the same way.
        assert_eq!(
            age::Identity::unwrap_stanza(&age_identity(SCALAR), &stanza)
                .map(|r| r.map(|k| *k.expose_secret()).map_err(|e| format!("{e:?}"))),
            Some(Ok(FILE_KEY))
        );
    }

    #[test]
    fn it_opens_what_age_seals_and_agrees_with_age_on_every_stanza() {
        let age_id = age::x25519::Identity::generate();
        let ours = Identity::from_age(&age_id);
        let recipient: age::x25519::Recipient = age_id.to_public();
        // Our public key goes into the HKDF salt: a wrong one would not open this.
        let sealed = age::encrypt(&recipient, b"payload").expect("age seals");
        let opened = age::decrypt(&ours, &sealed).expect("our identity opens it");
        assert_eq!(opened, b"payload");
        // The same stanzas, made by hand, open to the same file key with age's identity.
        let scalar_id = age_identity(SCALAR);
        let stanza = wrap(
            &Identity::from_bytes(SCALAR).public_bytes(),
            EPHEMERAL,
            &FILE_KEY,
        );
        assert_eq!(
            age::Identity::unwrap_stanza(&scalar_id, &stanza)
                .map(|r| r.map(|k| *k.expose_secret()).map_err(|e| format!("{e:?}"))),
            Some(Ok(FILE_KEY))
        );
        assert_eq!(
            Identity::from_age(&scalar_id).public_bytes(),
            Identity::from_bytes(SCALAR).public_bytes()
        );
    }

    #[test]
    fn a_wrong_key_a_tampered_body_and_another_type_are_not_ours() {
        let id = Identity::from_bytes(SCALAR);
        let other = Identity::from_bytes([0x43; 32]);
        let stanza = wrap(&id.public_bytes(), EPHEMERAL, &FILE_KEY);
        assert_eq!(unwrap(&other, &stanza), None, "wrong key");
        for i in [0, 15, 16, 31] {
            let mut tampered = copy(&stanza);
            tampered.body[i] ^= 1;
            assert_eq!(unwrap(&id, &tampered), None, "body byte {i} flipped");
        }
        let mut scrypt = copy(&stanza);
        scrypt.tag = "scrypt".into();
        assert_eq!(unwrap(&id, &scrypt), None);
    }

    #[test]
    fn malformed_stanzas_and_low_order_shares_are_invalid_headers() {
        let id = Identity::from_bytes(SCALAR);
        let good = wrap(&id.public_bytes(), EPHEMERAL, &FILE_KEY);
        let invalid = Some(Err(format!("{:?}", DecryptError::InvalidHeader)));
        let with_args = |args: Vec<String>| Stanza {
            args,
            ..copy(&good)
        };
        // No argument, two, a padded one, a short one, a long one, a non-canonical one
        // (the last character's unused bits set).
        let arg = good.args[0].clone();
        // 43 characters carry 258 bits: the last one's two low bits must be zero.
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let last = arg
            .chars()
            .last()
            .and_then(|c| alphabet.find(c))
            .expect("base64");
        let mut non_canonical = arg.clone();
        non_canonical.pop();
        non_canonical.push(alphabet.as_bytes()[(last & !3) | 1] as char);
        for args in [
            vec![],
            vec![arg.clone(), arg.clone()],
            vec![format!("{arg}=")],
            vec![arg[..42].to_owned()],
            vec![format!("{arg}AAAA")],
            vec![non_canonical],
        ] {
            assert_eq!(unwrap(&id, &with_args(args.clone())), invalid, "{args:?}");
        }
        let mut short = copy(&good);
        short.body.pop();
        assert_eq!(unwrap(&id, &short), invalid, "a 31-byte body");
        let mut long = copy(&good);
        long.body.push(0);
        assert_eq!(unwrap(&id, &long), invalid, "a 33-byte body");
        // Points of small order make the shared secret all zeros whatever the scalar.
        let mut order_8 = [0u8; 32];
        order_8[..8].copy_from_slice(&[0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae]);
        order_8[8..16].copy_from_slice(&[0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a]);
        order_8[16..24].copy_from_slice(&[0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd]);
        order_8[24..].copy_from_slice(&[0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00]);
        let mut one = [0u8; 32];
        one[0] = 1;
        for point in [[0u8; 32], one, order_8] {
            let low = with_args(vec![STANDARD_NO_PAD.encode(point)]);
            assert_eq!(unwrap(&id, &low), invalid, "low-order share {point:02x?}");
            // The age crate refuses it the same way.
            let age_id: age::x25519::Identity = age_identity(SCALAR);
            assert_eq!(
                age::Identity::unwrap_stanza(&age_id, &low).map(|r| r.is_err()),
                Some(true)
            );
        }
    }

    /// The age crate's identity of `scalar`.
    fn age_identity(scalar: [u8; 32]) -> age::x25519::Identity {
        let hrp = bech32::Hrp::parse("AGE-SECRET-KEY-").expect("hrp");
        let text = bech32::encode::<bech32::Bech32>(hrp, &scalar).expect("encodes");
        text.to_uppercase().parse().expect("identity")
    }
}
