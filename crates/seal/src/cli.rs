//! The command line as clap types: one struct per subcommand's arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use seal_core::{Mode, Scope};

/// Seal Kubernetes Secrets with age so they are safe to commit to Git.
///
/// With no subcommand, seals the Secret manifests in FILE... (or standard input) and
/// prints SealedSecrets.
#[derive(Debug, Parser)]
#[command(
    name = "seal",
    version,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_help = "Examples:\n  seal -R keys-example/recipients.txt examples/db-credentials.yaml\n  kubectl create secret generic db --from-literal=password=s3cr3t --dry-run=client -o yaml | seal -r age1… -n apps"
)]
pub struct Cli {
    /// A subcommand; without one, seal Secret manifests.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Sealing Secret manifests (the default command).
    #[command(flatten)]
    pub seal: SealArgs,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Seal one value, for pasting into a SealedSecret's encryptedData.
    Raw(RawArgs),
    /// Seal an image-pull Secret (kubernetes.io/dockerconfigjson) for a private registry.
    Regcred(RegcredArgs),
    /// Make a new age identity (private key) and print its recipient (public key).
    Keygen(KeygenArgs),
    /// Show what SealedSecrets hold without opening them.
    Inspect(InspectArgs),
    /// Print the argocd-server Ingress (or Gateway API routes) with cert-manager TLS.
    Ingress(IngressArgs),
    /// Make a Git-host webhook secret for Argo CD, sealed into argocd-secret.
    Webhook(WebhookArgs),
    /// Print the Argo CD health check for SealedSecrets (the argocd-cm snippet).
    ArgocdHealth,
    /// Fetch the controller's recipients for offline sealing.
    FetchRecipients(FetchArgs),
    /// Ask the controller whether SealedSecrets open there (no plaintext comes back).
    Verify(OnlineFilesArgs),
    /// Re-seal SealedSecret files to the controller's active key, in place.
    Reencrypt(ReencryptArgs),
    /// Fail on plaintext Secrets and on SealedSecrets the rules do not allow (pre-commit).
    Check(CheckArgs),
    /// Seal every plaintext Secret file under a folder that the .seal.yaml rules cover.
    Tree(TreeArgs),
    /// Edit the values of a SealedSecret file in $VISUAL/$EDITOR (needs an identity).
    Edit(EditArgs),
    /// Convert bitnami sealed-secrets SealedSecrets (bitnami.com/v1alpha1) to seal's.
    Migrate(MigrateArgs),
    /// Add or remove recipients of existing SealedSecret files, keeping their values.
    #[command(subcommand)]
    Recipients(RecipientsCommand),
    /// Install `seal check` as this Git repository's pre-commit hook.
    InstallHook(InstallHookArgs),
    /// Print the shell completion script (or, with `kubectl`, the kubectl_complete-seal
    /// script for `kubectl seal`).
    Completion(CompletionArgs),
}

/// `seal completion`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  echo 'source <(seal completion bash)' >> ~/.bashrc\n  seal completion zsh > \"${fpath[1]}/_seal\"\n  seal completion fish > ~/.config/fish/completions/seal.fish\n  seal completion kubectl > ~/.local/bin/kubectl_complete-seal && chmod +x ~/.local/bin/kubectl_complete-seal"
)]
pub struct CompletionArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: CompletionShell,
}

/// Shells `seal completion` writes for.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum CompletionShell {
    /// Bash.
    Bash,
    /// Zsh.
    Zsh,
    /// Fish.
    Fish,
    /// PowerShell.
    Powershell,
    /// Elvish.
    Elvish,
    /// `kubectl seal` (the kubectl_complete-seal script, for kubectl 1.26 and later).
    Kubectl,
}

/// `seal tree`.
#[derive(Debug, Args)]
pub struct TreeArgs {
    /// The folder [default: the current one]. `NAME.yaml` or `NAME.secret.yaml` seals to
    /// `NAME.sealed.yaml` beside it.
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Write nothing; list the sealed files that are out of date and fail if any is.
    #[arg(long)]
    pub check: bool,
    /// The rules file to use instead of the nearest `.seal.yaml` above each file.
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Recipients for every file, instead of the rules' (the cluster is asked for rules
    /// that list none).
    #[command(flatten)]
    pub recipients: RecipientArgs,
}

