//! What the recipients ConfigMap (`unseal-recipients`) says: the active recipient ready
//! for `seal -R`, every key held, and the registry of every key ever held.

use std::collections::BTreeMap;

use super::registry::{self, KnownKey};
use super::store::{KeyInfo, KeySet};

/// The ConfigMap's data for this key set.
pub fn recipients_data(
    namespace: &str,
    set: &KeySet,
    active: &KeyInfo,
    known: &[KnownKey],
) -> BTreeMap<String, String> {
    let mut text = format!(
        "# The active sealing key of unseal in namespace {namespace}: {} (created {}).\n{}\n",
        active.name, active.created, active.recipient
    );
    let mut all = String::new();
    for key in &set.keys {
        let role = if key.open_only { " (opens only)" } else { "" };
        all.push_str(&format!(
            "# {} created {}{role}\n{}\n",
            key.name, key.created, key.recipient
        ));
    }
    if set.keys.len() > 1 {
        text.push_str(
            "# Older keys still open what was sealed to them; seal new values to the line above.\n",
        );
    }
    BTreeMap::from([
        ("recipients.txt".to_owned(), text),
        ("all-recipients.txt".to_owned(), all),
        ("active".to_owned(), active.recipient.clone()),
        (registry::KNOWN_KEYS.to_owned(), registry::render(known)),
    ])
}
