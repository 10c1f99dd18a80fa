//! `unseal keys retire KEY`: stop holding an old sealing key once nothing uses it.
//!
//! Refused while the key is the active one, while any SealedSecret of the cluster is
//! sealed to it (they are named), and while the automatic backup (`unseal-keys-backup`)
//! holds no copy of it: retiring removes the key from the cluster, never from the backup.
//! `--force` overrides the last two after a loud warning and the key's name typed back.
//!
//! The key is first marked retired in the registry of every key ever held (so the
//! controller does not report it missing; written with the ConfigMap's resourceVersion so
//! a concurrent publish by the controller cannot lose the mark), then its Secret is
//! deleted.

use std::collections::BTreeMap;
use std::io::BufRead as _;

use anyhow::{Context as _, bail};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Api;
use kube::api::{DeleteParams, ObjectMeta, PostParams};

use crate::cli::RetireArgs;
use crate::commands::key_usage::{self, Usage};
use crate::commands::keys::read_registry;
use crate::keys::backup_store::{BACKUP_SECRET, entry_name};
use crate::keys::lifecycle::RECIPIENTS_CONFIGMAP;
use crate::keys::registry::{self, KnownKey};
use crate::keys::{KeySet, secrets};

/// How many SealedSecrets a refusal names before "and N more".
const NAMED: usize = 10;

/// Runs `unseal keys retire`.
pub async fn run(args: RetireArgs) -> anyhow::Result<()> {
    let ns = &args.cluster.controller_namespace;
    let client = super::client(&args.cluster).await?;
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    let stored = secrets::list(&api).await?;
    let (set, _) = KeySet::from_secrets(&stored);
    let Some(key) = set
        .keys
        .iter()
        .find(|k| k.name == args.key || k.recipient == args.key)
    else {
        let (_, known) = read_registry(&maps).await?;
        if known
            .iter()
            .any(|k| k.retired && (k.name == args.key || k.recipient == args.key))
        {
            bail!("{}: already retired", args.key);
        }
        bail!(
            "{}: no sealing key of that name or recipient in namespace {ns} (see unseal keys list)",
            args.key
        );
    };
    if set.active().is_some_and(|a| a.name == key.name) {
        bail!(
            "{} is the active sealing key (new values are sealed to it); make a new one first (unseal rotate), re-seal what uses this one (seal reencrypt), then retire it; nothing retired",
            key.name
        );
    }
    let mut hazards = Vec::new();
    match key_usage::by_recipient(&client).await {
        Ok(usage) => {
            if let Some(used) = usage.get(&key.recipient) {
                hazards.push(in_use(&key.name, &key.recipient, used));
            }
        }
        Err(e) => hazards.push(format!(
            "cannot list SealedSecrets to check that nothing uses {} ({e})",
            key.name
        )),
    }
    let backup = api.get_opt(BACKUP_SECRET).await?;
    let entry = entry_name(&key.name);
    let backed_up = backup
        .as_ref()
        .and_then(|b| b.data.as_ref())
        .is_some_and(|d| d.get(&entry).is_some_and(|v| !v.0.is_empty()));
    if !backed_up {
        hazards.push(format!(
            "{BACKUP_SECRET} holds no copy of {} (entry {entry}; the controller writes it when run with --backup-recipient), so nothing could restore it; keep one yourself first with `unseal keys export --to age1… -o FILE`",
            key.name
        ));
    }
    if !hazards.is_empty() {
        if !args.force {
            bail!("{}; nothing retired", hazards.join("; and "));
        }
        confirm(&key.name, &hazards, args.confirm.as_deref())?;
    }
    mark_retired(&maps, ns, KnownKey::from(key)).await?;
    api.delete(&key.name, &DeleteParams::default())
        .await
        .with_context(|| {
            format!(
                "{}: marked retired but its Secret was not deleted; run this again",
                key.name
            )
        })?;
    println!("retired {} ({})", key.name, key.recipient);
    if backed_up {
        eprintln!(
            "{} stays in {BACKUP_SECRET} (entry {entry}); unseal keys import restores it. SealedSecrets in Git that are not applied in this cluster were not checked: `seal check` finds those.",
            key.name
        );
    }
    Ok(())
}

