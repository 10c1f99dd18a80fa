//! `seal raw`: one sealed value on standard output.

use std::io::Read;

use anyhow::Context;
use seal_core::envelope;
use seal_core::{Binding, SecretBytes, files};
use zeroize::Zeroizing;

use crate::cli::RawArgs;
use crate::commands::load_recipients;
use crate::output;

/// Seals the value from `--from-file` or standard input, bytes as they are.
pub fn run(args: RawArgs) -> anyhow::Result<()> {
    let recipients = load_recipients(&args.recipients)?;
    let binding = Binding::new(
        args.scope.into(),
        args.namespace.as_deref().unwrap_or_default(),
        args.name.as_deref().unwrap_or_default(),
        &args.key,
    )
    .map_err(|e| {
        let flag = match e.field {
            "metadata.namespace" => "--namespace",
            "metadata.name" => "--name",
            _ => "--key",
        };
        anyhow::anyhow!("{flag}: {}", e.problem)
    })?;
    let value = read_value(args.from_file.as_deref())?;
    if value.expose().ends_with(b"\n") {
        eprintln!(
            "seal: note: the value ends with a newline and is sealed with it (use printf '%s' or a file without one if that is not meant)"
        );
    }
    let sealed = envelope::seal_value(&binding, value.expose(), &recipients)?;
    output::print(format!("{sealed}\n").as_bytes())
}

fn read_value(from_file: Option<&str>) -> anyhow::Result<SecretBytes> {
    let mut bytes = Zeroizing::new(Vec::new());
    match from_file {
        Some(path) if path != "-" => {
            let mut file =
                std::fs::File::open(path).with_context(|| format!("{path}: cannot read"))?;
            file.read_to_end(&mut bytes)
                .with_context(|| format!("{path}: cannot read"))?;
        }
        _ => {
            std::io::stdin()
                .lock()
                .read_to_end(&mut bytes)
                .with_context(|| format!("{}: cannot read", files::STDIN_NAME))?;
        }
    }
    Ok(SecretBytes::copy_from(&bytes))
}
