//! `seal edit FILE -i IDENTITY`: opens the SealedSecrets of FILE in the user's editor as
//! plain Secret manifests and re-seals only the keys that changed, were added or were
//! removed, to each object's own recipients; untouched keys keep their exact ciphertext.
//!
//! Before anything is opened, the object's recipients are checked, because every new
//! value goes to them: each must be a well-formed recipient, each value must be sealed to
//! as many recipients as the list names (a name added to the list after sealing shows as
//! a mismatch), when a `.seal.yaml` rule covers the file, the list must hold no
//! recipient the rule does not list (or pin), and every recipient must be one seal can
//! vouch for ([`crate::edit::who`]). The plaintext lives only in a private file
//! ([`crate::edit::private_file`]), wiped and removed whatever happens.

use std::path::Path;

use anyhow::{Context as _, bail};
use seal_core::documents::{self, Format};
use seal_core::{KeyRing, PlainSecret, Recipients, SealedSecret, convert, envelope, files};
use zeroize::Zeroizing;

use crate::cli::EditArgs;
use crate::commands::check_places;
use crate::edit::buffer;
use crate::edit::editor::{self, Interrupts};
use crate::edit::private_file::PrivateFile;
use crate::edit::who::{self, Known};
use crate::output;
use crate::repo::check::is_recipient;
use crate::repo::lookup::Lookup;

/// Why `seal edit` needs an identity, and where a user without one gets one.
pub const NEEDS_IDENTITY: &str = "seal edit needs -i IDENTITY, an age identity that opens the file: the cluster's controller re-seals values but never sends plaintext back, and it must not. For break-glass, have the cluster admin export a sealing key to you (`unseal keys export --to age1…`, your recipient from `seal keygen`), or keep a key of your own among the file's recipients (`seal recipients add -r age1… FILE`)";

/// One SealedSecret of the file, where it stands, and who its new values go to.
struct Object {
    at: String,
    sealed: SealedSecret,
    recipients: Recipients,
}

/// Runs `seal edit`.
pub fn run(args: EditArgs) -> anyhow::Result<()> {
    if args.identity.is_empty() {
        bail!(NEEDS_IDENTITY);
    }
    no_core_dumps();
    let path = args.file.as_path();
    let shown = output::shown_path(path);
    refuse_link(path, &shown)?;
    let name = path.display().to_string();
    let text = files::read_input(&name)?;
    let format = Format::of(&text);
    let mut objects = Vec::new();
    for doc in documents::parse(&name, &text)? {
        let sealed = convert::sealed_secret_from_value(doc.value).map_err(|e| e.at(&doc.at))?;
        let at = doc.at.to_string();
        let recipients = own_recipients(&at, &sealed)?;
        objects.push(Object {
            at,
            sealed,
            recipients,
        });
    }
    if objects.is_empty() {
        bail!("{shown}: no SealedSecrets");
    }
    let rule = check_rules(path, &args, &objects)?;
    let mut keys = KeyRing::new();
    for identity in &args.identity {
        let text = files::read_input(identity)?;
        keys.add_file(files::display_name(identity), &text)?;
    }
    let named = trusted(&args.trust_recipient)?;
    let known = Known::gather(&keys, rule, named);
    for object in &objects {
        known.refuse_unknown(&object.at, &object.sealed.spec.recipients)?;
    }
    let mut opened = Vec::with_capacity(objects.len());
    for object in &objects {
        opened.push(
            convert::open_within_budget(&object.sealed, &keys)
                .map_err(|e| anyhow::anyhow!("{}: {e}", object.at))?,
        );
    }
    let Some(changed) = edit_loop(&shown, &objects, &opened, &known)? else {
        return Ok(());
    };
    let mut report = Vec::new();
    let mut updated: Vec<SealedSecret> = objects.iter().map(|o| o.sealed.clone()).collect();
    for ((object, old), (new, target)) in objects
        .iter()
        .zip(&opened)
        .zip(changed.iter().zip(&mut updated))
    {
        // Only a changed object is rewritten (without server-side fields); the others
        // stay exactly as they were.
        let mut candidate = convert::for_git(&object.sealed);
        if let Some(summary) = reseal(object, old, new, &mut candidate)? {
            *target = candidate;
            report.push(summary);
        }
    }
    if report.is_empty() {
        eprintln!("{shown}: no changes; nothing written");
        return Ok(());
    }
    let text = documents::render(&updated, format)?;
    output::write_file(path, text.as_bytes(), 0o644)?;
    for line in report {
        eprintln!("{}", output::one_line(&line));
    }
    Ok(())
}

