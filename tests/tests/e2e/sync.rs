//! `seal recipients sync`: after a `.seal.yaml` rule gains or loses a recipient, one
//! command brings the repo to the rules; `--check` is the CI guard; a failure leaves the
//! repo byte for byte as it was. (Through the controller: `online.rs`.)

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use seal_e2e::*;

const DB: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: apps\nstringData:\n  password: sync-db\n";
const API: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: api\n  namespace: apps\nstringData:\n  token: sync-api\n";

/// A repo: prod/ and staging/ sealed to the example key by their rules, and a DR key
/// (`dr.key`, outside the sealed folders) that nothing is sealed to yet.
struct Repo {
    dir: tempfile::TempDir,
    dr: String,
}

fn keygen(d: &Path, name: &str) -> String {
    run_in(d, "seal", &["keygen", "-o", name], None).ok();
    std::fs::read_to_string(d.join(name))
        .expect("identity")
        .lines()
        .find_map(|l| l.strip_prefix("# public key: ").map(str::to_owned))
        .expect("recipient")
}

impl Repo {
    fn new() -> Self {
        let dir = scratch();
        let d = dir.path();
        for folder in ["keys", "prod", "staging"] {
            std::fs::create_dir(d.join(folder)).expect("folder");
        }
        std::fs::copy(example_recipients(), d.join("keys/example.txt")).expect("copied");
        let dr = keygen(d, "dr.key");
        std::fs::write(d.join("keys/dr.txt"), format!("{dr}\n")).expect("dr");
        let repo = Self { dir, dr };
        repo.rules("[keys/example.txt]");
        for (plain, sealed, text) in [
            ("prod/db.yaml", "prod/db.sealed.yaml", DB),
            ("prod/api.yaml", "prod/api.sealed.yaml", API),
            ("staging/db.yaml", "staging/db.sealed.yaml", DB),
        ] {
            let d = repo.path();
            write(d, plain, text);
            run_in(d, "seal", &[plain, "-w", sealed], None).ok();
            std::fs::remove_file(d.join(plain)).expect("plaintext removed");
        }
        repo
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Rewrites `.seal.yaml` with these recipient files for prod/ (staging/ stays on
    /// the example key).
    fn rules(&self, prod: &str) {
        std::fs::write(
            self.path().join(".seal.yaml"),
            format!(
                "rules:\n  - path: 'prod/**'\n    recipientsFiles: {prod}\n  - path: 'staging/**'\n    recipientsFiles: [keys/example.txt]\n"
            ),
        )
        .expect("rules");
    }

    fn run(&self, args: &[&str]) -> Run {
        run_in(self.path(), "seal", args, None)
    }

    /// Every file under the repo, path → bytes.
    fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
            for entry in std::fs::read_dir(dir).expect("lists").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    out.insert(path.clone(), std::fs::read(&path).expect("reads"));
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(self.path(), &mut out);
        out
    }

    fn opens_with(&self, identity: &str, file: &str) -> bool {
        run_in(
            self.path(),
            "unseal",
            &["recover", "-i", identity, file],
            None,
        )
        .code
            == Some(0)
    }
}

#[test]
fn sync_brings_the_repo_to_the_rules_and_rewrites_nothing_else() {
    let repo = Repo::new();
    repo.rules("[keys/example.txt, keys/dr.txt]");
    let before = repo.snapshot();

    // seal check sees the drift and points at the command.
    let check = repo.run(&["check", "prod", "staging"]);
    assert_eq!(check.code, Some(1));
    assert!(
        check.stdout.contains(&format!(
            "prod/db.sealed.yaml: document 1: not sealed to {}",
            repo.dr
        )) && check.stdout.contains("`seal recipients sync`"),
        "{}",
        check.stdout
    );

    // --check lists exactly the two prod objects and writes nothing.
    let listed = repo.run(&["recipients", "sync", "--check"]);
    assert_eq!(listed.code, Some(1), "{}", listed.stderr);
    let lines: Vec<&str> = listed.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            format!("prod/api.sealed.yaml: document 1: add {}", repo.dr),
            format!("prod/db.sealed.yaml: document 1: add {}", repo.dr),
        ]
    );
    assert!(
        listed.stderr.contains("run `seal recipients sync`"),
        "{}",
        listed.stderr
    );
    assert_eq!(repo.snapshot(), before);
    assert!(!repo.opens_with("dr.key", "prod/db.sealed.yaml"));

    // Sync with the example identity: prod re-sealed, staging byte for byte.
    let identity = example_identity();
    repo.run(&["recipients", "sync", "-i", &identity]).ok();
    let after = repo.snapshot();
    let changed: Vec<String> = after
        .iter()
        .filter(|(path, bytes)| before.get(*path) != Some(bytes))
        .map(|(path, _)| {
            path.strip_prefix(repo.path())
                .expect("inside")
                .display()
                .to_string()
        })
        .collect();
    assert_eq!(changed, ["prod/api.sealed.yaml", "prod/db.sealed.yaml"]);
    assert_eq!(after.len(), before.len(), "no file added or left behind");
    assert!(repo.opens_with("dr.key", "prod/db.sealed.yaml"));
    assert!(repo.opens_with(&identity, "prod/db.sealed.yaml"));
    repo.run(&["recipients", "sync", "--check"]).ok();
    repo.run(&["check", "prod", "staging"]).ok();
    repo.run(&["recipients", "sync", "-i", &identity]).ok();
    assert_eq!(repo.snapshot(), after, "a second sync changes nothing");

    // The rule drops the example key: only the DR key opens prod afterwards.
    repo.rules("[keys/dr.txt]");
    repo.run(&["recipients", "sync", "-i", "dr.key", "prod"])
        .ok();
    assert!(repo.opens_with("dr.key", "prod/api.sealed.yaml"));
    assert!(!repo.opens_with(&identity, "prod/api.sealed.yaml"));
    assert!(repo.opens_with(&identity, "staging/db.sealed.yaml"));
}

