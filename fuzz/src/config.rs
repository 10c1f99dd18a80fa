//! `.seal.yaml`, the rules of a config repo, read by `seal::repo::config::RepoConfig::load`
//! (which reads the file itself, so each input is written to a folder first).

use std::path::{Path, PathBuf};

use seal::repo::config::{FILE_NAME, RepoConfig};

use super::common::assert_no_identity_echo;

/// A folder holding a `.seal.yaml` and the recipients files its rules may name
/// (`prod.txt` and `keys/staging.txt`, both with the keys-example recipient).
pub struct ConfigDir {
    dir: tempfile::TempDir,
}

impl ConfigDir {
    /// A new folder with the recipients files in place.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let recipients = include_str!("../../keys-example/recipients.txt");
        std::fs::write(dir.path().join("prod.txt"), recipients).expect("writes");
        std::fs::create_dir(dir.path().join("keys")).expect("creates");
        std::fs::write(dir.path().join("keys/staging.txt"), recipients).expect("writes");
        Self { dir }
    }

    fn file(&self) -> PathBuf {
        self.dir.path().join(FILE_NAME)
    }
}

impl Default for ConfigDir {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether a pattern names one path literally (no glob syntax, no empty or `.` part),
/// so that the rule must cover that very path.
fn literal(pattern: &str) -> bool {
    !pattern.is_empty()
        && !pattern.contains(['*', '?', '[', ']', '{', '}', '\\', '!', ','])
        && pattern.split('/').all(|c| !c.is_empty() && c != ".")
}

/// How many lines YAML sees in a text: `\n`, `\r\n` and a lone `\r` each end one.
fn yaml_lines(data: &[u8]) -> u64 {
    let breaks = data
        .iter()
        .enumerate()
        .filter(|&(i, b)| *b == b'\n' || (*b == b'\r' && data.get(i + 1) != Some(&b'\n')))
        .count();
    u64::try_from(breaks).unwrap_or(u64::MAX).saturating_add(1)
}

/// `RepoConfig::load` on arbitrary file contents:
///
/// - a file that loads has rules in the order of their lines, each line within the file, each
///   pattern trimmed, relative and without `..`, recipients only when some were listed;
///   a rule whose pattern names one path literally covers it, and that path's rule is
///   it or one before it;
/// - a file that does not load is named in the error, with a line within the file, and
///   the error never echoes an age identity written in it.
pub fn seal_config(dir: &ConfigDir, data: &[u8]) {
    let file = dir.file();
    std::fs::write(&file, data).expect("writes .seal.yaml");
    let lines = yaml_lines(data);
    match RepoConfig::load(&file) {
        Ok(config) => {
            assert!(!config.rules.is_empty());
            assert_eq!(config.file, file);
            assert_eq!(config.root, seal::repo::config::absolute(dir.dir.path()));
            let mut previous = 0;
            for (index, rule) in config.rules.iter().enumerate() {
                assert!(
                    rule.line >= previous.max(1) && rule.line <= lines,
                    "line {}",
                    rule.line
                );
                previous = rule.line;
                assert_eq!(rule.pattern, rule.pattern.trim());
                assert!(!rule.pattern.is_empty() && !rule.pattern.starts_with('/'));
                assert!(!rule.pattern.split('/').any(|c| c == ".."));
                if let Some(recipients) = &rule.recipients {
                    assert!(!recipients.is_empty());
                }
                if literal(&rule.pattern) {
                    let path = config.root.join(&rule.pattern);
                    assert!(rule.matches(&rule.pattern), "{:?}", rule.pattern);
                    let first = config.rule_index_for(&path);
                    assert!(
                        first.is_some_and(|f| f <= index),
                        "{:?}: rule {first:?} applies, not {index} or before",
                        rule.pattern
                    );
                }
            }
        }
        Err(e) => {
            assert_eq!(Path::new(&e.file), file);
            if let Some(line) = e.line {
                assert!(line >= 1 && line <= lines + 1, "line {line} of {lines}");
            }
            assert_no_identity_echo(data, &e.to_string());
        }
    }
}
