//! Who each recipient of an object is, as far as `seal` knows: the user's own identity,
//! a recipient the `.seal.yaml` rule lists or pins, or a key a cluster offered before
//! (remembered per kubeconfig context), or one the user named on the command line.
//! `seal edit` shows this beside every recipient the new values go to, and every local
//! re-seal (`edit`, `recipients add|remove -i`) refuses a recipient nothing vouches for:
//! a key swapped into the list by someone with write access to the repo would otherwise
//! receive every value re-sealed from now on.

use std::path::Path;

use seal_core::KeyRing;

use crate::repo::config::{RepoConfig, Rule};
use crate::repo::lookup::Lookup;
use crate::trust::known_recipients::{self, KnownRecipients};

/// What is known about recipients.
#[derive(Default)]
pub struct Known {
    /// The recipients of the identities given with `-i`.
    pub own: Vec<String>,
    /// The rule that covers the file (as named to the user) and what it lists or pins.
    pub rule: Option<(String, Vec<String>)>,
    /// Kubeconfig contexts and the keys their clusters have offered.
    pub clusters: Vec<(String, Vec<String>)>,
    /// Recipients the user named on the command line (`-r` of `recipients add`,
    /// `--trust-recipient`).
    pub named: Vec<String>,
}

impl Known {
    /// How `recipient` is shown, and whether anything vouches for it.
    pub fn describe(&self, recipient: &str) -> (String, bool) {
        let mut why = Vec::new();
        if self.own.iter().any(|r| r == recipient) {
            why.push("your identity".to_owned());
        }
        if let Some((source, listed)) = &self.rule
            && listed.iter().any(|r| r == recipient)
        {
            why.push(format!("listed by {source}"));
        }
        let contexts: Vec<&str> = self
            .clusters
            .iter()
            .filter(|(_, keys)| keys.iter().any(|r| r == recipient))
            .map(|(context, _)| context.as_str())
            .collect();
        if !contexts.is_empty() {
            why.push(format!("a key of context {}", contexts.join(", ")));
        }
        if self.named.iter().any(|r| r == recipient) {
            why.push("named on the command line".to_owned());
        }
        if why.is_empty() {
            (
                format!(
                    "{recipient} (UNKNOWN to seal: not your identity, not in a rule, not a cluster key seen before)"
                ),
                false,
            )
        } else {
            (format!("{recipient} ({})", why.join("; ")), true)
        }
    }
}

impl Known {
    /// What seal knows: the recipients of `keys`, the rule's list, the keys clusters
    /// offered before (an unreadable memory of those only means less is known), and the
    /// recipients the user `named`.
    pub fn gather(keys: &KeyRing, rule: Option<(String, Vec<String>)>, named: Vec<String>) -> Self {
        let clusters = known_recipients::default_path()
            .and_then(|path| KnownRecipients::load(&path).ok())
            .map(|store| {
                store
                    .clusters()
                    .iter()
                    .map(|c| (c.context.clone(), c.recipients.clone()))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            own: keys.recipients(),
            rule,
            clusters,
            named,
        }
    }

    /// Refuses `to`, the recipients values of the object at `at` are about to be sealed
    /// to, when it holds one that nothing vouches for. Nothing has been opened yet.
    pub fn refuse_unknown(&self, at: &str, to: &[String]) -> anyhow::Result<()> {
        let unknown: Vec<&str> = to
            .iter()
            .filter(|r| !self.describe(r).1)
            .map(String::as_str)
            .collect();
        if unknown.is_empty() {
            return Ok(());
        }
        anyhow::bail!(
            "{at}: values would be sealed to {}, which seal knows nothing of (not your identity, not in a .seal.yaml rule, not a key a cluster offered before); nothing opened or written (check who holds it, then name it with --trust-recipient {})",
            unknown.join(", "),
            unknown[0]
        )
    }
}

/// The recipients a `.seal.yaml` rule covering `path` lists or pins, with how the rule
/// is named to the user; `None` when no rule with recipients covers it.
pub fn rule_listing(
    lookup: &mut Lookup,
    path: &Path,
) -> anyhow::Result<Option<(String, Vec<String>)>> {
    let Some(config) = lookup.config_for(path)? else {
        return Ok(None);
    };
    let Some(rule) = config.rule_for(path) else {
        return Ok(None);
    };
    Ok(Some(listing(&config, rule)))
}

/// How `rule` of `config` is named to the user, and the recipients it lists or pins.
pub fn listing(config: &RepoConfig, rule: &Rule) -> (String, Vec<String>) {
    let source = format!("the rule at {} line {}", config.display(), rule.line);
    let mut listed = rule
        .recipients
        .as_ref()
        .map(|r| r.to_strings())
        .unwrap_or_default();
    if let Some(pins) = &rule.cluster_pins {
        listed.extend(pins.recipients.iter().cloned());
    }
    (source, listed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_source_vouches_and_a_stranger_is_named_unknown() {
        let known = Known {
            own: vec!["age1me".into()],
            rule: Some((
                "the rule at .seal.yaml line 2".into(),
                vec!["age1prod".into()],
            )),
            clusters: vec![("prod".into(), vec!["age1prod".into()])],
            named: vec!["age1dr".into()],
        };
        assert_eq!(
            known.describe("age1me"),
            ("age1me (your identity)".into(), true)
        );
        let (shown, vouched) = known.describe("age1prod");
        assert!(vouched);
        assert!(
            shown.contains("listed by the rule") && shown.contains("context prod"),
            "{shown}"
        );
        let (shown, vouched) = known.describe("age1dr");
        assert!(
            vouched && shown.contains("named on the command line"),
            "{shown}"
        );
        let (shown, vouched) = known.describe("age1stranger");
        assert!(!vouched);
        assert!(shown.contains("UNKNOWN"), "{shown}");
        known
            .refuse_unknown("f: document 1", &["age1me".into(), "age1dr".into()])
            .expect("all vouched for");
        let refused = known
            .refuse_unknown("f: document 1", &["age1me".into(), "age1stranger".into()])
            .expect_err("a stranger")
            .to_string();
        assert!(
            refused.starts_with("f: document 1: values would be sealed to age1stranger,"),
            "{refused}"
        );
    }
}