/// The third prod file is sealed to a key the identity does not hold: the first two were
/// already re-sealed in memory when it fails, and none of it reaches the disk.
#[test]
fn a_failed_sync_leaves_the_repo_byte_identical() {
    let repo = Repo::new();
    let d = repo.path();
    let other = keygen(d, "other.key");
    write(d, "plain.yaml", &DB.replace("name: db", "name: zz"));
    repo.run(&["-r", &other, "plain.yaml", "-w", "prod/zz.sealed.yaml"])
        .ok();
    std::fs::remove_file(d.join("plain.yaml")).expect("removed");
    repo.rules("[keys/example.txt, keys/dr.txt]");
    let before = repo.snapshot();
    let identity = example_identity();
    let line = repo
        .run(&["recipients", "sync", "-i", &identity])
        .fails_with(1);
    assert!(line.contains("prod/zz.sealed.yaml: document 1"), "{line}");
    assert_eq!(repo.snapshot(), before);

    // A file that says it is a SealedSecret but does not parse stops the run too.
    std::fs::remove_file(d.join("prod/zz.sealed.yaml")).expect("removed");
    write(
        d,
        "prod/zz.sealed.yaml",
        "apiVersion: seal.dev/v1alpha1\nkind: SealedSecret\nspec: [\n",
    );
    let before = repo.snapshot();
    let line = repo
        .run(&["recipients", "sync", "-i", &identity])
        .fails_with(1);
    assert!(line.contains("prod/zz.sealed.yaml"), "{line}");
    assert_eq!(repo.snapshot(), before);
}

/// A SealedSecret file with a ConfigMap in it: re-rendering would drop the ConfigMap, so
/// sync refuses rather than lose it.
#[test]
fn sync_refuses_to_rewrite_a_file_that_holds_other_objects() {
    let repo = Repo::new();
    let d = repo.path();
    let sealed = std::fs::read_to_string(d.join("prod/db.sealed.yaml")).expect("sealed");
    std::fs::write(
        d.join("prod/db.sealed.yaml"),
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: x}}\n---\n{sealed}"),
    )
    .expect("written");
    repo.rules("[keys/example.txt, keys/dr.txt]");
    let before = repo.snapshot();
    let line = repo
        .run(&["recipients", "sync", "-i", &example_identity()])
        .fails_with(1);
    assert!(
        line.contains("prod/db.sealed.yaml: holds other objects"),
        "{line}"
    );
    assert_eq!(repo.snapshot(), before);
}

