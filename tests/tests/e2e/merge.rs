//! `seal --merge-into`: only the given keys change; every other ciphertext stays byte for
//! byte, so a Git diff shows exactly what changed.

use seal_e2e::*;

const FIRST: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: api\n  namespace: apps\nstringData:\n  a: one\n  b: two\n  c: three\n";
const UPDATE: &str =
    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: api\nstringData:\n  b: TWO\n  d: four\n";

fn encrypted(text: &str) -> serde_json::Map<String, serde_json::Value> {
    documents(text)[0]["spec"]["encryptedData"]
        .as_object()
        .expect("map")
        .clone()
}

#[test]
fn merge_replaces_and_adds_only_the_given_keys() {
    let dir = scratch();
    let d = dir.path();
    let recipients = example_recipients();
    let first = write(d, "first.yaml", FIRST);
    run_in(
        d,
        "seal",
        &["-R", &recipients, &first, "-w", "api.yaml"],
        None,
    )
    .ok();
    let before = std::fs::read_to_string(d.join("api.yaml")).expect("sealed");
    let update = write(d, "update.yaml", UPDATE);
    // No -r: the object's own spec.recipients are used.
    run_in(d, "seal", &[&update, "--merge-into", "api.yaml"], None).ok();
    let after = std::fs::read_to_string(d.join("api.yaml")).expect("merged");
    let (old, new) = (encrypted(&before), encrypted(&after));
    assert_eq!(new["a"], old["a"], "untouched key must keep its ciphertext");
    assert_eq!(new["c"], old["c"], "untouched key must keep its ciphertext");
    assert_ne!(new["b"], old["b"]);
    assert!(new.contains_key("d"));
    // The lines of untouched keys are identical text: no Git churn.
    for key in ["a", "c"] {
        let line = before
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{key}: ")))
            .expect("line");
        assert!(after.lines().any(|l| l == line), "line of {key} changed");
    }
    let identity = example_identity();
    let out = run_in(d, "unseal", &["recover", "-i", &identity, "api.yaml"], None).ok();
    let data = secret_data(&documents(&out)[0]);
    let got: Vec<(&str, &[u8])> = data
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_slice()))
        .collect();
    assert_eq!(
        got,
        [
            ("a", &b"one"[..]),
            ("b", b"TWO"),
            ("c", b"three"),
            ("d", b"four")
        ]
    );
}

#[test]
fn merge_refuses_other_recipients_and_unknown_objects_leaving_the_file_alone() {
    let dir = scratch();
    let d = dir.path();
    let recipients = example_recipients();
    let first = write(d, "first.yaml", FIRST);
    run_in(
        d,
        "seal",
        &["-R", &recipients, &first, "-w", "api.yaml"],
        None,
    )
    .ok();
    let before = std::fs::read(d.join("api.yaml")).expect("sealed");
    run_in(d, "seal", &["keygen", "-o", "other.key"], None).ok();
    let other = std::fs::read_to_string(d.join("other.key"))
        .expect("key")
        .lines()
        .find_map(|l| l.strip_prefix("# public key: ").map(str::to_owned))
        .expect("recipient");
    let update = write(d, "update.yaml", UPDATE);
    let line = run_in(
        d,
        "seal",
        &["-r", &other, &update, "--merge-into", "api.yaml"],
        None,
    )
    .fails_with(1);
    assert!(line.contains("recipients given differ"), "{line}");
    let stranger = write(
        d,
        "stranger.yaml",
        &UPDATE.replace("name: api", "name: nope"),
    );
    let line = run_in(d, "seal", &[&stranger, "--merge-into", "api.yaml"], None).fails_with(1);
    assert!(
        line.contains("stranger.yaml: document 1: metadata.name: no SealedSecret"),
        "{line}"
    );
    assert_eq!(
        std::fs::read(d.join("api.yaml")).expect("still there"),
        before
    );
}
