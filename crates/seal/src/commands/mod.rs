//! One module per subcommand, and the helpers they share.

pub mod argocd_health;
pub mod check;
pub mod completion;
pub mod edit;
pub mod ingress;
pub mod inspect;
pub mod install_hook;
pub mod keygen;
pub mod migrate;
pub mod migrate_online;
pub mod online;
pub mod raw;
pub mod recipients;
pub mod recipients_sync;
pub mod regcred;
pub mod reseal_reply;
pub mod seal;
pub mod tree;
pub mod webhook;

use std::io::{IsTerminal, Read};
use std::path::Path;

use anyhow::Context as _;

use seal_core::documents::{self, Document};
use seal_core::files;
use seal_core::{Recipients, SecretBytes};
use zeroize::Zeroizing;

use crate::cli::{Cli, ClusterArgs, Command, RecipientArgs};
use crate::cluster;
use crate::repo::config::{RepoConfig, Rule, real_path, real_target};
use crate::repo::lookup::Lookup;
use crate::trust::cluster_keys::{self, ClusterOffer, Strictness};
use crate::trust::{example_key, known_recipients};

/// Runs the command the user asked for.
pub fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        None => seal::run(cli.seal),
        Some(Command::Raw(args)) => raw::run(args),
        Some(Command::Regcred(args)) => regcred::run(args),
        Some(Command::Keygen(args)) => keygen::run(args),
        Some(Command::Inspect(args)) => inspect::run(args),
        Some(Command::Ingress(args)) => ingress::run(args),
        Some(Command::Webhook(args)) => webhook::run(args),
        Some(Command::ArgocdHealth) => argocd_health::run(),
        Some(Command::FetchRecipients(args)) => online::fetch(args),
        Some(Command::Verify(args)) => online::verify(args),
        Some(Command::Reencrypt(args)) => online::reencrypt(args),
        Some(Command::Check(args)) => check::run(args),
        Some(Command::Tree(args)) => tree::run(args),
        Some(Command::Edit(args)) => edit::run(args),
        Some(Command::Migrate(args)) => migrate::run(args),
        Some(Command::Recipients(command)) => recipients::run(command),
        Some(Command::InstallHook(args)) => install_hook::run(args),
        Some(Command::Completion(args)) => completion::run(args),
    }
}

/// The recipients from `-r` and `-R`; with none given, the ones the cluster's controller
/// publishes (checked against the keys remembered for the context).
pub fn load_recipients(args: &RecipientArgs) -> anyhow::Result<Recipients> {
    RecipientChoice::new(args)?.pick(None)
}

/// The keys the cluster's controller publishes, and which cluster (context, API server)
/// offered them.
fn fetch_cluster_offer(args: &ClusterArgs) -> anyhow::Result<ClusterOffer> {
    let (text, server) = cluster::block_on(async {
        let cluster = cluster::Cluster::connect(args).await?;
        let text = cluster.recipients_text().await?;
        Ok((text, cluster.server().trim_end_matches('/').to_owned()))
    })?;
    let mut recipients = Recipients::new();
    recipients.add_file("controller recipients", &text)?;
    Ok(ClusterOffer {
        context: args
            .kube
            .context_name()
            .unwrap_or_else(|| cluster_keys::NO_CONTEXT.to_owned()),
        server,
        controller_namespace: args.controller_namespace.clone(),
        recipients,
    })
}

/// Where recipients come from, the first that gives any: `-r`/`-R`, the `.seal.yaml` rule
/// that covers the output, or the cluster's controller (asked at most once per run; its
/// keys checked against the rule's pins each time and against the remembered keys once).
pub struct RecipientChoice<'a> {
    args: &'a RecipientArgs,
    given: Recipients,
    cluster: Option<ClusterOffer>,
    remembered: bool,
}

impl<'a> RecipientChoice<'a> {
    /// Reads `-r` and `-R` now (or, without them, `SEAL_RECIPIENTS` and
    /// `SEAL_RECIPIENTS_FILE`); the cluster only when first needed.
    pub fn new(args: &'a RecipientArgs) -> anyhow::Result<Self> {
        let mut given = load_recipients_if_any(args)?;
        if given.is_empty() {
            given = recipients_from_env()?;
        }
        Ok(Self {
            args,
            given,
            cluster: None,
            remembered: false,
        })
    }

    /// Whether `-r`/`-R` were given (the rules' recipients then do not count).
    pub fn explicit(&self) -> bool {
        !self.given.is_empty()
    }

    /// The recipients for something the rule `rule` (if any) covers.
    pub fn pick(&mut self, rule: Option<&Rule>) -> anyhow::Result<Recipients> {
        let recipients = if self.explicit() {
            self.given.clone()
        } else if let Some(listed) = rule.and_then(|r| r.recipients.as_ref()) {
            listed.clone()
        } else {
            let offer = match self.cluster.take() {
                Some(known) => known,
                None => fetch_cluster_offer(&self.args.cluster)?,
            };
            let trusted = self.trust(&offer, rule);
            let recipients = offer.recipients.clone();
            self.cluster = Some(offer);
            trusted?;
            recipients
        };
        example_key::note(&recipients);
        Ok(recipients)
    }

