//! Key backups: every identity in one age-encrypted file, and reading such a file (or a
//! plain identity file) back for import.

use std::io::{Read, Write};
use std::str::FromStr;

use age::secrecy::ExposeSecret;
use age::x25519;
use k8s_openapi::jiff::Timestamp;
use seal_core::{KeyRing, Recipients};
use zeroize::Zeroizing;

use super::secrets::StoredKey;

/// Why a backup could not be made or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// The file is encrypted and no identity given opens it.
    #[error("the backup is age-encrypted and none of the identities given opens it")]
    CannotOpen,
    /// The file is encrypted and no identity was given.
    #[error("the backup is age-encrypted: give the identity it was exported to (-i)")]
    NeedsIdentity,
    /// A line is not an identity or a comment.
    #[error("line {0}: not an age identity (AGE-SECRET-KEY-1…) or comment")]
    BadLine(usize),
    /// The file holds no identity.
    #[error("no identities in the file")]
    Empty,
    /// age refused to encrypt.
    #[error("age encryption failed: {0}")]
    Encrypt(String),
}

/// One identity read from an import, with its creation time when the file records it.
pub struct ImportedKey {
    /// The identity.
    pub identity: x25519::Identity,
    /// `# created:` of the entry, if present.
    pub created: Option<Timestamp>,
    /// `# name:` of the entry (the key Secret it was exported from), if present.
    pub name: Option<String>,
}

/// The plaintext of a backup: each key as comments (name, created, public key) and its
/// identity line. Wiped on drop.
pub fn backup_text(keys: &[StoredKey]) -> Zeroizing<String> {
    let mut text = Zeroizing::new(String::with_capacity(keys.len() * 320));
    for key in keys {
        // The identity goes straight into the wiped buffer: a `format!` would leave an
        // unwiped copy behind.
        text.push_str(&format!(
            "# name: {}\n# created: {}\n# public key: {}\n",
            key.name,
            key.created,
            key.identity.to_public(),
        ));
        text.push_str(key.identity.to_string().expose_secret());
        text.push('\n');
    }
    text
}

/// Encrypts a backup to the given recipients (binary age).
pub fn encrypt(plaintext: &[u8], to: &Recipients) -> Result<Vec<u8>, BackupError> {
    let encryptor = age::Encryptor::with_recipients(to.as_age())
        .map_err(|e| BackupError::Encrypt(e.to_string()))?;
    let mut out = Vec::new();
    let write = || -> std::io::Result<()> {
        let mut w = encryptor.wrap_output(&mut out)?;
        w.write_all(plaintext)?;
        w.finish()?;
        Ok(())
    };
    write().map_err(|e| BackupError::Encrypt(e.to_string()))?;
    Ok(out)
}

/// Reads identities from any form a backup comes in: an age-encrypted backup (`unseal
/// keys export`), the backup Secret as `kubectl get secret unseal-keys-backup -o yaml`
/// prints it (one encrypted entry per key), or a plain identity file.
pub fn read_any(bytes: &[u8], keys: Option<&KeyRing>) -> Result<Vec<ImportedKey>, BackupError> {
    if let Some(entries) = secret_entries(bytes) {
        let mut found = Vec::new();
        for entry in entries {
            found.extend(read_import(&entry, keys)?);
        }
        if found.is_empty() {
            return Err(BackupError::Empty);
        }
        return Ok(found);
    }
    read_import(bytes, keys)
}

/// The decoded data values of a Secret manifest (YAML or JSON), if `bytes` is one.
fn secret_entries(bytes: &[u8]) -> Option<Vec<Vec<u8>>> {
    use base64::Engine as _;
    let text = std::str::from_utf8(bytes).ok()?;
    if !text.contains("kind") {
        return None;
    }
    let docs = seal_core::documents::parse("backup", text).ok()?;
    let mut entries = Vec::new();
    for doc in docs {
        if doc.value["kind"] != "Secret" {
            return None;
        }
        for value in doc.value["data"].as_object()?.values() {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(value.as_str()?)
                .ok()?;
            entries.push(decoded);
        }
    }
    Some(entries)
}

