//! The real bitnami sealed-secrets binaries (`kubeseal`, `controller`), built once per
//! machine from their Go module by `scripts/sealed-secrets build`, and the offline
//! `kubeseal` run the tests and the bench seal with.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The example sealing certificate, for `kubeseal --cert` (its key is
/// `keys-example/sealed-secrets.key`).
pub const EXAMPLE_CERT: &str = "keys-example/sealed-secrets.crt";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The folder holding the built `kubeseal` and `controller`: `scripts/sealed-secrets
/// build` runs once per process (it returns at once when the cache holds them).
pub fn bin() -> Result<&'static Path, String> {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| {
        let out = Command::new(repo().join("scripts/sealed-secrets"))
            .arg("build")
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("scripts/sealed-secrets does not run: {e}"))?;
        if !out.status.success() {
            return Err("scripts/sealed-secrets build failed (its output is above)".to_owned());
        }
        let text = String::from_utf8(out.stdout)
            .map_err(|_| "scripts/sealed-secrets printed no path".to_owned())?;
        Ok(PathBuf::from(text.trim()))
    })
    .as_ref()
    .map(PathBuf::as_path)
    .map_err(Clone::clone)
}

/// The real `kubeseal`, offline (no cluster is contacted: `--cert` with the example
/// certificate, no kubeconfig), with `args` (e.g. `-o yaml --scope namespace-wide`),
/// sealing `manifest` (one or more Secrets); returns what it printed.
pub fn kubeseal(args: &[&str], manifest: &str) -> Result<String, String> {
    let mut child = Command::new(bin()?.join("kubeseal"))
        .arg("--cert")
        .arg(repo().join(EXAMPLE_CERT))
        .args(args)
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("kubeseal does not start: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("kubeseal has no stdin")?;
    // Written from another thread: a large input would otherwise fill both pipes.
    let input = manifest.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child
        .wait_with_output()
        .map_err(|e| format!("kubeseal did not finish: {e}"))?;
    writer
        .join()
        .map_err(|_| "writing to kubeseal panicked".to_owned())?
        .map_err(|e| format!("writing to kubeseal: {e}"))?;
    if !out.status.success() {
        return Err("kubeseal failed (its message is above)".to_owned());
    }
    String::from_utf8(out.stdout).map_err(|_| "kubeseal printed no text".to_owned())
}
