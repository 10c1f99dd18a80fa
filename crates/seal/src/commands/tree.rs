//! `seal tree [DIR]`: seals every plaintext Secret file under DIR that the `.seal.yaml`
//! rules cover into its `*.sealed.*` counterpart, in parallel. Unchanged values keep
//! their ciphertext, so re-running on an unchanged tree writes nothing. `--check` only
//! reports what would change (exit 1 if anything would).

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use seal_core::Recipients;
use seal_core::convert::SealOptions;

use crate::cli::TreeArgs;
use crate::commands::RecipientChoice;
use crate::output;
use crate::repo::config::real_path;
use crate::repo::lookup::Lookup;
use crate::repo::memory::Memory;
use crate::repo::tree::{self, Change, Job, Planned};
use crate::repo::{git, walk};

/// A file the rules cover, with what to seal it with.
struct Candidate {
    plaintext: PathBuf,
    sealed: PathBuf,
    relative: String,
    root: PathBuf,
    recipients: Recipients,
    options: SealOptions,
    /// Why the file may not be sealed where its name says it is (a symbolic link leads
    /// elsewhere); an error only if it turns out to be a plaintext Secret file.
    misplaced: Option<String>,
}

/// Seals the tree (or checks it with `--check`).
pub fn run(args: TreeArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let (candidates, uncovered) = collect(&args)?;
    let memories = open_memories(&candidates)?;
    let results = plan_all(&candidates, &memories);
    let mut errors = Vec::new();
    let mut planned = Vec::new();
    for (candidate, result) in candidates.iter().zip(results) {
        match result {
            Ok(Some(_)) if candidate.misplaced.is_some() => {
                errors.extend(candidate.misplaced.clone());
            }
            Ok(Some(p)) => planned.push((candidate, p)),
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    if errors.len() == 1 {
        bail!("{}; nothing was written", errors[0]);
    }
    if !errors.is_empty() {
        for e in &errors {
            eprintln!("seal: {}", output::one_line(e));
        }
        bail!(
            "{} file(s) could not be sealed; nothing was written",
            errors.len()
        );
    }
    let count = |want: fn(&Change) -> bool| planned.iter().filter(|(_, p)| want(&p.change)).count();
    let created = count(|c| matches!(c, Change::Created));
    let updated = count(|c| matches!(c, Change::Updated(_)));
    let unchanged = count(|c| matches!(c, Change::Unchanged));
    if args.check {
        for (candidate, p) in &planned {
            match &p.change {
                Change::Created => println!(
                    "{}: would be created",
                    output::shown_path(&candidate.sealed)
                ),
                Change::Updated(keys) if keys.is_empty() => {
                    println!(
                        "{}: would change (metadata only)",
                        output::shown_path(&candidate.sealed)
                    );
                }
                Change::Updated(keys) => println!(
                    "{}: would change (new ciphertext for {})",
                    output::shown_path(&candidate.sealed),
                    keys.join(", ")
                ),
                Change::Unchanged => {}
            }
        }
        if created + updated > 0 {
            bail!(
                "seal tree --check: {} sealed file(s) out of date",
                created + updated
            );
        }
        eprintln!(
            "seal tree --check: {} sealed file(s) up to date",
            planned.len()
        );
        return Ok(());
    }
    write_all(&planned, memories)?;
    warn_unignored(&planned);
    eprintln!(
        "seal tree: {} Secret file(s): {created} created, {updated} updated, {unchanged} unchanged{} in {:.2} s",
        planned.len(),
        if uncovered > 0 {
            format!(" ({uncovered} manifest(s) outside every rule)")
        } else {
            String::new()
        },
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The files the rules cover, and how many manifests no rule covers.
fn collect(args: &TreeArgs) -> anyhow::Result<(Vec<Candidate>, usize)> {
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from("."));
    if !dir.is_dir() {
        bail!("{}: not a folder", dir.display());
    }
    let mut lookup = Lookup::new(args.config.as_deref())?;
    let Some(top) = lookup.config_for(&dir.join(crate::repo::config::FILE_NAME))? else {
        bail!(
            "{}: no {} in this folder or above; write one (see README) or give --config",
            output::shown_path(&dir),
            crate::repo::config::FILE_NAME
        );
    };
    // Folders reached through a symbolic link must stay in the rules' folder (or the
    // tree's, when it lies outside it); each plaintext file is checked too, below.
    let real_dir = real_path(&dir)
        .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", output::shown_path(&dir)))?;
    let within = real_path(&top.root)
        .ok()
        .filter(|root| real_dir.starts_with(root))
        .unwrap_or(real_dir);
    let mut choice = RecipientChoice::new(&args.recipients)?;
    let mut candidates = Vec::new();
    let mut uncovered = 0;
    let mut outputs: BTreeMap<PathBuf, PathBuf> = BTreeMap::new();
    for file in walk::manifests(&dir, Some(&within))? {
        let is_rules =
            file.file_name().and_then(|n| n.to_str()) == Some(crate::repo::config::FILE_NAME);
        let Some(sealed) = tree::sealed_path(&file).filter(|_| !is_rules) else {
            continue;
        };
        let Some(config) = lookup.config_for(&sealed)? else {
            uncovered += 1;
            continue;
        };
        let (Some(rule), Some(relative)) = (config.rule_for(&sealed), config.relative(&sealed))
        else {
            uncovered += 1;
            continue;
        };
        if let Some(first) = outputs.insert(sealed.clone(), file.clone()) {
            bail!(
                "{} and {} both seal to {}; rename one",
                output::shown_path(&first),
                output::shown_path(&file),
                output::shown_path(&sealed)
            );
        }
        let recipients = choice.pick(Some(rule))?;
        let misplaced = match real_path(&file) {
            Ok(real) => config.check_place(&file, &real, tree::sealed_path).err(),
            Err(e) => Some(format!("{}: cannot read: {e}", output::shown_path(&file))),
        };
        candidates.push(Candidate {
            plaintext: file,
            sealed,
            relative,
            root: config.root.clone(),
            recipients,
            options: SealOptions {
                scope: rule.scope.unwrap_or_default(),
                default_namespace: rule.namespace.clone(),
                mode: Default::default(),
            },
            misplaced,
        });
    }
    Ok((candidates, uncovered))
}

fn open_memories(candidates: &[Candidate]) -> anyhow::Result<BTreeMap<PathBuf, Memory>> {
    let mut memories = BTreeMap::new();
    for c in candidates {
        if !memories.contains_key(&c.root) {
            memories.insert(c.root.clone(), Memory::open(&c.root)?);
        }
    }
    Ok(memories)
}

/// Seals every candidate on all cores, with a progress bar on a terminal.
fn plan_all(
    candidates: &[Candidate],
    memories: &BTreeMap<PathBuf, Memory>,
) -> Vec<Result<Option<Planned>, String>> {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let finished = AtomicBool::new(false);
    let workers = std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
        .min(candidates.len())
        .max(1);
    let mut results: Vec<Option<Result<Option<Planned>, String>>> =
        (0..candidates.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let show = std::io::stderr().is_terminal() && candidates.len() > 1;
        let progress = show.then(|| {
            scope.spawn(|| {
                while !finished.load(Ordering::Relaxed) {
                    draw(done.load(Ordering::Relaxed), candidates.len());
                    std::thread::sleep(Duration::from_millis(100));
                }
                draw(candidates.len(), candidates.len());
                eprintln!();
            })
        });
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(c) = candidates.get(i) else { break };
                        let job = Job {
                            plaintext: &c.plaintext,
                            sealed: &c.sealed,
                            relative: &c.relative,
                            recipients: &c.recipients,
                            options: &c.options,
                        };
                        let result = match memories.get(&c.root) {
                            Some(memory) => tree::plan(&job, memory),
                            None => Err(format!("{}: no cache opened", c.root.display())),
                        };
                        mine.push((i, result));
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    mine
                })
            })
            .collect();
        for h in handles {
            for (i, r) in h.join().unwrap_or_default() {
                results[i] = Some(r);
            }
        }
        finished.store(true, Ordering::Relaxed);
        if let Some(p) = progress {
            let _ = p.join();
        }
    });
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err("a sealing worker stopped".to_owned())))
        .collect()
}

