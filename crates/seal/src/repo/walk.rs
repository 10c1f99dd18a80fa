//! The manifest files under a folder: YAML and JSON files, following symbolic links
//! (a link that loops back is an error naming it, and so is a link to a folder outside
//! the one the caller confines the walk to), skipping `.git` and `.seal-cache`.

use std::path::{Path, PathBuf};

use walkdir::WalkDir;

/// A folder that cannot be walked: the path and why.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct WalkError {
    /// Where the walk stopped.
    pub path: String,
    /// Why.
    pub problem: String,
}

/// Folders never looked into.
const SKIPPED_DIRS: [&str; 2] = [".git", ".seal-cache"];

/// Whether a file name looks like a manifest.
pub fn is_manifest(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

/// Every manifest file under `root` (or `root` itself when it is a file), sorted. With
/// `within` (a real path: symbolic links resolved), a symbolic link to a folder that is
/// not in it is an error naming the link, and the walk does not go there. Links to files
/// are the caller's to judge.
pub fn manifests(root: &Path, within: Option<&Path>) -> Result<Vec<PathBuf>, WalkError> {
    let mut found = Vec::new();
    let walker = WalkDir::new(root)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            e.depth() == 0
                || !(e.file_type().is_dir()
                    && e.file_name()
                        .to_str()
                        .is_some_and(|n| SKIPPED_DIRS.contains(&n)))
        });
    for entry in walker {
        let entry = entry.map_err(|e| {
            let path = e
                .path()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| root.display().to_string());
            let problem = match (e.loop_ancestor(), e.io_error()) {
                (Some(ancestor), _) => {
                    format!("symbolic link loop (leads back to {})", ancestor.display())
                }
                (None, Some(io)) => format!("cannot read: {io}"),
                (None, None) => e.to_string(),
            };
            WalkError {
                path: crate::output::one_line(&path),
                problem,
            }
        })?;
        if let Some(within) = within
            && entry.path_is_symlink()
            && entry.file_type().is_dir()
        {
            let real = std::fs::canonicalize(entry.path()).map_err(|e| WalkError {
                path: crate::output::shown_path(entry.path()),
                problem: format!("cannot read: {e}"),
            })?;
            if !real.starts_with(within) {
                return Err(WalkError {
                    path: crate::output::shown_path(entry.path()),
                    problem: format!(
                        "a symbolic link to a folder outside {} (to {}); not followed, nothing sealed or checked there",
                        crate::output::shown_path(within),
                        crate::output::shown_path(&real)
                    ),
                });
            }
        }
        if entry.file_type().is_file() && (entry.depth() == 0 || is_manifest(entry.path())) {
            found.push(entry.into_path());
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn loops_and_dangling_links_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = dir.path().join("a");
        std::fs::create_dir_all(a.join(".git")).expect("mkdir");
        std::fs::write(a.join("s.yaml"), "x").expect("writes");
        std::fs::write(a.join("notes.txt"), "x").expect("writes");
        std::fs::write(a.join(".git/config.yaml"), "x").expect("writes");
        assert_eq!(
            manifests(dir.path(), None).expect("walks"),
            vec![a.join("s.yaml")]
        );
        std::os::unix::fs::symlink(&a, a.join("back")).expect("links");
        let err = manifests(dir.path(), None).expect_err("loops").to_string();
        assert!(err.contains("a/back: symbolic link loop"), "{err}");
        std::fs::remove_file(a.join("back")).expect("unlinks");
        std::os::unix::fs::symlink(dir.path().join("gone"), a.join("x.yaml")).expect("links");
        let err = manifests(dir.path(), None)
            .expect_err("dangles")
            .to_string();
        assert!(err.contains("a/x.yaml: cannot read"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn a_link_to_a_folder_outside_is_not_followed() {
        let outside = tempfile::tempdir().expect("tempdir");
        std::fs::write(outside.path().join("db.secret.yaml"), "x").expect("writes");
        let repo = tempfile::tempdir().expect("tempdir");
        let real = std::fs::canonicalize(repo.path()).expect("real");
        std::fs::create_dir(repo.path().join("app")).expect("mkdir");
        std::fs::create_dir(repo.path().join("shared")).expect("mkdir");
        std::fs::write(repo.path().join("shared/s.yaml"), "x").expect("writes");
        std::os::unix::fs::symlink("../shared", repo.path().join("app/in")).expect("links");
        assert_eq!(
            manifests(repo.path(), Some(&real)).expect("a link inside is followed"),
            vec![
                repo.path().join("app/in/s.yaml"),
                repo.path().join("shared/s.yaml")
            ]
        );
        std::os::unix::fs::symlink(outside.path(), repo.path().join("app/victim")).expect("links");
        let err = manifests(repo.path(), Some(&real))
            .expect_err("refused")
            .to_string();
        assert!(
            err.contains("app/victim: a symbolic link to a folder outside"),
            "{err}"
        );
        assert_eq!(manifests(repo.path(), None).expect("unconfined").len(), 3);
    }
}
