//! `seal recipients add|remove FILE... -r age1…`: re-targets existing SealedSecrets (add
//! a disaster-recovery cluster, drop a retired one) keeping every value and binding.
//! With `-i` the values are opened here with that identity; without it the cluster's
//! controller re-seals them (plaintext never leaves it, and it adds only keys its admin
//! trusts). Files are written, each atomically, once every object of every file is done.

use std::path::Path;

use anyhow::bail;
use seal_core::documents::{self, Format};
use seal_core::{KeyRing, Recipients, SealedSecret, convert, files};

use crate::cli::{RecipientsCommand, RetargetArgs};
use crate::cluster::{self, Cluster};
use crate::commands::{edit, load_recipients_if_any, reseal_reply};
use crate::edit::who::{self, Known};
use crate::output;
use crate::repo::lookup::Lookup;

/// Which way the recipients change.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Add,
    Remove,
}

/// Runs `seal recipients add` or `seal recipients remove`.
pub fn run(command: RecipientsCommand) -> anyhow::Result<()> {
    match command {
        RecipientsCommand::Add(args) => retarget(args, Direction::Add),
        RecipientsCommand::Remove(args) => retarget(args, Direction::Remove),
        RecipientsCommand::Sync(args) => super::recipients_sync::run(args),
    }
}

/// One file: its objects and format.
struct Loaded {
    path: String,
    format: Format,
    objects: Vec<SealedSecret>,
    changed: usize,
}

fn retarget(args: RetargetArgs, direction: Direction) -> anyhow::Result<()> {
    let given = load_recipients_if_any(&args.recipients)?;
    if given.is_empty() {
        bail!("name the recipients with -r or -R");
    }
    let given = given.to_strings();
    let mut loaded = Vec::new();
    for path in &args.files {
        let text = files::read_input(path)?;
        let objects = documents::parse(path, &text)?
            .into_iter()
            .map(|doc| convert::sealed_secret_from_value(doc.value).map_err(|e| e.at(&doc.at)))
            .collect::<Result<Vec<_>, _>>()?;
        if objects.is_empty() {
            bail!("{path}: no SealedSecrets");
        }
        loaded.push(Loaded {
            path: path.clone(),
            format: Format::of(&text),
            objects,
            changed: 0,
        });
    }
    if args.identity.is_empty() {
        through_controller(&args, &given, direction, &mut loaded)?;
    } else {
        let keys = identities(&args.identity)?;
        // Every recipient the values will go to must be vouched for, before anything is
        // opened: the objects' own lists come from the repo, where anyone with write
        // access could have swapped a key of theirs in.
        let mut named = edit::trusted(&args.trust_recipient)?;
        if direction == Direction::Add {
            named.extend(given.iter().cloned());
        }
        let mut lookup = Lookup::new(None)?;
        let mut targets = Vec::new();
        for file in &loaded {
            let rule = who::rule_listing(&mut lookup, Path::new(&file.path))?;
            let known = Known::gather(&keys, rule, named.clone());
            for (index, object) in file.objects.iter().enumerate() {
                let at = format!("{}: document {}", file.path, index + 1);
                let to = target(&object.spec.recipients, &given, direction, &at)?;
                if let Some(to) = &to {
                    known.refuse_unknown(&at, &to.to_strings())?;
                }
                targets.push(to);
            }
        }
        let mut targets = targets.into_iter();
        for file in &mut loaded {
            for (index, object) in file.objects.iter_mut().enumerate() {
                let at = format!("{}: document {}", file.path, index + 1);
                let Some(to) = targets.next().flatten() else {
                    continue;
                };
                *object = reseal_here(object, &keys, &to, &at)?;
                file.changed += 1;
            }
        }
    }
    for file in &loaded {
        if file.changed == 0 {
            eprintln!("{}: unchanged", file.path);
            continue;
        }
        let text = documents::render(&file.objects, file.format)?;
        output::write_file(Path::new(&file.path), text.as_bytes(), 0o644)?;
        eprintln!("{}: re-sealed {} SealedSecret(s)", file.path, file.changed);
    }
    Ok(())
}

