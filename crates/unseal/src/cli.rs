//! The command line as clap types.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The seal controller and its tools.
#[derive(Debug, Parser)]
#[command(name = "unseal", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the controller (what the Deployment starts).
    Run(RunArgs),
    /// Break-glass: open SealedSecret files with an identity file and print the Secrets.
    Recover(RecoverArgs),
    /// Make a new active sealing key now.
    Rotate(ClusterArgs),
    /// List, back up or restore the sealing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Print the SealedSecret CustomResourceDefinition generated from the Rust types.
    Crd,
    /// Print the shell completion script.
    #[command(
        after_help = "Examples:\n  echo 'source <(unseal completion bash)' >> ~/.bashrc\n  unseal completion fish > ~/.config/fish/completions/unseal.fish"
    )]
    Completion {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Reaching the cluster from outside (kubeconfig) and finding the controller.
#[derive(Debug, Args, Clone)]
pub struct ClusterArgs {
    /// The kubeconfig and context.
    #[command(flatten)]
    pub kube: seal_kubeconfig::KubeconfigArgs,
    /// The namespace the controller keeps its keys in.
    #[arg(
        long,
        env = "UNSEAL_CONTROLLER_NAMESPACE",
        default_value = "seal-system"
    )]
    pub controller_namespace: String,
}

/// `unseal keys …`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Each key: recipient, creation time, whether active, how many SealedSecrets and
    /// values use it.
    List(ListArgs),
    /// Stop holding an old key nothing uses any more (it stays in the backup).
    Retire(RetireArgs),
    /// Write every identity, age-encrypted to the given recipients (plaintext never written).
    Export(ExportArgs),
    /// Store identities from a backup or your own identity file as sealing keys, or
    /// bitnami sealed-secrets keys for `seal migrate --online`.
    Import(ImportArgs),
}

/// `unseal keys list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "text")]
    pub format: ListFormat,
    /// The cluster.
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// `-o` values of `unseal keys list`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ListFormat {
    /// A table for people.
    Text,
    /// A JSON array for scripts.
    Json,
}

