//! The command line as clap types.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The seal controller and its offline tools.
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
    /// Break-glass: open SealedSecret files with an identity file and print the Secrets.
    Recover(RecoverArgs),
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

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
