//! `seal [FILE]...`: Secret manifests in, SealedSecrets out (or merged into an existing
//! SealedSecret file with `--merge-into`).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use seal_core::convert::{self, SealOptions};
use seal_core::documents::{self, Document, Format};
use seal_core::error::DocError;
use seal_core::{PlainSecret, Recipients, SealedSecret, files};

use crate::cli::SealArgs;
use crate::commands::{RecipientChoice, check_places, load_recipients_if_any, read_documents};
use crate::output;
use crate::repo::lookup::{Applied, Lookup};

/// Seals every Secret of the inputs; writes only when all of them sealed.
pub fn run(args: SealArgs) -> anyhow::Result<()> {
    let documents = read_documents(&args.files)?;
    if documents.is_empty() {
        bail!("no Secret manifests in the input");
    }
    let secrets = read_secrets(documents)?;
    if !args.allow_empty
        && let Some((at, _)) = secrets.iter().find(|(_, s)| s.data.is_empty())
    {
        bail!(
            "{at}: data: no values (neither data nor stringData); a SealedSecret of it makes an empty Secret, which is usually a mistake (a key under the wrong field, a failed template); add --allow-empty if it is what you want"
        );
    }
    match &args.merge_into {
        Some(target) => merge_into(target, &secrets, &args),
        None => {
            let mut choice = RecipientChoice::new(&args.recipients)?;
            let mut lookup = Lookup::new(args.config.as_deref())?;
            let mut sealed = Vec::with_capacity(secrets.len());
            for (at, secret) in &secrets {
                let governs = rule_path(&args, at);
                let config = match &governs {
                    Some(path) => lookup.config_for(path)?,
                    None => None,
                };
                if let Some(config) = &config
                    && !choice.explicit()
                {
                    let input = (at.file != files::STDIN_NAME && at.file != "-")
                        .then(|| Path::new(&at.file));
                    check_places(config, input, args.output.write.as_deref())?;
                }
                let applied = match (&config, &governs) {
                    (Some(config), Some(path)) => Applied::of(config, path),
                    _ => None,
                };
                if let (Some(applied), Some(path)) = (&applied, &governs)
                    && let Some(note) = applied.overlap_note(path)
                {
                    eprintln!("seal: note: {note}");
                }
                let rule = applied.as_ref().map(|a| a.rule);
                let recipients = choice.pick(rule)?;
                let rule_namespace = rule
                    .and_then(|r| r.namespace.clone())
                    .filter(|_| secret.namespace.is_none());
                let options = SealOptions {
                    scope: args
                        .scope
                        .map(Into::into)
                        .or(rule.and_then(|r| r.scope))
                        .unwrap_or_default(),
                    default_namespace: args.namespace.clone().or(rule_namespace),
                    mode: args.mode.into(),
                };
                sealed.push(
                    convert::seal_secret(secret, &recipients, &options).map_err(|e| e.at(at))?,
                );
            }
            output::emit(&sealed, &args.output)
        }
    }
}

/// The path whose rules apply to a Secret: where the output goes (`-w`), else the file
/// it came from; none for standard input printed to standard output.
fn rule_path(args: &SealArgs, at: &seal_core::Location) -> Option<PathBuf> {
    if let Some(write) = &args.output.write {
        return Some(write.clone());
    }
    (at.file != files::STDIN_NAME && at.file != "-").then(|| PathBuf::from(&at.file))
}

/// Reads each document as a Secret, naming the document on failure.
fn read_secrets(
    documents: Vec<Document>,
) -> anyhow::Result<Vec<(seal_core::Location, PlainSecret)>> {
    documents
        .into_iter()
        .map(|doc| {
            PlainSecret::from_value(doc.value)
                .map(|secret| (doc.at.clone(), secret))
                .map_err(|e| e.at(&doc.at).into())
        })
        .collect()
}

/// Adds or replaces the given keys in the SealedSecrets of `target`, in place.
fn merge_into(
    target: &Path,
    secrets: &[(seal_core::Location, PlainSecret)],
    args: &SealArgs,
) -> anyhow::Result<()> {
    let target_name = target.display().to_string();
    let text = files::read_input(&target_name)?;
    let format = Format::of(&text);
    let mut objects = documents::parse(&target_name, &text)?
        .into_iter()
        .map(|doc| convert::sealed_secret_from_value(doc.value).map_err(|e| e.at(&doc.at)))
        .collect::<Result<Vec<SealedSecret>, _>>()?;
    let given = load_recipients_if_any(&args.recipients)?;
    for (at, secret) in secrets {
        let Some(sealed) = objects.iter_mut().find(|s| same_object(s, secret)) else {
            return Err(DocError::field(
                "metadata.name",
                format!("no SealedSecret of this name and namespace in {target_name}"),
            )
            .at(at)
            .into());
        };
        if let Some(scope) = args.scope
            && sealed.spec.scope != scope.into()
        {
            bail!(
                "{at}: --scope {} differs from spec.scope {} in {target_name}; re-seal the whole object to change scope",
                seal_core::Scope::from(scope),
                sealed.spec.scope
            );
        }
        let recipients = recipients_for(sealed, &given)
            .with_context(|| format!("{target_name}: spec.recipients"))?;
        crate::trust::example_key::note(&recipients);
        convert::seal_into(sealed, secret, &recipients).map_err(|e| e.at(at))?;
    }
    let text = documents::render(&objects, format)?;
    output::write_file(target, text.as_bytes(), 0o644)
}

/// Whether a Secret is the one a SealedSecret produces (same name; same namespace when
/// the Secret names one).
fn same_object(sealed: &SealedSecret, secret: &PlainSecret) -> bool {
    sealed.metadata.name.as_deref() == Some(secret.name.as_str())
        && secret
            .namespace
            .as_ref()
            .is_none_or(|ns| sealed.metadata.namespace.as_ref() == Some(ns))
}

/// New values go to the recipients the object is already sealed to: given ones must
/// match them exactly, so one object never mixes two sets of recipients.
fn recipients_for(sealed: &SealedSecret, given: &Recipients) -> anyhow::Result<Recipients> {
    if !given.is_empty() {
        if given.to_strings() != sealed.spec.recipients {
            bail!(
                "the recipients given differ from the ones this object is sealed to; re-seal the whole object to change recipients"
            );
        }
        return Ok(given.clone());
    }
    let mut recipients = Recipients::new();
    for text in &sealed.spec.recipients {
        recipients.add_arg("spec.recipients", text)?;
    }
    if recipients.is_empty() {
        bail!("empty; give -r or -R");
    }
    Ok(recipients)
}
