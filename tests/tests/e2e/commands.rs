//! The subcommands from the built binary: regcred, raw, keygen, inspect.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use seal_e2e::*;

#[test]
fn regcred_builds_a_docker_config_from_stdin_without_the_newline() {
    let recipients = example_recipients();
    let out = run(
        "seal",
        &[
            "regcred",
            "--server",
            "harbor.example.com",
            "--username",
            "robot$ci",
            "--password-stdin",
            "--name",
            "regcred",
            "-n",
            "apps",
            "-R",
            &recipients,
        ],
        Some(b"t0ken-value\n"),
    )
    .ok();
    assert!(!out.contains("t0ken-value"));
    let doc = &documents(&out)[0];
    assert_eq!(
        doc["spec"]["template"]["type"],
        "kubernetes.io/dockerconfigjson"
    );
    let identity = example_identity();
    let plain = run(
        "unseal",
        &["recover", "-i", &identity],
        Some(out.as_bytes()),
    )
    .ok();
    let data = secret_data(&documents(&plain)[0]);
    let config: serde_json::Value =
        serde_json::from_slice(&data[".dockerconfigjson"]).expect("docker config json");
    let entry = &config["auths"]["harbor.example.com"];
    assert_eq!(entry["password"], "t0ken-value");
    assert_eq!(entry["auth"], STANDARD.encode("robot$ci:t0ken-value"));
}

#[test]
fn regcred_refuses_an_empty_password() {
    let recipients = example_recipients();
    let line = run(
        "seal",
        &[
            "regcred",
            "--server",
            "r.io",
            "--username",
            "u",
            "--password-stdin",
            "--name",
            "x",
            "-n",
            "a",
            "-R",
            &recipients,
        ],
        Some(b"\n"),
    )
    .fails_with(1);
    assert!(line.contains("--password-stdin"), "{line}");
}

#[test]
fn raw_value_pasted_into_a_manifest_opens() {
    let dir = scratch();
    let d = dir.path();
    let recipients = example_recipients();
    let raw = run_in(
        d,
        "seal",
        &[
            "raw",
            "-n",
            "apps",
            "--name",
            "hook",
            "--key",
            "secret",
            "-R",
            &recipients,
        ],
        Some(b"no-newline-here"),
    );
    assert!(
        !raw.stderr.contains("newline"),
        "no newline note expected: {}",
        raw.stderr
    );
    let sealed = raw.ok();
    let manifest = format!(
        "apiVersion: seal.dev/v1alpha1\nkind: SealedSecret\nmetadata:\n  name: hook\n  namespace: apps\nspec:\n  encryptedData:\n    secret: {}\n",
        sealed.trim()
    );
    let file = write(d, "hook.yaml", &manifest);
    let identity = example_identity();
    let out = run_in(d, "unseal", &["recover", "-i", &identity, &file], None).ok();
    assert_eq!(
        secret_data(&documents(&out)[0])["secret"],
        b"no-newline-here"
    );
    // A trailing newline is sealed as given, with a note on stderr.
    let noted = run_in(
        d,
        "seal",
        &["raw", "--scope", "cluster", "--key", "k", "-R", &recipients],
        Some(b"v\n"),
    );
    assert!(
        noted.stderr.contains("ends with a newline"),
        "{}",
        noted.stderr
    );
    noted.ok();
}

#[test]
fn keygen_writes_a_private_file_once() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch();
    let d = dir.path();
    let made = run_in(d, "seal", &["keygen", "-o", "id.txt"], None);
    let recipient = made
        .stderr
        .trim()
        .strip_prefix("Public key: ")
        .expect("recipient line")
        .to_owned();
    assert!(recipient.starts_with("age1"));
    made.ok();
    let text = std::fs::read_to_string(d.join("id.txt")).expect("key file");
    assert!(text.contains(&format!("# public key: {recipient}")));
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("AGE-SECRET-KEY-1"))
            .count(),
        1
    );
    let mode = std::fs::metadata(d.join("id.txt"))
        .expect("stat")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let line = run_in(d, "seal", &["keygen", "-o", "id.txt"], None).fails_with(1);
    assert!(line.contains("refusing to overwrite"), "{line}");
    assert_eq!(
        std::fs::read_to_string(d.join("id.txt")).expect("kept"),
        text
    );
}

#[test]
fn inspect_reports_keys_sizes_and_recipients_without_a_key() {
    let sealed = repo_file("examples/sealed/db-credentials.yaml");
    let out = run("seal", &["inspect", "-o", "json", &sealed], None).ok();
    let report: serde_json::Value = serde_json::from_str(&out).expect("json");
    let first = &report[0];
    assert_eq!(first["name"], "db-credentials");
    assert_eq!(first["scope"], "strict");
    let keys = first["keys"].as_array().expect("keys");
    let password = keys
        .iter()
        .find(|k| k["key"] == "password")
        .expect("password key");
    assert_eq!(password["valueBytes"], "example-only-0f3b9c".len());
    assert_eq!(password["recipientStanzas"], 1);
    let text = run("seal", &["inspect", &sealed], None).ok();
    assert!(
        text.contains("scope:      strict (bound to namespace apps, name db-credentials, key)"),
        "{text}"
    );
    assert!(!text.contains("example-only"));
}
