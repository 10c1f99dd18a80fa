//! A config repo written by an attacker, run by its victim: a committed symbolic link that
//! would have `seal tree` (or `seal … -w`) seal plaintext lying outside the repo, or under
//! another rule, to the attacker's recipients; strings in a SealedSecret that would forge
//! lines of a terminal or a CI log when `seal check` or `seal inspect` print them; and a
//! staged link that would have the pre-commit `seal check` read the file it points to.

#![cfg(unix)]

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

use seal_e2e::{run_in, scratch, write};

/// The victim's plaintext, outside the repo (and the value that must never leak).
const VICTIM_SECRET: &str =
    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: victim-pw\n";

/// A GitHub Actions annotation, then erase-line and cursor-up escapes: what a hostile
/// string writes into a log that prints it raw.
const FORGED: &str = "\n::error file=.seal.yaml,line=1::all good\n\u{1b}[2K\u{1b}[1A";

/// The public example recipient, standing for the attacker's key.
fn attacker_key() -> String {
    let text = std::fs::read_to_string(seal_e2e::example_recipients()).expect("recipients");
    text.lines()
        .find(|l| l.starts_with("age1"))
        .expect("a recipient")
        .to_owned()
}

/// `outside/victim/prod/db.secret.yaml` and `repo/` with a `.seal.yaml` that seals
/// `app/**` to the attacker and `prod/**` to the victim's cluster.
fn layout() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = scratch();
    let repo = dir.path().join("repo");
    for folder in ["victim/prod", "repo/app", "repo/prod", "repo/keys"] {
        std::fs::create_dir_all(dir.path().join(folder)).expect("mkdir");
    }
    write(
        &dir.path().join("victim/prod"),
        "db.secret.yaml",
        VICTIM_SECRET,
    );
    write(&repo.join("prod"), "db.secret.yaml", VICTIM_SECRET);
    let prod = run_in(&repo, "seal", &["keygen", "-o", "keys/prod.key"], None);
    let prod = prod
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("Public key: "))
        .expect("public key")
        .to_owned();
    write(
        &repo,
        ".seal.yaml",
        &format!(
            "rules:\n  - path: app/**\n    recipients: [{}]\n    namespace: apps\n  - path: prod/**\n    recipients: [{prod}]\n    namespace: apps\n",
            attacker_key()
        ),
    );
    (dir, repo)
}

fn assert_nothing_sealed(repo: &Path) {
    for sealed in ["app/notes.sealed.yaml", "prod/db.sealed.yaml"] {
        assert!(!repo.join(sealed).exists(), "{sealed} was written");
    }
}

#[test]
fn seal_tree_refuses_a_link_to_plaintext_outside_the_repo() {
    let (_dir, repo) = layout();
    symlink(
        "../../victim/prod/db.secret.yaml",
        repo.join("app/notes.yaml"),
    )
    .expect("links");
    let line = run_in(&repo, "seal", &["tree"], None).fails_with(1);
    assert!(
        line.contains("app/notes.yaml: a symbolic link leads out of")
            && line.ends_with("nothing was written"),
        "{line}"
    );
    assert!(!line.contains("victim-pw"), "{line}");
    assert_nothing_sealed(&repo);
}

#[test]
fn seal_tree_refuses_a_link_into_another_rules_folder() {
    let (_dir, repo) = layout();
    symlink("../prod/db.secret.yaml", repo.join("app/notes.yaml")).expect("links");
    let line = run_in(&repo, "seal", &["tree"], None).fails_with(1);
    assert!(
        line.contains("app/notes.yaml: a symbolic link leads to")
            && line.contains("which the rule at line 5 of")
            && line.contains("not the rule at line 2 that covers this path"),
        "{line}"
    );
    assert_nothing_sealed(&repo);
}

#[test]
fn seal_tree_refuses_a_linked_folder_outside_the_repo() {
    let (_dir, repo) = layout();
    symlink("../../victim/prod", repo.join("app/victim")).expect("links");
    let line = run_in(&repo, "seal", &["tree"], None).fails_with(1);
    assert!(
        line.contains("app/victim: a symbolic link to a folder outside"),
        "{line}"
    );
    assert!(!repo.join("app/victim/db.sealed.yaml").exists());
    assert_nothing_sealed(&repo);
}

#[test]
fn seal_tree_still_follows_a_link_within_one_rule() {
    let (_dir, repo) = layout();
    std::fs::create_dir_all(repo.join("app/a")).expect("mkdir");
    write(&repo.join("app/a"), "db.secret.yaml", VICTIM_SECRET);
    symlink("a/db.secret.yaml", repo.join("app/b.secret.yaml")).expect("links");
    std::fs::remove_file(repo.join("prod/db.secret.yaml")).expect("removes");
    run_in(&repo, "seal", &["tree"], None).ok();
    assert!(repo.join("app/b.sealed.yaml").is_file());
    assert!(repo.join("app/a/db.sealed.yaml").is_file());
}

