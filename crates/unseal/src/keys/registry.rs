//! The registry of every sealing key the controller has ever held: name, recipient and
//! creation time, kept in the recipients ConfigMap (data key `known-keys`) and never
//! shortened by the controller.
//!
//! It answers two questions the key Secrets alone cannot once one is gone: which keys are
//! missing (a key Secret deleted or relabelled by mistake: everything sealed to it no
//! longer opens, so it is reported loudly), and which generation numbers were used (a
//! new key never takes the name of a lost one, which would make `seal-key-0003` mean two
//! different keys in backups and logs). A key an admin retired (`unseal keys retire`) is
//! marked so (`NAME RECIPIENT CREATED retired`): gone on purpose, not missing.

use std::collections::BTreeMap;

use super::store::KeyInfo;

/// The ConfigMap data key holding the registry.
pub const KNOWN_KEYS: &str = "known-keys";

/// One key as the registry remembers it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct KnownKey {
    /// The key Secret's name.
    pub name: String,
    /// Its `age1…` recipient.
    pub recipient: String,
    /// When it was made (RFC 3339), as recorded.
    pub created: String,
    /// Retired by an admin: its Secret is gone on purpose (kept in the backup).
    pub retired: bool,
}

impl From<&KeyInfo> for KnownKey {
    fn from(key: &KeyInfo) -> Self {
        Self {
            name: key.name.clone(),
            recipient: key.recipient.clone(),
            created: key.created.to_string(),
            retired: false,
        }
    }
}

/// The word that marks a retired key's line.
pub const RETIRED: &str = "retired";

/// Reads the registry text: one `NAME RECIPIENT CREATED [retired]` line per key, `#`
/// comments.
/// Lines that do not parse are skipped (the registry is advisory; the key Secrets are
/// the truth about what opens).
pub fn parse(text: &str) -> Vec<KnownKey> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let (name, recipient) = (parts.next()?, parts.next()?);
            let created = parts.next().unwrap_or("-").to_owned();
            let retired = parts.next() == Some(RETIRED);
            recipient.starts_with("age1").then(|| KnownKey {
                name: name.to_owned(),
                recipient: recipient.to_owned(),
                created,
                retired,
            })
        })
        .collect()
}

/// Renders the registry, sorted by name.
pub fn render(keys: &[KnownKey]) -> String {
    let mut sorted = keys.to_vec();
    sorted.sort();
    let mut out = String::from(
        "# Every sealing key this controller has held (NAME RECIPIENT CREATED). A key listed\n# here without its Secret is missing: restore it from a backup (unseal keys import).\n",
    );
    for k in sorted {
        let mark = if k.retired { " retired" } else { "" };
        out.push_str(&format!("{} {} {}{mark}\n", k.name, k.recipient, k.created));
    }
    out
}

/// The registry after seeing `held`: every key ever known, by recipient (a key renamed
/// by a restore keeps one entry, under its newest name). A retired mark stays: a
/// controller that still held the key when it was retired must not undo the mark
/// (`unseal keys import` clears it with [`unretire`]).
pub fn merge(known: &[KnownKey], held: &[KnownKey]) -> Vec<KnownKey> {
    let mut by_recipient: BTreeMap<String, KnownKey> = known
        .iter()
        .map(|k| (k.recipient.clone(), k.clone()))
        .collect();
    for k in held {
        let retired = by_recipient
            .get(&k.recipient)
            .is_some_and(|old| old.retired);
        by_recipient.insert(
            k.recipient.clone(),
            KnownKey {
                retired,
                ..k.clone()
            },
        );
    }
    by_recipient.into_values().collect()
}

/// The registry with the retired mark of `recipient` cleared (the key was imported
/// again).
pub fn unretire(known: &[KnownKey], recipient: &str) -> Vec<KnownKey> {
    known
        .iter()
        .map(|k| KnownKey {
            retired: k.retired && k.recipient != recipient,
            ..k.clone()
        })
        .collect()
}

/// The keys of the registry that are not held and were not retired.
pub fn missing<'a>(known: &'a [KnownKey], held: &[KnownKey]) -> Vec<&'a KnownKey> {
    known
        .iter()
        .filter(|k| !k.retired && !held.iter().any(|h| h.recipient == k.recipient))
        .collect()
}

/// The registry with the key of `recipient` marked retired (added when it was not
/// listed yet).
pub fn retire(known: &[KnownKey], key: &KnownKey) -> Vec<KnownKey> {
    let mut out: Vec<KnownKey> = known
        .iter()
        .filter(|k| k.recipient != key.recipient)
        .cloned()
        .collect();
    out.push(KnownKey {
        retired: true,
        ..key.clone()
    });
    out
}

/// The generation number of a generated key's name (`seal-key-0007` → 7).
pub fn generation(name: &str) -> Option<u32> {
    name.strip_prefix("seal-key-")?.parse().ok()
}

/// The highest generation number any known key had.
pub fn highest_generation(known: &[KnownKey]) -> u32 {
    known
        .iter()
        .filter_map(|k| generation(&k.name))
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str, r: &str) -> KnownKey {
        KnownKey {
            name: name.into(),
            recipient: r.into(),
            created: "2026-01-01T00:00:00Z".into(),
            retired: false,
        }
    }

    #[test]
    fn the_registry_only_grows_and_names_what_is_missing() {
        let known = vec![key("seal-key-0001", "age1a"), key("seal-key-0003", "age1c")];
        let held = vec![key("seal-key-0001", "age1a"), key("seal-key-0004", "age1d")];
        let merged = merge(&known, &held);
        assert_eq!(merged.len(), 3);
        let gone = missing(&merged, &held);
        assert_eq!(gone, vec![&key("seal-key-0003", "age1c")]);
        assert_eq!(highest_generation(&merged), 4);
        assert_eq!(parse(&render(&merged)), merged);
        assert_eq!(parse("garbage\nseal-key-0009 notarecipient x\n"), vec![]);
    }

    #[test]
    fn a_retired_key_is_remembered_and_not_missing_until_it_comes_back() {
        let known = vec![key("seal-key-0001", "age1a"), key("seal-key-0002", "age1b")];
        let held = vec![key("seal-key-0002", "age1b")];
        assert_eq!(missing(&known, &held).len(), 1);
        let retired = retire(&known, &known[0]);
        let reread = parse(&render(&retired));
        assert!(reread.iter().any(|k| k.recipient == "age1a" && k.retired));
        assert!(missing(&reread, &held).is_empty());
        let merged = merge(&reread, &held);
        assert!(
            merged.iter().any(|k| k.retired),
            "the controller keeps the mark"
        );
        assert_eq!(highest_generation(&merged), 2);
        // A controller that still holds it when it publishes keeps the mark too.
        let stale = merge(&merged, &[key("seal-key-0001", "age1a")]);
        assert!(stale.iter().any(|k| k.recipient == "age1a" && k.retired));
        // Imported again: the mark is cleared, and a later loss is reported.
        let back = unretire(&stale, "age1a");
        assert!(back.iter().all(|k| !k.retired));
        assert_eq!(missing(&back, &held).len(), 1);
    }
}
