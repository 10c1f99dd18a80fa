//! `seal migrate FILE|DIR...`: bitnami sealed-secrets SealedSecrets in, seal
//! SealedSecrets out. The values are opened here with the bitnami keys given
//! (`--sealed-secrets-keys`) and sealed to the recipients (`-r`/`-R`, the `.seal.yaml`
//! rule, or the cluster's controller); the scope is carried over (strict → strict,
//! namespace-wide → namespace, cluster-wide → cluster), the template's labels,
//! annotations, type and immutability are kept, and every object is marked
//! `seal.dev/migrated-from` so that the controller may take its Secret over from the
//! bitnami controller. What seal cannot express is refused by name (see
//! [`seal_core::bitnami::object`]).
//!
//! With `--online` no key is needed here: each object goes to the controller's
//! `POST /v1/migrate`, which opens it with the bitnami keys an admin imported (`unseal
//! keys import --sealed-secrets`) and seals it to its own key and the recipients it
//! trusts; [`migrate_online`] checks every reply like `seal reencrypt` does.
//!
//! Everything is read, opened and sealed in memory first; only when every object of
//! every file succeeded is anything written (standard output, `-w`, or with `--beside`
//! `NAME.seal.EXT` next to each `NAME.EXT` holding bitnami SealedSecrets, staged and then
//! renamed into place).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use seal_core::bitnami::object::is_bitnami;
use seal_core::bitnami::{self, BitnamiKeys, BitnamiSealedSecret};
use seal_core::documents::{self, Format};
use seal_core::{Location, Recipients, SealedSecret, files};

use crate::cli::MigrateArgs;
use crate::commands::{RecipientChoice, migrate_online};
use crate::output::{self, StagedWrites};
use crate::repo::check::declares_kind;
use crate::repo::lookup::{Applied, Lookup};
use crate::repo::walk;

/// One input file and the SealedSecrets made from its bitnami objects.
struct Converted {
    path: PathBuf,
    format: Format,
    objects: Vec<SealedSecret>,
}

/// One bitnami object to convert: where it stands, what it is, its document as read
/// (sent as is to the controller with `--online`) and the recipients it goes to.
pub(crate) struct Job {
    pub(crate) file: usize,
    pub(crate) at: Location,
    pub(crate) object: BitnamiSealedSecret,
    pub(crate) document: serde_json::Value,
    pub(crate) recipients: Recipients,
}

/// Runs `seal migrate`.
pub fn run(args: MigrateArgs) -> anyhow::Result<()> {
    let keys = if args.online {
        None
    } else {
        Some(load_keys(&args.sealed_secrets_keys)?)
    };
    let (mut files, jobs) = read_all(&args)?;
    let converted = match &keys {
        Some(keys) => jobs
            .iter()
            .map(|job| {
                job.object
                    .migrate(keys, &job.recipients)
                    .map_err(|e| anyhow::Error::from(e.at(&job.at)))
            })
            .collect::<anyhow::Result<Vec<_>>>()?,
        None => migrate_online::convert_all(&args, &jobs)?,
    };
    for (job, sealed) in jobs.iter().zip(converted) {
        files[job.file].objects.push(sealed);
    }
    write_all(&args, files)
}

/// Reads every input file: each bitnami object with its recipients, nothing opened yet.
fn read_all(args: &MigrateArgs) -> anyhow::Result<(Vec<Converted>, Vec<Job>)> {
    let inputs = inputs(&args.paths)?;
    let mut choice = RecipientChoice::new(&args.recipients)?;
    let mut lookup = Lookup::new(args.config.as_deref())?;
    let mut files = Vec::new();
    let mut jobs = Vec::new();
    for (path, explicit) in inputs {
        let shown = output::shown_path(&path);
        let text = files::read_input(&path.to_string_lossy())?;
        let docs = match documents::parse(&shown, &text) {
            Ok(docs) => docs,
            // A folder may hold templates that are not YAML; one that says it is a
            // bitnami SealedSecret must parse, though.
            Err(_) if !explicit && !mentions_bitnami(&text) => continue,
            Err(e) => return Err(e.into()),
        };
        let target = args.beside.then(|| beside_name(&path));
        let governs = target
            .clone()
            .or_else(|| args.output.write.clone())
            .unwrap_or_else(|| path.clone());
        let config = lookup.config_for(&governs)?;
        let applied = config.as_deref().and_then(|c| Applied::of(c, &governs));
        let rule = applied.as_ref().map(|a| a.rule);
        let before = jobs.len();
        for doc in docs.into_iter().filter(|d| is_bitnami(&d.value)) {
            let object = BitnamiSealedSecret::read(&doc.value, args.namespace.as_deref())
                .map_err(|e| e.at(&doc.at))?;
            let recipients = choice.pick(rule)?;
            jobs.push(Job {
                file: files.len(),
                at: doc.at,
                object,
                document: doc.value,
                recipients,
            });
        }
        if jobs.len() == before {
            if explicit {
                bail!("{shown}: no {} SealedSecret in it", bitnami::API_VERSION);
            }
            continue;
        }
        files.push(Converted {
            path,
            format: Format::of(&text),
            objects: Vec::new(),
        });
    }
    if files.is_empty() {
        bail!("no {} SealedSecret found", bitnami::API_VERSION);
    }
    Ok((files, jobs))
}

