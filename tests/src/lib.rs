//! Helpers for the end-to-end tests: find the built `seal`, `unseal` and `kubectl-seal`
//! binaries and run them as a user would, with files in a scratch folder.
//!
//! `cargo test --workspace` builds the binaries before any test runs (the `seal` and
//! `unseal` packages have integration tests of their own, which makes cargo build their
//! binaries), so they sit beside this test executable's `deps/` folder.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What a finished process left.
#[derive(Debug)]
pub struct Run {
    /// The exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// Panics unless the process exited 0; returns its standard output.
    pub fn ok(self) -> String {
        assert_eq!(
            self.code,
            Some(0),
            "expected success, stderr: {}",
            self.stderr
        );
        self.stdout
    }

    /// Asserts a failure with `code`, nothing on stdout and exactly one line on stderr;
    /// returns that line.
    pub fn fails_with(self, code: i32) -> String {
        assert_eq!(self.code, Some(code), "exit code; stderr: {}", self.stderr);
        assert!(
            self.stdout.is_empty(),
            "nothing may be printed on failure: {}",
            self.stdout
        );
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one error line expected: {:?}", self.stderr);
        lines[0].to_owned()
    }
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A path inside the repository.
pub fn repo_file(relative: &str) -> String {
    repo_root().join(relative).display().to_string()
}

/// The path of a built binary of this workspace.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>");
    let path = profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let built = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| {
            panic!(
                "{} is not built; run the tests with `cargo test --workspace`",
                path.display()
            )
        });
    // The sources each binary is built from (seal and kubectl-seal share theirs).
    let own = if name == "unseal" {
        "crates/unseal/src"
    } else {
        "crates/seal/src"
    };
    let newest_source = ["crates/seal-core/src", own]
        .iter()
        .map(|dir| newest_change(&repo_root().join(dir)))
        .max()
        .unwrap_or(std::time::SystemTime::UNIX_EPOCH);
    assert!(
        newest_source <= built,
        "{} is older than the sources: `cargo test -p seal-e2e` alone does not rebuild it; run `cargo test --workspace`",
        path.display()
    );
    path
}

/// The latest modification time of the Rust sources under `dir`.
fn newest_change(dir: &Path) -> std::time::SystemTime {
    let mut newest = std::time::SystemTime::UNIX_EPOCH;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return newest;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            newest = newest.max(newest_change(&path));
        } else if path.extension().is_some_and(|e| e == "rs")
            && let Ok(modified) = entry.metadata().and_then(|m| m.modified())
        {
            newest = newest.max(modified);
        }
    }
    newest
}

/// Runs a binary with arguments in `dir`, feeding `stdin` (empty when `None`). No cluster
/// is reachable: KUBECONFIG points at a file that does not exist.
pub fn run_in(dir: &Path, name: &str, args: &[&str], stdin: Option<&[u8]>) -> Run {
    run_with_env(
        dir,
        name,
        args,
        stdin,
        &[("KUBECONFIG", "/nonexistent/seal-e2e-kubeconfig")],
    )
}

/// Like [`run_in`], with extra environment variables.
pub fn run_with_env(
    dir: &Path,
    name: &str,
    args: &[&str],
    stdin: Option<&[u8]>,
    env: &[(&str, &str)],
) -> Run {
    let mut child = Command::new(binary(name))
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let mut input = child.stdin.take().expect("stdin pipe");
    input
        .write_all(stdin.unwrap_or_default())
        .expect("stdin written");
    drop(input);
    let out = child.wait_with_output().expect("binary finishes");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs a binary in the repository root.
pub fn run(name: &str, args: &[&str], stdin: Option<&[u8]>) -> Run {
    run_in(&repo_root(), name, args, stdin)
}

/// A scratch folder, removed when dropped.
pub fn scratch() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary folder")
}

/// Writes a file into a folder and returns its path as a string.
pub fn write(dir: &Path, name: &str, contents: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("file written");
    path.display().to_string()
}

/// The keys-example recipients file.
pub fn example_recipients() -> String {
    repo_file("keys-example/recipients.txt")
}

/// The keys-example identity file.
pub fn example_identity() -> String {
    repo_file("keys-example/identity.txt")
}

/// Parses YAML or JSON output into documents.
pub fn documents(text: &str) -> Vec<serde_json::Value> {
    seal_core::documents::parse("<output>", text)
        .expect("output parses")
        .into_iter()
        .map(|d| d.value)
        .collect()
}

/// The decoded `data` of a Secret document, key → bytes.
pub fn secret_data(secret: &serde_json::Value) -> std::collections::BTreeMap<String, Vec<u8>> {
    use base64::Engine as _;
    secret["data"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let text = v.as_str().expect("base64 string");
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(text)
                        .expect("valid base64");
                    (k.clone(), bytes)
                })
                .collect()
        })
        .unwrap_or_default()
}
