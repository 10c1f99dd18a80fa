//! Trust on first use for the keys a cluster offers: the first time a kubeconfig context
//! (at its API server) is used, its keys are remembered; later, a key it never offered
//! before is named on stderr and remembered (a warning: the controller renews its key every
//! 30 days, so a new key is usually a renewal), or refused with `SEAL_STRICT_RECIPIENTS=1`.
//! Keys a `.seal.yaml` rule pins are trusted without a word.

use std::fmt;
use std::path::Path;

use seal_core::Recipients;

use crate::trust::TrustError;
use crate::trust::known_recipients::{CONFIG_DIR_ENV, KnownRecipients};
use crate::trust::pins::ClusterPins;

/// The environment variable that turns the warning about a new key into a refusal.
pub const STRICT_ENV: &str = "SEAL_STRICT_RECIPIENTS";

/// The context name used when no kubeconfig names one (in a pod).
pub const NO_CONTEXT: &str = "(in-cluster)";

/// The keys a cluster offered, and which cluster it was.
#[derive(Debug, Clone)]
pub struct ClusterOffer {
    /// The kubeconfig context ([`NO_CONTEXT`] when none).
    pub context: String,
    /// The API server the context points at.
    pub server: String,
    /// The controller's namespace (for the hint on how to check a key).
    pub controller_namespace: String,
    /// The recipients the cluster offers.
    pub recipients: Recipients,
}

/// What a key never seen before leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strictness {
    /// Name it on stderr, remember it, and seal.
    Warn,
    /// Refuse it; nothing is sealed or remembered.
    Refuse,
}

impl Strictness {
    /// From `SEAL_STRICT_RECIPIENTS` (unset, empty, `0`, `false`, `no`, `off`: warn; `1`,
    /// `true`, `yes`, `on`: refuse).
    pub fn from_env() -> Result<Self, TrustError> {
        Self::parse(std::env::var(STRICT_ENV).ok().as_deref())
    }

    fn parse(value: Option<&str>) -> Result<Self, TrustError> {
        let lower = value.map(|v| v.trim().to_ascii_lowercase());
        match lower.as_deref() {
            None | Some("" | "0" | "false" | "no" | "off") => Ok(Self::Warn),
            Some("1" | "true" | "yes" | "on") => Ok(Self::Refuse),
            Some(_) => Err(TrustError::BadStrictSetting {
                value: value.unwrap_or_default().to_owned(),
            }),
        }
    }
}

/// A line for stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// For information.
    Note(String),
    /// Something the user should check.
    Warning(String),
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notice::Note(text) => write!(f, "note: {text}"),
            Notice::Warning(text) => write!(f, "warning: {text}"),
        }
    }
}

/// Checks `offer` against the keys remembered in the file `store` (`None`: there is no
/// config folder), remembers its new keys, and says what the user should know. Keys
/// `pins` lists count as known.
pub fn remember(
    offer: &ClusterOffer,
    pins: Option<&ClusterPins>,
    strictness: Strictness,
    store: Option<&Path>,
) -> Result<Vec<Notice>, TrustError> {
    let Some(path) = store else {
        return match strictness {
            Strictness::Refuse => Err(TrustError::NoConfigFolder),
            Strictness::Warn => Ok(vec![Notice::Warning(format!(
                "the sealing keys of context {} were not checked: no folder to remember them in (set {CONFIG_DIR_ENV}, XDG_CONFIG_HOME or HOME)",
                offer.context
            ))]),
        };
    };
    let mut known = KnownRecipients::load(path)?;
    let offered = offer.recipients.to_strings();
    let previous = known
        .get(&offer.context, &offer.server)
        .map(|c| c.recipients.clone());
    let unseen: Vec<String> = offered
        .iter()
        .filter(|r| !previous.as_ref().is_some_and(|p| p.contains(r)))
        .filter(|r| !pins.is_some_and(|p| p.pins(r)))
        .cloned()
        .collect();
    let mut notices = Vec::new();
    if !unseen.is_empty() {
        let others = known
            .other_servers(&offer.context, &offer.server)
            .join(", ");
        let keys = format!("{} {}", key_or_keys(unseen.len()), unseen.join(", "));
        if strictness == Strictness::Refuse {
            return Err(TrustError::NotRemembered {
                context: offer.context.clone(),
                server: offer.server.clone(),
                when: match (&previous, others.is_empty()) {
                    (Some(_), _) => "before".to_owned(),
                    (None, true) => "(first use of this context)".to_owned(),
                    (None, false) => format!("at this server (the context pointed at {others})"),
                },
                offered: unseen.join(", "),
                namespace: offer.controller_namespace.clone(),
            });
        }
        notices.push(match (&previous, others.is_empty()) {
            (Some(_), _) => Notice::Warning(format!(
                "new sealing {keys} for context {} (a renewal, or someone else's key: check with `kubectl -n {} get secret -l seal.dev/sealing-key` or your admin)",
                offer.context, offer.controller_namespace
            )),
            (None, true) => Notice::Note(format!(
                "first use of context {} ({}): trusting its sealing {keys}; remembered in {}",
                offer.context,
                offer.server,
                path.display()
            )),
            (None, false) => Notice::Warning(format!(
                "context {} now points at {}, not {others}: trusting its sealing {keys} as on first use (a moved cluster, or someone else's API server: check your kubeconfig)",
                offer.context, offer.server
            )),
        });
    }
    if known.record(&offer.context, &offer.server, &offered)
        && let Err(e) = known.save()
    {
        notices.push(Notice::Warning(format!(
            "cannot remember the cluster's sealing keys: {e}"
        )));
    }
    Ok(notices)
}

