//! One bitnami sealed value: `u16` big-endian length of the RSA block, the RSA-OAEP
//! (SHA-256, the scope's label) encryption of a 32-byte session key, then the value
//! under AES-256-GCM with that key and a zero nonce. No key id is in the value, so every
//! key whose modulus has the block's length is tried.
//!
//! RSA decryption is aws-lc's (constant time); see [`super::keys::BitnamiKey`].

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use zeroize::Zeroizing;

use super::keys::BitnamiKeys;
use crate::secret_bytes::SecretBytes;

/// The largest sealed value read (decoded bytes): a whole Secret is at most 1 MiB, so a
/// value beyond that cannot have come from a Secret.
pub const MAX_VALUE_BYTES: usize = 1024 * 1024 + 4096;

/// Length of the session key.
const SESSION_KEY_BYTES: usize = 32;
/// Length of the AES-GCM tag.
const TAG_BYTES: usize = 16;

/// Why a bitnami value did not open. The messages never include the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// Not base64 (standard alphabet).
    #[error("not base64")]
    NotBase64,
    /// Larger than any Secret can hold.
    #[error("larger than a Secret can hold ({0} bytes)")]
    TooLarge(usize),
    /// Too short for the length prefix, the RSA block it announces and a GCM tag.
    #[error("too short for a sealed-secrets value")]
    TooShort,
    /// The RSA block's length fits none of the keys.
    #[error("its RSA block is {0} bytes, which fits none of the given keys")]
    NoKeyOfThatSize(usize),
    /// No key opened it: another cluster's key, another scope, namespace or name, or a
    /// tampered value.
    #[error(
        "no given key opens it (sealed with another key, for another namespace, name or scope, or tampered with)"
    )]
    NoKeyOpens,
    /// Opening took more RSA decryptions than the caller allowed.
    #[error(
        "opening took more than the {0} RSA decryptions (counted as RSA-4096 ones) allowed for one object"
    )]
    OverBudget(usize),
}

/// How many RSA decryptions opening may still take, counted in RSA-4096 operations
/// ([`rsa_cost`]: each costs milliseconds, a larger key more). Offline there is no
/// limit; the controller's `/v1/migrate` gives each call a fixed number, paid for in
/// advance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RsaBudget {
    limit: usize,
    used: usize,
}

impl RsaBudget {
    /// At most `limit` decryptions.
    pub fn new(limit: usize) -> Self {
        Self { limit, used: 0 }
    }

    /// No limit.
    pub fn unlimited() -> Self {
        Self::new(usize::MAX)
    }

    /// How many were used.
    pub fn used(&self) -> usize {
        self.used
    }

    fn take(&mut self, cost: usize) -> Result<(), FormatError> {
        if self.used.saturating_add(cost) > self.limit {
            return Err(FormatError::OverBudget(self.limit));
        }
        self.used += cost;
        Ok(())
    }
}

/// What one RSA private-key operation with a modulus of `bytes` costs, counted in
/// RSA-4096 operations: the work grows with the cube of the size, so a key up to 4,096
/// bits costs 1, up to 8,192 bits 8 (rounded up to whole multiples of 4,096 bits).
pub fn rsa_cost(bytes: usize) -> usize {
    bytes.div_ceil(512).max(1).pow(3)
}

/// Opens a base64 sealed value bound to `label` with any of `keys`, each RSA decryption
/// tried taken from `budget`.
pub fn open_base64(
    keys: &BitnamiKeys,
    text: &str,
    label: &[u8],
    budget: &mut RsaBudget,
) -> Result<SecretBytes, FormatError> {
    // A base64 text of more than 4/3 of the limit cannot decode within it.
    if text.len() > MAX_VALUE_BYTES / 3 * 4 + 8 {
        return Err(FormatError::TooLarge(text.len() / 4 * 3));
    }
    use base64::Engine as _;
    let bytes = Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| FormatError::NotBase64)?,
    );
    open(keys, &bytes, label, budget)
}

