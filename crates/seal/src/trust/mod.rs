//! What `seal` trusts when it seals to keys the user did not name: the keys a cluster
//! offers (remembered per kubeconfig context on first use, pinned by `.seal.yaml`), and
//! the public example key it warns about.
//!
//! With no `-r`/`-R` and no recipients in the rule, `seal` seals to whatever the cluster's
//! `unseal-recipients` ConfigMap (or its controller) lists. Whoever can write that
//! ConfigMap, or answers in the API server's place, could list a key of their own. So:
//! - the keys each context offered are remembered ([`known_recipients`]); a key never
//!   seen before is named on stderr, as a warning by default (the controller makes a new
//!   key every 30 days, so a new key is usually a renewal) and as a refusal with
//!   `SEAL_STRICT_RECIPIENTS=1` ([`cluster_keys`]);
//! - a `.seal.yaml` rule may pin the keys online sealing may use for its files; any other
//!   key is refused ([`pins`]).

pub mod cluster_keys;
pub mod example_key;
pub mod known_recipients;
pub mod pins;

/// Why a cluster's keys were not used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// The cluster offers a key a `.seal.yaml` rule does not pin.
    #[error(
        "{file}: line {line}: clusterRecipients: context {context} offers {offered}, which this rule does not pin; nothing sealed (if it is the controller's renewed key, check it and add it to the pins)"
    )]
    Unpinned {
        /// The rules file.
        file: String,
        /// The rule's line.
        line: u64,
        /// The kubeconfig context.
        context: String,
        /// The unpinned recipients, comma-separated.
        offered: String,
    },
    /// Strict mode: the cluster offers a key this context never offered before.
    #[error(
        "context {context} ({server}) offers a sealing key seal has not seen {when}: {offered}; {env}=1 refuses it (check it with `kubectl -n {namespace} get secret -l seal.dev/sealing-key` or your admin, then run once with {env}=0 to remember it, or pin it in .seal.yaml)",
        env = cluster_keys::STRICT_ENV
    )]
    NotRemembered {
        /// The kubeconfig context.
        context: String,
        /// Its API server.
        server: String,
        /// "before", "(first use of this context)", or which server it pointed at.
        when: String,
        /// The new recipients, comma-separated.
        offered: String,
        /// The controller's namespace.
        namespace: String,
    },
    /// `SEAL_STRICT_RECIPIENTS` holds something other than a yes or a no.
    #[error("{env}: expected 1 or 0 (true/false), not `{value}`", env = cluster_keys::STRICT_ENV)]
    BadStrictSetting {
        /// What it holds.
        value: String,
    },
    /// Strict mode, and there is nowhere to remember keys.
    #[error(
        "{env}=1, but there is no folder to remember the cluster's sealing keys in (set {dir_env}, XDG_CONFIG_HOME or HOME)",
        env = cluster_keys::STRICT_ENV,
        dir_env = known_recipients::CONFIG_DIR_ENV
    )]
    NoConfigFolder,
    /// The known-recipients file cannot be read.
    #[error(transparent)]
    Store(#[from] known_recipients::StoreError),
}
