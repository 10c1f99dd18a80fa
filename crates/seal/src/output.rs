//! Where results go: standard output, or a file written atomically.

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

/// Writes to standard output in one go.
pub fn print(bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .context("cannot write to standard output")
}
