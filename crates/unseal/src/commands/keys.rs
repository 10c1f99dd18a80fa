//! `unseal keys list|export|import`, from outside the cluster.

use std::io::Read;

use anyhow::{Context as _, bail};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Api;
use seal_core::files::{self, Overwrite};
use seal_core::{KeyRing, Recipients};
use zeroize::Zeroizing;

use crate::cli::{ExportArgs, ImportArgs, ListArgs, ListFormat};
use crate::clock;
use crate::commands::key_usage;
use crate::keys::lifecycle::RECIPIENTS_CONFIGMAP;
use crate::keys::secrets::{self, StoredKey};
use crate::keys::{KeySet, backup, registry};

/// One row of `unseal keys list`.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    name: String,
    recipient: String,
    created: String,
    /// `active`, `old` (opens, does not seal), `opens-only` (imported without
    /// --activate), `missing` (its Secret is gone) or `retired`.
    state: &'static str,
    /// SealedSecrets sealed to it (`null` when they could not be listed).
    sealed_secrets: Option<usize>,
    /// Their values.
    values: Option<usize>,
}

/// The registry of every key ever held, from the recipients ConfigMap.
pub(crate) async fn read_registry(
    maps: &Api<ConfigMap>,
) -> kube::Result<(Option<ConfigMap>, Vec<registry::KnownKey>)> {
    let map = maps.get_opt(RECIPIENTS_CONFIGMAP).await?;
    let known = map
        .as_ref()
        .and_then(|m| m.data.as_ref())
        .and_then(|d| d.get(registry::KNOWN_KEYS).map(|t| registry::parse(t)))
        .unwrap_or_default();
    Ok((map, known))
}

/// Prints each key and how many SealedSecrets and values still use it.
pub async fn list(args: ListArgs) -> anyhow::Result<()> {
    let cluster = &args.cluster;
    let client = super::client(cluster).await?;
    let api: Api<Secret> = Api::namespaced(client.clone(), &cluster.controller_namespace);
    let stored = secrets::list(&api).await?;
    let (set, bad) = KeySet::from_secrets(&stored);
    for b in bad {
        eprintln!("unseal: warning: {b}");
    }
    if set.keys.is_empty() {
        bail!(
            "no sealing keys in namespace {}",
            cluster.controller_namespace
        );
    }
    let usage = match key_usage::by_recipient(&client).await {
        Ok(usage) => Some(usage),
        Err(e) => {
            eprintln!("unseal: warning: cannot list SealedSecrets ({e}); usage not shown");
            None
        }
    };
    let active_name = set.active().map(|k| k.name.clone());
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), &cluster.controller_namespace);
    let known = match read_registry(&maps).await {
        Ok((_, known)) => known,
        Err(e) => {
            eprintln!(
                "unseal: warning: cannot read the key registry ({e}); missing keys not shown"
            );
            Vec::new()
        }
    };
    let held: Vec<registry::KnownKey> = set.keys.iter().map(registry::KnownKey::from).collect();
    let missing: Vec<&registry::KnownKey> = registry::missing(&known, &held);
    let row = |name: &str, recipient: &str, created: String, state: &'static str| {
        let used = usage
            .as_ref()
            .map(|u| u.get(recipient).cloned().unwrap_or_default());
        Row {
            name: name.to_owned(),
            recipient: recipient.to_owned(),
            created,
            state,
            sealed_secrets: used.as_ref().map(|u| u.objects.len()),
            values: used.as_ref().map(|u| u.values),
        }
    };
    let mut rows = Vec::new();
    for key in &set.keys {
        let state = if Some(&key.name) == active_name.as_ref() {
            "active"
        } else if key.open_only {
            "opens-only"
        } else {
            "old"
        };
        rows.push(row(
            &key.name,
            &key.recipient,
            key.created.to_string(),
            state,
        ));
    }
    for key in &missing {
        rows.push(row(
            &key.name,
            &key.recipient,
            key.created.clone(),
            "missing",
        ));
    }
    for key in known.iter().filter(|k| k.retired) {
        if !held.iter().any(|h| h.recipient == key.recipient) {
            rows.push(row(
                &key.name,
                &key.recipient,
                key.created.clone(),
                "retired",
            ));
        }
    }
    match args.format {
        ListFormat::Json => {
            let text = serde_json::to_string_pretty(&rows)?;
            println!("{text}");
        }
        ListFormat::Text => print_table(&rows),
    }
    if !missing.is_empty() {
        eprintln!(
            "unseal: warning: {} key(s) MISSING: their Secrets are gone and values sealed to them do not open; restore them with unseal keys import (from unseal-keys-backup or an export)",
            missing.len()
        );
    }
    Ok(())
}