/// "KEY (age1…) still opens N SealedSecret(s) with M value(s): a/b, c/d, and K more;
/// re-seal them first".
fn in_use(name: &str, recipient: &str, used: &Usage) -> String {
    let mut named: Vec<&str> = used
        .objects
        .iter()
        .take(NAMED)
        .map(String::as_str)
        .collect();
    let more = used.objects.len().saturating_sub(NAMED);
    let more_text = format!("and {more} more");
    if more > 0 {
        named.push(&more_text);
    }
    format!(
        "{name} ({recipient}) still opens {} SealedSecret(s) with {} value(s): {}; re-seal them to the active key first (seal reencrypt FILE, from the files in Git)",
        used.objects.len(),
        used.values,
        named.join(", ")
    )
}

/// The loud confirmation of `--force`: every hazard on its own line, then the key's name
/// typed back (or given with `--confirm`).
fn confirm(name: &str, hazards: &[String], given: Option<&str>) -> anyhow::Result<()> {
    eprintln!("unseal: WARNING: retiring {name} by force:");
    for hazard in hazards {
        eprintln!("unseal: WARNING:   {hazard}");
    }
    eprintln!(
        "unseal: WARNING: what is sealed only to {name} will no longer open in this cluster."
    );
    let typed = match given {
        Some(given) => given.to_owned(),
        None => {
            eprintln!("Type the key's name ({name}) to retire it:");
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("cannot read the confirmation")?;
            line.trim().to_owned()
        }
    };
    if typed != name {
        bail!("not confirmed (expected {name}); nothing retired");
    }
    Ok(())
}

/// Marks the key retired in the registry, retrying when the controller wrote the
/// ConfigMap meanwhile.
async fn mark_retired(maps: &Api<ConfigMap>, ns: &str, key: KnownKey) -> anyhow::Result<()> {
    for _ in 0..10 {
        let (map, known) = read_registry(maps).await?;
        let text = registry::render(&registry::retire(&known, &key));
        let written = match map {
            Some(mut map) => {
                map.data
                    .get_or_insert_with(BTreeMap::new)
                    .insert(registry::KNOWN_KEYS.to_owned(), text);
                maps.replace(RECIPIENTS_CONFIGMAP, &PostParams::default(), &map)
                    .await
                    .map(drop)
            }
            None => {
                let map = ConfigMap {
                    metadata: ObjectMeta {
                        name: Some(RECIPIENTS_CONFIGMAP.to_owned()),
                        namespace: Some(ns.to_owned()),
                        ..Default::default()
                    },
                    data: Some(BTreeMap::from([(registry::KNOWN_KEYS.to_owned(), text)])),
                    ..Default::default()
                };
                maps.create(&PostParams::default(), &map).await.map(drop)
            }
        };
        match written {
            Ok(()) => return Ok(()),
            Err(kube::Error::Api(status)) if status.code == 409 => continue,
            Err(e) => {
                return Err(anyhow::Error::new(e).context(format!(
                    "cannot mark {} retired in {RECIPIENTS_CONFIGMAP}; nothing retired",
                    key.name
                )));
            }
        }
    }
    bail!(
        "{RECIPIENTS_CONFIGMAP} kept changing while {} was being marked retired; nothing retired, try again",
        key.name
    )
}

/// Clears the retired mark of keys imported again, so that losing them later is reported.
pub async fn clear_marks(maps: &Api<ConfigMap>, recipients: &[String]) -> anyhow::Result<()> {
    for _ in 0..10 {
        let (Some(mut map), known) = read_registry(maps).await? else {
            return Ok(());
        };
        if !known
            .iter()
            .any(|k| k.retired && recipients.contains(&k.recipient))
        {
            return Ok(());
        }
        let mut cleared = known;
        for r in recipients {
            cleared = registry::unretire(&cleared, r);
        }
        map.data
            .get_or_insert_with(BTreeMap::new)
            .insert(registry::KNOWN_KEYS.to_owned(), registry::render(&cleared));
        match maps
            .replace(RECIPIENTS_CONFIGMAP, &PostParams::default(), &map)
            .await
        {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(status)) if status.code == 409 => continue,
            Err(e) => return Err(e.into()),
        }
    }
    bail!("{RECIPIENTS_CONFIGMAP} kept changing; the retired mark of the imported keys stays")
}
