//! Running the user's editor on a file, as Git and kubectl do: `$VISUAL`, else `$EDITOR`,
//! else `vi`, run through `sh` (which then makes way for it) so that
//! `EDITOR="code --wait"` works.
//!
//! While the editor runs, `seal` must outlive Ctrl-C (the terminal sends SIGINT to the
//! whole foreground group), a closed terminal (SIGHUP) and SIGTERM, or the plaintext
//! buffer would stay on disk. It catches them: Ctrl-C and Ctrl-\\ belong to the editor
//! (vim users press Ctrl-C to leave insert mode; an editor that dies of it fails the
//! edit), while SIGTERM and SIGHUP stop the edit once the editor is gone, with nothing
//! written.

use std::path::Path;
use std::process::Command;

#[cfg(unix)]
use tokio::signal::unix::{Signal, SignalKind, signal};

/// Signals are a Unix matter; elsewhere there is nothing to catch.
#[cfg(not(unix))]
struct Signal;

#[cfg(not(unix))]
impl Signal {
    fn poll_recv(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Option<()>> {
        std::task::Poll::Pending
    }
}

/// The editor command line, as the user configured it.
pub fn configured() -> String {
    ["VISUAL", "EDITOR"]
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .find(|value| !value.trim().is_empty())
        .unwrap_or_else(|| "vi".to_owned())
}

/// Why editing stopped.
#[derive(Debug, thiserror::Error)]
pub enum EditorError {
    /// The editor could not be started.
    #[error("cannot start the editor `{editor}`: {source}")]
    Start {
        /// The command line.
        editor: String,
        /// Why.
        source: std::io::Error,
    },
    /// The editor exited with a failure or was killed.
    #[error("the editor `{editor}` {how}")]
    Failed {
        /// The command line.
        editor: String,
        /// "exited with status N" or "was killed by a signal".
        how: String,
    },
    /// A signal asked `seal` to stop while the editor ran.
    #[error("interrupted ({0}) while the editor ran")]
    Interrupted(&'static str),
    /// The signal handlers could not be set up.
    #[error("cannot watch for interrupts: {0}")]
    Signals(std::io::Error),
}

/// Signals caught while the editor runs (held for the whole edit session: once caught,
/// they stay caught, so `seal` always gets to clean up).
pub struct Interrupts {
    runtime: tokio::runtime::Runtime,
    signals: Vec<(Signal, &'static str, bool)>,
}

impl Interrupts {
    /// Starts catching SIGINT, SIGQUIT (left to the editor), SIGTERM and SIGHUP (which
    /// stop the edit).
    pub fn catch() -> Result<Self, EditorError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .map_err(EditorError::Signals)?;
        #[cfg(not(unix))]
        let signals = Vec::new();
        #[cfg(unix)]
        let signals = {
            let _entered = runtime.enter();
            [
                (SignalKind::interrupt(), "SIGINT", false),
                (SignalKind::quit(), "SIGQUIT", false),
                (SignalKind::terminate(), "SIGTERM", true),
                (SignalKind::hangup(), "SIGHUP", true),
            ]
            .into_iter()
            .map(|(kind, name, stops)| signal(kind).map(|s| (s, name, stops)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(EditorError::Signals)?
        };
        Ok(Self { runtime, signals })
    }

    /// The first stopping signal that arrived since the last look, if any; the others
    /// are taken and forgotten.
    fn arrived(&mut self) -> Option<&'static str> {
        let signals = &mut self.signals;
        self.runtime.block_on(async {
            // Lets the runtime read the signal pipe before the signals are looked at.
            tokio::task::yield_now().await;
            std::future::poll_fn(|cx| {
                let mut found = None;
                for (signal, name, stops) in signals.iter_mut() {
                    while let std::task::Poll::Ready(Some(())) = signal.poll_recv(cx) {
                        if *stops && found.is_none() {
                            found = Some(*name);
                        }
                    }
                }
                std::task::Poll::Ready(found)
            })
            .await
        })
    }

    /// Runs `editor` on `file` and waits for it. Fails when it cannot start, fails, is
    /// killed, or when a signal asked `seal` to stop meanwhile.
    pub fn edit(&mut self, editor: &str, file: &Path) -> Result<(), EditorError> {
        self.arrived();
        // `exec`: the shell becomes the editor, so no shell sits between them to die of
        // the Ctrl-C the editor means to handle.
        let status = Command::new("sh")
            .arg("-c")
            .arg(format!("exec {editor} \"$@\""))
            .arg(editor)
            .arg(file)
            .status()
            .map_err(|source| EditorError::Start {
                editor: editor.to_owned(),
                source,
            })?;
        if let Some(name) = self.arrived() {
            return Err(EditorError::Interrupted(name));
        }
        if !status.success() {
            let how = match status.code() {
                Some(code) => format!("exited with status {code}"),
                None => "was killed by a signal".to_owned(),
            };
            return Err(EditorError::Failed {
                editor: editor.to_owned(),
                how,
            });
        }
        Ok(())
    }
}
