//! What `seal check` finds wrong in one manifest file: a plaintext Secret with values, a
//! SealedSecret that does not parse, or one sealed to recipients other than the rules
//! list (or pin, with `clusterRecipients`) for its path. Reads only public structure; never opens a value.

use std::collections::BTreeSet;

use seal_core::{convert, documents, envelope, secret};
use serde_json::Value;

use crate::repo::config::{RepoConfig, Rule};

/// What `seal check` says when an object's recipients drift from its rule's.
pub const SYNC_HINT: &str = "`seal recipients sync` re-seals it to the rule's recipients";

/// One problem found, named by file and document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offence {
    /// File, and document when known.
    pub at: String,
    /// What is wrong (never a value).
    pub problem: String,
}

/// The rule a file is held to, with the rules file it is in.
#[derive(Clone, Copy)]
pub struct Governing<'a> {
    /// The rules file.
    pub config: &'a RepoConfig,
    /// The rule that applies.
    pub rule: &'a Rule,
}

/// Checks one file's text. `shown` names it in reports.
pub fn check_text(shown: &str, text: &str, governing: Option<Governing<'_>>) -> Vec<Offence> {
    // Nothing to look at unless the word appears: keeps the common case (every other
    // manifest of the repo) to one substring search.
    if !text.contains("Secret") {
        return Vec::new();
    }
    let mut documents = match documents::parse(shown, text) {
        Ok(docs) => docs,
        Err(e) => return unparsable(shown, text, &e.to_string()),
    };
    // A template (Helm's `{{ }}`) is rendered elsewhere; its Secret values are not
    // plaintext.
    let template = text.contains("{{");
    let mut found = Vec::new();
    for doc in &mut documents {
        let at = doc.at.to_string();
        match kind_of(&doc.value) {
            Some(("v1", "Secret")) => {
                let keys = value_keys(&doc.value);
                if !keys.is_empty() && !template {
                    found.push(Offence {
                        at,
                        problem: format!(
                            "a plaintext Secret with values ({}); seal it and commit the SealedSecret instead",
                            keys.join(", ")
                        ),
                    });
                }
            }
            Some((api, "SealedSecret")) if api.starts_with("seal.dev/") => {
                found.extend(check_sealed(&at, doc.value.clone(), governing));
            }
            _ => {}
        }
        secret::scrub(&mut doc.value);
    }
    found
}

/// A file that does not parse is reported only when it looks like it holds a Secret or a
/// SealedSecret; templates (Helm's `{{ }}`) are left alone.
fn unparsable(shown: &str, text: &str, error: &str) -> Vec<Offence> {
    let sealed = declares_kind(text, "SealedSecret");
    let plain = declares_kind(text, "Secret") && !text.contains("{{");
    if !(sealed || plain) {
        return Vec::new();
    }
    let what = if sealed { "SealedSecret" } else { "Secret" };
    let problem = error
        .strip_prefix(&format!("{shown}: "))
        .unwrap_or(error)
        .to_owned();
    vec![Offence {
        at: shown.to_owned(),
        problem: format!("a {what} that does not parse: {problem}"),
    }]
}

/// Whether a text that does not parse says, on a line of its own, that it is a `kind`
/// (block `kind: X` or flow `kind: X,`, quoted or not).
pub fn declares_kind(text: &str, kind: &str) -> bool {
    let block = format!("kind: {kind}");
    let flow = format!("{block},");
    text.lines().any(|l| {
        let l = l.trim().replace(['"', '\''], "");
        l == block || l.starts_with(&flow)
    })
}

fn kind_of(value: &Value) -> Option<(&str, &str)> {
    Some((
        value.get("apiVersion")?.as_str()?,
        value.get("kind")?.as_str()?,
    ))
}

/// The keys of `data` and `stringData` (names only).
fn value_keys(value: &Value) -> Vec<String> {
    let mut keys = BTreeSet::new();
    for field in ["data", "stringData"] {
        match value.get(field) {
            Some(Value::Object(map)) => {
                keys.extend(map.keys().map(|k| crate::output::shown(k).into_owned()));
            }
            None | Some(Value::Null) => {}
            Some(_) => {
                keys.insert(format!("{field}: not a mapping"));
            }
        }
    }
    keys.into_iter().collect()
}

fn check_sealed(at: &str, value: Value, governing: Option<Governing<'_>>) -> Vec<Offence> {
    let offence = |problem: String| Offence {
        at: at.to_owned(),
        problem,
    };
    let sealed = match convert::sealed_secret_from_value(value) {
        Ok(s) => s,
        Err(e) => return vec![offence(format!("a SealedSecret that does not parse: {e}"))],
    };
    let mut found = Vec::new();
    let listed = sealed.spec.recipients.len();
    for (index, recipient) in sealed.spec.recipients.iter().enumerate() {
        if !is_recipient(recipient) {
            found.push(offence(format!(
                "spec.recipients[{index}]: not an age X25519 recipient as seal writes them (age1…, lower case, nothing around it); re-seal this object"
            )));
        }
    }
    // Only recipients that parse are compared and named: a malformed one is reported
    // above, by position, and never echoed.
    let recipients: Vec<&String> = sealed
        .spec
        .recipients
        .iter()
        .filter(|r| is_recipient(r))
        .collect();
    for (key, text) in &sealed.spec.encrypted_data {
        if let Err(e) = convert::binding_of(&sealed, key) {
            found.push(offence(format!("a SealedSecret that does not parse: {e}")));
            continue;
        }
        match envelope::shape(text) {
            Err(e) => found.push(offence(format!(
                "a SealedSecret that does not parse: spec.encryptedData.{key}: {e}"
            ))),
            Ok(shape) if shape.x25519_stanzas != listed => found.push(offence(format!(
                "spec.encryptedData.{key}: sealed to {} recipients but spec.recipients lists {listed}",
                shape.x25519_stanzas
            ))),
            Ok(_) => {}
        }
    }
    if let Some(Governing { config, rule }) = governing
        && let Some(wanted) = &rule.recipients
    {
        let wanted = wanted.to_strings();
        let source = format!("the rule at {} line {}", config.display(), rule.line);
        let unlisted: Vec<&String> = recipients
            .iter()
            .copied()
            .filter(|r| !wanted.contains(r))
            .collect();
        let missing: Vec<&String> = wanted
            .iter()
            .filter(|r| !sealed.spec.recipients.contains(r))
            .collect();
        if !unlisted.is_empty() {
            found.push(offence(format!(
                "sealed to {} which {source} does not list; {SYNC_HINT}",
                join(&unlisted)
            )));
        }
        if !missing.is_empty() {
            found.push(offence(format!(
                "not sealed to {} which {source} lists (it would not open there); {SYNC_HINT}",
                join(&missing)
            )));
        }
    }
    if let Some(Governing { config, rule }) = governing
        && let Some(pins) = &rule.cluster_pins
    {
        let unpinned: Vec<&String> = recipients
            .iter()
            .copied()
            .filter(|r| !pins.pins(r))
            .collect();
        if !unpinned.is_empty() {
            found.push(offence(format!(
                "sealed to {} which the rule at {} line {} does not pin (clusterRecipients)",
                join(&unpinned),
                config.display(),
                rule.line
            )));
        }
    }
    found
}

