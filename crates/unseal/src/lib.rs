//! The `unseal` command line. The in-cluster controller lands here next; today it carries
//! the offline recovery tool.
//!
//! Exit codes: 0 success, 1 bad input or I/O error, 2 usage error (from clap), 3 a sealed
//! value did not open (no matching key, tampered, or moved out of its scope).

pub mod cli;
pub mod commands;

use std::process::ExitCode;

use clap::Parser;

/// Exit code for a sealed value that did not open.
pub const EXIT_NOT_OPENED: u8 = 3;

/// Parses the command line, runs the command, prints any error as one line on stderr.
pub fn run() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("unseal: error: {}", format!("{error:#}").replace('\n', " "));
            let not_opened = error
                .downcast_ref::<seal_core::error::Error>()
                .is_some_and(seal_core::error::Error::is_open_failure);
            ExitCode::from(if not_opened { EXIT_NOT_OPENED } else { 1 })
        }
    }
}
