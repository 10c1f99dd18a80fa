//! `seal recipients sync [PATH...]` (SOPS' `updatekeys`): brings every SealedSecret under
//! PATH to exactly the recipients its `.seal.yaml` rule lists. Only objects whose
//! recipients differ are re-sealed; every other file and object keeps its bytes.
//!
//! With `-i` the values are opened here; without, the cluster's controller re-seals them
//! (`add=`/`remove=` on `/v1/reencrypt`, within its trust rules: it adds only its own and
//! admin-trusted keys, and its reply is checked by [`reseal_reply::accept`]). Rules that
//! list no recipients (the cluster is asked for its keys) are left to `seal reencrypt`.
//! Everything is planned and re-sealed in memory first, then every changed file is
//! staged beside its target and only then renamed into place: after any failure to plan,
//! open, re-seal or stage, the repository is byte for byte what it was (the renames
//! themselves, one per file, are the only step that can leave some files new and others
//! not). Files that are symbolic links are left alone.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use seal_core::documents::{self, Format};
use seal_core::{Recipients, SealedSecret, convert};

use crate::cli::SyncArgs;
use crate::cluster::{self, Cluster};
use crate::commands::check::{committable, confinement};
use crate::commands::check_places;
use crate::commands::recipients::{identities, reseal_here, reseal_there};
use crate::output::{self, StagedWrites};
use crate::repo::check::declares_kind;
use crate::repo::lookup::Lookup;
use crate::repo::walk;

/// One object whose recipients differ from its rule's.
struct Change {
    index: usize,
    at: String,
    to: Recipients,
    add: Vec<String>,
    remove: Vec<String>,
}

/// One file of SealedSecrets and what changes in it.
struct Planned {
    path: PathBuf,
    shown: String,
    format: Format,
    objects: Vec<SealedSecret>,
    changes: Vec<Change>,
}

/// Runs `seal recipients sync`.
pub fn run(args: SyncArgs) -> anyhow::Result<()> {
    let (mut planned, objects) = plan(&args)?;
    let changes: usize = planned.iter().map(|p| p.changes.len()).sum();
    if planned.is_empty() {
        eprintln!(
            "seal recipients sync: no SealedSecret here is covered by a .seal.yaml rule that lists recipients; nothing to do"
        );
        return Ok(());
    }
    if changes == 0 {
        eprintln!(
            "seal recipients sync: {objects} SealedSecret(s) in {} file(s) already sealed to their rules' recipients",
            planned.len()
        );
        return Ok(());
    }
    planned.retain(|p| !p.changes.is_empty());
    if args.check {
        for file in &planned {
            for change in &file.changes {
                println!("{}", output::one_line(&describe(change)));
            }
        }
        bail!(
            "seal recipients sync --check: {changes} SealedSecret(s) in {} file(s) are not sealed to their rules' recipients; run `seal recipients sync` (with -i IDENTITY, or through the cluster's controller)",
            planned.len()
        );
    }
    if args.identity.is_empty() {
        through_controller(&args, &mut planned)?;
    } else {
        let keys = identities(&args.identity)?;
        for file in &mut planned {
            for change in &file.changes {
                let object = &mut file.objects[change.index];
                *object = reseal_here(object, &keys, &change.to, &change.at)?;
            }
        }
    }
    let mut writes = StagedWrites::default();
    for file in &planned {
        let text = documents::render(&file.objects, file.format)?;
        writes.stage(&file.path, text.as_bytes(), 0o644)?;
    }
    writes.commit()?;
    for file in &planned {
        for change in &file.changes {
            eprintln!("{}", output::one_line(&describe(change)));
        }
        eprintln!(
            "{}: re-sealed {} SealedSecret(s)",
            file.shown,
            file.changes.len()
        );
    }
    Ok(())
}

/// "FILE: document N: add …; remove …".
fn describe(change: &Change) -> String {
    let mut parts = Vec::new();
    if !change.add.is_empty() {
        parts.push(format!("add {}", change.add.join(", ")));
    }
    if !change.remove.is_empty() {
        let shown: Vec<String> = change
            .remove
            .iter()
            .map(|r| output::shown(r).into_owned())
            .collect();
        parts.push(format!("remove {}", shown.join(", ")));
    }
    format!("{}: {}", change.at, parts.join("; "))
}