#[test]
fn seal_by_the_rules_refuses_a_link_out_of_the_repo() {
    let (_dir, repo) = layout();
    symlink(
        "../../victim/prod/db.secret.yaml",
        repo.join("app/notes.yaml"),
    )
    .expect("links");
    for args in [
        &["app/notes.yaml", "-w", "app/notes.sealed.yaml"][..],
        &["app/notes.yaml"][..],
    ] {
        let line = run_in(&repo, "seal", args, None).fails_with(1);
        assert!(
            line.contains("app/notes.yaml: a symbolic link leads out of"),
            "{args:?}: {line}"
        );
    }
    // The -w target's folder, through a link, under another rule.
    symlink("../prod", repo.join("app/p")).expect("links");
    let line = run_in(
        &repo,
        "seal",
        &["prod/db.secret.yaml", "-w", "app/p/db.sealed.yaml"],
        None,
    )
    .fails_with(1);
    assert!(
        line.contains("app/p/db.sealed.yaml: a symbolic link leads to"),
        "{line}"
    );
    assert_nothing_sealed(&repo);
}

/// A SealedSecret whose `spec.recipients` and `spec.template.type` carry [`FORGED`].
fn forged_sealed_secret(repo: &Path) {
    let quoted = |s: String| serde_json::to_string(&s).expect("quotes");
    let key = attacker_key();
    write(
        &repo.join("app"),
        "db.sealed.yaml",
        &format!(
            "apiVersion: seal.dev/v1alpha1\nkind: SealedSecret\nmetadata: {{name: db, namespace: apps}}\nspec:\n  recipients: [{key}, {}]\n  template: {{type: {}}}\n  encryptedData: {{}}\n",
            quoted(format!("{key}{FORGED}")),
            quoted(format!("Opaque{FORGED}"))
        ),
    );
}

fn assert_no_forged_line(output: &str) {
    for line in output.lines() {
        assert!(!line.starts_with("::"), "forged line: {output:?}");
    }
    assert!(!output.contains('\u{1b}'), "escape sequence: {output:?}");
}

#[test]
fn seal_check_reports_a_forged_recipient_without_echoing_it() {
    let (_dir, repo) = layout();
    std::fs::remove_file(repo.join("prod/db.secret.yaml")).expect("removes");
    forged_sealed_secret(&repo);
    let run = run_in(&repo, "seal", &["check", "."], None);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_no_forged_line(&run.stdout);
    assert_no_forged_line(&run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{:?}", run.stdout);
    assert!(
        lines[0].ends_with(
            "app/db.sealed.yaml: document 1: spec.recipients[1]: not an age X25519 recipient as seal writes them (age1…, lower case, nothing around it); re-seal this object"
        ),
        "{}",
        lines[0]
    );
}

#[test]
fn seal_inspect_shows_forged_strings_quoted() {
    let (_dir, repo) = layout();
    forged_sealed_secret(&repo);
    let out = run_in(&repo, "seal", &["inspect", "app/db.sealed.yaml"], None).ok();
    assert_no_forged_line(&out);
    assert!(out.contains("  type:       \"Opaque\\n::error"), "{out}");
    let forged = out
        .lines()
        .find(|l| l.ends_with("  warning: not an age X25519 recipient"))
        .unwrap_or_else(|| panic!("no warning: {out}"));
    assert!(forged.starts_with("    \"age1"), "{forged}");
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=seal-e2e",
            "-c",
            "user.email=e2e@example.invalid",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {out:?}");
}

#[test]
fn the_pre_commit_check_reads_a_staged_link_not_what_it_points_to() {
    let (_dir, repo) = layout();
    std::fs::remove_file(repo.join("prod/db.secret.yaml")).expect("removes");
    git(&repo, &["init", "-q"]);
    symlink(
        "../../victim/prod/db.secret.yaml",
        repo.join("app/notes.yaml"),
    )
    .expect("links");
    git(&repo, &["add", "app/notes.yaml"]);
    // What is committed is the link (its target's name), which holds no Secret; the
    // plaintext it points to is neither committed nor read.
    let run = run_in(&repo, "seal", &["check"], None);
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    assert!(!run.stdout.contains("password"), "{}", run.stdout);
}

#[test]
fn seal_tree_refuses_a_cache_that_came_with_the_repo() {
    let (_dir, repo) = layout();
    // The attacker commits a cache whose key they know: the victim's digests of short
    // values, written with it, could be tested against guesses offline.
    std::fs::create_dir_all(repo.join(".seal-cache")).expect("mkdir");
    std::fs::write(repo.join(".seal-cache/key"), [7u8; 32]).expect("key");
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "-f", ".seal-cache/key"]);
    let line = run_in(&repo, "seal", &["tree"], None).fails_with(1);
    assert!(
        line.contains(".seal-cache") && line.contains("tracked by Git"),
        "{line}"
    );
    assert_nothing_sealed(&repo);
    assert_eq!(
        std::fs::read(repo.join(".seal-cache/key")).expect("key"),
        [7u8; 32],
        "the planted cache is left for the user to remove"
    );
}
