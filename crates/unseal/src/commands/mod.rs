//! One module per subcommand, and the cluster connection they share.

pub mod bitnami_import;
pub mod crd;
pub mod key_usage;
pub mod keys;
pub mod recover;
pub mod retire;
pub mod rotate;
pub mod run;

use anyhow::Context as _;
use kube::Client;

use crate::cli::{Cli, ClusterArgs, Command, KeysCommand};

/// Runs the command the user asked for.
pub fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Recover(args) => recover::run(args),
        Command::Crd => crd::run(),
        Command::Completion { shell } => {
            use clap::CommandFactory as _;
            clap_complete::generate(shell, &mut Cli::command(), "unseal", &mut std::io::stdout());
            Ok(())
        }
        Command::Run(args) => runtime()?.block_on(run::run(args)),
        Command::Rotate(args) => runtime()?.block_on(rotate::run(args)),
        Command::Keys(KeysCommand::List(args)) => runtime()?.block_on(keys::list(args)),
        Command::Keys(KeysCommand::Retire(args)) => runtime()?.block_on(retire::run(args)),
        Command::Keys(KeysCommand::Export(args)) => runtime()?.block_on(keys::export(args)),
        Command::Keys(KeysCommand::Import(args)) => runtime()?.block_on(keys::import(args)),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// A client from `--kubeconfig`/`--context`, or inferred (KUBECONFIG, ~/.kube/config,
/// in-cluster).
pub async fn client(args: &ClusterArgs) -> anyhow::Result<Client> {
    let config = args.kube.load().await?;
    Client::try_from(config).context("cannot create the Kubernetes client")
}
