//! What `seal tree` remembers between runs so that an unchanged value keeps its exact
//! ciphertext (age encryption is randomized: sealing again would change every line).
//!
//! Kept in `.seal-cache/` beside `.seal.yaml`, never committed (the folder ignores
//! itself): a random key, and per sealed file a map from a keyed digest of what was
//! sealed (HMAC-SHA-256 over the binding, the recipients and the value) to a SHA-256 of
//! the ciphertext produced. A value is reused only if both still match. The digest is
//! keyed so that the file reveals nothing about the values without the key, which lives
//! on the same machine as the plaintext files themselves. Losing the folder only costs
//! one re-seal.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use rand::RngCore;
use seal_core::files::{self, Overwrite};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// The folder's name.
pub const DIR_NAME: &str = ".seal-cache";
const KEY_FILE: &str = "key";
const STATE_FILE: &str = "tree.json";

/// A problem with the cache folder.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct MemoryError {
    /// The file.
    pub path: String,
    /// What went wrong.
    pub problem: String,
}

#[derive(Default, Serialize, Deserialize)]
struct State {
    /// Sealed file (relative to the rules' folder) → digest → ciphertext hash.
    files: BTreeMap<String, BTreeMap<String, String>>,
}

/// The cache of one rules folder.
pub struct Memory {
    dir: PathBuf,
    key: Zeroizing<Vec<u8>>,
    state: State,
}

/// What one sealed file's values were, for the next run.
pub type FileEntries = BTreeMap<String, String>;

impl Memory {
    /// Opens (or starts) the cache beside the rules file in `root`. Nothing is written
    /// until [`Memory::save`].
    pub fn open(root: &Path) -> Result<Self, MemoryError> {
        let dir = root.join(DIR_NAME);
        // A cache that came with the repository carries a key someone else knows: the
        // digests written with it would let them test guesses of short values offline.
        if super::git::tracks_anything_under(root, Path::new(DIR_NAME)) {
            return Err(MemoryError {
                path: dir.display().to_string(),
                problem: "is tracked by Git: a cache committed by someone else carries a key they know; remove it (git rm -r --cached .seal-cache, then delete the folder)".to_owned(),
            });
        }
        let key_path = dir.join(KEY_FILE);
        let key = match std::fs::read(&key_path) {
            Ok(bytes) if bytes.len() == 32 => Zeroizing::new(bytes),
            _ => {
                let mut bytes = Zeroizing::new(vec![0u8; 32]);
                rand::thread_rng().fill_bytes(&mut bytes);
                return Ok(Self {
                    dir,
                    key: bytes,
                    state: State::default(),
                });
            }
        };
        let state = match std::fs::read(dir.join(STATE_FILE)) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
            Err(_) => State::default(),
        };
        Ok(Self { dir, key, state })
    }

    /// The keyed digest of one value as sealed for `binding_line` to `recipients`.
    pub fn digest(&self, binding_line: &str, recipients: &[String], value: &[u8]) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        for part in [binding_line.as_bytes(), recipients.join(" ").as_bytes()] {
            mac.update(&u64::try_from(part.len()).unwrap_or(u64::MAX).to_be_bytes());
            mac.update(part);
        }
        mac.update(value);
        hex(&mac.finalize().into_bytes())
    }

    /// The ciphertext to keep for a digest, if the existing file's ciphertext is the
    /// one sealed from it.
    pub fn reusable<'a>(
        &self,
        file: &str,
        digest: &str,
        existing: Option<&'a str>,
    ) -> Option<&'a str> {
        let existing = existing?;
        let recorded = self.state.files.get(file)?.get(digest)?;
        (*recorded == ciphertext_hash(existing)).then_some(existing)
    }

    /// Replaces what is remembered for one sealed file.
    pub fn record(&mut self, file: String, entries: FileEntries) {
        self.state.files.insert(file, entries);
    }

    /// Writes the cache (key 0600, state, and a `.gitignore` so it is never committed).
    pub fn save(&self) -> Result<(), MemoryError> {
        let fail = |path: &Path, e: &dyn std::fmt::Display| MemoryError {
            path: path.display().to_string(),
            problem: e.to_string(),
        };
        std::fs::create_dir_all(&self.dir).map_err(|e| fail(&self.dir, &e))?;
        let ignore = self.dir.join(".gitignore");
        if !ignore.exists() {
            files::write_atomic(
                &ignore,
                b"# seal tree's local cache: never commit it\n*\n",
                0o644,
                Overwrite::Replace,
            )
            .map_err(|e| fail(&ignore, &e))?;
        }
        let key_path = self.dir.join(KEY_FILE);
        files::write_atomic(&key_path, &self.key, 0o600, Overwrite::Replace)
            .map_err(|e| fail(&key_path, &e))?;
        let state_path = self.dir.join(STATE_FILE);
        let text = serde_json::to_vec(&self.state).map_err(|e| fail(&state_path, &e))?;
        files::write_atomic(&state_path, &text, 0o600, Overwrite::Replace)
            .map_err(|e| fail(&state_path, &e))
    }
}

/// What is recorded of a ciphertext (it is public; the hash only keeps the file small).
pub fn ciphertext_hash(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuse_needs_the_same_value_and_the_same_ciphertext() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut memory = Memory::open(dir.path()).expect("opens");
        let recipients = vec!["age1a".to_owned()];
        let d = memory.digest("seal.dev/v1 strict a b k", &recipients, b"v1");
        assert_ne!(
            d,
            memory.digest("seal.dev/v1 strict a b k", &recipients, b"v2")
        );
        assert_ne!(
            d,
            memory.digest("seal.dev/v1 strict a b k", &["age1b".to_owned()], b"v1")
        );
        memory.record("s.yaml".into(), [(d.clone(), ciphertext_hash("CT"))].into());
        memory.save().expect("saves");
        let again = Memory::open(dir.path()).expect("reopens");
        assert_eq!(
            again.digest("seal.dev/v1 strict a b k", &recipients, b"v1"),
            d,
            "same key after a reload"
        );
        assert_eq!(again.reusable("s.yaml", &d, Some("CT")), Some("CT"));
        assert_eq!(again.reusable("s.yaml", &d, Some("OTHER")), None);
        assert_eq!(again.reusable("t.yaml", &d, Some("CT")), None);
        let ignore =
            std::fs::read_to_string(dir.path().join(DIR_NAME).join(".gitignore")).expect("reads");
        assert!(ignore.lines().any(|l| l == "*"));
    }
}
