//! The X25519 stanza vectors (tests/vectors/x25519/, made with the Go `age` CLI: see the
//! README there): our own identity ([`seal_core::x25519::Identity`]) opens what the CLI
//! sealed to the keys-example recipient, and refuses a wrong key, a tampered stanza body
//! and a low-order ephemeral share exactly as the `age` crate's own identity does.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use age::secrecy::ExposeSecret;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/x25519")
}

fn age_identity() -> age::x25519::Identity {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../keys-example/identity.txt");
    let text = zeroize::Zeroizing::new(std::fs::read_to_string(path).expect("identity"));
    let line = text
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .expect("an identity line");
    age::x25519::Identity::from_str(line).expect("identity parses")
}

/// Decrypts `file` with `identity`: the plaintext, or the error's name.
fn open(file: &str, identity: &dyn age::Identity) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(dir().join(file)).expect("vector");
    let decryptor = age::Decryptor::new_buffered(&bytes[..]).map_err(|e| format!("{e:?}"))?;
    let mut reader = decryptor
        .decrypt(std::iter::once(identity))
        .map_err(|e| format!("{e:?}"))?;
    let mut out = Vec::new();
    reader.read_to_end(&mut out).map_err(|e| format!("{e:?}"))?;
    Ok(out)
}

#[test]
fn the_age_cli_vectors_open_or_fail_as_with_the_age_crate() {
    let theirs = age_identity();
    let ours = seal_core::x25519::Identity::from_age(&theirs);
    assert!(
        theirs
            .to_string()
            .expose_secret()
            .starts_with("AGE-SECRET-KEY-1")
    );
    let cases = [
        (
            "age_cli.age",
            Ok(b"opened by our own X25519 identity".to_vec()),
        ),
        ("fail_wrong_key.age", Err("NoMatchingKeys")),
        ("fail_tampered_body.age", Err("NoMatchingKeys")),
        ("fail_low_order_share.age", Err("InvalidHeader")),
    ];
    for (file, expected) in cases {
        let expected = expected.map_err(str::to_owned);
        assert_eq!(open(file, &ours), expected, "{file}, our identity");
        assert_eq!(
            open(file, &theirs),
            expected,
            "{file}, the age crate's identity"
        );
    }
}
