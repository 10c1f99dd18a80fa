//! `.seal.yaml`: the ordered rules of a config repo that say, by path, which recipients
//! (clusters, break-glass keys) a SealedSecret is sealed to, with which scope and default
//! namespace. Found by walking up from the file at hand; first matching rule wins.
//!
//! ```yaml
//! version: 1
//! rules:
//!   - path: "shared/**"                       # glob, relative to this file's folder
//!     recipientsFiles: [keys/prod.txt, keys/staging.txt]
//!   - path: "prod/**"
//!     recipients: ["age1…"]                   # inline, and/or recipientsFiles
//!     scope: strict                           # strict | namespace | cluster
//!     namespace: apps                         # for Secrets whose manifest has none
//!   - path: "staging/**"                      # no recipients: the cluster is asked…
//!     clusterRecipients: ["age1…"]            # …and may offer only these keys
//! ```

use std::path::{Path, PathBuf};

use globset::{Glob, GlobBuilder, GlobMatcher};
use seal_core::yaml::{self, Spanned};
use seal_core::{Recipients, Scope, files, names};
use serde::Deserialize;

use crate::trust::pins::ClusterPins;

/// The name of the rules file.
pub const FILE_NAME: &str = ".seal.yaml";

/// A `.seal.yaml` that cannot be used: the file, the line when there is one, and why.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {}{problem}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct ConfigError {
    /// The rules file as named to the user.
    pub file: String,
    /// 1-based line in it.
    pub line: Option<u64>,
    /// What is wrong.
    pub problem: String,
}

/// `.seal.yaml`: how a config repo's SealedSecrets are sealed, by path.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "seal rules (.seal.yaml)")]
struct RawConfig {
    /// The version of this file's format: 1.
    #[schemars(with = "Option<u32>", range(min = 1, max = 1))]
    version: Option<Spanned<u32>>,
    /// Rules in order; the first rule whose path matches a file applies to it.
    #[schemars(with = "Vec<RawRule>", length(min = 1))]
    rules: Vec<Spanned<RawRule>>,
}

/// One rule.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawRule {
    /// A glob relative to the folder of .seal.yaml: `*` stays within a folder, `**`
    /// crosses folders, a trailing `/` means everything below.
    #[schemars(with = "String")]
    path: Spanned<String>,
    /// age recipients (age1…) to seal to.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    recipients: Vec<Spanned<String>>,
    /// Files of age recipients (one per line, `#` comments), relative to .seal.yaml.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    recipients_files: Vec<Spanned<String>>,
    /// What each value is bound to (default strict).
    #[schemars(with = "Option<Scope>")]
    scope: Option<Spanned<String>>,
    /// The namespace for Secrets whose manifest names none.
    #[schemars(with = "Option<String>")]
    namespace: Option<Spanned<String>>,
    /// For a rule without recipients (the cluster's controller is asked): the only cluster
    /// sealing keys (age1…) its files may be sealed to. Any other key the cluster offers
    /// is refused and nothing is sealed.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>", length(min = 1))]
    cluster_recipients: Option<Spanned<Vec<Spanned<String>>>>,
    /// Files of pinned cluster sealing keys (one age1… per line, `#` comments), relative
    /// to .seal.yaml; as clusterRecipients.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>", length(min = 1))]
    cluster_recipients_files: Option<Spanned<Vec<Spanned<String>>>>,
}

/// The JSON Schema of `.seal.yaml` (committed as `docs/seal-yaml.schema.json` for editors;
/// a test keeps the two equal).
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(RawConfig);
    serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n"
}

/// One rule, checked: its pattern compiles, its recipients parse, its files were read.
#[derive(Debug)]
pub struct Rule {
    /// The line the rule starts on.
    pub line: u64,
    /// The pattern as written.
    pub pattern: String,
    matcher: GlobMatcher,
    /// Who to seal to; `None` when the rule names nobody (the controller is asked).
    pub recipients: Option<Recipients>,
    /// The scope to seal with.
    pub scope: Option<Scope>,
    /// The namespace for Secrets whose manifest has none.
    pub namespace: Option<String>,
    /// The only keys the cluster may offer for online sealing, when the rule pins them.
    pub cluster_pins: Option<ClusterPins>,
}

impl Rule {
    /// Whether the rule covers `relative` (a path relative to the rules file's folder,
    /// with `/` separators).
    pub fn matches(&self, relative: &str) -> bool {
        self.matcher.is_match(relative)
    }
}

