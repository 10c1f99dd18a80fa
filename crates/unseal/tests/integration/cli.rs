//! The `unseal` binary starts, reports its version and refuses bad usage with exit code 2
//! (`recover` without an identity). (Having this test also makes `cargo test --workspace`
//! build the binary that the end-to-end suite in tests/ runs.)

use std::process::Command;

#[test]
fn version_and_usage_errors() {
    let exe = env!("CARGO_BIN_EXE_unseal");
    let out = Command::new(exe).arg("--version").output().expect("runs");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("unseal "));
    let out = Command::new(exe).arg("recover").output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
}
