//! Bad input, from the built binaries: each case gives exactly one error line naming the
//! file, the document and the field, a non-zero exit, no output, no file written, and
//! never the secret value.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use seal_e2e::*;

/// The secret value planted in every bad input; it must never be echoed.
const SECRET: &str = "hunter2-do-not-print";

const GOOD: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: apps\nstringData:\n  password: hunter2-do-not-print\n";

/// Runs `seal -R keys-example -w out.yaml FILE` in `dir` and checks the failure.
fn seal_fails(dir: &Path, file: &str, wants: &[&str]) {
    let recipients = example_recipients();
    let run = run_in(
        dir,
        "seal",
        &["-R", &recipients, "-w", "out.yaml", file],
        None,
    );
    let line = run.fails_with(1);
    for want in wants {
        assert!(line.contains(want), "missing {want:?} in: {line}");
    }
    assert!(!line.contains(SECRET), "secret value in: {line}");
    assert!(!dir.join("out.yaml").exists(), "nothing may be written");
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .expect("lists")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".seal-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind");
}

#[test]
fn not_yaml_or_json() {
    let dir = scratch();
    let d = dir.path();
    let f = write(
        d,
        "garbage.yaml",
        &format!("{GOOD}---\ndata: [unclosed\n  password: \"{SECRET}\n"),
    );
    seal_fails(d, &f, &["garbage.yaml: document 2: not valid YAML at line"]);
    let f = write(
        d,
        "garbage.json",
        &format!("{{\"kind\": \"Secret\", \"data\": {{\"p\": \"{SECRET}\"}}"),
    );
    seal_fails(
        d,
        &f,
        &["garbage.json: document 1: not valid JSON at line 1"],
    );
    let f = d.join("binary.yaml");
    std::fs::write(&f, b"\xff\xfe\x00secret").expect("written");
    seal_fails(
        d,
        &f.display().to_string(),
        &["binary.yaml: not UTF-8 text"],
    );
}

#[test]
fn a_document_that_is_not_a_secret() {
    let dir = scratch();
    let d = dir.path();
    let f = write(
        d,
        "two.yaml",
        &format!("{GOOD}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"),
    );
    seal_fails(
        d,
        &f,
        &["two.yaml: document 2: kind: expected Secret, found \"ConfigMap\""],
    );
}

#[test]
fn invalid_base64_in_data() {
    let dir = scratch();
    let d = dir.path();
    let f = write(
        d,
        "b64.yaml",
        &format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: apps\ndata:\n  password: \"{SECRET}!\"\n"
        ),
    );
    seal_fails(
        d,
        &f,
        &["b64.yaml: document 1: data.password: not valid base64"],
    );
}

#[test]
fn a_key_name_kubernetes_would_reject() {
    let dir = scratch();
    let d = dir.path();
    let f = write(d, "key.yaml", &GOOD.replace("password:", "pass/word:"));
    seal_fails(
        d,
        &f,
        &["key.yaml: document 1: stringData.\"pass/word\": a key may hold only"],
    );
}

#[test]
fn strict_scope_without_a_namespace() {
    let dir = scratch();
    let d = dir.path();
    let f = write(d, "nons.yaml", &GOOD.replace("  namespace: apps\n", ""));
    seal_fails(
        d,
        &f,
        &["nons.yaml: document 1: metadata.namespace: required for strict and namespace scope"],
    );
}

#[test]
fn malformed_recipients() {
    let dir = scratch();
    let d = dir.path();
    let f = write(d, "s.yaml", GOOD);
    let line = run_in(d, "seal", &["-r", "age1notarecipient", &f], None).fails_with(1);
    assert!(
        line.contains("-r/--recipient: not a valid age X25519 recipient"),
        "{line}"
    );
    let bad = write(
        d,
        "bad.txt",
        "# ok comment\nage1wkhm4lujjhde4zaq8s0jd48qqthgljl5j3l9etu06h8704gxzaqs968m74\nssh-ed25519 AAAA\n",
    );
    let line = run_in(d, "seal", &["-R", &bad, &f], None).fails_with(1);
    assert!(
        line.contains("bad.txt: line 3: not an age recipient"),
        "{line}"
    );
    let empty = write(d, "empty.txt", "# nothing here\n\n");
    let line = run_in(d, "seal", &["-R", &empty, &f], None).fails_with(1);
    assert!(line.contains("empty.txt: no recipients"), "{line}");
    let line = run_in(d, "seal", &[&f], None).fails_with(1);
    assert!(line.contains("no recipients"), "{line}");
}