/// A loaded `.seal.yaml`.
#[derive(Debug)]
pub struct RepoConfig {
    /// The rules file.
    pub file: PathBuf,
    /// Its folder: patterns and recipient files are relative to it.
    pub root: PathBuf,
    /// The rules, in order.
    pub rules: Vec<Rule>,
    /// The folder with symbolic links resolved (what [`RepoConfig::check_place`] compares
    /// real paths with).
    real_root: PathBuf,
}

impl RepoConfig {
    /// Reads and checks a rules file.
    pub fn load(file: &Path) -> Result<Self, ConfigError> {
        let name = file.display().to_string();
        let shown = shown_name(file);
        let error = |line: Option<u64>, problem: String| ConfigError {
            file: name.clone(),
            line,
            problem,
        };
        let text = files::read_input(&name).map_err(|e| error(None, strip_file(&e, &name)))?;
        let raw: RawConfig = yaml::from_config_str(&text).map_err(|e| error(e.line, e.message))?;
        if let Some(version) = &raw.version
            && version.value != 1
        {
            return Err(error(
                Some(version.referenced.line()),
                "version: only version 1 is known".to_owned(),
            ));
        }
        let root = absolute(file)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let mut rules: Vec<Rule> = Vec::new();
        for raw_rule in raw.rules {
            let line = raw_rule.referenced.line();
            let rule = build_rule(&root, &shown, line, raw_rule.value)
                .map_err(|(at, p)| error(Some(at), p))?;
            if let Some(earlier) = rules.iter().find(|e| shadows(e, &rule)) {
                return Err(error(
                    Some(line),
                    format!(
                        "the rule for `{}` never applies: the rule at line {} (`{}`) covers every path it does and comes first (first match wins); put the more specific rule first",
                        rule.pattern, earlier.line, earlier.pattern
                    ),
                ));
            }
            rules.push(rule);
        }
        if rules.is_empty() {
            return Err(error(
                None,
                "rules: empty; give at least one rule".to_owned(),
            ));
        }
        let real_root = std::fs::canonicalize(&root).unwrap_or_else(|_| root.clone());
        Ok(Self {
            file: file.to_path_buf(),
            root,
            rules,
            real_root,
        })
    }

    /// The path of `path` relative to the rules' folder, `/`-separated; `None` when it
    /// lies outside it.
    pub fn relative(&self, path: &Path) -> Option<String> {
        let absolute = absolute(path);
        let rel = absolute.strip_prefix(&self.root).ok()?;
        let parts: Vec<&str> = rel.iter().filter_map(|c| c.to_str()).collect();
        Some(parts.join("/"))
    }

    /// Every rule that covers `path`, first (the one that applies) first.
    pub fn matching(&self, path: &Path) -> Vec<&Rule> {
        match self.relative(path) {
            Some(rel) => self.rules.iter().filter(|r| r.matches(&rel)).collect(),
            None => Vec::new(),
        }
    }

    /// The rule that applies to `path`, if any.
    pub fn rule_for(&self, path: &Path) -> Option<&Rule> {
        self.rule_index_for(path).map(|i| &self.rules[i])
    }

    /// The position in [`RepoConfig::rules`] of the rule that applies to `path`.
    pub fn rule_index_for(&self, path: &Path) -> Option<usize> {
        let rel = self.relative(path)?;
        self.rules.iter().position(|r| r.matches(&rel))
    }

    /// Refuses a file that symbolic links put somewhere other than where its rule was
    /// chosen, so that a link committed to a repo cannot have one path's rule seal a file
    /// that lies elsewhere: outside the folder of this rules file (another repo, a
    /// colleague's plaintext), or under another rule (other recipients).
    ///
    /// `file` is the file as named and `real` where it really is ([`real_path`] or
    /// [`real_target`]); `governs` maps a file to the path its rule is looked up by (the
    /// file itself, or its sealed counterpart). A file whose name lies outside this
    /// folder was named by the user on purpose and is not checked. The error is one line
    /// naming the file.
    pub fn check_place(
        &self,
        file: &Path,
        real: &Path,
        governs: impl Fn(&Path) -> Option<PathBuf>,
    ) -> Result<(), String> {
        let Some(named) = governs(file) else {
            return Ok(());
        };
        if self.relative(&named).is_none() {
            return Ok(());
        }
        let chosen = self.rule_index_for(&named);
        let shown = crate::output::shown_path(file);
        let real_governs = governs(real).unwrap_or_else(|| real.to_path_buf());
        let Some(real_rel) = real_governs.strip_prefix(&self.real_root).ok().map(|rel| {
            rel.iter()
                .filter_map(|c| c.to_str())
                .collect::<Vec<_>>()
                .join("/")
        }) else {
            return Err(format!(
                "{shown}: a symbolic link leads out of {}, the folder of {}, to {}; not sealed by its rules (seal the file where it is)",
                crate::output::shown_path(&self.root),
                self.display(),
                crate::output::shown_path(real)
            ));
        };
        let found = self.rules.iter().position(|r| r.matches(&real_rel));
        if found == chosen {
            return Ok(());
        }
        let rule = |index: Option<usize>| match index {
            Some(i) => format!("the rule at line {}", self.rules[i].line),
            None => "no rule".to_owned(),
        };
        Err(format!(
            "{shown}: a symbolic link leads to {}, which {} of {} covers, not {} that covers this path; not sealed (seal the file where it is)",
            crate::output::shown_path(real),
            rule(found),
            self.display(),
            rule(chosen)
        ))
    }