    /// Refuses keys the rule does not pin; the first time, checks the keys against the
    /// remembered ones and says what is new.
    fn trust(&mut self, offer: &ClusterOffer, rule: Option<&Rule>) -> anyhow::Result<()> {
        let pins = rule.and_then(|r| r.cluster_pins.as_ref());
        if let Some(pins) = pins {
            pins.check(offer)?;
        }
        if !self.remembered {
            let notices = cluster_keys::remember(
                offer,
                pins,
                Strictness::from_env()?,
                known_recipients::default_path().as_deref(),
            )?;
            for notice in notices {
                eprintln!("seal: {notice}");
            }
            self.remembered = true;
        }
        Ok(())
    }
}

/// The recipients for what is written to `target` (`-w`): `-r`/`-R` when given, else the
/// `.seal.yaml` rule that covers `target`, else the cluster's controller.
pub fn load_recipients_for(
    args: &RecipientArgs,
    target: Option<&Path>,
) -> anyhow::Result<Recipients> {
    let mut choice = RecipientChoice::new(args)?;
    let config = match target {
        Some(target) if !choice.explicit() => Lookup::new(None)?.config_for(target)?,
        _ => None,
    };
    if let Some(config) = &config {
        check_places(config, None, target)?;
    }
    let rule = config
        .as_deref()
        .zip(target)
        .and_then(|(c, t)| c.rule_for(t));
    choice.pick(rule)
}

/// Refuses an input file or a `-w` target that symbolic links put somewhere other than
/// where the rule of `config` was chosen for it ([`RepoConfig::check_place`]): a link
/// committed to the repo must not have one folder's recipients seal a file that lies
/// outside the repo or under another rule, nor write there.
pub fn check_places(
    config: &RepoConfig,
    input: Option<&Path>,
    target: Option<&Path>,
) -> anyhow::Result<()> {
    let same = |p: &Path| Some(p.to_path_buf());
    if let Some(input) = input {
        let real = real_path(input).map_err(|e| {
            anyhow::anyhow!("{}: cannot read: {e}", crate::output::shown_path(input))
        })?;
        config
            .check_place(input, &real, same)
            .map_err(anyhow::Error::msg)?;
    }
    // A folder that does not exist yet cannot be written to either; the write says so.
    if let Some(target) = target
        && let Ok(real) = real_target(target)
    {
        config
            .check_place(target, &real, same)
            .map_err(anyhow::Error::msg)?;
    }
    Ok(())
}

/// The variable holding recipients (age1…, separated by commas or white space) for runs
/// that give no `-r`/`-R`: CI runners with no kubeconfig and no recipients file.
pub const RECIPIENTS_ENV: &str = "SEAL_RECIPIENTS";
/// The variable naming a recipients file, as `-R` would.
pub const RECIPIENTS_FILE_ENV: &str = "SEAL_RECIPIENTS_FILE";

/// The recipients of `SEAL_RECIPIENTS` and `SEAL_RECIPIENTS_FILE` (both when both are
/// set), possibly none. They stand where `-r`/`-R` stand: flags win over them, and they
/// win over the `.seal.yaml` rules and the cluster.
pub fn recipients_from_env() -> anyhow::Result<Recipients> {
    let mut recipients = Recipients::new();
    if let Ok(text) = std::env::var(RECIPIENTS_ENV) {
        for item in text
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
        {
            recipients.add_arg(RECIPIENTS_ENV, item)?;
        }
    }
    if let Some(path) = std::env::var(RECIPIENTS_FILE_ENV)
        .ok()
        .filter(|p| !p.trim().is_empty())
    {
        let text = files::read_input(&path).context(RECIPIENTS_FILE_ENV)?;
        recipients.add_file(&format!("{path} ({RECIPIENTS_FILE_ENV})"), &text)?;
    }
    Ok(recipients)
}

/// The recipients from `-r` and `-R`, possibly none.
pub fn load_recipients_if_any(args: &RecipientArgs) -> anyhow::Result<Recipients> {
    let mut recipients = Recipients::new();
    for text in &args.recipient {
        recipients.add_arg("-r/--recipient", text)?;
    }
    for path in &args.recipients_file {
        let text = files::read_input(path)?;
        recipients.add_file(files::display_name(path), &text)?;
    }
    Ok(recipients)
}

/// One line of secret text from standard input (a password, a token, a webhook secret),
/// without its trailing newline; empty input or a second line is an error naming `flag`.
pub fn read_stdin_line(flag: &str) -> anyhow::Result<SecretBytes> {
    let mut bytes = Zeroizing::new(Vec::new());
    std::io::stdin()
        .lock()
        .read_to_end(&mut bytes)
        .with_context(|| format!("{flag}: cannot read {}", files::STDIN_NAME))?;
    let mut line: &[u8] = &bytes;
    if let Some(rest) = line.strip_suffix(b"\n") {
        line = rest.strip_suffix(b"\r").unwrap_or(rest);
    }
    if line.is_empty() {
        anyhow::bail!("{flag}: standard input is empty");
    }
    if line.iter().any(|b| *b == b'\n' || *b == b'\r') {
        anyhow::bail!("{flag}: expected one line");
    }
    Ok(SecretBytes::copy_from(line))
}

/// Every document of every input (`-` or no file at all is standard input).
pub fn read_documents(paths: &[String]) -> anyhow::Result<Vec<Document>> {
    let reads_stdin = paths.is_empty() || paths.iter().any(|p| p == "-");
    if reads_stdin && std::io::stdin().is_terminal() {
        eprintln!("seal: reading manifests from standard input (end with Ctrl-D)");
    }
    Ok(documents::read_files(paths)?)
}