#[test]
fn a_private_key_given_as_recipient_is_not_echoed() {
    let dir = scratch();
    let d = dir.path();
    let f = write(d, "s.yaml", GOOD);
    let identity = std::fs::read_to_string(example_identity()).expect("identity");
    let key = identity
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .expect("key line");
    let line = run_in(d, "seal", &["-r", key, &f], None).fails_with(1);
    assert!(line.contains("private identity"), "{line}");
    assert!(!line.contains(key));
}

#[test]
fn identity_file_without_identities() {
    let dir = scratch();
    let d = dir.path();
    let none = write(d, "noid.txt", "# created: never\n");
    let sealed = repo_file("examples/sealed/db-credentials.yaml");
    let line = run_in(d, "unseal", &["recover", "-i", &none, &sealed], None).fails_with(1);
    assert!(line.contains("noid.txt: no identities"), "{line}");
    let wrong = write(
        d,
        "wrong.txt",
        "age1wkhm4lujjhde4zaq8s0jd48qqthgljl5j3l9etu06h8704gxzaqs968m74\n",
    );
    let line = run_in(d, "unseal", &["recover", "-i", &wrong, &sealed], None).fails_with(1);
    assert!(
        line.contains("wrong.txt: line 1: this is a recipient"),
        "{line}"
    );
}

/// Seals GOOD and returns the SealedSecret as JSON.
fn sealed_good() -> serde_json::Value {
    let recipients = example_recipients();
    let out = run(
        "seal",
        &["-R", &recipients, "-o", "json"],
        Some(GOOD.as_bytes()),
    )
    .ok();
    serde_json::from_str(&out).expect("json")
}

fn recover_fails(dir: &Path, name: &str, doc: &serde_json::Value, wants: &[&str]) {
    let good = write(dir, "good.json", &sealed_good().to_string());
    let file = write(dir, name, &doc.to_string());
    let identity = example_identity();
    let line = run_in(
        dir,
        "unseal",
        &["recover", "-i", &identity, "-w", "plain.yaml", &good, &file],
        None,
    )
    .fails_with(3);
    for want in wants {
        assert!(line.contains(want), "missing {want:?} in: {line}");
    }
    assert!(!line.contains(SECRET), "{line}");
    assert!(!dir.join("plain.yaml").exists(), "nothing may be written");
}

#[test]
fn a_tampered_sealed_secret() {
    let dir = scratch();
    let mut doc = sealed_good();
    let value = doc["spec"]["encryptedData"]["password"]
        .as_str()
        .expect("value");
    let mut bytes = STANDARD.decode(value).expect("base64");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    doc["spec"]["encryptedData"]["password"] = STANDARD.encode(bytes).into();
    recover_fails(
        dir.path(),
        "tampered.json",
        &doc,
        &[
            "tampered.json: document 1: spec.encryptedData.password: the ciphertext does not authenticate",
        ],
    );
}

#[test]
fn a_sealed_secret_moved_to_another_namespace() {
    let dir = scratch();
    let mut doc = sealed_good();
    doc["metadata"]["namespace"] = "attacker".into();
    recover_fails(
        dir.path(),
        "moved.json",
        &doc,
        &[
            "moved.json: document 1: spec.encryptedData.password: sealed for namespace \"apps\" but stands in namespace \"attacker\"",
        ],
    );
}

#[test]
fn missing_or_unreadable_files() {
    let dir = scratch();
    let d = dir.path();
    seal_fails(
        d,
        "nope.yaml",
        &["nope.yaml: cannot read: No such file or directory"],
    );
    std::fs::create_dir(d.join("adir.yaml")).expect("dir");
    seal_fails(d, "adir.yaml", &["adir.yaml: cannot read: Is a directory"]);
    let recipients_dir = d.join("rdir");
    std::fs::create_dir(&recipients_dir).expect("dir");
    let f = write(d, "s.yaml", GOOD);
    let line = run_in(d, "seal", &["-R", "rdir", &f], None).fails_with(1);
    assert!(
        line.starts_with("seal: error: rdir: cannot read: "),
        "{line}"
    );
}