/// `seal edit`.
#[derive(Debug, Args)]
#[command(
    after_help = "The values open in $VISUAL, else $EDITOR, else vi, as a plain Secret manifest in a private\nfile (0600, in a private folder under $XDG_RUNTIME_DIR or /dev/shm) that is overwritten and\nremoved afterwards. Only the keys you change, add or remove are re-sealed, to the object's own\nrecipients; the others keep their exact ciphertext.\n\nExample:\n  seal edit -i ~/.config/seal/breakglass.key apps/db.sealed.yaml"
)]
pub struct EditArgs {
    /// The SealedSecret file, re-written in place.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// An age identity file that opens the values; repeatable. Required: the cluster
    /// never sends plaintext back.
    #[arg(short = 'i', long = "identity", value_name = "PATH")]
    pub identity: Vec<String>,
    /// The rules file to use instead of the nearest `.seal.yaml` above FILE.
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// A recipient of the object that is not your identity, not in a .seal.yaml rule
    /// and not a key a cluster offered before, which you know and accept new values
    /// going to; repeatable. Without it such a recipient is refused.
    #[arg(long = "trust-recipient", value_name = "AGE1…")]
    pub trust_recipient: Vec<String>,
}

/// `seal recipients`.
#[derive(Debug, Subcommand)]
pub enum RecipientsCommand {
    /// Seal the values to these recipients too (another cluster, a break-glass key).
    Add(RetargetArgs),
    /// Stop sealing the values to these recipients.
    Remove(RetargetArgs),
    /// Bring every SealedSecret under PATH to exactly the recipients its .seal.yaml rule
    /// lists (after a rule gained or lost a cluster or a break-glass key).
    Sync(SyncArgs),
}

/// `seal recipients sync`.
#[derive(Debug, Args)]
#[command(
    after_help = "Only objects whose recipients differ from their rule's are re-sealed; every other file\nstays byte for byte. Files are written only once every object is done.\n\nExamples:\n  seal recipients sync --check            # in CI: list the drift, exit 1 if any\n  seal recipients sync -i breakglass.key  # re-seal here with an identity\n  seal recipients sync prod/              # through the cluster's controller"
)]
pub struct SyncArgs {
    /// Files or folders [default: the current folder].
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Write nothing; list the SealedSecrets whose recipients differ from their rule and
    /// fail (exit 1) if there is any.
    #[arg(long)]
    pub check: bool,
    /// Open the values with this identity file here instead of asking the cluster's
    /// controller; repeatable.
    #[arg(short = 'i', long = "identity", value_name = "PATH")]
    pub identity: Vec<String>,
    /// The rules file to use instead of the nearest `.seal.yaml` above each file.
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Through the controller (no -i): write the files even when it dropped recipients
    /// it does not trust. Without it nothing is written and they are named.
    #[arg(long)]
    pub drop_untrusted: bool,
    /// The cluster (without -i).
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// `seal recipients add|remove`.
#[derive(Debug, Args)]
pub struct RetargetArgs {
    /// SealedSecret files, re-written in place.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<String>,
    /// Open the values with this identity file here instead of asking the cluster's
    /// controller; repeatable.
    #[arg(short = 'i', long = "identity", value_name = "PATH")]
    pub identity: Vec<String>,
    /// Through the controller (no -i): write the files even when it dropped recipients
    /// it does not trust. Without it nothing is written and they are named.
    #[arg(long)]
    pub drop_untrusted: bool,
    /// With -i: a recipient the objects already list that is not your identity, not in a
    /// .seal.yaml rule and not a key a cluster offered before, which you know and accept
    /// the values going to; repeatable. Without it such a recipient is refused.
    #[arg(long = "trust-recipient", value_name = "AGE1…")]
    pub trust_recipient: Vec<String>,
    /// The recipients to add or remove (and the cluster, without -i).
    #[command(flatten)]
    pub recipients: RecipientArgs,
}

/// `seal migrate`.
#[derive(Debug, Args)]
#[command(
    after_help = "The values are opened here with the bitnami keys (or, with --online, by the cluster's\ncontroller with the keys an admin imported there) and sealed to the recipients; scope,\ntemplate labels, annotations, type and immutability are kept, and each object is marked\nseal.dev/migrated-from so that the controller takes its Secret over without a gap. Nothing\nis written unless every object of every file converted. See docs/MIGRATING.md.\n\nExamples:\n  kubectl get secret -n kube-system -l sealedsecrets.bitnami.com/sealed-secrets-key -o yaml > keys.yaml\n  seal migrate --sealed-secrets-keys keys.yaml --beside apps/\n  seal migrate --sealed-secrets-keys tls.key -R prod.txt db-sealed.yaml -w db.seal.yaml\n  unseal keys import --from-cluster    # once, by the cluster admin\n  seal migrate --online --beside apps/"
)]
pub struct MigrateArgs {
    /// Files or folders holding bitnami SealedSecrets (other documents are skipped).
    #[arg(value_name = "FILE|DIR", required = true)]
    pub paths: Vec<PathBuf>,
    /// bitnami's private keys: PEM, or the key Secrets as `kubectl get secret -o yaml`
    /// prints them (v1/List included); repeatable. Every key is tried on every value.
    #[arg(
        long = "sealed-secrets-keys",
        value_name = "PATH",
        required_unless_present = "online",
        conflicts_with = "online"
    )]
    pub sealed_secrets_keys: Vec<String>,
    /// Have the cluster's controller convert (POST /v1/migrate) with the bitnami keys an
    /// admin imported into it (`unseal keys import --sealed-secrets`): no bitnami key here,
    /// no plaintext here. The result is sealed to the controller's key and, of the
    /// recipients asked for, those it trusts.
    #[arg(long)]
    pub online: bool,
    /// With --online: write even when the controller dropped recipients it does not trust
    /// (a break-glass key, another cluster). Without it nothing is written and the
    /// dropped recipients are named.
    #[arg(long, requires = "online")]
    pub drop_untrusted: bool,
    /// Namespace for SealedSecrets whose manifest has none.
    #[arg(short = 'n', long, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// Write `NAME.seal.EXT` next to each `NAME.EXT` that holds bitnami SealedSecrets
    /// (refused when it exists), instead of standard output.
    #[arg(long, conflicts_with = "write")]
    pub beside: bool,
    /// The rules file to use instead of the nearest `.seal.yaml` above each file.
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Where to seal to.
    #[command(flatten)]
    pub recipients: RecipientArgs,
    /// Output options.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `seal install-hook`.