/// The new recipients of an object, or `None` when the change is already made.
fn target(
    current: &[String],
    given: &[String],
    direction: Direction,
    at: &str,
) -> anyhow::Result<Option<Recipients>> {
    let wanted: Vec<&String> = match direction {
        Direction::Add => current.iter().chain(given).collect(),
        Direction::Remove => current.iter().filter(|r| !given.contains(r)).collect(),
    };
    let mut to = Recipients::new();
    for r in wanted {
        to.add_arg("spec.recipients", r)?;
    }
    if to.is_empty() {
        bail!("{at}: removing these would leave no recipient");
    }
    let mut before = current.to_vec();
    before.sort();
    Ok((to.to_strings() != before).then_some(to))
}

fn through_controller(
    args: &RetargetArgs,
    given: &[String],
    direction: Direction,
    loaded: &mut [Loaded],
) -> anyhow::Result<()> {
    let (add, remove): (&[String], &[String]) = match direction {
        Direction::Add => (given, &[]),
        Direction::Remove => (&[], given),
    };
    cluster::block_on(async {
        let cluster = Cluster::connect(&args.recipients.cluster).await?;
        for file in loaded.iter_mut() {
            for (index, object) in file.objects.iter_mut().enumerate() {
                let at = format!("{}: document {}", file.path, index + 1);
                if target(&object.spec.recipients, given, direction, &at)?.is_none() {
                    continue;
                }
                *object =
                    reseal_there(&cluster, object, add, remove, args.drop_untrusted, &at).await?;
                file.changed += 1;
            }
        }
        Ok(())
    })
}

/// The identities of the `-i` files.
pub(crate) fn identities(paths: &[String]) -> anyhow::Result<KeyRing> {
    let mut keys = KeyRing::new();
    for path in paths {
        let text = files::read_input(path)?;
        keys.add_file(files::display_name(path), &text)?;
    }
    Ok(keys)
}

/// `object` re-sealed here to exactly `to`: every value opened with `keys` and sealed
/// again with the same binding. `at` names the object in errors.
pub(crate) fn reseal_here(
    object: &SealedSecret,
    keys: &KeyRing,
    to: &Recipients,
    at: &str,
) -> anyhow::Result<SealedSecret> {
    let plain =
        convert::open_within_budget(object, keys).map_err(|e| anyhow::anyhow!("{at}: {e}"))?;
    let mut resealed = convert::for_git(object);
    resealed.spec.recipients = to.to_strings();
    resealed.spec.encrypted_data.clear();
    convert::seal_into(&mut resealed, &plain, to).map_err(|e| anyhow::anyhow!("{at}: {e}"))?;
    Ok(resealed)
}

/// `object` re-sealed by the cluster's controller with `add` added and `remove` removed,
/// the reply checked by [`reseal_reply::accept`] (plaintext never leaves the cluster).
pub(crate) async fn reseal_there(
    cluster: &Cluster,
    object: &SealedSecret,
    add: &[String],
    remove: &[String],
    drop_untrusted: bool,
    at: &str,
) -> anyhow::Result<SealedSecret> {
    let query: Vec<String> = add
        .iter()
        .map(|r| format!("add={r}"))
        .chain(remove.iter().map(|r| format!("remove={r}")))
        .collect();
    let path = if query.is_empty() {
        "/v1/reencrypt".to_owned()
    } else {
        format!("/v1/reencrypt?{}", query.join("&"))
    };
    let body = documents::render(std::slice::from_ref(object), Format::Yaml)?;
    let answer = cluster
        .call("POST", &path, body.as_bytes().to_vec())
        .await?;
    if answer.status != 200 {
        bail!("{at}: not re-sealed: {}", cluster::refusal(&answer));
    }
    reseal_reply::accept(at, object, &answer, remove, drop_untrusted)
}