fn draw(done: usize, total: usize) {
    let width = 30;
    let filled = done * width / total.max(1);
    let mut err = std::io::stderr().lock();
    let _ = write!(
        err,
        "\rseal tree [{}{}] {done}/{total}",
        "#".repeat(filled),
        ".".repeat(width - filled)
    );
    let _ = err.flush();
}

/// Writes every changed sealed file (each atomically), then the caches.
fn write_all(
    planned: &[(&Candidate, Planned)],
    mut memories: BTreeMap<PathBuf, Memory>,
) -> anyhow::Result<()> {
    for (candidate, p) in planned {
        if p.change != Change::Unchanged {
            output::write_file(&candidate.sealed, p.text.as_bytes(), 0o644)?;
        }
        if let Some(memory) = memories.get_mut(&candidate.root) {
            memory.record(candidate.relative.clone(), p.entries.clone());
        }
    }
    for memory in memories.values() {
        memory.save()?;
    }
    Ok(())
}

/// Warns about plaintext files Git would commit (in a Git work tree only).
fn warn_unignored(planned: &[(&Candidate, Planned)]) {
    let Some(first) = planned.first() else { return };
    let dir = first.0.plaintext.parent().unwrap_or(Path::new("."));
    let Ok(top) = git::top_level(dir) else { return };
    if let Ok(set) = git::committable(&top) {
        let unignored = planned
            .iter()
            .map(|(c, _)| c.plaintext.as_path())
            .filter(|p| git::is_in(&set, p));
        for path in unignored {
            eprintln!(
                "seal: warning: {} holds plaintext and Git does not ignore it; add it (or `*.secret.yaml`) to .gitignore",
                output::shown_path(path)
            );
        }
    }
}
