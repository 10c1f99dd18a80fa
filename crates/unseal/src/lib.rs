//! `unseal`: the in-cluster controller that turns SealedSecrets into Secrets and owns the
//! sealing keys, plus the tools that work from outside (rotate, keys, recover, crd).
//!
//! Exit codes: 0 success, 1 bad input, I/O or API error, 2 usage error (from clap), 3 a
//! sealed value did not open (no matching key, tampered, or moved out of its scope).

pub mod cli;
pub mod clock;
pub mod commands;
pub mod context;
pub mod controller;
pub mod events;
pub mod generations;
pub mod http;
pub mod keys;
pub mod leader;
pub mod metrics;
pub mod not_synced;
pub mod opener;
pub mod pacer;
pub mod policy;
pub mod reconcile;
pub mod secret_sync;
pub mod status;
pub mod supervisor;
pub mod sync_record;
pub mod wiped;

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
