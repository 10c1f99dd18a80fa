//! The external tools some tests run: the real `helm`, built from its Go module by
//! `scripts/helm` (cached per machine), and Prometheus's `promtool` (Debian's
//! `prometheus` package; `.ci/run` installs it). Where one cannot be had outside CI the
//! test says SKIPPED on stderr and passes without running; in CI (`CI` set) a missing
//! tool fails the test instead, so CI never skips.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use seal_e2e::repo_root;

/// Fails in CI, else says on stderr that `test` did not run and why.
fn missing(tool: &str, why: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must have {tool} ({why}; .ci/run provides it)"
    );
    eprintln!("SKIPPED: {tool} is not available here: {why}");
}

/// The helm binary of `scripts/helm build` (built on the first call on a machine,
/// about 4 minutes), or `None` where Go is absent outside CI. A failed build panics.
pub fn helm() -> Option<PathBuf> {
    static HELM: OnceLock<Option<PathBuf>> = OnceLock::new();
    let found = HELM.get_or_init(|| {
        if Command::new("go").arg("version").output().is_err() {
            return None;
        }
        let out = Command::new(repo_root().join("scripts/helm"))
            .arg("build")
            .output()
            .expect("scripts/helm runs");
        assert!(
            out.status.success(),
            "scripts/helm build failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        assert!(path.is_file(), "scripts/helm printed {}", path.display());
        Some(path)
    });
    if found.is_none() {
        missing(
            "helm",
            "Go is not installed, and helm is built from its Go module",
        );
    }
    found.clone()
}

/// `promtool`, or `None` where it is not installed outside CI.
pub fn promtool() -> Option<PathBuf> {
    let path = PathBuf::from("promtool");
    if Command::new(&path).arg("--version").output().is_ok() {
        return Some(path);
    }
    missing(
        "promtool",
        "install Debian's prometheus package (apt-get install prometheus)",
    );
    None
}

/// The output of a tool run, with its status and both streams.
pub struct Ran {
    /// Whether it exited 0.
    pub ok: bool,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

/// Runs `tool` with `args` in the repository root.
pub fn run_tool(tool: &std::path::Path, args: &[&str]) -> Ran {
    let out = Command::new(tool)
        .args(args)
        .current_dir(repo_root())
        .output()
        .unwrap_or_else(|e| panic!("{} runs: {e}", tool.display()));
    Ran {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `tool` with `args` and returns its standard output, failing the test (with both
/// streams) when it exits non-zero.
pub fn run_ok(tool: &std::path::Path, args: &[&str]) -> String {
    let ran = run_tool(tool, args);
    assert!(
        ran.ok,
        "{} {}: failed\n{}{}",
        tool.display(),
        args.join(" "),
        ran.stdout,
        ran.stderr
    );
    ran.stdout
}
