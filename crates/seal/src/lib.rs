//! The `seal` command line: a thin [`run`] over one module per subcommand.
//!
//! Exit codes: 0 success, 1 bad input or I/O error, 2 usage error (from clap).

pub mod cli;
pub mod commands;
pub mod output;

use std::process::ExitCode;

use clap::Parser;

/// Parses the command line, runs the command, prints any error as one line on stderr.
pub fn run() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("seal: error: {}", one_line(&error));
            ExitCode::from(1)
        }
    }
}

/// The error and its causes on one line.
fn one_line(error: &anyhow::Error) -> String {
    format!("{error:#}").replace('\n', " ")
}
