//! Starting the control plane for this process: `scripts/control-plane up` in a fresh
//! temporary directory, owned by this process's pid (its watchdog stops the components
//! and removes the directory when the process exits).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::cluster::ControlPlane;

/// Use this kubeconfig (a control plane already running) instead of starting one.
const KUBECONFIG_VAR: &str = "SEAL_CONTROL_PLANE_KUBECONFIG";

/// How many lines of a failing component's log a failure quotes.
const LOG_LINES: usize = 40;

/// The repository's `scripts/control-plane`.
fn script() -> PathBuf {
    repo().join("scripts/control-plane")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn go_found() -> bool {
    Command::new("go")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Written straight to the process's stderr: the test harness captures `eprintln!` of a
/// passing test, and a skip must be seen.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Starts (or finds) the control plane: `Ok(None)` is a skip, `Err` a failure to report
/// in every test that asks.
pub(crate) fn start() -> Result<Option<ControlPlane>, String> {
    if let Some(path) = std::env::var_os(KUBECONFIG_VAR) {
        return Ok(Some(ControlPlane::new(PathBuf::from(path))));
    }
    if !go_found() {
        if std::env::var_os("CI").is_some() {
            return Err("Go not found: CI must run the real control plane tests \
                        (scripts/control-plane builds them with go)"
                .to_owned());
        }
        say("skipped: Go not found, the real control plane tests did not run");
        return Ok(None);
    }
    let dir = tempfile::Builder::new()
        .prefix("seal-control-plane-")
        .tempdir()
        .map_err(|e| format!("a temporary directory for the control plane: {e}"))?
        .keep();
    up(&dir).map(|kubeconfig| Some(ControlPlane::new(kubeconfig)))
}

/// Runs `up`, passing its progress lines (the first build says how long it takes) to
/// stderr as they come; returns the kubeconfig path.
fn up(dir: &Path) -> Result<PathBuf, String> {
    let script = script();
    let mut child = Command::new(&script)
        .arg("up")
        .arg("--dir")
        .arg(dir)
        .arg("--owner-pid")
        .arg(std::process::id().to_string())
        // Created before the controller manager starts, so that its garbage collector
        // watches SealedSecrets from the start (it discovers new kinds every 30 s).
        .arg("--crd")
        .arg(repo().join("deploy/cluster/crd.yaml"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", script.display()))?;
    let mut said = Vec::new();
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            say(&line);
            said.push(line);
        }
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("{}: {e}", script.display()))?;
    if !output.status.success() {
        return Err(failure(&said, output.status));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("KUBECONFIG="))
        .map(PathBuf::from)
        .ok_or_else(|| format!("scripts/control-plane up printed no KUBECONFIG=: {stdout}"))
}

/// The script's own line (which names the component and its log), then the end of that log.
fn failure(said: &[String], status: std::process::ExitStatus) -> String {
    let mut message = format!("the real control plane did not start ({status}):\n");
    for line in said {
        message.push_str(line);
        message.push('\n');
    }
    let log = said.iter().rev().find_map(|l| {
        l.split_once("its log: ")
            .map(|(_, path)| path.trim().to_owned())
    });
    if let Some(log) = log
        && let Ok(text) = std::fs::read_to_string(&log)
    {
        let lines: Vec<&str> = text.lines().collect();
        let from = lines.len().saturating_sub(LOG_LINES);
        message.push_str(&format!("--- the end of {log}:\n"));
        message.push_str(&lines[from..].join("\n"));
    }
    message
}
