//! The config-repo workflow from the built binaries: `.seal.yaml` rules, `seal tree`
//! without Git churn, `seal check` (also as a real Git pre-commit hook and as the
//! pre-commit framework's entry), and `seal recipients add|remove`, on a repo fixture with
//! two clusters (prod, staging) and a folder shared by both.

use std::path::{Path, PathBuf};
use std::process::Command;

use seal_e2e::{documents, run_in, scratch, write};

/// A config repo with two clusters whose keys are made at run time: `keys/*.key` (the
/// clusters' identities, which a real repo would not hold) and `keys/*.txt` (their
/// recipients, which it would).
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let dir = scratch();
        let root = dir.path();
        for folder in ["keys", "prod", "staging", "shared", "apps"] {
            std::fs::create_dir_all(root.join(folder)).expect("mkdir");
        }
        for cluster in ["prod", "staging"] {
            run_in(
                root,
                "seal",
                &["keygen", "-o", &format!("keys/{cluster}.key")],
                None,
            )
            .ok();
            let key = std::fs::read_to_string(root.join(format!("keys/{cluster}.key")))
                .expect("identity");
            let recipient = key
                .lines()
                .find_map(|l| l.strip_prefix("# public key: "))
                .expect("public key comment");
            write(
                root,
                &format!("keys/{cluster}.txt"),
                &format!("{recipient}\n"),
            );
        }
        write(
            root,
            ".seal.yaml",
            "version: 1\nrules:\n  - path: shared/\n    recipientsFiles: [keys/prod.txt, keys/staging.txt]\n    namespace: apps\n  - path: prod/**\n    recipientsFiles: [keys/prod.txt]\n    namespace: apps\n  - path: staging/**\n    recipientsFiles: [keys/staging.txt]\n    namespace: apps\n    scope: namespace\n",
        );
        for (folder, password) in [
            ("prod", "prod-pw"),
            ("staging", "staging-pw"),
            ("shared", "shared-pw"),
        ] {
            write(
                &root.join(folder),
                "db.secret.yaml",
                &format!(
                    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: {password}\n  user: app\n"
                ),
            );
        }
        write(
            &root.join("prod"),
            "app.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  level: info\n",
        );
        write(root, "apps/readme.yaml", "kind: Note\n");
        Self { dir }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.root().join(relative)
    }

    fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path(relative)).expect("file")
    }

    fn recipient(&self, cluster: &str) -> String {
        self.read(&format!("keys/{cluster}.txt")).trim().to_owned()
    }

    fn seal(&self, args: &[&str]) -> seal_e2e::Run {
        run_in(self.root(), "seal", args, None)
    }

    /// prod's Secret sealed for staging only (what the rules forbid under prod/).
    fn sealed_for_the_wrong_cluster(&self) -> String {
        let args = [
            "-R",
            "keys/staging.txt",
            "-n",
            "apps",
            "prod/db.secret.yaml",
        ];
        self.seal(&args).ok()
    }

    /// `unseal recover` of a sealed file with `cluster`'s identity.
    fn recover_run(&self, cluster: &str, file: &str) -> seal_e2e::Run {
        let identity = format!("keys/{cluster}.key");
        run_in(
            self.root(),
            "unseal",
            &["recover", "-i", &identity, file],
            None,
        )
    }

    /// The Secrets `cluster`'s identity recovers from a sealed file.
    fn recover(&self, cluster: &str, file: &str) -> String {
        self.recover_run(cluster, file).ok()
    }

    /// Whether `cluster`'s identity opens a sealed file (exit 0) or not (exit 3).
    fn opens(&self, cluster: &str, file: &str) -> bool {
        let run = self.recover_run(cluster, file);
        match run.code {
            Some(0) => true,
            Some(3) => false,
            other => panic!("unexpected exit {other:?}: {}", run.stderr),
        }
    }
}