fn key_or_keys(count: usize) -> &'static str {
    if count == 1 { "key" } else { "keys" }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recipient() -> String {
        age::x25519::Identity::generate().to_public().to_string()
    }

    fn offer(context: &str, server: &str, keys: &[&String]) -> ClusterOffer {
        let mut recipients = Recipients::new();
        for k in keys {
            recipients.add_arg("test", k).expect("valid");
        }
        ClusterOffer {
            context: context.to_owned(),
            server: server.to_owned(),
            controller_namespace: "seal-system".to_owned(),
            recipients,
        }
    }

    #[test]
    fn first_use_then_silence_then_a_new_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = dir.path().join("known.yaml");
        let (a, b) = (recipient(), recipient());
        let first = remember(
            &offer("prod", "https://p", &[&a]),
            None,
            Strictness::Warn,
            Some(&store),
        )
        .expect("first use");
        assert!(
            matches!(&first[..], [Notice::Note(n)] if n.contains("first use of context prod") && n.contains(&a)),
            "{first:?}"
        );
        let again = remember(
            &offer("prod", "https://p", &[&a]),
            None,
            Strictness::Refuse,
            Some(&store),
        )
        .expect("known");
        assert!(again.is_empty(), "{again:?}");
        let err = remember(
            &offer("prod", "https://p", &[&b]),
            None,
            Strictness::Refuse,
            Some(&store),
        )
        .expect_err("strict")
        .to_string();
        assert!(err.contains(&b) && !err.contains(&a), "{err}");
        let renewed = remember(
            &offer("prod", "https://p", &[&b]),
            None,
            Strictness::Warn,
            Some(&store),
        )
        .expect("warns");
        assert!(
            matches!(&renewed[..], [Notice::Warning(w)] if w.starts_with(&format!("new sealing key {b} for context prod"))),
            "{renewed:?}"
        );
        let moved = remember(
            &offer("prod", "https://elsewhere", &[&a]),
            None,
            Strictness::Warn,
            Some(&store),
        )
        .expect("warns");
        assert!(
            matches!(&moved[..], [Notice::Warning(w)] if w.contains("now points at https://elsewhere, not https://p")),
            "{moved:?}"
        );
    }

    #[test]
    fn pinned_keys_are_trusted_quietly() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = dir.path().join("known.yaml");
        let a = recipient();
        let pins = ClusterPins {
            recipients: vec![a.clone()],
            file: ".seal.yaml".to_owned(),
            line: 2,
        };
        let notices = remember(
            &offer("prod", "https://p", &[&a]),
            Some(&pins),
            Strictness::Refuse,
            Some(&store),
        )
        .expect("pinned");
        assert!(notices.is_empty(), "{notices:?}");
        let b = recipient();
        let err = pins
            .check(&offer("prod", "https://p", &[&a, &b]))
            .expect_err("unpinned")
            .to_string();
        assert!(
            err.starts_with(&format!(".seal.yaml: line 2: clusterRecipients: context prod offers {b}, which this rule does not pin")),
            "{err}"
        );
    }

    #[test]
    fn the_strict_setting() {
        for (value, want) in [
            (None, Strictness::Warn),
            (Some(""), Strictness::Warn),
            (Some("0"), Strictness::Warn),
            (Some("1"), Strictness::Refuse),
            (Some("True"), Strictness::Refuse),
        ] {
            assert_eq!(Strictness::parse(value).expect("valid"), want, "{value:?}");
        }
        let err = Strictness::parse(Some("maybe"))
            .expect_err("invalid")
            .to_string();
        assert_eq!(
            err,
            "SEAL_STRICT_RECIPIENTS: expected 1 or 0 (true/false), not `maybe`"
        );
        let offer = offer("x", "https://x", &[]);
        assert!(matches!(
            remember(&offer, None, Strictness::Refuse, None),
            Err(TrustError::NoConfigFolder)
        ));
    }
}
