//! The `seal` command line: a thin [`run`] over one module per subcommand.
//!
//! Exit codes: 0 success, 1 bad input, I/O or cluster error, 2 usage error (from clap),
//! 3 `seal verify`: a SealedSecret does not open in the cluster.

pub mod cli;
pub mod cluster;
pub mod commands;
pub mod complete;
pub mod edit;
pub mod output;
pub mod repo;
pub mod trust;

use std::process::ExitCode;

use clap::Parser;

/// Parses the command line, runs the command, prints any error as one line on stderr.
/// After a run that sealed to the public example key, says so once (on success only, so
/// that a failure stays one line).
pub fn run() -> ExitCode {
    // kubectl's completion request (`seal __complete WORDS...`) is answered before clap
    // parses anything: it is no command of its own, so no shell completion or man page
    // shows it.
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if args.get(1).map(String::as_str) == Some(complete::REQUEST) {
        return match commands::completion::answer(&args[2..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::from(1),
        };
    }
    let cli = cli::Cli::parse();
    match commands::dispatch(cli) {
        Ok(()) => {
            if let Some(warning) = trust::example_key::warning() {
                eprintln!("seal: warning: {warning}");
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("seal: error: {}", one_line(&error));
            let code = if error
                .downcast_ref::<commands::online::NotOpened>()
                .is_some()
            {
                3
            } else {
                1
            };
            ExitCode::from(code)
        }
    }
}

/// The error and its causes on one line, with nothing in it (a name or a message read
/// from an input) able to forge another line or move the cursor.
fn one_line(error: &anyhow::Error) -> String {
    output::one_line(&format!("{error:#}"))
}
