//! Writes the committed test vectors of the v1 format (tests/vectors/) with the
//! keys-example identity. Run once, by hand, when a vector is added:
//!
//! ```text
//! cargo run -p seal-core --example make_vectors -- keys-example/identity.txt crates/seal-core/tests/vectors
//! ```
//!
//! Sealing is randomised, so a new run gives new bytes; the committed files are the
//! reference and tests/vectors.rs checks them.

use std::io::Write;
use std::path::{Path, PathBuf};

use age::x25519;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use seal_core::envelope::seal_value;
use seal_core::{Binding, KeyRing, Recipients, Scope};
use serde_json::json;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let identity_path = args
        .next()
        .ok_or("usage: make_vectors IDENTITY_FILE OUT_DIR")?;
    let out: PathBuf = args
        .next()
        .ok_or("usage: make_vectors IDENTITY_FILE OUT_DIR")?
        .into();
    let text = zeroize::Zeroizing::new(std::fs::read_to_string(&identity_path)?);
    let mut ring = KeyRing::new();
    ring.add_file(&identity_path, &text)?;
    let mut example = Recipients::new();
    for r in ring.recipients() {
        example.add_arg("keys-example", &r)?;
    }
    let stranger = x25519::Identity::generate().to_public();
    let mut both = example.clone();
    both.insert(stranger.clone());
    let mut only_stranger = Recipients::new();
    only_stranger.insert(stranger);

    let strict = Binding::new(Scope::Strict, "apps", "db", "password")?;
    let value = b"correct horse battery staple";
    let at = |scope, namespace: &str, name: &str, key: &str| json!({"scope": scope, "namespace": namespace, "name": name, "key": key});
    let ok = |v: &[u8]| json!({"value_base64": STANDARD.encode(v)});
    let fail = |reason: &str| json!({"error": reason});
    let hint = |r: &Recipients| r.to_strings();

    let all_bytes: Vec<u8> = (0..=255).collect();
    let cases: Vec<(
        &str,
        String,
        serde_json::Value,
        Vec<String>,
        serde_json::Value,
    )> = vec![
        (
            "strict",
            seal_value(&strict, value, &example)?,
            at("strict", "apps", "db", "password"),
            hint(&example),
            ok(value),
        ),
        (
            "namespace_renamed",
            seal_value(
                &Binding::new(Scope::Namespace, "apps", "db", "password")?,
                value,
                &example,
            )?,
            at("namespace", "apps", "renamed", "password"),
            hint(&example),
            ok(value),
        ),
        (
            "cluster_moved",
            seal_value(
                &Binding::new(Scope::Cluster, "", "", "password")?,
                value,
                &example,
            )?,
            at("cluster", "elsewhere", "other", "password"),
            hint(&example),
            ok(value),
        ),
        (
            "two_recipients",
            seal_value(&strict, value, &both)?,
            at("strict", "apps", "db", "password"),
            hint(&both),
            ok(value),
        ),
        (
            "empty_value",
            seal_value(&strict, b"", &example)?,
            at("strict", "apps", "db", "password"),
            hint(&example),
            ok(b""),
        ),
        (
            "binary_value",
            seal_value(&strict, &all_bytes, &example)?,
            at("strict", "apps", "db", "password"),
            hint(&example),
            ok(&all_bytes),
        ),
        (
            "fail_wrong_namespace",
            seal_value(&strict, value, &example)?,
            at("strict", "other", "db", "password"),
            hint(&example),
            fail("ScopeMismatch"),
        ),
        (
            "fail_wrong_name",
            seal_value(&strict, value, &example)?,
            at("strict", "apps", "other", "password"),
            hint(&example),
            fail("ScopeMismatch"),
        ),
        (
            "fail_swapped_key",
            seal_value(
                &Binding::new(Scope::Strict, "apps", "db", "username")?,
                b"orders",
                &example,
            )?,
            at("strict", "apps", "db", "password"),
            hint(&example),
            fail("ScopeMismatch"),
        ),
        (
            "fail_scope_widened",
            seal_value(
                &Binding::new(Scope::Cluster, "", "", "password")?,
                value,
                &example,
            )?,
            at("strict", "apps", "db", "password"),
            hint(&example),
            fail("ScopeMismatch"),
        ),
        (
            "fail_tampered",
            tamper(&seal_value(&strict, value, &example)?)?,
            at("strict", "apps", "db", "password"),
            hint(&example),
            fail("DecryptFailed"),
        ),
        (
            "fail_unknown_recipient",
            seal_value(&strict, value, &only_stranger)?,
            at("strict", "apps", "db", "password"),
            hint(&only_stranger),
            fail("NoMatchingKey"),
        ),
        (
            "fail_unknown_version",
            raw_age(
                b"seal.dev/v2 strict apps db password\ncorrect horse battery staple",
                &example,
            )?,
            at("strict", "apps", "db", "password"),
            hint(&example),
            fail("UnsupportedVersion"),
        ),
        (
            "fail_no_header",
            raw_age(b"correct horse battery staple", &example)?,
            at("strict", "apps", "db", "password"),
            hint(&example),
            fail("NotSealFormat"),
        ),
    ];
    std::fs::create_dir_all(&out)?;
    for (name, sealed, stands_at, recipients, expect) in cases {
        write(&out.join(format!("{name}.age")), &STANDARD.decode(sealed)?)?;
        let meta = json!({"stands_at": stands_at, "recipients": recipients, "expect": expect});
        write(
            &out.join(format!("{name}.json")),
            (serde_json::to_string_pretty(&meta)? + "\n").as_bytes(),
        )?;
    }
    Ok(())
}

/// Flips one bit in the last byte of the payload (inside the final chunk's tag).
fn tamper(sealed: &str) -> Result<String, Box<dyn std::error::Error>> {
    let mut bytes = STANDARD.decode(sealed)?;
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    Ok(STANDARD.encode(bytes))
}

/// A plain age encryption of `plaintext`, with no seal header added.
fn raw_age(plaintext: &[u8], to: &Recipients) -> Result<String, Box<dyn std::error::Error>> {
    let encryptor = age::Encryptor::with_recipients(to.as_age())?;
    let mut out = Vec::new();
    let mut writer = encryptor.wrap_output(&mut out)?;
    writer.write_all(plaintext)?;
    writer.finish()?;
    Ok(STANDARD.encode(out))
}

fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}