/// A link committed under prod/ that leads to a SealedSecret outside the repo (a
/// colleague's checkout, another team's repo): sync must neither re-seal it to prod's
/// rule nor touch the file it points to; the run stops naming the link.
#[test]
fn a_committed_link_out_of_the_repo_is_refused_and_nothing_is_written() {
    let repo = Repo::new();
    let outside = scratch();
    let target = outside.path().join("theirs.sealed.yaml");
    std::fs::copy(repo.path().join("staging/db.sealed.yaml"), &target).expect("copied");
    let theirs = std::fs::read(&target).expect("theirs");
    std::os::unix::fs::symlink(&target, repo.path().join("prod/link.sealed.yaml")).expect("link");
    repo.rules("[keys/example.txt, keys/dr.txt]");
    let before = repo.snapshot();
    let line = repo
        .run(&["recipients", "sync", "-i", &example_identity()])
        .fails_with(1);
    assert!(
        line.contains("prod/link.sealed.yaml: a symbolic link leads out of"),
        "{line}"
    );
    assert_eq!(repo.snapshot(), before);
    assert_eq!(std::fs::read(&target).expect("theirs"), theirs);
    assert!(
        std::fs::symlink_metadata(repo.path().join("prod/link.sealed.yaml"))
            .expect("link")
            .file_type()
            .is_symlink()
    );
}

/// A link inside the repo to another SealedSecret file under the same rule stays a
/// link: the file it points to is synced, the link is not replaced by a copy.
#[test]
fn a_link_inside_the_repo_stays_a_link() {
    let repo = Repo::new();
    let d = repo.path();
    std::os::unix::fs::symlink("db.sealed.yaml", d.join("prod/link.sealed.yaml")).expect("link");
    repo.rules("[keys/example.txt, keys/dr.txt]");
    let run = repo.run(&["recipients", "sync", "-i", &example_identity()]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("prod/link.sealed.yaml: a symbolic link; left alone"),
        "{}",
        run.stderr
    );
    assert!(
        std::fs::symlink_metadata(d.join("prod/link.sealed.yaml"))
            .expect("link")
            .file_type()
            .is_symlink()
    );
    let check = repo.run(&["recipients", "sync", "--check"]);
    assert_eq!(check.code, Some(0), "{}", check.stdout);
}

/// Someone appends their key to an object's spec.recipients in the repo. Sync brings
/// the object back to the rule's recipients: the stranger is removed, not kept.
#[test]
fn a_recipient_appended_by_hand_is_removed_by_sync() {
    let repo = Repo::new();
    let d = repo.path();
    let stranger = keygen(d, "stranger.key");
    let text = std::fs::read_to_string(d.join("prod/db.sealed.yaml")).expect("sealed");
    let forged = text.replacen(
        "  recipients:\n",
        &format!("  recipients:\n  - {stranger}\n"),
        1,
    );
    assert_ne!(forged, text);
    std::fs::write(d.join("prod/db.sealed.yaml"), &forged).expect("forged");
    let listed = repo.run(&["recipients", "sync", "--check"]);
    assert_eq!(listed.code, Some(1));
    assert_eq!(
        listed.stdout,
        format!("prod/db.sealed.yaml: document 1: remove {stranger}\n")
    );
    repo.run(&["recipients", "sync", "-i", &example_identity()])
        .ok();
    let now = std::fs::read_to_string(d.join("prod/db.sealed.yaml")).expect("sealed");
    assert!(!now.contains(&stranger), "{now}");
    assert!(!repo.opens_with("stranger.key", "prod/db.sealed.yaml"));
    repo.run(&["check", "prod"]).ok();
}
