//! The little of Git that `seal check` and `seal install-hook` need, through the `git`
//! command (so hooks paths, worktrees and index formats are Git's business).

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use zeroize::Zeroizing;

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

/// Whether Git tracks anything under `path` (relative to or inside `dir`'s work tree).
/// `false` outside a work tree or without Git.
pub fn tracks_anything_under(dir: &Path, path: &Path) -> bool {
    let Some(path) = path.to_str() else {
        return false;
    };
    git(dir, &["ls-files", "--", path]).is_ok_and(|out| !out.is_empty())
}

/// Where Git looks for hooks (honours `core.hooksPath`).
pub fn hooks_dir(dir: &Path) -> anyhow::Result<PathBuf> {
    let out = git(
        dir,
        &["rev-parse", "--path-format=absolute", "--git-path", "hooks"],
    )?;
    Ok(PathBuf::from(String::from_utf8_lossy(&out).trim_end()))
}

/// A staged file: its path relative to the top level and where its staged content is.
pub struct Staged {
    /// Relative to the work tree's top level, `/`-separated.
    pub path: String,
    /// Where to read what is staged.
    pub content: StagedContent,
}

/// Where a staged file's content is.
pub enum StagedContent {
    /// The working copy is what is staged (Git sees no unstaged change): read it there,
    /// which is far cheaper than inflating a fresh loose object.
    WorkingCopy(PathBuf),
    /// The working copy differs (a partly staged file): the staged bytes themselves.
    Blob(Zeroizing<Vec<u8>>),
}

/// The files added, copied, modified or renamed in the index, keeping those `keep`
/// accepts.
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
    let paths: Vec<String> = split_z(&names)
        .filter(|p| !p.contains('\n') && keep(Path::new(p)))
        .collect();
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    let unstaged = git(top, &["diff", "--name-only", "-z"])?;
    let unstaged: HashSet<String> = split_z(&unstaged).collect();
    // A symbolic link is staged as the name of its target: read that from the index,
    // never the file the link leads to (which may lie outside the repository).
    let (dirty, clean): (Vec<String>, Vec<String>) = paths.into_iter().partition(|p| {
        unstaged.contains(p)
            || !std::fs::symlink_metadata(top.join(p)).is_ok_and(|m| m.file_type().is_file())
    });
    let mut staged: Vec<Staged> = clean
        .into_iter()
        .map(|path| Staged {
            content: StagedContent::WorkingCopy(top.join(&path)),
            path,
        })
        .collect();
    staged.extend(blobs(top, dirty)?);
    Ok(staged)
}

fn split_z(bytes: &[u8]) -> impl Iterator<Item = String> + '_ {
    bytes
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
}

/// The staged bytes of `paths`, through one `git cat-file --batch`.
fn blobs(top: &Path, paths: Vec<String>) -> anyhow::Result<Vec<Staged>> {
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
        let mut bytes = Zeroizing::new(vec![0; size + 1]);
        reader.read_exact(&mut bytes)?;
        bytes.truncate(size);
        staged.push(Staged {
            path,
            content: StagedContent::Blob(bytes),
        });
    }
    writer
        .join()
        .map_err(|_| anyhow::anyhow!("git cat-file: writer failed"))??;
    child.wait()?;
    Ok(staged)
}

/// Every file Git would commit from this work tree: tracked files and untracked ones it
/// does not ignore, as absolute paths. (One `git ls-files`, which reads the index and
/// the ignore rules once; asking `git check-ignore` path by path is far slower.)
pub fn committable(top: &Path) -> anyhow::Result<HashSet<PathBuf>> {
    let out = git(
        top,
        &[
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
            "--full-name",
        ],
    )?;
    let top = std::fs::canonicalize(top).unwrap_or_else(|_| top.to_path_buf());
    Ok(split_z(&out).map(|p| top.join(p)).collect())
}

/// Whether `path` is in a [`committable`] set (compared as real paths, so a work tree
/// reached through a symbolic link still matches).
pub fn is_in(set: &HashSet<PathBuf>, path: &Path) -> bool {
    std::fs::canonicalize(path).is_ok_and(|real| set.contains(&real))
}
