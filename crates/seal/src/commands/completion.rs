//! `seal completion SHELL`: the shell completion script (clap_complete), or with
//! `kubectl` the `kubectl_complete-seal` script for `kubectl seal`; and the hidden
//! `seal __complete WORDS...` that script calls ([`crate::complete`]).

use std::io::Write as _;

use clap::CommandFactory;

use crate::cli::{Cli, CompletionArgs, CompletionShell};
use crate::complete;

/// What `kubectl_complete-seal` holds: kubectl runs it with the words after
/// `kubectl seal`; it asks the plugin itself.
pub const KUBECTL_SCRIPT: &str = "#!/bin/sh\n# kubectl runs this to complete `kubectl seal …` (kubectl 1.26 and later). Put it on PATH,\n# executable, as kubectl_complete-seal (or kubectl_complete-seal_secret when installed with krew).\nfor plugin in kubectl-seal kubectl-seal-secret; do\n  command -v \"$plugin\" >/dev/null 2>&1 && exec \"$plugin\" __complete \"$@\"\ndone\necho :0\n";

/// Prints the completion script for a shell.
pub fn run(args: CompletionArgs) -> anyhow::Result<()> {
    let shell = match args.shell {
        CompletionShell::Kubectl => return crate::output::print(KUBECTL_SCRIPT.as_bytes()),
        CompletionShell::Bash => clap_complete::Shell::Bash,
        CompletionShell::Zsh => clap_complete::Shell::Zsh,
        CompletionShell::Fish => clap_complete::Shell::Fish,
        CompletionShell::Powershell => clap_complete::Shell::PowerShell,
        CompletionShell::Elvish => clap_complete::Shell::Elvish,
    };
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "seal", &mut out);
    crate::output::print(&out)
}

/// Answers kubectl's completion request.
pub fn answer(words: &[String]) -> anyhow::Result<()> {
    let (candidates, directive) = complete::candidates(&Cli::command(), words);
    let text = complete::render(&candidates, directive);
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    Ok(())
}
