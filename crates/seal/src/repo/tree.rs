//! Sealing one plaintext Secret file of a tree into its sealed counterpart, reusing every
//! ciphertext whose value, binding and recipients did not change (see [`memory`]).
//!
//! Naming: `NAME.secret.yaml` and `NAME.yaml` seal to `NAME.sealed.yaml` (same for
//! `.yml` and `.json`), in the same folder. Files named `*.sealed.*` are outputs and
//! never inputs. A plaintext file holds Secrets only; templates (`{{ }}`) are skipped.
//!
//! [`memory`]: crate::repo::memory

use std::path::{Path, PathBuf};

use seal_core::convert::{self, SealOptions};
use seal_core::documents::{self, Format};
use seal_core::error::DocError;
use seal_core::{PlainSecret, Recipients, SealedSecret, envelope, files, secret};
use serde_json::Value;

use crate::repo::check::declares_kind;
use crate::repo::memory::{FileEntries, Memory, ciphertext_hash};

/// The infix that marks sealed files.
const SEALED: &str = ".sealed";
/// The infix plaintext Secret files may carry (and that `.gitignore` can match).
const SECRET: &str = ".secret";

/// The sealed counterpart of a plaintext file; `None` when the file is itself sealed.
pub fn sealed_path(plaintext: &Path) -> Option<PathBuf> {
    let name = plaintext.file_name()?.to_str()?;
    let (stem, ext) = name.rsplit_once('.')?;
    if stem.ends_with(SEALED) {
        return None;
    }
    let stem = stem.strip_suffix(SECRET).unwrap_or(stem);
    Some(plaintext.with_file_name(format!("{stem}{SEALED}.{ext}")))
}

/// How to seal one file.
pub struct Job<'a> {
    /// The plaintext file.
    pub plaintext: &'a Path,
    /// Where its SealedSecrets go.
    pub sealed: &'a Path,
    /// The sealed file's path relative to the rules' folder (the cache's key).
    pub relative: &'a str,
    /// Recipients, scope and default namespace.
    pub recipients: &'a Recipients,
    /// Scope and default namespace from the rule.
    pub options: &'a SealOptions,
}

/// What happens to a sealed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// It does not exist yet.
    Created,
    /// These `name/key` values get new ciphertext (empty: only metadata changed).
    Updated(Vec<String>),
    /// It is byte for byte what it would be.
    Unchanged,
}

/// One file, sealed in memory.
pub struct Planned {
    /// The sealed file's new text.
    pub text: String,
    /// What changes.
    pub change: Change,
    /// What to remember for the next run.
    pub entries: FileEntries,
}

/// Seals one plaintext file; `Ok(None)` when it holds no Secret values (not an input).
/// Errors name the file and document.
pub fn plan(job: &Job<'_>, memory: &Memory) -> Result<Option<Planned>, String> {
    let shown = job.plaintext.display().to_string();
    let text = files::read_input(&shown).map_err(|e| e.to_string())?;
    if !text.contains("Secret") || text.contains("{{") {
        return Ok(None);
    }
    let mut docs = match documents::parse(&shown, &text) {
        Ok(docs) => docs,
        Err(e) if declares_kind(&text, "Secret") => return Err(format!("{e}")),
        Err(_) => return Ok(None),
    };
    let is_secret = |v: &Value| v.get("kind").and_then(Value::as_str) == Some("Secret");
    if !docs.iter().any(|d| is_secret(&d.value)) {
        return Ok(None);
    }
    if let Some(other) = docs.iter().find(|d| !is_secret(&d.value)) {
        let at = other.at.to_string();
        docs.iter_mut().for_each(|d| secret::scrub(&mut d.value));
        return Err(format!(
            "{at}: kind: not a Secret, in a file of Secrets; keep Secrets in files of their own so the whole file can be sealed"
        ));
    }
    let mut secrets = Vec::with_capacity(docs.len());
    let mut failed = None;
    for doc in docs {
        match PlainSecret::from_value(doc.value) {
            Ok(s) => secrets.push((doc.at, s)),
            Err(e) => {
                failed.get_or_insert(e.at(&doc.at).to_string());
            }
        }
    }
    if let Some(error) = failed {
        return Err(error);
    }
    if secrets.iter().all(|(_, s)| s.data.is_empty()) {
        return Ok(None);
    }
    let existing = read_existing(job.sealed)?;
    let recipients = job.recipients.to_strings();
    let mut objects = Vec::with_capacity(secrets.len());
    let mut entries = FileEntries::new();
    let mut resealed = Vec::new();
    for (at, plain) in &secrets {
        let mut options = job.options.clone();
        if plain.namespace.is_some() {
            options.default_namespace = None;
        }
        let mut sealed =
            convert::skeleton(plain, job.recipients, &options).map_err(|e| e.at(at).to_string())?;
        let before = existing.as_ref().and_then(|(objects, _)| {
            objects.iter().find(|o| {
                o.metadata.name == sealed.metadata.name
                    && o.metadata.namespace == sealed.metadata.namespace
            })
        });
        for (key, value) in &plain.data {
            let binding = convert::binding_of(&sealed, key).map_err(|e| e.at(at).to_string())?;
            let digest = memory.digest(&binding.header_line(), &recipients, value.expose());
            let old = before.and_then(|o| o.spec.encrypted_data.get(key).map(String::as_str));
            let ciphertext = match memory.reusable(job.relative, &digest, old) {
                Some(kept) => kept.to_owned(),
                None => {
                    resealed.push(format!("{}/{key}", plain.name));
                    envelope::seal_value(&binding, value.expose(), job.recipients).map_err(|e| {
                        DocError::field(format!("data.{key}"), e.to_string())
                            .at(at)
                            .to_string()
                    })?
                }
            };
            entries.insert(digest, ciphertext_hash(&ciphertext));
            sealed.spec.encrypted_data.insert(key.clone(), ciphertext);
        }
        objects.push(sealed);
    }
    let rendered = documents::render(&objects, Format::of(&text)).map_err(|e| e.to_string())?;
    let text = rendered.to_string();
    let change = match existing {
        None => Change::Created,
        Some((_, old_text)) if old_text == text => Change::Unchanged,
        Some(_) => Change::Updated(resealed),
    };
    Ok(Some(Planned {
        text,
        change,
        entries,
    }))
}

/// The SealedSecrets already in the sealed file, and its text; `None` when there is none.
fn read_existing(path: &Path) -> Result<Option<(Vec<SealedSecret>, String)>, String> {
    if !path.exists() {
        return Ok(None);
    }
    let shown = path.display().to_string();
    let text = files::read_input(&shown).map_err(|e| e.to_string())?;
    let objects = documents::parse(&shown, &text)
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|doc| convert::sealed_secret_from_value(doc.value).map_err(|e| e.at(&doc.at)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{e} (fix or delete this sealed file)"))?;
    Ok(Some((objects, text.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn naming() {
        let s = |p: &str| sealed_path(Path::new(p)).map(|p| p.display().to_string());
        assert_eq!(s("prod/db.yaml").as_deref(), Some("prod/db.sealed.yaml"));
        assert_eq!(
            s("prod/db.secret.yaml").as_deref(),
            Some("prod/db.sealed.yaml")
        );
        assert_eq!(s("db.secret.json").as_deref(), Some("db.sealed.json"));
        assert_eq!(s("db.yml").as_deref(), Some("db.sealed.yml"));
        assert_eq!(s("prod/db.sealed.yaml"), None);
    }
}
