//! `known-recipients.yaml`: the sealing keys each cluster has offered, by kubeconfig
//! context and API server, kept in the user's config folder (as SSH keeps `known_hosts`),
//! so that `seal` notices a key a cluster never offered before.
//!
//! ```yaml
//! # seal: the sealing keys each cluster offered (trust on first use). …
//! version: 1
//! clusters:
//!   - context: prod
//!     server: https://prod.example.com:6443
//!     recipients:
//!       - age1…
//! ```
//!
//! Keys are only ever added: an old key stays known after a renewal. Deleting an entry
//! (or the file) makes `seal` trust that cluster anew on its next use.

use std::path::{Path, PathBuf};

use seal_core::files::{self, Overwrite};
use serde::{Deserialize, Serialize};

/// The file's name in the config folder.
pub const FILE_NAME: &str = "known-recipients.yaml";

/// The environment variable naming the config folder (overrides the XDG one).
pub const CONFIG_DIR_ENV: &str = "SEAL_CONFIG_DIR";

/// What the file starts with.
const HEADER: &str = "# seal: the sealing keys each cluster offered, by kubeconfig context and API server\n# (trust on first use). seal warns when a cluster offers a key not listed here and lists\n# it then. Delete an entry to trust that cluster anew.\n";

/// Where the file is: `$SEAL_CONFIG_DIR`, else `$XDG_CONFIG_HOME/seal`, else
/// `$HOME/.config/seal`; `None` when none of them is set.
pub fn default_path() -> Option<PathBuf> {
    let set = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    let folder = set(CONFIG_DIR_ENV)
        .map(PathBuf::from)
        .or_else(|| {
            set("XDG_CONFIG_HOME")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .map(|p| p.join("seal"))
        })
        .or_else(|| set("HOME").map(|h| PathBuf::from(h).join(".config").join("seal")))?;
    Some(folder.join(FILE_NAME))
}

/// The known-recipients file cannot be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// It does not parse.
    #[error(
        "{}: {}{problem} (fix it, or delete it to trust each cluster's keys anew)",
        file.display(),
        line.map(|l| format!("line {l}: ")).unwrap_or_default()
    )]
    Malformed {
        /// The file.
        file: PathBuf,
        /// 1-based line, when known.
        line: Option<u64>,
        /// What is wrong.
        problem: String,
    },
    /// Reading, writing or making its folder failed.
    #[error("{}: cannot {action}: {source}", file.display())]
    Io {
        /// The file.
        file: PathBuf,
        /// What was attempted.
        action: &'static str,
        /// Why it failed.
        source: std::io::Error,
    },
    /// Writing it atomically failed.
    #[error(transparent)]
    Write(#[from] seal_core::error::Error),
}

/// The file's contents.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KnownFile {
    version: u32,
    #[serde(default)]
    clusters: Vec<KnownCluster>,
}

/// One cluster as reached through one kubeconfig context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnownCluster {
    /// The kubeconfig context.
    pub context: String,
    /// The API server it points at.
    pub server: String,
    /// Every key it has offered, in the order first seen.
    pub recipients: Vec<String>,
}

/// The remembered keys, loaded from a file and saved back to it.
#[derive(Debug)]
pub struct KnownRecipients {
    path: PathBuf,
    clusters: Vec<KnownCluster>,
}

impl KnownRecipients {
    /// Reads the file at `path`; a missing file knows nothing.
    pub fn load(path: &Path) -> Result<Self, StoreError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(StoreError::Io {
                    file: path.to_path_buf(),
                    action: "read",
                    source,
                });
            }
        };
        let malformed = |line: Option<u64>, problem: String| StoreError::Malformed {
            file: path.to_path_buf(),
            line,
            problem,
        };
        let file: KnownFile = if text.trim().is_empty() {
            KnownFile::default()
        } else {
            seal_core::yaml::from_config_str(&text).map_err(|e| malformed(e.line, e.message))?
        };
        if !text.trim().is_empty() && file.version != 1 {
            return Err(malformed(
                None,
                "version: only version 1 is known".to_owned(),
            ));
        }
        Ok(Self {
            path: path.to_path_buf(),
            clusters: file.clusters,
        })
    }

    /// The file this was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What is known of `context` at `server`.
    pub fn get(&self, context: &str, server: &str) -> Option<&KnownCluster> {
        self.clusters
            .iter()
            .find(|c| c.context == context && c.server == server)
    }

    /// Every context remembered, with the keys its cluster offered.
    pub fn clusters(&self) -> &[KnownCluster] {
        &self.clusters
    }

    /// The other API servers `context` was seen pointing at.
    pub fn other_servers(&self, context: &str, server: &str) -> Vec<&str> {
        self.clusters
            .iter()
            .filter(|c| c.context == context && c.server != server)
            .map(|c| c.server.as_str())
            .collect()
    }

    /// Adds `recipients` to what is known of `context` at `server`; whether anything
    /// was new.
    pub fn record(&mut self, context: &str, server: &str, recipients: &[String]) -> bool {
        let at = match self
            .clusters
            .iter()
            .position(|c| c.context == context && c.server == server)
        {
            Some(at) => at,
            None => {
                self.clusters.push(KnownCluster {
                    context: context.to_owned(),
                    server: server.to_owned(),
                    recipients: Vec::new(),
                });
                self.clusters.len() - 1
            }
        };
        let known = &mut self.clusters[at].recipients;
        let before = known.len();
        for r in recipients {
            if !known.contains(r) {
                known.push(r.clone());
            }
        }
        known.len() != before
    }

    /// Writes the file atomically (0644), making its folder when needed.
    pub fn save(&self) -> Result<(), StoreError> {
        if let Some(folder) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(folder).map_err(|source| StoreError::Io {
                file: self.path.clone(),
                action: "make the folder of",
                source,
            })?;
        }
        let body = seal_core::yaml::to_string(&KnownFile {
            version: 1,
            clusters: self.clusters.clone(),
        })
        .map_err(|problem| StoreError::Malformed {
            file: self.path.clone(),
            line: None,
            problem,
        })?;
        let text = format!("{HEADER}{body}");
        files::write_atomic(&self.path, text.as_bytes(), 0o644, Overwrite::Replace)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_reads_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub").join(FILE_NAME);
        let mut known = KnownRecipients::load(&path).expect("missing is empty");
        assert!(known.get("prod", "https://a").is_none());
        assert!(known.record("prod", "https://a", &["age1x".to_owned()]));
        assert!(!known.record("prod", "https://a", &["age1x".to_owned()]));
        assert!(known.record("prod", "https://b", &["age1y".to_owned()]));
        known.save().expect("saved");
        let again = KnownRecipients::load(&path).expect("reads");
        assert_eq!(
            again.get("prod", "https://a").map(|c| c.recipients.clone()),
            Some(vec!["age1x".to_owned()])
        );
        assert_eq!(again.other_servers("prod", "https://a"), ["https://b"]);
        let text = std::fs::read_to_string(&path).expect("written");
        assert!(text.starts_with("# seal: "), "{text}");
    }

    #[test]
    fn a_malformed_file_names_its_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(FILE_NAME);
        std::fs::write(
            &path,
            "version: 1\nclusters:\n  - context: a\n    sever: x\n",
        )
        .expect("written");
        let err = KnownRecipients::load(&path).expect_err("typo").to_string();
        assert!(
            err.starts_with(&format!("{}: line 4: ", path.display())),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}
