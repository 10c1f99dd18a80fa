//! One module per subcommand.

pub mod recover;

use crate::cli::{Cli, Command};

/// Runs the command the user asked for.
pub fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Recover(args) => recover::run(args),
    }
}
