//! Which `.seal.yaml` governs a path: the one given with `--config`, or the nearest one
//! above the path. Each folder is looked at and each rules file read once per run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::repo::config::{ConfigError, FILE_NAME, RepoConfig, Rule, absolute};

/// Finds and caches rules files.
#[derive(Default)]
pub struct Lookup {
    fixed: Option<Arc<RepoConfig>>,
    by_dir: HashMap<PathBuf, Option<Arc<RepoConfig>>>,
}

impl Lookup {
    /// Rules from `config` for every path when given; otherwise found by walking up.
    pub fn new(config: Option<&Path>) -> Result<Self, ConfigError> {
        let fixed = config.map(RepoConfig::load).transpose()?.map(Arc::new);
        Ok(Self {
            fixed,
            by_dir: HashMap::new(),
        })
    }

    /// The rules governing `path`, if any.
    pub fn config_for(&mut self, path: &Path) -> Result<Option<Arc<RepoConfig>>, ConfigError> {
        if let Some(fixed) = &self.fixed {
            return Ok(Some(fixed.clone()));
        }
        let start = absolute(path);
        let mut visited = Vec::new();
        let mut dir = start.parent();
        let found = loop {
            let Some(d) = dir else { break None };
            if let Some(known) = self.by_dir.get(d) {
                break known.clone();
            }
            visited.push(d.to_path_buf());
            let candidate = d.join(FILE_NAME);
            if candidate.is_file() {
                break Some(Arc::new(RepoConfig::load(&candidate)?));
            }
            dir = d.parent();
        };
        for d in visited {
            self.by_dir.insert(d, found.clone());
        }
        Ok(found)
    }
}

/// The rule that applies to a path, with the rules file it comes from and the other
/// rules that also cover the path (which lose: first match wins).
pub struct Applied<'a> {
    /// The rules file.
    pub config: &'a RepoConfig,
    /// The rule that applies.
    pub rule: &'a Rule,
    /// Later rules that cover the path too.
    pub also: Vec<&'a Rule>,
}

impl<'a> Applied<'a> {
    /// The applying rule for `path` in `config`, if one covers it.
    pub fn of(config: &'a RepoConfig, path: &Path) -> Option<Self> {
        let mut matching = config.matching(path).into_iter();
        let rule = matching.next()?;
        Some(Self {
            config,
            rule,
            also: matching.collect(),
        })
    }

    /// A one-line note when several rules cover the path, saying which one wins.
    pub fn overlap_note(&self, path: &Path) -> Option<String> {
        if self.also.is_empty() {
            return None;
        }
        let others: Vec<String> = self.also.iter().map(|r| r.line.to_string()).collect();
        Some(format!(
            "{}: covered by the rules at lines {} and {} of {}; line {} applies (first match wins)",
            path.display(),
            self.rule.line,
            others.join(", "),
            self.config.display(),
            self.rule.line
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn found_by_walking_up() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("a/b")).expect("mkdir");
        std::fs::write(dir.path().join(FILE_NAME), "rules:\n  - path: a/**\n").expect("writes");
        let found = Lookup::new(None)
            .expect("no --config")
            .config_for(&dir.path().join("a/b/s.yaml"))
            .expect("loads")
            .expect("found");
        assert_eq!(found.rules[0].line, 2);
    }
}
