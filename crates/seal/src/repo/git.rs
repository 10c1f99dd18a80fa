//! The little of Git that `seal check` and `seal install-hook` need, through the `git`
//! command (so hooks paths, worktrees and index formats are Git's business).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

/// Runs `git ARGS` in `dir` and returns its standard output.
fn git(dir: &Path, args: &[&str]) -> anyhow::Result<Vec<u8>> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .stderr(Stdio::piped())
        .output()
        .context("cannot run git (is it installed?)")?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        bail!(
            "git {}: {}",
            args.join(" "),
            err.lines().next().unwrap_or("failed")
        );
    }
    Ok(out.stdout)
}

/// The top folder of the work tree `dir` is in.
pub fn top_level(dir: &Path) -> anyhow::Result<PathBuf> {
    let out = git(dir, &["rev-parse", "--show-toplevel"])
        .context("not in a Git work tree; name the files or folders to check")?;
    Ok(PathBuf::from(String::from_utf8_lossy(&out).trim_end()))
}

/// Where Git looks for hooks (honours `core.hooksPath`).
pub fn hooks_dir(dir: &Path) -> anyhow::Result<PathBuf> {
    let out = git(
        dir,
        &["rev-parse", "--path-format=absolute", "--git-path", "hooks"],
    )?;
    Ok(PathBuf::from(String::from_utf8_lossy(&out).trim_end()))
}

/// A file as it is staged: its path relative to the top level, and its staged bytes.
pub struct Staged {
    /// Relative to the work tree's top level, `/`-separated.
    pub path: String,
    /// The staged content (not the working copy).
    pub bytes: Vec<u8>,
}

/// The files added, copied, modified or renamed in the index, with their staged content,
/// keeping those `keep` accepts.
pub fn staged(top: &Path, keep: impl Fn(&Path) -> bool) -> anyhow::Result<Vec<Staged>> {
    let names = git(
        top,
        &[
            "diff",
            "--cached",
            "--name-only",
            "-z",
            "--diff-filter=ACMR",
        ],
    )?;
    let paths: Vec<String> = names
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .filter(|p| !p.contains('\n') && keep(Path::new(p)))
        .collect();
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    let mut child = Command::new("git")
        .args(["cat-file", "--batch"])
        .current_dir(top)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot run git cat-file")?;
    let mut stdin = child.stdin.take().context("git cat-file: no stdin")?;
    let requests: String = paths.iter().map(|p| format!(":{p}\n")).collect();
    let writer = std::thread::spawn(move || stdin.write_all(requests.as_bytes()));
    let stdout = child.stdout.take().context("git cat-file: no stdout")?;
    let mut reader = BufReader::new(stdout);
    let mut staged = Vec::with_capacity(paths.len());
    for path in paths {
        let mut header = String::new();
        reader.read_line(&mut header)?;
        // "<oid> <type> <size>\n" or "<object> missing\n".
        let size = header
            .trim_end()
            .rsplit(' ')
            .next()
            .and_then(|s| s.parse::<usize>().ok())
            .filter(|_| !header.trim_end().ends_with(" missing"));
        let Some(size) = size else { continue };
        let mut bytes = vec![0; size + 1];
        reader.read_exact(&mut bytes)?;
        bytes.truncate(size);
        staged.push(Staged { path, bytes });
    }
    writer
        .join()
        .map_err(|_| anyhow::anyhow!("git cat-file: writer failed"))??;
    child.wait()?;
    Ok(staged)
}

/// The paths among `paths` that Git would not ignore (tracked files count as not
/// ignored).
pub fn not_ignored<'a>(top: &Path, paths: &[&'a Path]) -> anyhow::Result<Vec<&'a Path>> {
    let mut child = Command::new("git")
        .args(["check-ignore", "-z", "--stdin"])
        .current_dir(top)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot run git check-ignore")?;
    let mut input = Vec::new();
    for path in paths {
        input.extend_from_slice(
            crate::repo::config::absolute(path)
                .as_os_str()
                .as_encoded_bytes(),
        );
        input.push(0);
    }
    let mut stdin = child.stdin.take().context("git check-ignore: no stdin")?;
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output()?;
    writer
        .join()
        .map_err(|_| anyhow::anyhow!("git check-ignore: writer failed"))??;
    // Exit 1 means "none ignored"; anything else above is a failure.
    if out.status.code().is_none_or(|c| c > 1) {
        bail!("git check-ignore failed");
    }
    let ignored: Vec<PathBuf> = out
        .stdout
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| PathBuf::from(String::from_utf8_lossy(p).into_owned()))
        .collect();
    Ok(paths
        .iter()
        .copied()
        .filter(|p| !ignored.contains(&crate::repo::config::absolute(p)))
        .collect())
}