/// The table for people (ACTIVE: yes, no, open, MISSING, retired).
fn print_table(rows: &[Row]) {
    println!(
        "{:<28} {:<64} {:<22} {:<7} {:<7} VALUES",
        "NAME", "RECIPIENT", "CREATED", "ACTIVE", "USED BY"
    );
    let number = |n: Option<usize>| n.map_or("?".to_owned(), |n| n.to_string());
    for r in rows {
        let state = match r.state {
            "active" => "yes",
            "old" => "no",
            "opens-only" => "open",
            "missing" => "MISSING",
            other => other,
        };
        println!(
            "{:<28} {:<64} {:<22} {:<7} {:<7} {}",
            r.name,
            r.recipient,
            r.created,
            state,
            number(r.sealed_secrets),
            number(r.values)
        );
    }
}

/// Writes all identities, age-encrypted, to a new file.
pub async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let mut to = Recipients::new();
    for r in &args.to {
        to.add_arg("--to", r)?;
    }
    let client = super::client(&args.cluster).await?;
    let api: Api<Secret> = Api::namespaced(client, &args.cluster.controller_namespace);
    let stored: Vec<StoredKey> = secrets::list(&api)
        .await?
        .iter()
        .filter_map(|s| {
            secrets::decode(s)
                .map_err(|e| eprintln!("unseal: warning: {e}"))
                .ok()
        })
        .collect();
    if stored.is_empty() {
        bail!(
            "no sealing keys in namespace {}",
            args.cluster.controller_namespace
        );
    }
    let sealed = backup::encrypt(backup::backup_text(&stored).as_bytes(), &to)?;
    files::write_atomic(&args.output, &sealed, 0o600, Overwrite::Refuse)?;
    eprintln!(
        "wrote {} keys to {}, encrypted to {} recipient(s)",
        stored.len(),
        args.output.display(),
        to.len()
    );
    Ok(())
}

/// Stores the identities of a backup or an identity file as key Secrets (or, with
/// `--sealed-secrets`/`--from-cluster`, bitnami keys in their own store).
pub async fn import(args: ImportArgs) -> anyhow::Result<()> {
    let Some(file) = args.file.clone() else {
        return super::bitnami_import::run(args).await;
    };
    let mut bytes = Zeroizing::new(Vec::new());
    std::fs::File::open(&file)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .with_context(|| format!("{file}: cannot read"))?;
    let ring = match &args.identity {
        Some(path) => {
            let text = files::read_input(path)?;
            let mut ring = KeyRing::new();
            ring.add_file(files::display_name(path), &text)?;
            Some(ring)
        }
        None => None,
    };
    let keys = backup::read_any(&bytes, ring.as_ref()).with_context(|| file.clone())?;
    eprintln!("{}: {} key(s), whose recipients are:", file, keys.len());
    for key in &keys {
        eprintln!("  {}", key.identity.to_public());
    }
    if let Some(wanted) = &args.activate
        && !keys
            .iter()
            .any(|k| &k.identity.to_public().to_string() == wanted)
    {
        bail!("--activate: {wanted} is not among the keys of {file}");
    }
    let client = super::client(&args.cluster).await?;
    let api: Api<Secret> = Api::namespaced(client.clone(), &args.cluster.controller_namespace);
    for key in &keys {
        let recipient = key.identity.to_public().to_string();
        let created = key.created.unwrap_or_else(clock::now);
        let activate = args.activate.as_ref() == Some(&recipient);
        match secrets::import(
            &api,
            &args.cluster.controller_namespace,
            &key.identity,
            created,
            key.name.as_deref(),
            activate,
        )
        .await?
        {
            Some(name) if activate => println!("imported {recipient} as {name} (active)"),
            Some(name) => println!("imported {recipient} as {name} (opens only)"),
            None => println!("already held: {recipient}"),
        }
    }
    let maps: Api<ConfigMap> = Api::namespaced(client, &args.cluster.controller_namespace);
    let recipients: Vec<String> = keys
        .iter()
        .map(|k| k.identity.to_public().to_string())
        .collect();
    if let Err(e) = super::retire::clear_marks(&maps, &recipients).await {
        eprintln!("unseal: warning: {e:#}");
    }
    if args.activate.is_none() {
        eprintln!(
            "imported keys open what was sealed to them but do not seal; add --activate age1… to make one of them the active key"
        );
    }
    Ok(())
}