/// Opens a sealed value (raw bytes) bound to `label` with any of `keys`, each RSA
/// decryption tried taken from `budget`.
pub fn open(
    keys: &BitnamiKeys,
    value: &[u8],
    label: &[u8],
    budget: &mut RsaBudget,
) -> Result<SecretBytes, FormatError> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(FormatError::TooLarge(value.len()));
    }
    let Some((prefix, rest)) = value.split_first_chunk::<2>() else {
        return Err(FormatError::TooShort);
    };
    let rsa_len = usize::from(u16::from_be_bytes(*prefix));
    if rest.len() < rsa_len + TAG_BYTES {
        return Err(FormatError::TooShort);
    }
    let (rsa_block, sealed) = rest.split_at(rsa_len);
    let mut fitting = keys
        .in_trial_order()
        .filter(|(_, k)| k.size() == rsa_len)
        .peekable();
    if fitting.peek().is_none() {
        return Err(FormatError::NoKeyOfThatSize(rsa_len));
    }
    // The RSA step is constant time (aws-lc); what follows it is not (a failed OAEP
    // decoding skips the AES-GCM step), which tells a caller of the controller's
    // `/v1/migrate` only whether a block was a valid OAEP encryption under this label: for
    // any block but one made with the public key that happens with negligible chance
    // (the label's hash must match), so it is no padding oracle.
    for (index, key) in fitting {
        budget.take(rsa_cost(rsa_len))?;
        let Some(session) = key.decrypt(rsa_block, label) else {
            continue;
        };
        if session.len() != SESSION_KEY_BYTES {
            continue;
        }
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&session));
        if let Ok(plain) = cipher.decrypt(Nonce::from_slice(&[0u8; 12]), sealed) {
            keys.opened_with(index);
            return Ok(SecretBytes::new(plain));
        }
    }
    Err(FormatError::NoKeyOpens)
}