#[derive(Debug, Args)]
pub struct InstallHookArgs {
    /// Replace a pre-commit hook that seal did not write.
    #[arg(long)]
    pub force: bool,
}

/// `seal check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Files or folders to check [default: the files staged in Git].
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The rules file to use instead of the nearest `.seal.yaml` above each file.
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Say nothing when there is nothing to report.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `seal fetch-recipients`.
#[derive(Debug, Args)]
pub struct FetchArgs {
    /// Write them to PATH atomically instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// What to write: the recipients file as the controller publishes it, or JSON for
    /// scripts (`-o` names the file here, as it always has).
    #[arg(long, value_enum, default_value = "text")]
    pub format: InspectFormat,
    /// The cluster.
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// `seal verify`.
#[derive(Debug, Args)]
pub struct OnlineFilesArgs {
    /// SealedSecret files.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<String>,
    /// Output format: a line per object, or a JSON array for scripts.
    #[arg(short = 'o', long = "output", value_enum, default_value = "text")]
    pub format: InspectFormat,
    /// The cluster.
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// `seal reencrypt`.
#[derive(Debug, Args)]
pub struct ReencryptArgs {
    /// SealedSecret files, re-written in place.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<String>,
    /// Write the files even when the controller dropped recipients it does not trust
    /// (a break-glass key, another cluster). Without it nothing is written and the
    /// dropped recipients are named.
    #[arg(long)]
    pub drop_untrusted: bool,
    /// The cluster.
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// Sealing Secret manifests.
#[derive(Debug, Args)]
pub struct SealArgs {
    /// Secret manifests (YAML, JSON or v1/List); `-` or none reads standard input.
    #[arg(value_name = "FILE")]
    pub files: Vec<String>,
    /// Where to seal to.
    #[command(flatten)]
    pub recipients: RecipientArgs,
    /// What each value is bound to [default: strict].
    #[arg(long, value_enum)]
    pub scope: Option<ScopeArg>,
    /// Namespace for Secrets whose manifest has none.
    #[arg(short = 'n', long, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// How the controller writes the Secret: own it, or merge keys into an existing one.
    #[arg(long, value_enum, default_value = "owned")]
    pub mode: ModeArg,
    /// Add or replace only these keys in an existing SealedSecret file, in place; other
    /// keys keep their exact ciphertext.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["write", "format"])]
    pub merge_into: Option<PathBuf>,
    /// The rules file to use instead of the nearest `.seal.yaml` above each file.
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Seal a Secret with no values (no data, no stringData) instead of refusing it.
    #[arg(long)]
    pub allow_empty: bool,
    /// Output options.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Reaching the cluster (only used to fetch recipients or call the controller).
#[derive(Debug, Args, Clone)]
pub struct ClusterArgs {
    /// The kubeconfig and context.
    #[command(flatten)]
    pub kube: seal_kubeconfig::KubeconfigArgs,
    /// The namespace of the seal controller.
    #[arg(long, env = "SEAL_CONTROLLER_NAMESPACE", default_value = "seal-system")]
    pub controller_namespace: String,
    /// The seal controller's Service name.
    #[arg(long, env = "SEAL_CONTROLLER_NAME", default_value = "unseal")]
    pub controller_name: String,
}

/// Recipients to seal to. With none given, the cluster's controller is asked.
#[derive(Debug, Args, Clone)]
pub struct RecipientArgs {
    /// An age recipient (public key) to seal to; repeat for several clusters or a
    /// break-glass key. Where recipients come from, first that gives any: -r/-R, then
    /// $SEAL_RECIPIENTS (age1… separated by commas or spaces) with $SEAL_RECIPIENTS_FILE
    /// (a file as for -R), then the .seal.yaml rule, then the cluster's controller.
    #[arg(short = 'r', long = "recipient", value_name = "age1…")]
    pub recipient: Vec<String>,
    /// A file of age recipients, one per line (`#` comments); repeatable.
    #[arg(short = 'R', long = "recipients-file", value_name = "PATH")]
    pub recipients_file: Vec<String>,
    /// Where the controller is, when no recipient is given.
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// Where output goes and in which form.
#[derive(Debug, Args, Default, Clone)]
pub struct OutputArgs {
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "yaml")]
    pub format: FormatArg,
    /// Write to PATH atomically instead of standard output.
    #[arg(short = 'w', long = "write", value_name = "PATH")]
    pub write: Option<PathBuf>,
}

/// `seal raw`.
#[derive(Debug, Args)]
pub struct RawArgs {
    /// The namespace the value is for (strict and namespace scope).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// The SealedSecret's name (strict scope).
    #[arg(long)]
    pub name: Option<String>,
    /// The key in encryptedData.
    #[arg(long)]
    pub key: String,
    /// What the value is bound to.
    #[arg(long, value_enum, default_value = "strict")]
    pub scope: ScopeArg,
    /// Where to seal to.
    #[command(flatten)]
    pub recipients: RecipientArgs,
    /// Read the value from this file instead of standard input (bytes as they are).
    #[arg(long, value_name = "PATH")]
    pub from_file: Option<String>,
}

/// `seal regcred`.
#[derive(Debug, Args)]
pub struct RegcredArgs {
    /// The registry host, e.g. harbor.example.com.
    #[arg(long)]
    pub server: String,
    /// The registry user (or robot account).
    #[arg(long)]
    pub username: String,
    /// Read the password (or token) from standard input; one trailing newline is dropped.
    #[arg(long, required = true)]
    pub password_stdin: bool,
    /// An e-mail address to record in the entry.
    #[arg(long)]
    pub email: Option<String>,
    /// The Secret's name.
    #[arg(long)]
    pub name: String,
    /// The Secret's namespace.
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// What each value is bound to.
    #[arg(long, value_enum, default_value = "strict")]
    pub scope: ScopeArg,
    /// Where to seal to.
    #[command(flatten)]
    pub recipients: RecipientArgs,
    /// Output options.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `seal keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Write the identity to PATH (mode 0600; never overwrites) instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "PATH")]
    pub output: Option<PathBuf>,
}

/// `seal inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// SealedSecret files; `-` or none reads standard input.
    #[arg(value_name = "FILE")]
    pub files: Vec<String>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "text")]
    pub format: InspectFormat,
}