/// Every file of SealedSecrets under the paths that a rule with recipients covers, with
/// the objects to change; and how many SealedSecrets were looked at.
fn plan(args: &SyncArgs) -> anyhow::Result<(Vec<Planned>, usize)> {
    let roots = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let mut found = Vec::new();
    for root in &roots {
        found.extend(walk::manifests(root, confinement(root).as_deref())?);
    }
    // `./prod/db.yaml` is named `prod/db.yaml`, as the user would.
    let mut files: Vec<PathBuf> = committable(found)
        .into_iter()
        .map(|p| p.strip_prefix(".").map(Path::to_path_buf).unwrap_or(p))
        .collect();
    files.sort();
    files.dedup();
    let mut lookup = Lookup::new(args.config.as_deref())?;
    let mut planned = Vec::new();
    let mut seen = 0usize;
    let mut asked_cluster = BTreeSet::new();
    for path in files {
        let shown = output::shown_path(&path);
        let Some((objects, format, others)) = read_sealed(&path)? else {
            continue;
        };
        let Some(config) = lookup.config_for(&path)? else {
            continue;
        };
        check_places(&config, Some(&path), Some(&path))?;
        // Renaming onto a committed link would replace it with a copy of what it
        // pointed to; the file it points to is synced under its own name instead.
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
            eprintln!(
                "seal recipients sync: {shown}: a symbolic link; left alone (sync the file it points to)"
            );
            continue;
        }
        let Some(rule) = config.rule_for(&path) else {
            continue;
        };
        let Some(wanted) = &rule.recipients else {
            asked_cluster.insert(format!("{} line {}", config.display(), rule.line));
            continue;
        };
        seen += objects.len();
        let mut changes = Vec::new();
        for (index, object) in objects.iter().enumerate() {
            let at = format!("{shown}: document {}", index + 1);
            if let Some(change) = difference(index, at, object, wanted) {
                changes.push(change);
            }
        }
        if !changes.is_empty() && others {
            bail!(
                "{shown}: holds other objects besides SealedSecrets; seal recipients sync rewrites only files of SealedSecrets (move them to a file of their own)"
            );
        }
        planned.push(Planned {
            path,
            shown,
            format,
            objects,
            changes,
        });
    }
    for rule in asked_cluster {
        eprintln!(
            "seal: note: the rule at {rule} lists no recipients (the cluster is asked for its keys); its files are left to `seal reencrypt`"
        );
    }
    Ok((planned, seen))
}

/// The SealedSecrets of a file, its format, and whether it holds other objects too;
/// `None` for a file without SealedSecrets (or one that is not text and does not say it
/// holds one). A file that says it holds a SealedSecret but does not parse is an error.
fn read_sealed(path: &Path) -> anyhow::Result<Option<(Vec<SealedSecret>, Format, bool)>> {
    let shown = output::shown_path(path);
    let bytes = std::fs::read(path).with_context(|| format!("{shown}: cannot read"))?;
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Ok(None);
    };
    if !text.contains("SealedSecret") {
        return Ok(None);
    }
    let docs = match documents::parse(&shown, text) {
        Ok(docs) => docs,
        Err(e) if declares_kind(text, "SealedSecret") => return Err(e.into()),
        Err(_) => return Ok(None),
    };
    let mut objects = Vec::new();
    let mut others = false;
    for doc in docs {
        let kind = doc.value.get("kind").and_then(|k| k.as_str());
        let api = doc.value.get("apiVersion").and_then(|k| k.as_str());
        if kind == Some("SealedSecret") && api.is_some_and(|a| a.starts_with("seal.dev/")) {
            objects.push(convert::sealed_secret_from_value(doc.value).map_err(|e| e.at(&doc.at))?);
        } else {
            others = true;
        }
    }
    if objects.is_empty() {
        return Ok(None);
    }
    Ok(Some((objects, Format::of(text), others)))
}

/// What changes for `object` to be sealed to exactly `wanted`; `None` when it already is.
fn difference(
    index: usize,
    at: String,
    object: &SealedSecret,
    wanted: &Recipients,
) -> Option<Change> {
    let wanted_list = wanted.to_strings();
    let current = &object.spec.recipients;
    let add: Vec<String> = wanted_list
        .iter()
        .filter(|r| !current.contains(r))
        .cloned()
        .collect();
    let remove: Vec<String> = current
        .iter()
        .filter(|r| !wanted_list.contains(r))
        .cloned()
        .collect();
    let duplicates = current.len() != current.iter().collect::<BTreeSet<_>>().len();
    if add.is_empty() && remove.is_empty() && !duplicates {
        return None;
    }
    Some(Change {
        index,
        at,
        to: wanted.clone(),
        add,
        remove,
    })
}

/// Re-seals every change through the controller; each reply must be sealed to exactly
/// the rule's recipients (the controller replaces its own older keys with its active
/// one: a rule that still lists an older key is out of date, and nothing is written).
fn through_controller(args: &SyncArgs, planned: &mut [Planned]) -> anyhow::Result<()> {
    cluster::block_on(async {
        let cluster = Cluster::connect(&args.cluster).await?;
        for file in planned.iter_mut() {
            for change in &file.changes {
                let object = &mut file.objects[change.index];
                let reply = reseal_there(
                    &cluster,
                    object,
                    &change.add,
                    &change.remove,
                    args.drop_untrusted,
                    &change.at,
                )
                .await?;
                let got: BTreeSet<&String> = reply.spec.recipients.iter().collect();
                let wanted = change.to.to_strings();
                if got != wanted.iter().collect::<BTreeSet<_>>() {
                    let extra: Vec<&str> = got
                        .iter()
                        .filter(|r| !wanted.contains(r))
                        .map(|r| r.as_str())
                        .collect();
                    let missing: Vec<&str> = wanted
                        .iter()
                        .filter(|r| !got.contains(r))
                        .map(String::as_str)
                        .collect();
                    bail!(
                        "{}: the controller re-sealed it to other recipients than the rule lists (also {}; not {}); nothing written (it replaces its older keys with its active one: update the rule, or re-seal here with -i)",
                        change.at,
                        list_or_none(&extra),
                        list_or_none(&missing)
                    );
                }
                *object = reply;
            }
        }
        Ok(())
    })
}

fn list_or_none(list: &[&str]) -> String {
    if list.is_empty() {
        "none".to_owned()
    } else {
        list.iter()
            .map(|r| output::shown(r).into_owned())
            .collect::<Vec<_>>()
            .join(", ")
    }
}
