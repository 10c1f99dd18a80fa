//! `unseal keys list|export|import`, from outside the cluster.

use std::io::Read;

use anyhow::{Context as _, bail};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Api;
use kube::api::ListParams;
use seal_core::files::{self, Overwrite};
use seal_core::{KeyRing, Recipients, SealedSecret};
use zeroize::Zeroizing;

use crate::cli::{ClusterArgs, ExportArgs, ImportArgs};
use crate::clock;
use crate::keys::lifecycle::RECIPIENTS_CONFIGMAP;
use crate::keys::secrets::{self, StoredKey};
use crate::keys::{KeySet, backup, registry};

/// Prints each key and how many SealedSecrets still use it.
pub async fn list(args: ClusterArgs) -> anyhow::Result<()> {
    let client = super::client(&args).await?;
    let api: Api<Secret> = Api::namespaced(client.clone(), &args.controller_namespace);
    let stored = secrets::list(&api).await?;
    let (set, bad) = KeySet::from_secrets(&stored);
    for b in bad {
        eprintln!("unseal: warning: {b}");
    }
    if set.keys.is_empty() {
        bail!("no sealing keys in namespace {}", args.controller_namespace);
    }
    let sealed: Api<SealedSecret> = Api::all(client.clone());
    let usage = match sealed.list(&ListParams::default()).await {
        Ok(list) => Some(list.items),
        Err(e) => {
            eprintln!("unseal: warning: cannot list SealedSecrets ({e}); usage not shown");
            None
        }
    };
    println!(
        "{:<28} {:<64} {:<22} {:<7} USED BY",
        "NAME", "RECIPIENT", "CREATED", "ACTIVE"
    );
    let active_name = set.active().map(|k| k.name.clone());
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), &args.controller_namespace);
    let known = match maps.get_opt(RECIPIENTS_CONFIGMAP).await {
        Ok(map) => map
            .and_then(|m| m.data)
            .and_then(|d| d.get(registry::KNOWN_KEYS).map(|t| registry::parse(t)))
            .unwrap_or_default(),
        Err(e) => {
            eprintln!(
                "unseal: warning: cannot read the key registry ({e}); missing keys not shown"
            );
            Vec::new()
        }
    };
    let held: Vec<registry::KnownKey> = set.keys.iter().map(registry::KnownKey::from).collect();
    let missing: Vec<&registry::KnownKey> = registry::missing(&known, &held);
    let used_by = |recipient: &str| {
        usage.as_ref().map_or("?".to_owned(), |items| {
            items
                .iter()
                .filter(|s| s.spec.recipients.iter().any(|r| r == recipient))
                .count()
                .to_string()
        })
    };
    let row = |name: &str, recipient: &str, created: &str, state: &str| {
        println!(
            "{name:<28} {recipient:<64} {created:<22} {state:<7} {}",
            used_by(recipient)
        );
    };
    for key in &set.keys {
        let state = if Some(&key.name) == active_name.as_ref() {
            "yes"
        } else if key.open_only {
            "open"
        } else {
            "no"
        };
        row(&key.name, &key.recipient, &key.created.to_string(), state);
    }
    for key in &missing {
        row(&key.name, &key.recipient, &key.created, "MISSING");
    }
    if !missing.is_empty() {
        eprintln!(
            "unseal: warning: {} key(s) MISSING: their Secrets are gone and values sealed to them do not open; restore them with unseal keys import (from unseal-keys-backup or an export)",
            missing.len()
        );
    }
    Ok(())
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

/// Stores the identities of a backup or an identity file as key Secrets.
pub async fn import(args: ImportArgs) -> anyhow::Result<()> {
    let mut bytes = Zeroizing::new(Vec::new());
    std::fs::File::open(&args.file)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .with_context(|| format!("{}: cannot read", args.file))?;
    let ring = match &args.identity {
        Some(path) => {
            let text = files::read_input(path)?;
            let mut ring = KeyRing::new();
            ring.add_file(files::display_name(path), &text)?;
            Some(ring)
        }
        None => None,
    };
    let keys = backup::read_any(&bytes, ring.as_ref()).with_context(|| args.file.clone())?;
    eprintln!(
        "{}: {} key(s), whose recipients are:",
        args.file,
        keys.len()
    );
    for key in &keys {
        eprintln!("  {}", key.identity.to_public());
    }
    if let Some(wanted) = &args.activate
        && !keys
            .iter()
            .any(|k| &k.identity.to_public().to_string() == wanted)
    {
        bail!(
            "--activate: {wanted} is not among the keys of {}",
            args.file
        );
    }
    let client = super::client(&args.cluster).await?;
    let api: Api<Secret> = Api::namespaced(client, &args.cluster.controller_namespace);
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
    if args.activate.is_none() {
        eprintln!(
            "imported keys open what was sealed to them but do not seal; add --activate age1… to make one of them the active key"
        );
    }
    Ok(())
}
