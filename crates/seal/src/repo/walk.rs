//! The manifest files under a folder: YAML and JSON files, following symbolic links
//! (a link that loops back is an error naming it), skipping `.git` and `.seal-cache`.

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

/// Every manifest file under `root` (or `root` itself when it is a file), sorted.
pub fn manifests(root: &Path) -> Result<Vec<PathBuf>, WalkError> {
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
            WalkError { path, problem }
        })?;
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
            manifests(dir.path()).expect("walks"),
            vec![a.join("s.yaml")]
        );
        std::os::unix::fs::symlink(&a, a.join("back")).expect("links");
        let err = manifests(dir.path()).expect_err("loops").to_string();
        assert!(err.contains("a/back: symbolic link loop"), "{err}");
        std::fs::remove_file(a.join("back")).expect("unlinks");
        std::os::unix::fs::symlink(dir.path().join("gone"), a.join("x.yaml")).expect("links");
        let err = manifests(dir.path()).expect_err("dangles").to_string();
        assert!(err.contains("a/x.yaml: cannot read"), "{err}");
    }
}
