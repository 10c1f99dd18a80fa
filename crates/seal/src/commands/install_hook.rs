//! `seal install-hook`: makes `seal check` the Git pre-commit hook of the repository at
//! hand, so a plaintext Secret cannot be committed by mistake.

use std::path::PathBuf;

use anyhow::{Context, bail};
use seal_core::files::{self, Overwrite};

use crate::cli::InstallHookArgs;
use crate::repo::git;

/// Marks a hook this command wrote (so it may replace it).
const MARKER: &str = "# installed by `seal install-hook`";

/// Writes the hook; refuses to replace someone else's hook without `--force`.
pub fn run(args: InstallHookArgs) -> anyhow::Result<()> {
    let cwd = std::env::current_dir()?;
    let hooks = git::hooks_dir(&cwd).context("not in a Git repository")?;
    std::fs::create_dir_all(&hooks)
        .with_context(|| format!("{}: cannot create the hooks folder", hooks.display()))?;
    let hook = hooks.join("pre-commit");
    if let Ok(existing) = std::fs::read_to_string(&hook)
        && !existing.contains(MARKER)
        && !args.force
    {
        bail!(
            "{}: a pre-commit hook exists already; add `seal check --quiet` to it, or use --force to replace it",
            hook.display()
        );
    }
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.to_str().map(str::to_owned))
        .unwrap_or_else(|| "seal".to_owned());
    files::write_atomic(&hook, script(&binary).as_bytes(), 0o755, Overwrite::Replace)?;
    eprintln!("seal: installed {}", display(hook));
    Ok(())
}

/// The hook: this `seal` binary when it is still there, else `seal` on the PATH.
fn script(binary: &str) -> String {
    let quoted = binary.replace('\'', r"'\''");
    format!(
        "#!/bin/sh\n{MARKER}: refuses commits that stage a plaintext Secret or a\n# SealedSecret the .seal.yaml rules do not allow. Bypass once with --no-verify.\nseal='{quoted}'\n[ -x \"$seal\" ] || seal=seal\nexec \"$seal\" check --quiet\n"
    )
}

fn display(path: PathBuf) -> String {
    path.display().to_string()
}
