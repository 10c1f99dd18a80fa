//! Completion on request, for `kubectl seal`: kubectl (1.26 and later) completes a
//! plugin's arguments by running `kubectl_complete-seal` with the words typed after
//! `kubectl seal`, the last being the one to complete, and reads back one candidate per
//! line and then `:N`, the directive of the protocol kubectl's own completion uses (0:
//! file names may be offered as well; 4: offer nothing but these). `seal __complete
//! WORDS...` answers that way from the command line's definition, so it never falls
//! behind it; `seal completion kubectl` prints the `kubectl_complete-seal` script that
//! calls it.

use clap::{Arg, Command};

/// The first argument that makes `seal` answer a completion request.
pub const REQUEST: &str = "__complete";

/// File names may be completed too.
pub const DIRECTIVE_DEFAULT: u32 = 0;
/// Only the candidates given.
pub const DIRECTIVE_NO_FILES: u32 = 4;

/// The candidates for the last of `words` (typed after the program's name) and the
/// directive.
pub fn candidates(root: &Command, words: &[String]) -> (Vec<String>, u32) {
    let mut root = root.clone();
    root.build();
    let (current, done) = match words.split_last() {
        Some((last, rest)) => (last.as_str(), rest),
        None => ("", &[][..]),
    };
    let mut command = &root;
    let mut wanted: Option<&Arg> = None;
    for word in done {
        if wanted.take().is_some() {
            continue;
        }
        if let Some(long) = word.strip_prefix("--") {
            if !long.contains('=') {
                wanted = command
                    .get_arguments()
                    .find(|a| a.get_long() == Some(long))
                    .filter(|a| takes_value(a));
            }
            continue;
        }
        if let Some(short) = word.strip_prefix('-').filter(|s| s.chars().count() == 1) {
            wanted = command
                .get_arguments()
                .find(|a| {
                    short
                        .chars()
                        .next()
                        .is_some_and(|c| a.get_short() == Some(c))
                })
                .filter(|a| takes_value(a));
            continue;
        }
        if let Some(sub) = command.find_subcommand(word) {
            command = sub;
        }
    }
    if let Some(arg) = wanted {
        let values: Vec<String> = arg
            .get_possible_values()
            .iter()
            .filter(|v| !v.is_hide_set())
            .map(|v| v.get_name().to_owned())
            .filter(|v| v.starts_with(current))
            .collect();
        if values.is_empty() {
            return (Vec::new(), DIRECTIVE_DEFAULT);
        }
        return (values, DIRECTIVE_NO_FILES);
    }
    if current.starts_with('-') {
        let flags = command
            .get_arguments()
            .filter(|a| !a.is_hide_set())
            .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
            .filter(|f| f.starts_with(current))
            .collect();
        return (flags, DIRECTIVE_NO_FILES);
    }
    let subcommands: Vec<String> = command
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| s.get_name().to_owned())
        .filter(|s| s.starts_with(current))
        .collect();
    let takes_files = command.get_positionals().next().is_some();
    let directive = if takes_files {
        DIRECTIVE_DEFAULT
    } else {
        DIRECTIVE_NO_FILES
    };
    (subcommands, directive)
}

fn takes_value(arg: &Arg) -> bool {
    arg.get_action().takes_values()
}

/// The answer as kubectl reads it.
pub fn render(candidates: &[String], directive: u32) -> String {
    let mut out = String::new();
    for c in candidates {
        out.push_str(c);
        out.push('\n');
    }
    out.push_str(&format!(":{directive}\n"));
    out
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;
    use crate::cli::Cli;

    fn complete(words: &[&str]) -> (Vec<String>, u32) {
        let words: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
        candidates(&Cli::command(), &words)
    }

    #[test]
    fn subcommands_flags_and_values_are_offered() {
        let (found, _) = complete(&["rec"]);
        assert_eq!(found, ["recipients"]);
        let (found, directive) = complete(&["recipients", "s"]);
        assert_eq!(
            (found, directive),
            (vec!["sync".to_owned()], DIRECTIVE_NO_FILES)
        );
        let (found, directive) = complete(&["edit", "--id"]);
        assert_eq!(found, ["--identity"]);
        assert_eq!(directive, DIRECTIVE_NO_FILES);
        let (found, _) = complete(&["raw", "--scope", "n"]);
        assert_eq!(found, ["namespace"]);
        let (found, directive) = complete(&["edit", "-i", ""]);
        assert!(found.is_empty());
        assert_eq!(
            directive, DIRECTIVE_DEFAULT,
            "a path is completed by the shell"
        );
        let (found, _) = complete(&[""]);
        assert!(found.contains(&"edit".to_owned()), "{found:?}");
        assert!(
            !found.iter().any(|f| f.starts_with("__")),
            "hidden: {found:?}"
        );
    }
}
