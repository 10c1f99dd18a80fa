//! Break-glass with the standard `age` CLI: a sealed value is a plain age file, so
//! `age -d -i identity` opens it to the header line and the value. Skipped (and says so)
//! when no `age` binary is on PATH, except in CI (`CI` set), where `.ci/run` installs it
//! and a missing binary is a failure.

use std::io::Write;
use std::process::{Command, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use seal_e2e::*;

#[test]
fn the_age_cli_opens_a_sealed_value() {
    if Command::new("age").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have the age CLI (.ci/run installs it)"
        );
        eprintln!("SKIPPED: no `age` binary on PATH (apt-get install age)");
        return;
    }
    let sealed =
        std::fs::read_to_string(repo_file("examples/sealed/db-credentials.yaml")).expect("example");
    let doc = &documents(&sealed)[0];
    let value = doc["spec"]["encryptedData"]["password"]
        .as_str()
        .expect("sealed value");
    let bytes = STANDARD.decode(value).expect("base64");
    let mut child = Command::new("age")
        .args(["-d", "-i", &example_identity()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("age starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&bytes)
        .expect("written");
    let out = child.wait_with_output().expect("age finishes");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        out.stdout,
        b"seal.dev/v1 strict apps db-credentials password\nexample-only-0f3b9c"
    );
}