/// Keeps the plaintext this process (and the editor, which inherits the limit) holds out
/// of core dumps, and other processes of the user from attaching to read it. Best
/// effort: a system that refuses leaves things as they were.
#[cfg(target_os = "linux")]
fn no_core_dumps() {
    use rustix::process::{DumpableBehavior, Resource, Rlimit, set_dumpable_behavior, setrlimit};
    let _ = set_dumpable_behavior(DumpableBehavior::NotDumpable);
    let none = Rlimit {
        current: Some(0),
        maximum: Some(0),
    };
    let _ = setrlimit(Resource::Core, none);
}

#[cfg(not(target_os = "linux"))]
fn no_core_dumps() {}

/// Refuses a FILE that is a symbolic link: the link would be replaced by a file holding
/// whatever it pointed to (another object, another repo's file), re-sealed.
fn refuse_link(path: &Path, shown: &str) -> anyhow::Result<()> {
    let meta = std::fs::symlink_metadata(path).with_context(|| format!("{shown}: cannot read"))?;
    if meta.file_type().is_symlink() {
        bail!(
            "{shown}: a symbolic link; nothing edited (edit the file it points to, where its own rules apply)"
        );
    }
    if !meta.file_type().is_file() {
        bail!("{shown}: not a regular file");
    }
    Ok(())
}

/// The recipients new values of `sealed` go to: its `spec.recipients`, each well formed,
/// and agreeing in number with every value's recipient stanzas.
fn own_recipients(at: &str, sealed: &SealedSecret) -> anyhow::Result<Recipients> {
    let listed = &sealed.spec.recipients;
    let mut recipients = Recipients::new();
    for (index, text) in listed.iter().enumerate() {
        if !is_recipient(text) {
            bail!(
                "{at}: spec.recipients[{index}]: not an age X25519 recipient as seal writes them; nothing opened"
            );
        }
        recipients.add_arg("spec.recipients", text)?;
    }
    if recipients.is_empty() {
        bail!("{at}: spec.recipients: empty; nothing opened");
    }
    for (key, text) in &sealed.spec.encrypted_data {
        let shape = envelope::shape(text)
            .map_err(|e| anyhow::anyhow!("{at}: spec.encryptedData.{}: {e}", output::shown(key)))?;
        if shape.x25519_stanzas != listed.len() {
            bail!(
                "{at}: spec.encryptedData.{} is sealed to {} recipient(s) but spec.recipients lists {}: the list was changed after sealing, and new values would go to it; nothing opened",
                output::shown(key),
                shape.x25519_stanzas,
                listed.len()
            );
        }
    }
    Ok(recipients)
}

