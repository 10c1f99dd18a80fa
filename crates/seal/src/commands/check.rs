//! `seal check [PATH...]`: the pre-commit guard. Lists every plaintext Secret, every
//! SealedSecret that does not parse and every one sealed to recipients the rules do not
//! list for its path; fails if there is any. With no paths, checks the staged files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::bail;
use zeroize::Zeroizing;

use crate::cli::CheckArgs;
use crate::output;
use crate::repo::check::{Governing, Offence, check_text};
use crate::repo::config::RepoConfig;
use crate::repo::lookup::Lookup;
use crate::repo::{git, walk};

/// Where a file's content comes from.
enum Source {
    /// The working copy.
    File(PathBuf),
    /// The staged content.
    Staged(Zeroizing<Vec<u8>>),
}

/// One file to check.
struct Item {
    shown: String,
    source: Source,
    governing: Option<(Arc<RepoConfig>, usize)>,
}

/// Checks and reports; an error (exit 1) when anything was found.
pub fn run(args: CheckArgs) -> anyhow::Result<()> {
    let mut items = Vec::new();
    if args.paths.is_empty() {
        let cwd = std::env::current_dir()?;
        let top = git::top_level(&cwd)?;
        for staged in git::staged(&top, walk::is_manifest)? {
            let source = match staged.content {
                git::StagedContent::WorkingCopy(path) => Source::File(path),
                git::StagedContent::Blob(bytes) => Source::Staged(bytes),
            };
            let shown = output::one_line(&staged.path);
            items.push((top.join(&staged.path), shown, source));
        }
    } else {
        let mut found = Vec::new();
        for path in &args.paths {
            found.extend(walk::manifests(path, confinement(path).as_deref())?);
        }
        for file in committable(found) {
            let shown = output::shown_path(&file);
            items.push((file.clone(), shown, Source::File(file)));
        }
    }
    let mut lookup = Lookup::new(args.config.as_deref())?;
    let mut checked = Vec::with_capacity(items.len());
    for (rule_path, shown, source) in items {
        let governing = match lookup.config_for(&rule_path)? {
            Some(config) => config
                .rule_index_for(&rule_path)
                .map(|index| (config.clone(), index)),
            None => None,
        };
        checked.push(Item {
            shown,
            source,
            governing,
        });
    }
    let offences = check_all(&checked);
    let files = checked.len();
    if offences.is_empty() {
        if !args.quiet {
            eprintln!("seal check: {files} file(s) checked, nothing to report");
        }
        return Ok(());
    }
    for offence in &offences {
        // Names and messages can come from the files checked: one line each, always.
        println!(
            "{}",
            output::one_line(&format!("{}: {}", offence.at, offence.problem))
        );
    }
    let offending: std::collections::BTreeSet<&str> = offences
        .iter()
        .map(|o| o.at.split(": document").next().unwrap_or(&o.at))
        .collect();
    bail!(
        "seal check: {} problem(s) in {} of {files} file(s)",
        offences.len(),
        offending.len()
    )
}

/// Where the walk of `path` may follow symbolic links to folders: the Git work tree it is
/// in, else the folder itself (a file's folder). `None` when it cannot be resolved (the
/// walk then reports the path).
pub(crate) fn confinement(path: &Path) -> Option<PathBuf> {
    let real = std::fs::canonicalize(path).ok()?;
    let folder = if real.is_dir() {
        real.clone()
    } else {
        real.parent()?.to_path_buf()
    };
    let top = git::top_level(&folder)
        .ok()
        .and_then(|top| std::fs::canonicalize(top).ok())
        .filter(|top| real.starts_with(top));
    Some(top.unwrap_or(folder))
}

/// The files Git would commit: inside a work tree, ignored files (local plaintext
/// Secrets waiting for `seal tree`) are left out; outside one, all of them.
pub(crate) fn committable(files: Vec<PathBuf>) -> Vec<PathBuf> {
    let Some(first) = files.first() else {
        return files;
    };
    let dir = first
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let Ok(top) = git::top_level(dir) else {
        return files;
    };
    match git::committable(&top) {
        Ok(set) => files.into_iter().filter(|f| git::is_in(&set, f)).collect(),
        Err(_) => files,
    }
}

/// Checks every item, on all cores; offences come back in input order.
fn check_all(items: &[Item]) -> Vec<Offence> {
    let workers = std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
        .min(items.len().div_ceil(64))
        .max(1);
    let chunk = items.len().div_ceil(workers).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().flat_map(check_one).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

fn check_one(item: &Item) -> Vec<Offence> {
    let read;
    let bytes: &[u8] = match &item.source {
        Source::Staged(bytes) => bytes,
        Source::File(path) => match read_file(path) {
            Ok(b) => {
                read = b;
                &read
            }
            Err(problem) => {
                return vec![Offence {
                    at: item.shown.clone(),
                    problem,
                }];
            }
        },
    };
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Vec::new();
    };
    let governing = item.governing.as_ref().map(|(config, index)| Governing {
        config,
        rule: &config.rules[*index],
    });
    check_text(&item.shown, text, governing)
}

fn read_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, String> {
    std::fs::read(path)
        .map(Zeroizing::new)
        .map_err(|e| format!("cannot read: {e}"))
}