/// `seal ingress`.
#[derive(Debug, Args)]
pub struct IngressArgs {
    /// The Argo CD host name, e.g. argocd.example.com.
    #[arg(long)]
    pub host: String,
    /// Argo CD's namespace.
    #[arg(short = 'n', long, default_value = "argocd")]
    pub namespace: String,
    /// The IngressClass (spec.ingressClassName).
    #[arg(long, default_value = "nginx")]
    pub class: String,
    /// The cert-manager ClusterIssuer to use.
    #[arg(long, conflicts_with = "issuer")]
    pub cluster_issuer: Option<String>,
    /// The cert-manager Issuer (namespaced) to use.
    #[arg(long)]
    pub issuer: Option<String>,
    /// How TLS is handled.
    #[arg(long, value_enum, default_value = "passthrough")]
    pub mode: IngressMode,
    /// The gRPC host for the CLI (terminate and gateway modes) [default: grpc.<host>].
    #[arg(long)]
    pub grpc_host: Option<String>,
    /// The Gateway the routes attach to (gateway mode).
    #[arg(long)]
    pub gateway: Option<String>,
    /// The Gateway's namespace [default: --namespace].
    #[arg(long)]
    pub gateway_namespace: Option<String>,
    /// Output options.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `--mode` of `seal ingress`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum IngressMode {
    /// One Ingress; TLS passed through to argocd-server (needs --enable-ssl-passthrough).
    Passthrough,
    /// TLS ends at the ingress: an HTTP Ingress and a gRPC Ingress on grpc.<host>.
    Terminate,
    /// Gateway API: HTTPRoute and GRPCRoute for an existing Gateway.
    Gateway,
}

