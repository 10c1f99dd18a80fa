//! The committed v1 test vectors (tests/vectors/), one case per `.age` file: each opens
//! with the keys-example identity to its expected value, or fails with its expected
//! reason (`fail_*`). They pin the format: a change that breaks an old value fails here.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use seal_core::envelope::open_value;
use seal_core::{Binding, KeyRing, Scope};
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn keys() -> KeyRing {
    let path = root().join("keys-example/identity.txt");
    let text =
        zeroize::Zeroizing::new(std::fs::read_to_string(&path).expect("keys-example identity"));
    let mut ring = KeyRing::new();
    ring.add_file("keys-example/identity.txt", &text)
        .expect("identity parses");
    ring
}

fn cases() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("vectors folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "age"))
        .collect();
    cases.sort();
    cases
}

#[test]
fn every_vector_opens_or_fails_as_recorded() {
    let keys = keys();
    let cases = cases();
    assert!(cases.len() >= 14, "vectors missing: found {}", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let name = case
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("utf-8 name")
            .to_owned();
        let meta: Value = serde_json::from_str(
            &std::fs::read_to_string(case.with_extension("json")).expect("meta file"),
        )
        .expect("meta json");
        let at = &meta["stands_at"];
        let field = |k: &str| at[k].as_str().expect("string field").to_owned();
        let binding = Binding {
            scope: field("scope").parse::<Scope>().expect("scope"),
            namespace: field("namespace"),
            name: field("name"),
            key: field("key"),
        };
        let hint: Vec<String> =
            serde_json::from_value(meta["recipients"].clone()).expect("recipients");
        let sealed = STANDARD.encode(std::fs::read(case).expect("vector"));
        let got = open_value(&sealed, &binding, &keys, &hint);
        let expect = &meta["expect"];
        let outcome = match (
            got,
            expect["value_base64"].as_str(),
            expect["error"].as_str(),
        ) {
            (Ok(v), Some(want), None) if STANDARD.encode(v.expose()) == want => Ok(()),
            (Err(e), None, Some(reason)) if e.reason() == reason => Ok(()),
            (got, _, _) => Err(format!("{name}: got {got:?}, expected {expect}")),
        };
        assert_eq!(
            name.starts_with("fail_"),
            expect["error"].is_string(),
            "{name}: fail_ prefix and expectation disagree"
        );
        if let Err(e) = outcome {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The plaintext layout of docs/FORMAT.md, checked with the age library alone (no seal
/// code): header line, then the value.
#[test]
fn strict_vector_plaintext_is_the_documented_header_then_value() {
    use std::io::Read;
    use std::str::FromStr;
    let text = std::fs::read_to_string(root().join("keys-example/identity.txt")).expect("identity");
    let line = text
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .expect("identity line");
    let identity = age::x25519::Identity::from_str(line).expect("identity parses");
    let bytes =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/strict.age"))
            .expect("vector");
    let decryptor = age::Decryptor::new_buffered(&bytes[..]).expect("age header");
    let mut plain = Vec::new();
    decryptor
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .expect("opens")
        .read_to_end(&mut plain)
        .expect("reads");
    assert_eq!(
        plain,
        b"seal.dev/v1 strict apps db password\ncorrect horse battery staple"
    );
}