/// Whether `text` is an age X25519 recipient exactly as seal writes one (`age1…` in
/// lower case, nothing around it): what `spec.recipients` may hold, and so what may be
/// shown as it is.
pub fn is_recipient(text: &str) -> bool {
    seal_core::keys::parse_recipient(text).is_ok_and(|r| r.to_string() == text)
}

fn join(recipients: &[&String]) -> String {
    recipients
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_secrets_are_found_by_key_name_only() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: hunter2}\ndata: {user: YWRtaW4=}\n";
        let found = check_text("x.yaml", text, None);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].at, "x.yaml: document 2");
        assert!(found[0].problem.contains("(password, user)"), "{found:?}");
        assert!(!found[0].problem.contains("hunter2"));
    }

    #[test]
    fn secrets_without_values_and_other_kinds_pass() {
        let text = "apiVersion: v1\nkind: Secret\nmetadata: {name: token, annotations: {kubernetes.io/service-account.name: x}}\ntype: kubernetes.io/service-account-token\n";
        assert!(check_text("x.yaml", text, None).is_empty());
        assert!(check_text("y.yaml", "kind: Deployment\n", None).is_empty());
    }

    /// What a hostile file writes into a CI log: a forged GitHub Actions annotation,
    /// then erase-line and cursor-up escapes.
    const FORGED: &str = "\n::error file=.seal.yaml,line=1::all good\n\u{1b}[2K\u{1b}[1A";

    fn assert_inert(found: &[Offence]) {
        for o in found {
            for text in [&o.at, &o.problem] {
                assert!(crate::output::is_plain(text), "{text:?}");
                assert!(!text.starts_with("::"), "{text:?}");
            }
        }
    }

    #[test]
    fn a_forged_recipient_is_reported_by_position_and_never_echoed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let good = age::x25519::Identity::generate().to_public().to_string();
        let file = dir.path().join(crate::repo::config::FILE_NAME);
        std::fs::write(
            &file,
            format!("rules:\n  - path: '**'\n    recipients: [{good}]\n"),
        )
        .expect("writes");
        let config = RepoConfig::load(&file).expect("loads");
        let governing = Governing {
            config: &config,
            rule: &config.rules[0],
        };
        let forged = serde_json::to_string(&format!("{good}{FORGED}")).expect("quotes");
        let text = format!(
            "apiVersion: seal.dev/v1alpha1\nkind: SealedSecret\nmetadata: {{name: db, namespace: apps}}\nspec:\n  recipients: [{good}, {forged}]\n  encryptedData: {{}}\n"
        );
        let found = check_text("s.yaml", &text, Some(governing));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].at, "s.yaml: document 1");
        assert!(
            found[0]
                .problem
                .starts_with("spec.recipients[1]: not an age X25519 recipient"),
            "{found:?}"
        );
        assert_inert(&found);
        for odd in [" age1x", &good.to_uppercase(), &format!("{good}\n")] {
            assert!(!is_recipient(odd), "{odd:?}");
        }
        assert!(is_recipient(&good));
    }

    #[test]
    fn forged_key_names_of_a_plaintext_secret_are_escaped() {
        let key = serde_json::to_string(&format!("pw{FORGED}")).expect("quotes");
        let text = format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: db}}\nstringData: {{{key}: x}}\n"
        );
        let found = check_text("x.yaml", &text, None);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].problem.contains("(\"pw\\n::error"), "{found:?}");
        assert_inert(&found);
    }

    #[test]
    fn broken_files_are_reported_only_when_they_declare_a_secret() {
        let broken = "kind: SealedSecret\nspec: [\n";
        assert_eq!(check_text("s.yaml", broken, None).len(), 1);
        let template = "apiVersion: v1\nkind: Secret\ndata:\n  a: {{ .Values.a | b64enc }}\n";
        assert!(check_text("t.yaml", template, None).is_empty());
        let quoted = "apiVersion: v1\nkind: Secret\nmetadata: {name: a}\ndata:\n  a: '{{ .Values.a | b64enc }}'\n";
        assert!(check_text("q.yaml", quoted, None).is_empty());
        let plain = "apiVersion: v1\nkind: Secret\nstringData:\n  a: [\n";
        assert_eq!(check_text("p.yaml", plain, None).len(), 1);
    }
}