/// When a `.seal.yaml` rule covers the file, refuses objects sealed to a recipient the
/// rule does not list (or pin): a new value would be sealed to it.
fn check_rules(
    path: &Path,
    args: &EditArgs,
    objects: &[Object],
) -> anyhow::Result<Option<(String, Vec<String>)>> {
    let Some(config) = Lookup::new(args.config.as_deref())?.config_for(path)? else {
        return Ok(None);
    };
    check_places(&config, Some(path), Some(path))?;
    let Some(rule) = config.rule_for(path) else {
        return Ok(None);
    };
    let source = format!("the rule at {} line {}", config.display(), rule.line);
    let sync = format!(
        "`seal recipients sync {}` brings it to the rule's recipients",
        output::shown_path(path)
    );
    for object in objects {
        let listed = &object.sealed.spec.recipients;
        if let Some(wanted) = &rule.recipients {
            let wanted = wanted.to_strings();
            let unlisted: Vec<&str> = listed
                .iter()
                .filter(|r| !wanted.contains(r))
                .map(String::as_str)
                .collect();
            if !unlisted.is_empty() {
                bail!(
                    "{}: sealed to {} which {source} does not list, and new values would go there too; nothing opened ({sync})",
                    object.at,
                    unlisted.join(", ")
                );
            }
            let missing: Vec<&str> = wanted
                .iter()
                .filter(|r| !listed.contains(r))
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                eprintln!(
                    "seal: note: {}: not sealed to {} which {source} lists ({sync})",
                    object.at,
                    missing.join(", ")
                );
            }
        }
        if let Some(pins) = &rule.cluster_pins {
            let unpinned: Vec<&str> = listed
                .iter()
                .filter(|r| !pins.pins(r))
                .map(String::as_str)
                .collect();
            if !unpinned.is_empty() {
                bail!(
                    "{}: sealed to {} which {source} does not pin (clusterRecipients); nothing opened",
                    object.at,
                    unpinned.join(", ")
                );
            }
        }
    }
    Ok(Some(who::listing(&config, rule)))
}

/// The recipients given with `--trust-recipient`, each well formed.
pub(crate) fn trusted(given: &[String]) -> anyhow::Result<Vec<String>> {
    for (index, text) in given.iter().enumerate() {
        if !is_recipient(text) {
            bail!(
                "--trust-recipient (the {} given): not an age X25519 recipient",
                index + 1
            );
        }
    }
    Ok(given.to_vec())
}

/// Shows the buffer until it parses and fits the file, or the user gives up. `None`
/// when there is nothing to do (unchanged or emptied buffer).
fn edit_loop(
    shown: &str,
    objects: &[Object],
    opened: &[PlainSecret],
    known: &Known,
) -> anyhow::Result<Option<Vec<PlainSecret>>> {
    let mut header = vec![
        format!("Editing {shown}: plaintext. This file is private and removed when the editor closes."),
        "Change, add or remove keys under stringData (text) or data (base64), then save and quit.".to_owned(),
        "Keys left as they are keep their exact ciphertext. Save unchanged, or empty, to change nothing.".to_owned(),
    ];
    for object in objects {
        header.push(format!("{}: new values are sealed to:", object.at));
        for recipient in &object.sealed.spec.recipients {
            header.push(format!("  {}", known.describe(recipient).0));
        }
    }
    let file = PrivateFile::create("seal-edit.yaml")
        .context("cannot create a private temporary file for the editor")?;
    let mut interrupts = Interrupts::catch()?;
    let editor = editor::configured();
    let mut showing = buffer::render(&header, opened)?;
    let mut last_error: Option<String> = None;
    loop {
        file.write(&showing)
            .context("cannot write the private temporary file")?;
        interrupts.edit(&editor, file.path())?;
        let bytes = file
            .read()
            .context("the edited file cannot be read back; nothing written")?;
        let edited = match std::str::from_utf8(&bytes) {
            Ok(text) => Zeroizing::new(text.to_owned()),
            Err(_) => Zeroizing::new(String::new()),
        };
        if *edited == *showing {
            return match last_error {
                None => {
                    eprintln!("{shown}: no changes; nothing written");
                    Ok(None)
                }
                Some(error) => bail!("{shown}: nothing written: {error}"),
            };
        }
        if std::str::from_utf8(&bytes).is_ok() && buffer::is_blank(&edited) {
            eprintln!("{shown}: the buffer was emptied; edit cancelled, nothing written");
            return Ok(None);
        }
        let outcome = if std::str::from_utf8(&bytes).is_err() {
            Err("the edited file is not UTF-8 text".to_owned())
        } else {
            buffer::parse("the edited manifest", &edited).and_then(|secrets| fits(objects, secrets))
        };
        match outcome {
            Ok(secrets) => return Ok(Some(secrets)),
            Err(error) => {
                let error = output::one_line(&error);
                let mut again = vec![
                    format!("error: {error}"),
                    "Fix it and save, or save unchanged to give up (nothing is written)."
                        .to_owned(),
                ];
                again.extend(header.iter().cloned());
                let mut text = Zeroizing::new(String::new());
                for line in &again {
                    text.push_str("# ");
                    text.push_str(line);
                    text.push('\n');
                }
                text.push_str(buffer::without_header(&edited));
                showing = text;
                last_error = Some(error);
            }
        }
    }
}

