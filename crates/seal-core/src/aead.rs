//! ChaCha20-Poly1305 opens of the small messages an age file holds (a 16-byte file key,
//! one payload chunk of a Secret value).
//!
//! These go through AWS-LC rather than the `chacha20poly1305` crate: on x86-64 with AVX2
//! that crate's vector backends spend about 1.9 µs setting up for a 32-byte message
//! (`scripts/bench crypto` prints both), against about 0.3 µs here, and an open does two of them beside a ~55 µs
//! Diffie-Hellman. Sealing still goes through the `age` crate.

use aws_lc_rs::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};

/// The Poly1305 tag's length.
pub(crate) const TAG_BYTES: usize = 16;

/// Opens `in_out` (ciphertext followed by its tag) in place with `key` and `nonce`;
/// returns the plaintext's length, or `None` when it does not authenticate.
pub(crate) fn open_in_place(key: &[u8; 32], nonce: [u8; 12], in_out: &mut [u8]) -> Option<usize> {
    let key = UnboundKey::new(&CHACHA20_POLY1305, key).ok()?;
    LessSafeKey::new(key)
        .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::empty(), in_out)
        .ok()
        .map(|plaintext| plaintext.len())
}

#[cfg(test)]
mod tests {
    use chacha20poly1305::aead::Aead;
    use chacha20poly1305::{ChaCha20Poly1305, KeyInit};

    use super::*;

    /// What the `chacha20poly1305` crate (an independent implementation, the one the
    /// `age` crate seals with) seals, this opens to the same bytes; one flipped bit
    /// anywhere, a wrong key or a wrong nonce is refused.
    #[test]
    fn opens_what_the_rustcrypto_crate_seals_and_nothing_else() {
        let key = [7u8; 32];
        let mut nonce = [0u8; 12];
        nonce[11] = 1;
        for len in [0usize, 1, 16, 32, 63, 64, 65, 1000] {
            let plaintext: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let sealed = ChaCha20Poly1305::new(&key.into())
                .encrypt(&nonce.into(), plaintext.as_slice())
                .expect("seals");
            let mut buf = sealed.clone();
            assert_eq!(open_in_place(&key, nonce, &mut buf), Some(len));
            assert_eq!(&buf[..len], plaintext.as_slice());
            for bit in [0, sealed.len() * 8 - 1, (sealed.len() * 8) / 2] {
                let mut bad = sealed.clone();
                bad[bit / 8] ^= 1 << (bit % 8);
                assert_eq!(open_in_place(&key, nonce, &mut bad), None, "bit {bit}");
            }
            assert_eq!(open_in_place(&[8u8; 32], nonce, &mut sealed.clone()), None);
            assert_eq!(open_in_place(&key, [0u8; 12], &mut sealed.clone()), None);
        }
        assert_eq!(open_in_place(&key, nonce, &mut [0u8; TAG_BYTES - 1]), None);
    }
}