/// `unseal keys retire`.
#[derive(Debug, Args)]
#[command(
    after_help = "Refuses while a SealedSecret in the cluster is sealed to the key (naming them), when it is\nthe active key, and when the automatic backup (unseal-keys-backup, written when the controller\nruns with --backup-recipient) holds no copy of it. SealedSecrets in Git that are not applied\nin this cluster are not seen: check them with `seal check` first.\n\nExample:\n  unseal keys list\n  unseal keys retire seal-key-0001"
)]
pub struct RetireArgs {
    /// The key: its Secret's name (seal-key-0001) or its recipient (age1…).
    #[arg(value_name = "KEY")]
    pub key: String,
    /// Retire it even though SealedSecrets still use it or no backup holds it: what was
    /// sealed only to it no longer opens here. Asks to type the key's name.
    #[arg(long)]
    pub force: bool,
    /// With --force: the key's name, instead of typing it when asked (for scripts).
    #[arg(long, value_name = "NAME", requires = "force")]
    pub confirm: Option<String>,
    /// The cluster.
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// `unseal keys export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Encrypt the backup to this recipient; repeatable.
    #[arg(long = "to", value_name = "age1…", required = true)]
    pub to: Vec<String>,
    /// Write the backup here (mode 0600, never overwrites).
    #[arg(short = 'o', long = "output", value_name = "PATH", required = true)]
    pub output: PathBuf,
    /// The cluster.
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// `unseal keys import`.
#[derive(Debug, Args)]
#[command(
    after_help = "bitnami sealed-secrets keys (for `seal migrate --online` only):\n  --sealed-secrets PATH  imports them from a file: PEM (tls.key) or the key Secrets as\n                         kubectl get secret -n kube-system -l sealedsecrets.bitnami.com/sealed-secrets-key -o yaml\n                         prints them (v1/List included); repeatable.\n  --from-cluster         reads those Secrets from the cluster with your kubeconfig.\nThey are stored in the Secret unseal-bitnami-migration-keys in the controller's namespace,\napart from the sealing keys, and used only by POST /v1/migrate; each is listed by its\npublic fingerprint. Importing a key again changes nothing. After the migration:\n  kubectl delete secret -n seal-system unseal-bitnami-migration-keys\n\nExamples:\n  unseal keys import backup.age -i ~/.config/seal/breakglass.txt\n  unseal keys import --from-cluster\n  unseal keys import --sealed-secrets /dev/shm/bitnami-keys.yaml"
)]
pub struct ImportArgs {
    /// An age identity file, or a backup from `unseal keys export`.
    #[arg(
        value_name = "FILE",
        required_unless_present_any = ["sealed_secrets", "from_cluster"],
        conflicts_with_all = ["sealed_secrets", "from_cluster"]
    )]
    pub file: Option<String>,
    /// Import bitnami sealed-secrets private keys from this file (PEM, or the key Secrets
    /// as kubectl prints them) for `seal migrate --online`; repeatable. Never sealing
    /// keys.
    #[arg(long = "sealed-secrets", value_name = "PATH", conflicts_with_all = ["identity", "activate"])]
    pub sealed_secrets: Vec<String>,
    /// Import the bitnami sealed-secrets keys straight from the cluster (the Secrets
    /// labelled sealedsecrets.bitnami.com/sealed-secrets-key), with your kubeconfig.
    #[arg(long = "from-cluster", conflicts_with_all = ["identity", "activate"])]
    pub from_cluster: bool,
    /// With --from-cluster: the namespace of the bitnami controller's keys.
    #[arg(
        long = "sealed-secrets-namespace",
        value_name = "NAMESPACE",
        default_value = "kube-system"
    )]
    pub sealed_secrets_namespace: String,
    /// The identity that opens an encrypted backup.
    #[arg(short = 'i', long = "identity", value_name = "PATH")]
    pub identity: Option<String>,
    /// Make the imported key with this recipient the active (sealing) key. Without it
    /// imported keys only open values: a planted or stale backup cannot take over
    /// sealing. Named explicitly, not "the newest": a backup's dates are not
    /// authenticated.
    #[arg(long, value_name = "age1…")]
    pub activate: Option<String>,
    /// The cluster.
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// `unseal run`. Every flag can also be set by its `UNSEAL_*` variable.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The cluster (in-cluster by default).
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Only reconcile SealedSecrets in these namespaces (repeat or comma-separate) [default: all].
    #[arg(long = "namespace", env = "UNSEAL_NAMESPACES", value_delimiter = ',')]
    pub namespaces: Vec<String>,
    /// Only reconcile SealedSecrets matching this label selector (e.g. `seal.dev/controller=new`),
    /// for two controllers side by side during a migration [default: all].
    #[arg(long, env = "UNSEAL_LABEL_SELECTOR", value_name = "SELECTOR")]
    pub label_selector: Option<String>,
    /// Renew the sealing key after this long (`0`: never), e.g. 720h, 30d.
    #[arg(long, env = "UNSEAL_KEY_RENEW_PERIOD", default_value = "720h", value_parser = parse_duration)]
    pub key_renew_period: Duration,
    /// Encrypt a backup of all keys to this recipient after every new key; repeatable.
    #[arg(
        long = "backup-recipient",
        env = "UNSEAL_BACKUP_RECIPIENTS",
        value_delimiter = ',',
        value_name = "age1…"
    )]
    pub backup_recipients: Vec<String>,
    /// A recipient `seal recipients add` may add to SealedSecrets through this controller
    /// (a disaster-recovery cluster, a break-glass key); repeatable. Nobody else can be
    /// added: that would hand out the values.
    #[arg(
        long = "trusted-recipient",
        env = "UNSEAL_TRUSTED_RECIPIENTS",
        value_delimiter = ',',
        value_name = "age1…"
    )]
    pub trusted_recipients: Vec<String>,
    /// Where the HTTP API, health and metrics listen.
    #[arg(long, env = "UNSEAL_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,
    /// SealedSecrets reconciled at once.
    #[arg(long, env = "UNSEAL_CONCURRENCY", default_value_t = 4)]
    pub concurrency: u16,
    /// Check synced SealedSecrets again this often without any change.
    #[arg(long, env = "UNSEAL_RESYNC_PERIOD", default_value = "10m", value_parser = parse_duration)]
    pub resync_period: Duration,
    /// How often the leader checks its keys.
    #[arg(long, env = "UNSEAL_KEY_CHECK_PERIOD", default_value = "1m", value_parser = parse_duration)]
    pub key_check_period: Duration,
    /// This replica's name in the Lease and Events [default: $POD_NAME or the host name].
    #[arg(long, env = "UNSEAL_IDENTITY")]
    pub identity: Option<String>,
    /// How long the Lease holds without renewal: a peer takes over once it has seen the
    /// Lease unchanged this long on its own clock.
    #[arg(long, env = "UNSEAL_LEASE_DURATION", default_value = "15s", value_parser = parse_duration)]
    pub lease_duration: Duration,
    /// How long the leader keeps retrying a failed renewal before it steps down (shorter
    /// than the lease duration).
    #[arg(long, env = "UNSEAL_LEASE_RENEW_DEADLINE", default_value = "10s", value_parser = parse_duration)]
    pub lease_renew_deadline: Duration,
    /// How often the Lease is renewed (or tried).
    #[arg(long, env = "UNSEAL_LEASE_RENEW_PERIOD", default_value = "2s", value_parser = parse_duration)]
    pub lease_renew_period: Duration,
    /// Log format.
    #[arg(long, env = "UNSEAL_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
}

/// Log formats.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// `unseal recover`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  unseal recover -i keys-example/identity.txt examples/sealed/db-credentials.yaml"
)]
pub struct RecoverArgs {
    /// An age identity file (AGE-SECRET-KEY-1… lines); repeatable.
    #[arg(short = 'i', long = "identity", value_name = "PATH", required = true)]
    pub identity: Vec<String>,
    /// SealedSecret files (YAML, JSON or v1/List); `-` or none reads standard input.
    #[arg(value_name = "FILE")]
    pub files: Vec<String>,
    /// Namespace for SealedSecrets whose manifest has none.
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "yaml")]
    pub format: FormatArg,
    /// Write the Secrets to PATH (mode 0600, atomically) instead of standard output.
    #[arg(short = 'w', long = "write", value_name = "PATH")]
    pub write: Option<PathBuf>,
}

/// `-o` values.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum FormatArg {
    /// YAML documents.
    Yaml,
    /// JSON (a v1/List when there are several objects).
    Json,
}

/// Parses `0`, `250ms`, `90s`, `15m`, `720h`, `30d` (a bare number is seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?}: expected a number with ms, s, m, h or d"))?;
    if unit == "ms" {
        return Ok(Duration::from_millis(n));
    }
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{text:?}: unknown unit (use ms, s, m, h or d)")),
    };
    Ok(Duration::from_secs(n.saturating_mul(seconds)))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
