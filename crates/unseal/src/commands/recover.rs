//! `unseal recover`: SealedSecret files → Secret manifests, with the identities of an age
//! identity file and the same scope checks the controller makes. Any value that does not
//! open fails the whole run and nothing is printed or written.

use std::io::Write;

use anyhow::{Context, bail};
use seal_core::documents::{self, Format};
use seal_core::files::{self, Overwrite};
use seal_core::{KeyRing, convert};

use crate::cli::{FormatArg, RecoverArgs};

/// Opens every SealedSecret of the inputs.
pub fn run(args: RecoverArgs) -> anyhow::Result<()> {
    let mut keys = KeyRing::new();
    for path in &args.identity {
        let text = files::read_input(path)?;
        keys.add_file(files::display_name(path), &text)?;
    }
    let mut secrets = Vec::new();
    for doc in documents::read_files(&args.files)? {
        let mut sealed = convert::sealed_secret_from_value(doc.value).map_err(|e| e.at(&doc.at))?;
        if sealed.metadata.namespace.is_none() {
            sealed.metadata.namespace.clone_from(&args.namespace);
        }
        secrets.push(convert::open_sealed_secret(&sealed, &keys).map_err(|e| e.at(&doc.at))?);
    }
    if secrets.is_empty() {
        bail!("no SealedSecrets in the input");
    }
    let manifests: Vec<_> = secrets.iter().map(|s| s.manifest()).collect();
    let format = match args.format {
        FormatArg::Yaml => Format::Yaml,
        FormatArg::Json => Format::Json,
    };
    let text = documents::render(&manifests, format)?;
    match &args.write {
        Some(path) => files::write_atomic(path, text.as_bytes(), 0o600, Overwrite::Replace)?,
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|()| out.flush())
                .context("cannot write to standard output")?;
        }
    }
    Ok(())
}