/// Seals a value the way kubeseal does, to `key`'s public half. For tests that need a
/// value kubeseal would not make (kubeseal itself is used wherever it can be); nothing in
/// seal ever writes this format.
#[cfg(test)]
pub fn seal_for_test(key: &super::keys::BitnamiKey, value: &[u8], label: &[u8]) -> Vec<u8> {
    let public = key.public_key().expect("a public key");
    let mut session = [0u8; SESSION_KEY_BYTES];
    aws_lc_rs::rand::fill(&mut session).expect("random");
    let mut block = vec![0u8; public.ciphertext_size()];
    let block = public
        .encrypt(
            &aws_lc_rs::rsa::OAEP_SHA256_MGF1SHA256,
            &session,
            &mut block,
            Some(label),
        )
        .expect("encrypts")
        .to_vec();
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&session));
    let sealed = cipher
        .encrypt(Nonce::from_slice(&[0u8; 12]), value)
        .expect("seals");
    let mut out = u16::try_from(block.len())
        .expect("fits")
        .to_be_bytes()
        .to_vec();
    out.extend(block);
    out.extend(sealed);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bitnami::keys::tests::test_keys;

    fn open(keys: &BitnamiKeys, value: &[u8], label: &[u8]) -> Result<SecretBytes, FormatError> {
        super::open(keys, value, label, &mut RsaBudget::unlimited())
    }

    fn open_base64(
        keys: &BitnamiKeys,
        text: &str,
        label: &[u8],
    ) -> Result<SecretBytes, FormatError> {
        super::open_base64(keys, text, label, &mut RsaBudget::unlimited())
    }

    /// Every key tried is paid for, and the last try the budget allows is the last made.
    #[test]
    fn a_larger_key_costs_the_cube_of_its_size() {
        assert_eq!(rsa_cost(256), 1, "2048 bits");
        assert_eq!(rsa_cost(512), 1, "4096 bits");
        assert_eq!(rsa_cost(960), 8, "7680 bits, rounded up to 8192");
        assert_eq!(rsa_cost(1024), 8, "8192 bits");
        assert_eq!(rsa_cost(2048), 64, "16384 bits");
        let mut budget = RsaBudget::new(10);
        assert_eq!(budget.take(rsa_cost(1024)), Ok(()));
        assert_eq!(
            budget.take(rsa_cost(1024)),
            Err(FormatError::OverBudget(10))
        );
        assert_eq!(budget.take(rsa_cost(512)), Ok(()));
        assert_eq!(budget.used(), 9);
    }

    #[test]
    fn each_rsa_try_takes_one_from_the_budget() {
        let mut keys = BitnamiKeys::new();
        keys.add_file("other.pem", OTHER_KEY).expect("other");
        keys.add_file("test.key", crate::bitnami::keys::tests::TEST_KEY)
            .expect("test key");
        let second = keys.iter().nth(1).expect("second");
        let sealed = seal_for_test(second, b"v", b"");
        let mut one = RsaBudget::new(1);
        assert_eq!(
            super::open(&keys, &sealed, b"", &mut one),
            Err(FormatError::OverBudget(1))
        );
        assert_eq!(one.used(), 1);
        let mut two = RsaBudget::new(2);
        assert!(super::open(&keys, &sealed, b"", &mut two).is_ok());
        assert_eq!(two.used(), 2);
        // The key that opened is now tried first: one try.
        let mut again = RsaBudget::new(1);
        assert!(super::open(&keys, &sealed, b"", &mut again).is_ok());
        let mut none = RsaBudget::new(0);
        assert_eq!(
            super::open(&keys, &sealed, b"", &mut none),
            Err(FormatError::OverBudget(0))
        );
    }

    #[test]
    fn a_value_opens_with_its_label_only() {
        let keys = test_keys();
        let key = keys.iter().next().expect("a key");
        let sealed = seal_for_test(key, b"\x00\xffbin", b"ns/db");
        assert_eq!(
            open(&keys, &sealed, b"ns/db").expect("opens").expose(),
            b"\x00\xffbin"
        );
        assert_eq!(
            open(&keys, &sealed, b"ns/other"),
            Err(FormatError::NoKeyOpens)
        );
        assert_eq!(open(&keys, &sealed, b""), Err(FormatError::NoKeyOpens));
    }

    #[test]
    fn the_key_that_opened_last_is_tried_first() {
        let mut keys = BitnamiKeys::new();
        keys.add_file("other.pem", OTHER_KEY).expect("other");
        keys.add_file("test.key", crate::bitnami::keys::tests::TEST_KEY)
            .expect("test key");
        let order = |keys: &BitnamiKeys| keys.in_trial_order().map(|(i, _)| i).collect::<Vec<_>>();
        assert_eq!(order(&keys), [0, 1]);
        let second = keys.iter().nth(1).expect("second");
        let sealed = seal_for_test(second, b"v", b"");
        assert_eq!(open(&keys, &sealed, b"").expect("opens").expose(), b"v");
        assert_eq!(keys.last_opened(), 1);
        assert_eq!(order(&keys), [1, 0]);
        let first = keys.iter().next().expect("first");
        let sealed = seal_for_test(first, b"w", b"");
        assert_eq!(open(&keys, &sealed, b"").expect("opens").expose(), b"w");
        assert_eq!(order(&keys), [0, 1]);
    }

    /// A second throw-away 2048-bit key, made for this test only.
    const OTHER_KEY: &str = include_str!("../../../../keys-example/sealed-secrets-other.key");

    #[test]
    fn tampered_values_fail() {
        let keys = test_keys();
        let key = keys.iter().next().expect("a key");
        let sealed = seal_for_test(key, b"value", b"");
        for at in [5, sealed.len() - 1, sealed.len() - 20] {
            let mut bad = sealed.clone();
            bad[at] ^= 1;
            assert_eq!(
                open(&keys, &bad, b""),
                Err(FormatError::NoKeyOpens),
                "byte {at}"
            );
        }
    }

    #[test]
    fn crafted_lengths_fail_before_any_rsa() {
        let keys = test_keys();
        assert_eq!(open(&keys, &[], b""), Err(FormatError::TooShort));
        assert_eq!(
            open(&keys, &[0xff, 0xff, 1, 2, 3], b""),
            Err(FormatError::TooShort)
        );
        let mut odd = vec![0x00, 0x10];
        odd.extend([7u8; 64]);
        assert_eq!(
            open(&keys, &odd, b""),
            Err(FormatError::NoKeyOfThatSize(16))
        );
        let huge = vec![0u8; MAX_VALUE_BYTES + 1];
        assert!(matches!(
            open(&keys, &huge, b""),
            Err(FormatError::TooLarge(_))
        ));
        let huge_text = "A".repeat(MAX_VALUE_BYTES * 2);
        assert!(matches!(
            open_base64(&keys, &huge_text, b""),
            Err(FormatError::TooLarge(_))
        ));
        assert_eq!(
            open_base64(&keys, "not base64!", b""),
            Err(FormatError::NotBase64)
        );
    }
}
