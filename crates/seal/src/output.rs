//! Where results go: standard output, or a file written atomically; and how strings read
//! from inputs are shown in messages, so that a file cannot write to the terminal or the
//! CI log through them.

use std::borrow::Cow;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use seal_core::documents::{self, Format};
use seal_core::files::{self, Overwrite};
use serde::Serialize;

use crate::cli::{FormatArg, OutputArgs};

impl From<FormatArg> for Format {
    fn from(arg: FormatArg) -> Self {
        match arg {
            FormatArg::Yaml => Format::Yaml,
            FormatArg::Json => Format::Json,
        }
    }
}

/// Renders documents and sends them where `output` says. Called once with everything, so
/// that a failure earlier leaves nothing written.
pub fn emit<T: Serialize>(documents: &[T], output: &OutputArgs) -> anyhow::Result<()> {
    let text = documents::render(documents, output.format.into())?;
    match &output.write {
        Some(path) => write_file(path, text.as_bytes(), 0o644),
        None => print(text.as_bytes()),
    }
}

/// Writes a file atomically, replacing what was there.
pub fn write_file(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    files::write_atomic(path, bytes, mode, Overwrite::Replace)?;
    Ok(())
}

/// Several files written as one step: each is staged as a complete temporary file beside
/// its target, and only once every one of them is staged are they renamed into place. A
/// failure while staging leaves every target as it was (the temporary files are removed
/// when this is dropped).
#[derive(Default)]
pub struct StagedWrites {
    staged: Vec<(std::path::PathBuf, tempfile::NamedTempFile)>,
}

impl StagedWrites {
    /// Writes `bytes` (mode `mode`) to a temporary file beside `path`.
    pub fn stage(&mut self, path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
        let shown = shown_path(path);
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let mut temp = tempfile::Builder::new()
            .prefix(".seal-")
            .tempfile_in(dir)
            .with_context(|| format!("{shown}: cannot create a temporary file beside it"))?;
        set_mode(temp.as_file(), mode)
            .with_context(|| format!("{shown}: cannot set permissions"))?;
        temp.write_all(bytes)
            .and_then(|()| temp.as_file().sync_all())
            .with_context(|| format!("{shown}: cannot write"))?;
        self.staged.push((path.to_path_buf(), temp));
        Ok(())
    }

    /// Renames every staged file into place.
    pub fn commit(self) -> anyhow::Result<()> {
        for (path, temp) in self.staged {
            temp.persist(&path)
                .map_err(|e| anyhow::anyhow!("{}: cannot write: {}", shown_path(&path), e.error))?;
        }
        Ok(())
    }
}

#[cfg(unix)]
fn set_mode(file: &std::fs::File, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_: &std::fs::File, _: u32) -> std::io::Result<()> {
    Ok(())
}

/// Writes to standard output in one go.
pub fn print(bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .context("cannot write to standard output")
}

/// Whether a character could forge or hide text on a terminal or in a CI log: a control
/// character (newline, carriage return, escape sequences, C1 controls) or a
/// bidirectional-text control or line separator.
fn is_odd(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// Whether `text` can be shown as it is in a message: it holds no character that could
/// start a new line, move the cursor or reorder the text.
pub fn is_plain(text: &str) -> bool {
    !text.chars().any(is_odd)
}

/// A string read from an input (a file, a controller's reply) for a message: as it is
/// when [`is_plain`], else quoted and escaped by [`seal_core::names::shown`].
pub fn shown(text: &str) -> Cow<'_, str> {
    if is_plain(text) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(seal_core::names::shown(text))
    }
}

/// A path for a message: as it is when [`is_plain`], else in full with its odd
/// characters escaped (a file name in a repository can hold any byte but `/`).
pub fn shown_path(path: &Path) -> String {
    one_line(&path.display().to_string())
}

/// A message as one line that cannot forge another: newlines become spaces and every
/// other odd character (see [`is_plain`]) is escaped (`\u{1b}`).
pub fn one_line(text: &str) -> String {
    if is_plain(text) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push(' '),
            c if is_odd(c) => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORGED: &str =
        "age1x\n::error file=.seal.yaml,line=1::all good\n\x1b[2K\x1b[1A\r\u{9b}2K\u{202e}";

    #[test]
    fn odd_strings_are_escaped_and_plain_ones_kept() {
        assert_eq!(shown("kubernetes.io/tls"), "kubernetes.io/tls");
        assert_eq!(shown_path(Path::new("prod/é db.yaml")), "prod/é db.yaml");
        for out in [
            shown(FORGED).into_owned(),
            one_line(FORGED),
            shown_path(Path::new(FORGED)),
        ] {
            assert!(is_plain(&out), "{out:?}");
            assert!(!out.contains('\u{1b}') && !out.contains('\n'), "{out:?}");
        }
        assert!(shown(FORGED).starts_with("\"age1x\\n::error"));
        assert_eq!(one_line("a\nb\x1bc"), "a b\\u{1b}c");
    }
}