/// Checks that the edited Secrets are the file's objects, in order, under the same
/// names, each with at least one value.
fn fits(objects: &[Object], edited: Vec<PlainSecret>) -> Result<Vec<PlainSecret>, String> {
    if edited.len() != objects.len() {
        return Err(format!(
            "the edited manifest holds {} Secret(s) but the file {} SealedSecret(s); seal edit changes values, not which objects there are",
            edited.len(),
            objects.len()
        ));
    }
    for (index, (object, secret)) in objects.iter().zip(&edited).enumerate() {
        let at = format!("document {}", index + 1);
        if object.sealed.metadata.name.as_deref() != Some(secret.name.as_str()) {
            return Err(format!(
                "{at}: metadata.name: cannot be changed by seal edit (the values are bound to it)"
            ));
        }
        if object.sealed.metadata.namespace != secret.namespace {
            return Err(format!(
                "{at}: metadata.namespace: cannot be changed by seal edit (the values are bound to it)"
            ));
        }
        if secret.data.is_empty() {
            return Err(format!(
                "{at}: no keys left; a SealedSecret needs a value (delete the file to remove it)"
            ));
        }
    }
    Ok(edited)
}

/// Re-seals into `target` the keys of `new` that differ from `old` and drops removed
/// ones; takes the template from `new`. A line for the user, or `None` when nothing of
/// this object changed.
fn reseal(
    object: &Object,
    old: &PlainSecret,
    new: &PlainSecret,
    target: &mut SealedSecret,
) -> anyhow::Result<Option<String>> {
    let mut changes = PlainSecret {
        name: new.name.clone(),
        namespace: new.namespace.clone(),
        ..Default::default()
    };
    let (mut changed, mut added, mut removed) = (Vec::new(), Vec::new(), Vec::new());
    for (key, value) in &new.data {
        match old.data.get(key) {
            Some(before) if before == value => {}
            Some(_) => changed.push(output::shown(key).into_owned()),
            None => added.push(output::shown(key).into_owned()),
        }
        if old.data.get(key) != Some(value) {
            changes.data.insert(key.clone(), value.clone());
        }
    }
    for key in old.data.keys() {
        if !new.data.contains_key(key) {
            target.spec.encrypted_data.remove(key);
            removed.push(output::shown(key).into_owned());
        }
    }
    let template = &mut target.spec.template;
    let template_changed = template.metadata.labels != new.labels
        || template.metadata.annotations != new.annotations
        || template.type_ != new.type_
        || template.immutable != new.immutable;
    template.metadata.labels.clone_from(&new.labels);
    template.metadata.annotations.clone_from(&new.annotations);
    template.type_.clone_from(&new.type_);
    template.immutable = new.immutable;
    crate::trust::example_key::note(&object.recipients);
    convert::seal_into(target, &changes, &object.recipients)
        .map_err(|e| anyhow::anyhow!("{}: {e}", object.at))?;
    let mut parts = Vec::new();
    for (what, keys) in [("changed", changed), ("added", added), ("removed", removed)] {
        if !keys.is_empty() {
            parts.push(format!("{what} {}", keys.join(", ")));
        }
    }
    if template_changed {
        parts.push("changed the template (labels, annotations, type)".to_owned());
    }
    if parts.is_empty() {
        return Ok(None);
    }
    Ok(Some(format!(
        "{}: {}; re-sealed to {} recipient(s)",
        object.at,
        parts.join("; "),
        object.recipients.len()
    )))
}