/// `seal webhook`.
#[derive(Debug, Args)]
pub struct WebhookArgs {
    /// The Git host.
    #[arg(long, value_enum)]
    pub provider: GitProvider,
    /// Argo CD's public URL, e.g. https://argocd.example.com.
    #[arg(long)]
    pub argocd_url: String,
    /// Argo CD's namespace.
    #[arg(short = 'n', long, default_value = "argocd")]
    pub namespace: String,
    /// The Secret Argo CD reads webhook secrets from.
    #[arg(long, default_value = "argocd-secret")]
    pub secret_name: String,
    /// Take the secret from standard input (one trailing newline dropped) instead of
    /// generating one.
    #[arg(long)]
    pub secret_stdin: bool,
    /// Azure DevOps basic-auth user name.
    #[arg(long, default_value = "argocd")]
    pub username: String,
    /// Write the Git host's create-hook API body (GitHub, GitLab) to PATH (0600, never
    /// overwrites), or `-` for standard output. It carries the secret: keep it out of Git.
    #[arg(long, value_name = "PATH")]
    pub hook_body: Option<PathBuf>,
    /// Where to seal to.
    #[command(flatten)]
    pub recipients: RecipientArgs,
    /// Output options.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Git hosts Argo CD takes webhooks from.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum GitProvider {
    /// GitHub (HMAC secret).
    Github,
    /// GitLab (token).
    Gitlab,
    /// Bitbucket Cloud (webhook UUID).
    Bitbucket,
    /// Bitbucket Server / Data Center (HMAC secret).
    Bitbucketserver,
    /// Gogs (HMAC secret).
    Gogs,
    /// Azure DevOps (basic auth).
    Azuredevops,
}

/// `--scope` values.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ScopeArg {
    /// Bound to namespace, name and key.
    Strict,
    /// Bound to namespace and key; the object may be renamed.
    Namespace,
    /// Bound to the key only; the object may move anywhere.
    Cluster,
}

impl From<ScopeArg> for Scope {
    fn from(arg: ScopeArg) -> Self {
        match arg {
            ScopeArg::Strict => Scope::Strict,
            ScopeArg::Namespace => Scope::Namespace,
            ScopeArg::Cluster => Scope::Cluster,
        }
    }
}

/// `--mode` values.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ModeArg {
    /// The controller creates and owns the Secret.
    Owned,
    /// The controller writes only these keys into an existing Secret.
    Merge,
}

impl From<ModeArg> for Mode {
    fn from(arg: ModeArg) -> Self {
        match arg {
            ModeArg::Owned => Mode::Owned,
            ModeArg::Merge => Mode::Merge,
        }
    }
}

/// `-o` values for manifests.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq, Default)]
pub enum FormatArg {
    /// YAML documents.
    #[default]
    Yaml,
    /// JSON (a v1/List when there are several objects).
    Json,
}

/// `-o` values for `inspect`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum InspectFormat {
    /// For people.
    Text,
    /// For scripts.
    Json,
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