fn git(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("git")
        .args([
            "-c",
            "user.name=seal-e2e",
            "-c",
            "user.email=e2e@example.invalid",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs")
}

#[test]
fn tree_seals_each_folder_for_its_clusters_and_shared_for_both() {
    let f = Fixture::new();
    let summary = f.seal(&["tree"]);
    assert_eq!(summary.code, Some(0), "{}", summary.stderr);
    assert!(
        summary.stderr.contains("3 created, 0 updated, 0 unchanged"),
        "{}",
        summary.stderr
    );
    assert!(
        !f.path("prod/app.sealed.yaml").exists(),
        "a ConfigMap is not an input"
    );
    assert!(f.opens("prod", "prod/db.sealed.yaml"));
    assert!(!f.opens("staging", "prod/db.sealed.yaml"));
    assert!(f.opens("staging", "staging/db.sealed.yaml"));
    assert!(!f.opens("prod", "staging/db.sealed.yaml"));
    assert!(f.opens("prod", "shared/db.sealed.yaml"));
    assert!(f.opens("staging", "shared/db.sealed.yaml"));
    let staging = &documents(&f.read("staging/db.sealed.yaml"))[0];
    assert_eq!(
        staging["metadata"]["namespace"], "apps",
        "the rule's namespace"
    );
    assert_eq!(staging["spec"]["scope"], "namespace", "the rule's scope");
    let shared = &documents(&f.read("shared/db.sealed.yaml"))[0];
    let mut both = vec![f.recipient("prod"), f.recipient("staging")];
    both.sort();
    assert_eq!(shared["spec"]["recipients"], serde_json::json!(both));
    let listed = f.seal(&["inspect", "shared/db.sealed.yaml"]).ok();
    assert!(
        listed.contains(&both[0]) && listed.contains(&both[1]),
        "{listed}"
    );
    f.seal(&[
        "check",
        "prod/db.sealed.yaml",
        "staging/db.sealed.yaml",
        "shared/db.sealed.yaml",
    ])
    .ok();
}

#[test]
fn an_unchanged_tree_is_not_rewritten_and_check_reports_drift() {
    let f = Fixture::new();
    f.seal(&["tree"]).ok();
    let before = f.read("prod/db.sealed.yaml");
    let shared_before = f.read("shared/db.sealed.yaml");
    let modified = std::fs::metadata(f.path("prod/db.sealed.yaml"))
        .and_then(|m| m.modified())
        .expect("mtime");
    let again = f.seal(&["tree"]);
    assert!(
        again.stderr.contains("0 created, 0 updated, 3 unchanged"),
        "{}",
        again.stderr
    );
    assert_eq!(f.read("prod/db.sealed.yaml"), before);
    let still = std::fs::metadata(f.path("prod/db.sealed.yaml"))
        .and_then(|m| m.modified())
        .expect("mtime");
    assert_eq!(modified, still, "an unchanged file is not written at all");
    let check = f.seal(&["tree", "--check"]);
    assert_eq!(check.code, Some(0), "{}", check.stderr);

    let plain = f
        .read("prod/db.secret.yaml")
        .replace("prod-pw", "rotated-pw");
    write(f.root(), "prod/db.secret.yaml", &plain);
    let check = f.seal(&["tree", "--check"]);
    assert_eq!(check.code, Some(1));
    assert!(
        check
            .stdout
            .contains("prod/db.sealed.yaml: would change (new ciphertext for db/password)"),
        "{}",
        check.stdout
    );
    assert_eq!(
        f.read("prod/db.sealed.yaml"),
        before,
        "--check writes nothing"
    );
    f.seal(&["tree"]).ok();
    let after = f.read("prod/db.sealed.yaml");
    let changed: Vec<(&str, &str)> = before
        .lines()
        .zip(after.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(
        changed.len(),
        1,
        "only the password line changes: {changed:?}"
    );
    assert!(changed[0].0.trim_start().starts_with("password: "));
    assert_eq!(f.read("shared/db.sealed.yaml"), shared_before);
    let opened = f.recover("prod", "prod/db.sealed.yaml");
    assert!(
        opened.contains("cm90YXRlZC1wdw=="),
        "base64 of the new value: {opened}"
    );

    // A new recipient in the rules re-seals the values for it.
    let rules = f.read(".seal.yaml").replace(
        "  - path: prod/**\n    recipientsFiles: [keys/prod.txt]",
        "  - path: prod/**\n    recipientsFiles: [keys/prod.txt, keys/staging.txt]",
    );
    write(f.root(), ".seal.yaml", &rules);
    let check = f.seal(&["tree", "--check"]);
    assert_eq!(check.code, Some(1), "{}", check.stdout);
    f.seal(&["tree"]).ok();
    assert!(f.opens("staging", "prod/db.sealed.yaml"));
}

#[test]
fn seal_takes_recipients_scope_and_namespace_from_the_rules() {
    let f = Fixture::new();
    let out = f.seal(&["staging/db.secret.yaml"]).ok();
    let doc = &documents(&out)[0];
    assert_eq!(
        doc["spec"]["recipients"],
        serde_json::json!([f.recipient("staging")])
    );
    assert_eq!(doc["spec"]["scope"], "namespace");
    assert_eq!(doc["metadata"]["namespace"], "apps");
    // Standard input follows the rules of where -w writes.
    let input = f.read("prod/db.secret.yaml");
    let run = run_in(
        f.root(),
        "seal",
        &["-w", "prod/db.sealed.yaml"],
        Some(input.as_bytes()),
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(f.opens("prod", "prod/db.sealed.yaml"));
    // -r overrides the rules' recipients; the scope still comes from the rule.
    let other = f.recipient("prod");
    let out = f.seal(&["-r", &other, "staging/db.secret.yaml"]).ok();
    let doc = &documents(&out)[0];
    assert_eq!(doc["spec"]["recipients"], serde_json::json!([other]));
    assert_eq!(doc["spec"]["scope"], "namespace");
    // So do regcred and webhook, by where -w writes.
    let run = run_in(
        f.root(),
        "seal",
        &[
            "regcred",
            "--server",
            "harbor.example.com",
            "--username",
            "robot",
            "--password-stdin",
            "--name",
            "regcred",
            "-n",
            "apps",
            "-w",
            "staging/regcred.sealed.yaml",
        ],
        Some(b"registry-token\n"),
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(f.opens("staging", "staging/regcred.sealed.yaml"));
    assert!(!f.opens("prod", "staging/regcred.sealed.yaml"));
    // Two rules cover a file: the first applies, and seal says so.
    let rules = f.read(".seal.yaml")
        + "  - path: '*/db.secret.yaml'\n    recipientsFiles: [keys/staging.txt]\n";
    write(f.root(), ".seal.yaml", &rules);
    let run = f.seal(&["prod/db.secret.yaml"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr.contains("prod/db.secret.yaml: covered by the rules at lines 6 and 13 of .seal.yaml; line 6 applies (first match wins)"),
        "{}",
        run.stderr
    );
    assert_eq!(
        documents(&run.stdout)[0]["spec"]["recipients"],
        serde_json::json!([f.recipient("prod")])
    );
    // --config points elsewhere.
    let alt = scratch();
    write(
        alt.path(),
        "rules.yaml",
        &format!("rules:\n  - path: '**'\n    recipients: [{other}]\n    scope: cluster\n"),
    );
    let config = alt.path().join("rules.yaml").display().to_string();
    let out = f.seal(&[
        "--config",
        &config,
        "-w",
        &alt.path().join("x.yaml").display().to_string(),
        "staging/db.secret.yaml",
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let written = std::fs::read_to_string(alt.path().join("x.yaml")).expect("written");
    assert_eq!(documents(&written)[0]["spec"]["scope"], "cluster");
}

#[test]
fn check_lists_every_offender_and_passes_a_clean_tree() {
    let f = Fixture::new();
    f.seal(&["tree"]).ok();
    // A SealedSecret for prod sealed to staging only, and one that is broken.
    let wrong = f.sealed_for_the_wrong_cluster();
    write(f.root(), "prod/wrong.yaml", &wrong);
    let broken = f
        .read("prod/db.sealed.yaml")
        .replace("encryptedData:", "encryptedData: [");
    write(f.root(), "prod/broken.yaml", &broken);
    let run = f.seal(&["check", "prod", "shared"]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let out = run.stdout;
    assert!(
        out.contains(
            "prod/db.secret.yaml: document 1: a plaintext Secret with values (password, user)"
        ),
        "{out}"
    );
    assert!(!out.contains("prod-pw"), "never a value: {out}");
    assert!(out.contains(&format!("prod/wrong.yaml: document 1: sealed to {} which the rule at .seal.yaml line 6 does not list", f.recipient("staging"))), "{out}");
    assert!(out.contains(&format!("prod/wrong.yaml: document 1: not sealed to {} which the rule at .seal.yaml line 6 lists", f.recipient("prod"))), "{out}");
    assert!(
        out.contains("prod/broken.yaml: a SealedSecret that does not parse"),
        "{out}"
    );
    assert!(
        !out.contains("shared/db.sealed.yaml"),
        "shared is clean apart from its plaintext: {out}"
    );
    assert!(run.stderr.contains("problem(s) in"), "{}", run.stderr);
    for file in [
        "prod/wrong.yaml",
        "prod/broken.yaml",
        "prod/db.secret.yaml",
        "staging/db.secret.yaml",
        "shared/db.secret.yaml",
    ] {
        std::fs::remove_file(f.path(file)).expect("removed");
    }
    let clean = f.seal(&["check", "."]);
    assert_eq!(clean.code, Some(0), "{}", clean.stdout);
    assert!(clean.stderr.contains("nothing to report"));
}

#[test]
fn the_git_hook_refuses_a_plaintext_secret_in_a_real_commit() {
    let f = Fixture::new();
    let root = f.root();
    assert!(git(root, &["init", "-q"]).status.success());
    write(root, ".gitignore", "keys/*.key\n.seal-cache/\n");
    f.seal(&["install-hook"]).ok();
    let hook = std::fs::read_to_string(root.join(".git/hooks/pre-commit")).expect("hook");
    assert!(hook.contains("check --quiet"), "{hook}");

    assert!(
        git(
            root,
            &[
                "add",
                ".seal.yaml",
                ".gitignore",
                "keys",
                "prod/db.secret.yaml"
            ]
        )
        .status
        .success()
    );
    let commit = git(root, &["commit", "-q", "-m", "oops"]);
    assert!(!commit.status.success(), "the hook must refuse");
    let said = String::from_utf8_lossy(&commit.stdout).into_owned()
        + &String::from_utf8_lossy(&commit.stderr);
    assert!(
        said.contains("prod/db.secret.yaml: document 1: a plaintext Secret with values"),
        "{said}"
    );
    assert!(!said.contains("prod-pw"));
    assert!(
        !git(root, &["rev-parse", "-q", "--verify", "HEAD"])
            .status
            .success(),
        "nothing committed"
    );

    // The staged content is what counts: changing only the working copy does not help.
    let staged_text = f.read("prod/db.secret.yaml");
    write(
        root,
        "prod/db.secret.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: db\n",
    );
    let commit = git(root, &["commit", "-q", "-m", "oops again"]);
    assert!(
        !commit.status.success(),
        "the staged plaintext is still refused"
    );
    write(root, "prod/db.secret.yaml", &staged_text);
    assert!(
        git(root, &["rm", "-q", "--cached", "prod/db.secret.yaml"])
            .status
            .success()
    );
    f.seal(&["tree"]).ok();
    assert!(
        git(
            root,
            &["add", "prod/db.sealed.yaml", "shared/db.sealed.yaml"]
        )
        .status
        .success()
    );
    let commit = git(root, &["commit", "-q", "-m", "sealed"]);
    assert!(
        commit.status.success(),
        "{}",
        String::from_utf8_lossy(&commit.stderr)
    );

    // A SealedSecret sealed to the wrong cluster for its folder is refused too.
    let wrong = f.sealed_for_the_wrong_cluster();
    write(root, "prod/other.yaml", &wrong);
    assert!(git(root, &["add", "prod/other.yaml"]).status.success());
    let commit = git(root, &["commit", "-q", "-m", "wrong cluster"]);
    assert!(!commit.status.success());
    let said = String::from_utf8_lossy(&commit.stdout).into_owned()
        + &String::from_utf8_lossy(&commit.stderr);
    assert!(
        said.contains("prod/other.yaml: document 1: sealed to"),
        "{said}"
    );

    // install-hook leaves someone else's hook alone unless forced.
    write(
        &root.join(".git/hooks"),
        "pre-commit",
        "#!/bin/sh\nexit 0\n",
    );
    let refused = f.seal(&["install-hook"]).fails_with(1);
    assert!(
        refused.contains("a pre-commit hook exists already"),
        "{refused}"
    );
    f.seal(&["install-hook", "--force"]).ok();
}

#[test]
fn the_pre_commit_framework_entry_runs_seal_check() {
    let hooks =
        std::fs::read_to_string(seal_e2e::repo_file(".pre-commit-hooks.yaml")).expect("file");
    let parsed = documents(&hooks);
    let hook = parsed[0]
        .as_array()
        .and_then(|a| a.first())
        .cloned()
        .expect("one hook");
    assert_eq!(hook["id"], "seal-check");
    assert_eq!(hook["pass_filenames"], true);
    let entry: Vec<&str> = hook["entry"]
        .as_str()
        .expect("entry")
        .split_whitespace()
        .collect();
    assert_eq!(entry[0], "seal");
    let f = Fixture::new();
    let mut args: Vec<&str> = entry[1..].to_vec();
    args.extend(["prod/db.secret.yaml", "prod/app.yaml"]);
    let run = f.seal(&args);
    assert_eq!(run.code, Some(1));
    assert!(run.stdout.contains("prod/db.secret.yaml"), "{}", run.stdout);
}

#[test]
fn recipients_add_and_remove_keep_values_and_bindings() {
    let f = Fixture::new();
    f.seal(&["tree"]).ok();
    let before = documents(&f.read("prod/db.sealed.yaml"))[0].clone();
    f.seal(&[
        "recipients",
        "add",
        "prod/db.sealed.yaml",
        "-R",
        "keys/staging.txt",
        "-i",
        "keys/prod.key",
    ])
    .ok();
    assert!(f.opens("staging", "prod/db.sealed.yaml"));
    assert!(f.opens("prod", "prod/db.sealed.yaml"));
    let after = documents(&f.read("prod/db.sealed.yaml"))[0].clone();
    assert_eq!(after["metadata"], before["metadata"]);
    assert_eq!(after["spec"]["scope"], before["spec"]["scope"]);
    let check = f.seal(&["check", "prod/db.sealed.yaml"]);
    assert_eq!(
        check.code,
        Some(1),
        "the rules do not list staging for prod/"
    );
    f.seal(&[
        "recipients",
        "remove",
        "prod/db.sealed.yaml",
        "-R",
        "keys/staging.txt",
        "-i",
        "keys/staging.key",
    ])
    .ok();
    assert!(!f.opens("staging", "prod/db.sealed.yaml"));
    let recovered = f.recover("prod", "prod/db.sealed.yaml");
    assert!(
        recovered.contains("cHJvZC1wdw=="),
        "the value is kept: {recovered}"
    );
    let err = f
        .seal(&[
            "recipients",
            "remove",
            "prod/db.sealed.yaml",
            "-R",
            "keys/prod.txt",
            "-i",
            "keys/prod.key",
        ])
        .fails_with(1);
    assert!(
        err.contains("prod/db.sealed.yaml: document 1: removing these would leave no recipient"),
        "{err}"
    );
    let err = f
        .seal(&[
            "recipients",
            "add",
            "prod/db.sealed.yaml",
            "-R",
            "keys/staging.txt",
            "-i",
            "keys/staging.key",
        ])
        .fails_with(1);
    assert!(err.contains("prod/db.sealed.yaml: document 1:"), "{err}");
}

/// What is in a folder, recursively, to show nothing was written.
fn listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("lists").flatten() {
        let path = entry.path();
        out.push(path.display().to_string());
        if path.is_dir() && !path.is_symlink() {
            out.extend(listing(&path));
        }
    }
    out.sort();
    out
}

#[test]
fn bad_rules_and_bad_trees_fail_in_one_line_and_write_nothing() {
    let cases: &[(&str, &str)] = &[
        (
            "rules:\n  - path: prod/**\n    recipientsFiles: [keys/prod.txt\n",
            ".seal.yaml: line 3: ",
        ),
        (
            "rules:\n  - path: prod/**\n    recipientFiles: [keys/prod.txt]\n",
            ".seal.yaml: line 3: unknown field `recipientFiles`",
        ),
        (
            "rules:\n  - path: 'prod/[a'\n    recipientsFiles: [keys/prod.txt]\n",
            ".seal.yaml: line 2: path: invalid pattern `prod/[a`",
        ),
        (
            "rules:\n  - path: prod/**\n    recipients: [age1notakey]\n",
            ".seal.yaml: line 3: recipients: not a valid age X25519 recipient",
        ),
        (
            "rules:\n  - path: '**'\n    recipientsFiles: [keys/prod.txt]\n  - path: prod/db.sealed.yaml\n    recipientsFiles: [keys/staging.txt]\n",
            ".seal.yaml: line 4: the rule for `prod/db.sealed.yaml` never applies: the rule at line 2 (`**`)",
        ),
    ];
    for (rules, want) in cases {
        let f = Fixture::new();
        write(f.root(), ".seal.yaml", rules);
        let before = listing(f.root());
        let err = f.seal(&["tree"]).fails_with(1);
        assert!(err.contains(want), "{rules:?}: {err}");
        assert_eq!(listing(f.root()), before, "nothing written for {rules:?}");
        let err = f.seal(&["check", "prod"]).fails_with(1);
        assert!(err.contains(want), "check too: {err}");
    }

    let f = Fixture::new();
    std::os::unix::fs::symlink(f.path("gone.yaml"), f.path("prod/dangling.yaml")).expect("link");
    let before = listing(f.root());
    let err = f.seal(&["tree"]).fails_with(1);
    assert!(err.contains("prod/dangling.yaml: cannot read"), "{err}");
    assert_eq!(listing(f.root()), before);

    let f = Fixture::new();
    std::os::unix::fs::symlink(f.root(), f.path("prod/loop")).expect("link");
    let before = listing(f.root());
    let err = f.seal(&["tree"]).fails_with(1);
    assert!(err.contains("prod/loop: symbolic link loop"), "{err}");
    assert_eq!(listing(f.root()), before);

    let f = Fixture::new();
    std::fs::write(
        f.path("staging/bad.secret.yaml"),
        b"apiVersion: v1\nkind: Secret\nstringData: {a: \xff}\n",
    )
    .expect("written");
    let before = listing(f.root());
    let err = f.seal(&["tree"]).fails_with(1);
    assert!(err.contains("staging/bad.secret.yaml: not UTF-8"), "{err}");
    assert!(err.contains("nothing was written"), "{err}");
    assert_eq!(listing(f.root()), before);

    let f = Fixture::new();
    let mixed = f.read("prod/db.secret.yaml") + "---\n" + &f.read("prod/app.yaml");
    write(f.root(), "prod/db.secret.yaml", &mixed);
    let err = f.seal(&["tree"]).fails_with(1);
    assert!(
        err.contains("prod/db.secret.yaml: document 2: kind: not a Secret"),
        "{err}"
    );
    assert!(
        !f.path("shared/db.sealed.yaml").exists(),
        "no file is written when one fails"
    );
}

/// On a terminal `seal tree` draws a progress bar. `script` (util-linux) gives it a
/// pseudo-terminal; without `script` the test says so and does nothing.
#[test]
fn tree_shows_progress_on_a_terminal() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: `script` (util-linux) is not installed");
        return;
    }
    let f = Fixture::new();
    let seal = seal_e2e::binary("seal").display().to_string();
    let out = Command::new("script")
        .args(["-q", "-e", "-c", &format!("'{seal}' tree"), "/dev/null"])
        .current_dir(f.root())
        .env("KUBECONFIG", "/nonexistent")
        .output()
        .expect("script runs");
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{shown}");
    assert!(
        shown.contains("seal tree [##############################] 4/4"),
        "{shown}"
    );
    assert!(shown.contains("3 created"), "{shown}");
}