    /// How the rules file is named in messages: relative to the working folder when it
    /// is below it.
    pub fn display(&self) -> String {
        shown_name(&self.file)
    }
}

/// A path as named in messages: relative to the working folder when it is below it.
fn shown_name(path: &Path) -> String {
    let file = absolute(path);
    std::env::current_dir()
        .ok()
        .and_then(|cwd| file.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or(file)
        .display()
        .to_string()
}

/// Checks one rule of the rules file `shown`. Errors carry the line of the offending field.
fn build_rule(root: &Path, shown: &str, line: u64, raw: RawRule) -> Result<Rule, (u64, String)> {
    let pattern = raw.path.value.trim().to_owned();
    let at = raw.path.referenced.line();
    let matcher = compile(&pattern).map_err(|p| (at, p))?;
    let mut recipients = Recipients::new();
    for r in &raw.recipients {
        recipients
            .add_arg("recipients", &r.value)
            .map_err(|e| (r.referenced.line(), e.to_string()))?;
    }
    for f in &raw.recipients_files {
        add_recipients_file(&mut recipients, root, "recipientsFiles", f)?;
    }
    let scope = match &raw.scope {
        Some(s) => Some(
            s.value
                .parse::<Scope>()
                .map_err(|e| (s.referenced.line(), format!("scope: {e}")))?,
        ),
        None => None,
    };
    if let Some(ns) = &raw.namespace {
        names::check_namespace(&ns.value)
            .map_err(|p| (ns.referenced.line(), format!("namespace: {p}")))?;
    }
    let cluster_pins =
        cluster_pins(root, &raw, !recipients.is_empty())?.map(|pinned| ClusterPins {
            recipients: pinned.to_strings(),
            file: shown.to_owned(),
            line,
        });
    Ok(Rule {
        line,
        pattern,
        matcher,
        recipients: (!recipients.is_empty()).then_some(recipients),
        scope,
        namespace: raw.namespace.map(|n| n.value),
        cluster_pins,
    })
}

/// The keys `clusterRecipients` and `clusterRecipientsFiles` pin, if the rule has either.
/// Pins in a rule that lists recipients would never apply (the cluster is not asked).
fn cluster_pins(
    root: &Path,
    raw: &RawRule,
    lists_recipients: bool,
) -> Result<Option<Recipients>, (u64, String)> {
    let fields = [
        ("clusterRecipients", &raw.cluster_recipients),
        ("clusterRecipientsFiles", &raw.cluster_recipients_files),
    ];
    let mut pinned = Recipients::new();
    let mut any = false;
    for (field, value) in fields {
        let Some(list) = value else { continue };
        let at = list.referenced.line();
        if lists_recipients {
            return Err((
                at,
                format!(
                    "{field}: this rule lists recipients, so the cluster is never asked and its keys need no pins; drop one of the two"
                ),
            ));
        }
        if list.value.is_empty() {
            return Err((
                at,
                format!("{field}: empty; pin at least one key (or drop the field)"),
            ));
        }
        any = true;
        for item in &list.value {
            if field == "clusterRecipients" {
                pinned
                    .add_arg(field, &item.value)
                    .map_err(|e| (item.referenced.line(), e.to_string()))?;
            } else {
                add_recipients_file(&mut pinned, root, field, item)?;
            }
        }
    }
    Ok(any.then_some(pinned))
}

/// Adds the recipients of the file `entry` names (relative to `root`); errors name
/// `field` and the entry's line.
fn add_recipients_file(
    recipients: &mut Recipients,
    root: &Path,
    field: &str,
    entry: &Spanned<String>,
) -> Result<(), (u64, String)> {
    let path = root.join(&entry.value);
    let shown = entry.value.clone();
    let text = files::read_input(&path.display().to_string()).map_err(|e| {
        (
            entry.referenced.line(),
            format!(
                "{field}: {shown}: {}",
                strip_file(&e, &path.display().to_string())
            ),
        )
    })?;
    recipients
        .add_file(&shown, &text)
        .map_err(|e| (entry.referenced.line(), format!("{field}: {e}")))
}

/// Compiles a pattern: `*` stays within a folder, `**` crosses folders, a trailing `/`
/// means everything below.
fn compile(pattern: &str) -> Result<GlobMatcher, String> {
    if pattern.is_empty() {
        return Err("path: empty pattern".to_owned());
    }
    if pattern.starts_with('/') || pattern.split('/').any(|c| c == "..") {
        return Err(format!(
            "path: `{pattern}` must be relative to the folder of {FILE_NAME}, without `..`"
        ));
    }
    let full = match pattern.strip_suffix('/') {
        Some(dir) => format!("{dir}/**"),
        None => pattern.to_owned(),
    };
    GlobBuilder::new(&full)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map(|g: Glob| g.compile_matcher())
        .map_err(|e| format!("path: invalid pattern `{pattern}`: {}", e.kind()))
}

/// Whether `earlier` matches every path `later` can (so `later` never applies). Decided
/// for the common shapes (`**`, `dir/**` prefixes, and patterns whose only wildcard is
/// `*`); other overlaps are left to first-match-wins.
fn shadows(earlier: &Rule, later: &Rule) -> bool {
    let (e, l) = (
        earlier.pattern.trim_end_matches('/'),
        later.pattern.trim_end_matches('/'),
    );
    if e == l || e == "**" {
        return true;
    }
    if let Some(prefix) = e.strip_suffix("/**")
        && !has_wildcard(prefix)
        && l.starts_with(&format!("{prefix}/"))
    {
        return true;
    }
    let only_star = !l.contains("**") && !l.contains(['?', '[', '{', '\\']);
    let plain_earlier = !e.contains(['?', '[', '\\']);
    only_star && plain_earlier && earlier.matches(l)
}

fn has_wildcard(text: &str) -> bool {
    text.contains(['*', '?', '[', '{', '\\'])
}

/// Where an input file really is: `path` with every symbolic link resolved.
pub fn real_path(path: &Path) -> std::io::Result<PathBuf> {
    std::fs::canonicalize(path)
}

/// Where a file written to `path` lands: its folder with symbolic links resolved (a link
/// at `path` itself is replaced by the atomic write, not followed).
pub fn real_target(path: &Path) -> std::io::Result<PathBuf> {
    let absolute = absolute(path);
    let (Some(folder), Some(name)) = (absolute.parent(), absolute.file_name()) else {
        return Ok(absolute);
    };
    Ok(std::fs::canonicalize(folder)?.join(name))
}

/// `path` made absolute against the working folder (symlinks left as they are).
pub fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// A file error's message without the leading file name (the caller names it).
fn strip_file(error: &seal_core::error::Error, file: &str) -> String {
    let text = error.to_string();
    text.strip_prefix(&format!("{file}: "))
        .map(str::to_owned)
        .unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recipient() -> String {
        age::x25519::Identity::generate().to_public().to_string()
    }

    fn load(text: &str) -> Result<RepoConfig, ConfigError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join(FILE_NAME);
        std::fs::write(&file, text).expect("writes");
        std::fs::write(
            dir.path().join("prod.txt"),
            format!("# prod\n{}\n", recipient()),
        )
        .expect("writes");
        RepoConfig::load(&file)
    }

    #[test]
    fn first_matching_rule_wins() {
        let (a, b) = (recipient(), recipient());
        let config = load(&format!(
            "rules:\n  - path: prod/db/*.yaml\n    recipients: [{a}]\n    scope: namespace\n  - path: prod/\n    recipients: [{b}]\n    namespace: apps\n  - path: shared/**\n    recipientsFiles: [prod.txt]\n    recipients: [{a}]\n"
        ))
        .expect("loads");
        let at = |p: &str| config.root.join(p);
        let db = config.rule_for(&at("prod/db/x.yaml")).expect("covered");
        assert_eq!(db.line, 2);
        assert_eq!(db.scope, Some(Scope::Namespace));
        assert_eq!(config.matching(&at("prod/db/x.yaml")).len(), 2);
        let deep = config.rule_for(&at("prod/a/b/c.yaml")).expect("covered");
        assert_eq!(deep.namespace.as_deref(), Some("apps"));
        assert_eq!(
            deep.recipients.as_ref().map(|r| r.to_strings()),
            Some(vec![b])
        );
        let shared = config.rule_for(&at("shared/x.yaml")).expect("covered");
        assert_eq!(shared.recipients.as_ref().map(Recipients::len), Some(2));
        assert!(config.rule_for(&at("other/x.yaml")).is_none());
        assert!(
            config
                .rule_for(Path::new("/elsewhere/prod/x.yaml"))
                .is_none()
        );
    }

    #[test]
    fn bad_files_name_the_line() {
        let cases = [
            ("rules:\n  - path: [x\n", "line 2: "),
            (
                "rules:\n  - path: a/**\n    recipient: []\n",
                "line 3: unknown field `recipient`",
            ),
            (
                "rules:\n  - path: 'a/[x'\n",
                "line 2: path: invalid pattern `a/[x`",
            ),
            (
                "rules:\n  - path: a/**\n    recipients:\n      - age1nope\n",
                "line 4: recipients: not a valid age X25519 recipient",
            ),
            (
                "rules:\n  - path: a/**\n    recipientsFiles: [missing.txt]\n",
                "line 3: recipientsFiles: missing.txt: ",
            ),
            (
                "rules:\n  - path: a/**\n    scope: wide\n",
                "line 3: scope: unknown scope",
            ),
            (
                "rules:\n  - path: a/**\n  - path: a/b.yaml\n",
                "line 3: the rule for `a/b.yaml` never applies: the rule at line 2",
            ),
            (
                "rules:\n  - path: '**'\n  - path: b/**\n",
                "line 3: the rule for `b/**` never applies",
            ),
            (
                "rules:\n  - path: '*.yaml'\n  - path: 'x*.yaml'\n",
                "line 3: ",
            ),
            (
                "rules:\n  - path: ../x\n",
                "line 2: path: `../x` must be relative",
            ),
            (
                "rules:\n  - path: a/**\n    clusterRecipients:\n      - age1nope\n",
                "line 4: clusterRecipients: not a valid age X25519 recipient",
            ),
            (
                "rules:\n  - path: a/**\n    clusterRecipients: []\n",
                "line 3: clusterRecipients: empty",
            ),
            (
                "rules:\n  - path: a/**\n    clusterRecipientsFiles: [missing.txt]\n",
                "line 3: clusterRecipientsFiles: missing.txt: ",
            ),
            (
                "rules:\n  - path: a/**\n    recipientsFiles: [prod.txt]\n    clusterRecipients: [age1x]\n",
                "line 4: clusterRecipients: this rule lists recipients",
            ),
            (
                "rules:\n  - path: a/**\n    clusterRecipient: [age1x]\n",
                "line 3: unknown field `clusterRecipient`",
            ),
            ("version: 2\nrules:\n  - path: a\n", "line 1: version"),
            ("rules: []\n", "rules: empty"),
        ];
        for (text, want) in cases {
            let err = load(text).expect_err(text).to_string();
            assert!(
                err.contains(&format!("{FILE_NAME}: {want}")),
                "{text:?} gave {err}"
            );
        }
    }

    #[test]
    fn cluster_pins_come_from_both_fields() {
        let a = recipient();
        let config = load(&format!(
            "rules:\n  - path: prod/**\n    clusterRecipients: [{a}]\n    clusterRecipientsFiles: [prod.txt]\n  - path: other/**\n"
        ))
        .expect("loads");
        let pins = config.rules[0].cluster_pins.as_ref().expect("pinned");
        assert_eq!(pins.line, 2);
        assert_eq!(pins.recipients.len(), 2);
        assert!(pins.pins(&a));
        assert!(pins.file.ends_with(FILE_NAME), "{}", pins.file);
        assert!(config.rules[1].cluster_pins.is_none());
    }

    #[test]
    fn partial_overlaps_are_allowed() {
        let config =
            load("rules:\n  - path: 'prod/*'\n  - path: 'prod/**'\n  - path: '*/db.yaml'\n")
                .expect("loads");
        assert_eq!(config.rules.len(), 3);
    }

    #[test]
    fn the_committed_json_schema_is_current() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/seal-yaml.schema.json"
        );
        let generated = json_schema();
        if std::env::var_os("SEAL_WRITE_SCHEMA").is_some() {
            std::fs::write(path, &generated).expect("written");
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == generated,
            "docs/seal-yaml.schema.json is out of date: run SEAL_WRITE_SCHEMA=1 cargo test -p seal the_committed_json_schema"
        );
        assert!(generated.contains("recipientsFiles") && generated.contains("\"cluster\""));
    }
}
