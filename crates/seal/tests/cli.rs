//! The `seal` and `kubectl-seal` binaries start, report their version and refuse bad
//! usage with exit code 2. (Having this test also makes `cargo test --workspace` build the
//! binaries that the end-to-end suite in tests/ runs.)

use std::process::Command;

#[test]
fn version_and_usage_errors() {
    for exe in [
        env!("CARGO_BIN_EXE_seal"),
        env!("CARGO_BIN_EXE_kubectl-seal"),
    ] {
        let out = Command::new(exe).arg("--version").output().expect("runs");
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("seal "));
        let out = Command::new(exe)
            .arg("--scope=galaxy")
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2));
    }
}