/// Reads identities from a plain identity file or an age-encrypted backup (opened with
/// `keys`).
pub fn read_import(bytes: &[u8], keys: Option<&KeyRing>) -> Result<Vec<ImportedKey>, BackupError> {
    let plaintext = if bytes.starts_with(b"age-encryption.org/v1\n") {
        let keys = keys.ok_or(BackupError::NeedsIdentity)?;
        let decryptor = age::Decryptor::new_buffered(bytes).map_err(|_| BackupError::CannotOpen)?;
        let mut reader = decryptor
            .decrypt(keys.candidates(&[]).into_iter())
            .map_err(|_| BackupError::CannotOpen)?;
        let mut plain = Zeroizing::new(Vec::with_capacity(bytes.len()));
        reader
            .read_to_end(&mut plain)
            .map_err(|_| BackupError::CannotOpen)?;
        plain
    } else {
        Zeroizing::new(bytes.to_vec())
    };
    let text = std::str::from_utf8(&plaintext).map_err(|_| BackupError::BadLine(1))?;
    let mut found = Vec::new();
    let mut created = None;
    let mut name = None;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if let Some(time) = line.strip_prefix("# created:") {
            created = time.trim().parse::<Timestamp>().ok();
        } else if let Some(n) = line.strip_prefix("# name:") {
            name = Some(n.trim().to_owned());
        } else if line.is_empty() || line.starts_with('#') {
            continue;
        } else if line.starts_with("AGE-SECRET-KEY-1") {
            let identity =
                x25519::Identity::from_str(line).map_err(|_| BackupError::BadLine(i + 1))?;
            found.push(ImportedKey {
                identity,
                created: created.take(),
                name: name.take(),
            });
        } else {
            return Err(BackupError::BadLine(i + 1));
        }
    }
    if found.is_empty() {
        return Err(BackupError::Empty);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backup_secret_as_kubectl_prints_it_is_read_entry_by_entry() {
        use base64::Engine as _;
        let owner = x25519::Identity::generate();
        let mut to = Recipients::new();
        to.insert(owner.to_public());
        let entry = |name: &str| {
            let key = StoredKey {
                name: name.into(),
                created: "2026-03-04T05:06:07Z".parse().expect("time"),
                identity: x25519::Identity::generate(),
                open_only: false,
            };
            let sealed = encrypt(backup_text(&[key]).as_bytes(), &to).expect("encrypts");
            base64::engine::general_purpose::STANDARD.encode(sealed)
        };
        let manifest = format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: unseal-keys-backup\ndata:\n  seal-key-0001.age: {}\n  seal-key-0002.age: {}\n",
            entry("seal-key-0001"),
            entry("seal-key-0002")
        );
        let mut ring = KeyRing::new();
        ring.insert(owner);
        let keys = read_any(manifest.as_bytes(), Some(&ring)).expect("reads");
        let names: Vec<_> = keys.iter().filter_map(|k| k.name.clone()).collect();
        assert_eq!(names, ["seal-key-0001", "seal-key-0002"]);
        assert!(matches!(
            read_any(manifest.as_bytes(), None),
            Err(BackupError::NeedsIdentity)
        ));
    }

    #[test]
    fn backup_round_trip_keeps_creation_times() {
        let created: Timestamp = "2026-03-04T05:06:07Z".parse().expect("time");
        let keys = vec![StoredKey {
            name: "seal-key-0001".into(),
            created,
            identity: x25519::Identity::generate(),
            open_only: false,
        }];
        let owner = x25519::Identity::generate();
        let mut to = Recipients::new();
        to.insert(owner.to_public());
        let sealed = encrypt(backup_text(&keys).as_bytes(), &to).expect("encrypts");
        assert!(matches!(
            read_import(&sealed, None),
            Err(BackupError::NeedsIdentity)
        ));
        let mut ring = KeyRing::new();
        ring.insert(owner);
        let back = read_import(&sealed, Some(&ring)).expect("opens");
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].created, Some(created));
        assert_eq!(back[0].name.as_deref(), Some("seal-key-0001"));
        assert_eq!(
            back[0].identity.to_public().to_string(),
            keys[0].identity.to_public().to_string()
        );
        assert!(matches!(
            read_import(b"hello\n", None),
            Err(BackupError::BadLine(1))
        ));
    }
}
