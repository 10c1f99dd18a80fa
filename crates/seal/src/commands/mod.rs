//! One module per subcommand, and the helpers they share.

pub mod argocd_health;
pub mod ingress;
pub mod inspect;
pub mod keygen;
pub mod raw;
pub mod regcred;
pub mod seal;
pub mod webhook;

use std::io::IsTerminal;

use anyhow::bail;
use seal_core::Recipients;
use seal_core::documents::{self, Document};
use seal_core::files;

use crate::cli::{Cli, Command, RecipientArgs};

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
    }
}

/// The recipients from `-r` and `-R`; none at all is an error.
pub fn load_recipients(args: &RecipientArgs) -> anyhow::Result<Recipients> {
    let recipients = load_recipients_if_any(args)?;
    if recipients.is_empty() {
        bail!("no recipients: give -r age1… or -R FILE (e.g. -R keys-example/recipients.txt)");
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

/// Every document of every input (`-` or no file at all is standard input).
pub fn read_documents(paths: &[String]) -> anyhow::Result<Vec<Document>> {
    let stdin = ["-".to_owned()];
    let paths = if paths.is_empty() { &stdin[..] } else { paths };
    let mut all = Vec::new();
    for path in paths {
        if path == "-" && std::io::stdin().is_terminal() {
            eprintln!("seal: reading manifests from standard input (end with Ctrl-D)");
        }
        let text = files::read_input(path)?;
        all.extend(documents::parse(files::display_name(path), &text)?);
    }
    Ok(all)
}