/// Writes every converted file, all or nothing.
fn write_all(args: &MigrateArgs, converted: Vec<Converted>) -> anyhow::Result<()> {
    let count: usize = converted.iter().map(|c| c.objects.len()).sum();
    if args.beside {
        let mut writes = StagedWrites::default();
        for file in &converted {
            let target = beside_name(&file.path);
            if target.exists() {
                bail!(
                    "{}: already exists; remove it to migrate {} again",
                    output::shown_path(&target),
                    output::shown_path(&file.path)
                );
            }
            let text = documents::render(&file.objects, file.format)?;
            writes.stage(&target, text.as_bytes(), 0o644)?;
        }
        writes.commit()?;
        for file in &converted {
            eprintln!(
                "{}: {} SealedSecret(s) migrated",
                output::shown_path(&beside_name(&file.path)),
                file.objects.len()
            );
        }
    } else {
        let all: Vec<SealedSecret> = converted.into_iter().flat_map(|c| c.objects).collect();
        output::emit(&all, &args.output)?;
    }
    eprintln!(
        "seal migrate: {count} SealedSecret(s) migrated; each is marked {} so that the controller takes its Secret over from the bitnami controller",
        bitnami::MIGRATED_FROM_ANNOTATION
    );
    Ok(())
}

/// Every key of every `--sealed-secrets-keys` file.
fn load_keys(paths: &[String]) -> anyhow::Result<BitnamiKeys> {
    let mut keys = BitnamiKeys::new();
    for path in paths {
        let text = files::read_input(path)?;
        keys.add_file(files::display_name(path), &text)?;
    }
    Ok(keys)
}

/// The files to read, each once: each FILE as given (explicit: it must hold a bitnami
/// SealedSecret), and every manifest under each DIR.
fn inputs(paths: &[PathBuf]) -> anyhow::Result<Vec<(PathBuf, bool)>> {
    let mut all: Vec<(PathBuf, bool)> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut add = |file: PathBuf, explicit: bool| {
        // A file named twice (itself and under a folder given too) is read once.
        let real = std::fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
        if seen.insert(real) {
            all.push((file, explicit));
        }
    };
    for path in paths {
        let meta = std::fs::metadata(path)
            .with_context(|| format!("{}: cannot read", output::shown_path(path)))?;
        if meta.is_dir() {
            for file in walk::manifests(path, None)? {
                if !is_seal_output(&file) {
                    add(file, false);
                }
            }
        } else {
            add(path.clone(), true);
        }
    }
    Ok(all)
}

/// Whether a file is one `--beside` wrote (`NAME.seal.EXT`).
fn is_seal_output(path: &Path) -> bool {
    path.file_stem()
        .and_then(|s| s.to_str())
        .is_some_and(|s| s.ends_with(".seal"))
}

/// Whether a text that does not parse says it holds a bitnami SealedSecret.
fn mentions_bitnami(text: &str) -> bool {
    text.contains(bitnami::API_VERSION) || declares_kind(text, "SealedSecret")
}

/// Where `--beside` writes what came from `NAME.EXT`: `NAME.seal.EXT` in the same folder.
pub fn beside_name(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!("{stem}.seal.{}", ext.to_string_lossy()),
        None => format!("{stem}.seal.yaml"),
    };
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beside_names_keep_folder_and_extension() {
        assert_eq!(
            beside_name(Path::new("apps/db.yaml")),
            PathBuf::from("apps/db.seal.yaml")
        );
        assert_eq!(
            beside_name(Path::new("db-sealed.json")),
            PathBuf::from("db-sealed.seal.json")
        );
        assert!(is_seal_output(&beside_name(Path::new("x/y.yml"))));
        assert!(!is_seal_output(Path::new("x/y.sealed.yaml")));
    }
}
