//! What `seal` trusts when it seals to keys nobody named on the command line: the keys a
//! cluster publishes (remembered per kubeconfig context on first use, a new one named on
//! stderr or refused in strict mode, refused when a `.seal.yaml` rule pins others), and
//! the committed example key (a warning, once per run).
//!
//! The cluster is the API-server double holding only the `unseal-recipients` ConfigMap, so
//! each test says exactly which keys the cluster offers, and changes them as someone who
//! can write that ConfigMap would.

use std::path::{Path, PathBuf};

use apiserver_double::{ApiServerDouble, ObjectKey, ResourceKind};
use seal_e2e::*;

const SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: apps\nstringData:\n  password: online-value\n";

const EXAMPLE_WARNING: &str = "seal: warning: sealing to the public example key from keys-example/ (anyone can open this; never for a real cluster)";

/// A double that publishes recipients, a kubeconfig for it, and a config folder for the
/// remembered keys.
struct Cluster {
    double: ApiServerDouble,
    dir: tempfile::TempDir,
    kubeconfig: String,
}

impl Cluster {
    async fn publishing(recipients: &[&str]) -> Self {
        let double = ApiServerDouble::start().await.expect("double");
        let dir = scratch();
        let kubeconfig = write(dir.path(), "kubeconfig", &double.kubeconfig("default"));
        let c = Self {
            double,
            dir,
            kubeconfig,
        };
        c.publish(recipients);
        c
    }

    /// Sets the ConfigMap's `recipients.txt` to these recipients, as a writer of the
    /// ConfigMap (the controller, or someone else) would.
    fn publish(&self, recipients: &[&str]) {
        let body = serde_json::json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "unseal-recipients", "namespace": "seal-system"},
            "data": {"recipients.txt": format!("{}\n", recipients.join("\n"))},
        });
        let key = ObjectKey {
            kind: ResourceKind::config_maps(),
            namespace: "seal-system".to_owned(),
            name: "unseal-recipients".to_owned(),
        };
        self.double
            .with_store(|s| match s.get(&key) {
                Ok(_) => s.replace(&key, body, false),
                Err(_) => s.create(&key.kind, "seal-system", body),
            })
            .expect("published");
    }

    /// The folder `seal` remembers keys in (SEAL_CONFIG_DIR).
    fn config_dir(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    /// The remembered keys file ("" when there is none).
    fn known(&self) -> String {
        std::fs::read_to_string(self.config_dir().join("known-recipients.yaml")).unwrap_or_default()
    }

    /// Runs `seal` in `dir` against this cluster, with `env` on top (on a blocking thread,
    /// so the double on this runtime keeps answering).
    async fn seal(&self, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
        let config = self.config_dir().display().to_string();
        let mut vars: Vec<(String, String)> = vec![
            ("KUBECONFIG".into(), self.kubeconfig.clone()),
            ("SEAL_CONFIG_DIR".into(), config),
            ("SEAL_STRICT_RECIPIENTS".into(), String::new()),
        ];
        vars.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let dir = dir.to_owned();
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let vars: Vec<(&str, &str)> =
                vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            run_with_env(&dir, "seal", &args, None, &vars)
        })
        .await
        .expect("joined")
    }
}

/// A fresh recipient, from `seal keygen`.
fn new_recipient() -> String {
    let made = run("seal", &["keygen"], None);
    made.stderr
        .trim()
        .strip_prefix("Public key: ")
        .expect("a Public key line")
        .to_owned()
}

/// The recipients a sealed file lists.
fn sealed_to(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("sealed file");
    documents(&text)[0]["spec"]["recipients"]
        .as_array()
        .expect("spec.recipients")
        .iter()
        .map(|r| r.as_str().expect("a string").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_use_is_remembered_a_repeat_is_silent_and_a_new_key_is_named() {
    let (ours, theirs) = (new_recipient(), new_recipient());
    let c = Cluster::publishing(&[&ours]).await;
    let work = scratch();
    let w = work.path();
    let file = write(w, "db.yaml", SECRET);
    let args = [file.as_str(), "-w", "db.sealed.yaml"];

    let first = c.seal(w, &args, &[]).await;
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    let lines: Vec<&str> = first.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", first.stderr);
    assert!(
        lines[0].starts_with("seal: note: first use of context double (http://127.0.0.1:")
            && lines[0].contains(&format!("trusting its sealing key {ours}; remembered in ")),
        "{}",
        lines[0]
    );
    let known = c.known();
    assert!(
        known.contains("context: double") && known.contains(&ours),
        "{known}"
    );

    let second = c.seal(w, &args, &[]).await;
    assert_eq!(second.code, Some(0), "{}", second.stderr);
    assert_eq!(second.stderr, "", "the same key again says nothing");
    assert_eq!(c.known(), known, "nothing new to remember");

    // Someone who can write the ConfigMap adds a key of their own.
    c.publish(&[&ours, &theirs]);
    let third = c.seal(w, &args, &[]).await;
    assert_eq!(third.code, Some(0), "{}", third.stderr);
    assert_eq!(
        third.stderr,
        format!(
            "seal: warning: new sealing key {theirs} for context double (a renewal, or someone else's key: check with `kubectl -n seal-system get secret -l seal.dev/sealing-key` or your admin)\n"
        )
    );
    assert!(sealed_to(&w.join("db.sealed.yaml")).contains(&theirs));
    assert!(c.known().contains(&theirs), "remembered once warned");

    let fourth = c.seal(w, &args, &[]).await;
    assert_eq!(
        (fourth.code, fourth.stderr.as_str()),
        (Some(0), ""),
        "warned once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_mode_refuses_a_key_not_seen_before_and_writes_nothing() {
    let (ours, theirs) = (new_recipient(), new_recipient());
    let c = Cluster::publishing(&[&ours]).await;
    let work = scratch();
    let w = work.path();
    let file = write(w, "db.yaml", SECRET);
    let args = [file.as_str(), "-w", "db.sealed.yaml"];
    let strict = [("SEAL_STRICT_RECIPIENTS", "1")];

    let line = c.seal(w, &args, &strict).await.fails_with(1);
    assert!(
        line.contains("context double (http://127.0.0.1:")
            && line.contains(&format!(
                "offers a sealing key seal has not seen (first use of this context): {ours}; SEAL_STRICT_RECIPIENTS=1 refuses it"
            )),
        "{line}"
    );
    assert!(!w.join("db.sealed.yaml").exists());
    assert_eq!(c.known(), "", "a refused key is not remembered");

    // Accepted once without strict mode, it seals quietly in strict mode.
    c.seal(w, &args, &[("SEAL_STRICT_RECIPIENTS", "0")])
        .await
        .ok();
    let quiet = c.seal(w, &args, &strict).await;
    assert_eq!((quiet.code, quiet.stderr.as_str()), (Some(0), ""));
    let before = std::fs::read(w.join("db.sealed.yaml")).expect("sealed");

    // The ConfigMap now offers only someone else's key.
    c.publish(&[&theirs]);
    let line = c.seal(w, &args, &strict).await.fails_with(1);
    assert!(
        line.contains(&format!(
            "offers a sealing key seal has not seen before: {theirs}; "
        )) && !line.contains(&ours),
        "{line}"
    );
    assert_eq!(
        std::fs::read(w.join("db.sealed.yaml")).expect("still there"),
        before,
        "the -w target is unchanged"
    );
    assert!(!c.known().contains(&theirs));

    let line = c
        .seal(w, &args, &[("SEAL_STRICT_RECIPIENTS", "maybe")])
        .await
        .fails_with(1);
    assert_eq!(
        line,
        "seal: error: SEAL_STRICT_RECIPIENTS: expected 1 or 0 (true/false), not `maybe`"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pinned_rule_refuses_a_key_it_does_not_pin() {
    let (ours, theirs) = (new_recipient(), new_recipient());
    let c = Cluster::publishing(&[&ours]).await;
    let repo = scratch();
    let r = repo.path();
    write(
        r,
        ".seal.yaml",
        &format!(
            "version: 1\nrules:\n  - path: prod/**\n    clusterRecipients: [{ours}]\n  - path: open/**\n"
        ),
    );
    std::fs::create_dir_all(r.join("prod")).expect("mkdir");
    let plain = scratch();
    let file = write(plain.path(), "db.yaml", SECRET);
    let args = [file.as_str(), "-w", "prod/db.sealed.yaml"];

    let pinned = c.seal(r, &args, &[("SEAL_STRICT_RECIPIENTS", "1")]).await;
    assert_eq!(
        (pinned.code, pinned.stderr.as_str()),
        (Some(0), ""),
        "a pinned key is trusted without a word, even in strict mode"
    );
    let before = std::fs::read(r.join("prod/db.sealed.yaml")).expect("sealed");

    c.publish(&[&ours, &theirs]);
    let line = c.seal(r, &args, &[]).await.fails_with(1);
    assert_eq!(
        line,
        format!(
            "seal: error: .seal.yaml: line 3: clusterRecipients: context double offers {theirs}, which this rule does not pin; nothing sealed (if it is the controller's renewed key, check it and add it to the pins)"
        )
    );
    assert_eq!(
        std::fs::read(r.join("prod/db.sealed.yaml")).expect("still there"),
        before,
        "the -w target is unchanged"
    );
    assert!(
        !c.known().contains(&theirs),
        "a refused key is not remembered"
    );

    // A file sealed to an unpinned key by other means is caught by `seal check`.
    c.seal(
        r,
        &["-r", &theirs, &file, "-w", "prod/other.sealed.yaml"],
        &[],
    )
    .await
    .ok();
    let check = c.seal(r, &["check", "prod"], &[]).await;
    assert_eq!(check.code, Some(1), "{}", check.stderr);
    assert!(
        check.stdout.contains(&format!(
            "prod/other.sealed.yaml: document 1: sealed to {theirs} which the rule at .seal.yaml line 3 does not pin (clusterRecipients)"
        )),
        "{}{}",
        check.stdout,
        check.stderr
    );
    assert!(
        !check.stdout.contains("prod/db.sealed.yaml"),
        "{}",
        check.stdout
    );
}

#[test]
fn bad_pins_are_one_line_naming_the_line() {
    let cases = [
        (
            "rules:\n  - path: prod/**\n    clusterRecipients:\n      - age1nope\n",
            "line 4: clusterRecipients: not a valid age X25519 recipient",
        ),
        (
            "rules:\n  - path: prod/**\n    clusterRecipients: []\n",
            "line 3: clusterRecipients: empty; pin at least one key",
        ),
        (
            "rules:\n  - path: prod/**\n    clusterRecipientsFiles: [keys/missing.txt]\n",
            "line 3: clusterRecipientsFiles: keys/missing.txt: ",
        ),
        (
            "rules:\n  - path: prod/**\n    recipients: [RECIPIENT]\n    clusterRecipients: [RECIPIENT]\n",
            "line 4: clusterRecipients: this rule lists recipients, so the cluster is never asked",
        ),
        (
            "rules:\n  - path: prod/**\n    clusterRecipient: [RECIPIENT]\n",
            "line 3: unknown field `clusterRecipient`",
        ),
    ];
    let recipient = new_recipient();
    for (rules, want) in cases {
        let repo = scratch();
        let r = repo.path();
        write(r, ".seal.yaml", &rules.replace("RECIPIENT", &recipient));
        std::fs::create_dir_all(r.join("prod")).expect("mkdir");
        let file = write(r, "prod/db.secret.yaml", SECRET);
        let line = run_in(r, "seal", &[&file, "-w", "prod/db.sealed.yaml"], None).fails_with(1);
        assert!(
            line.starts_with("seal: error: ") && line.contains(&format!(".seal.yaml: {want}")),
            "{rules:?} gave {line}"
        );
        assert!(!r.join("prod/db.sealed.yaml").exists());
    }
}

#[test]
fn sealing_to_the_example_key_warns_once_per_run() {
    let example = example_recipients();
    let both = [
        "-R",
        &example,
        "examples/harbor-regcred.yaml",
        "examples/db-credentials.yaml",
    ];
    let out = run("seal", &both, None);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        out.stderr,
        format!("{EXAMPLE_WARNING}\n"),
        "once for two Secrets"
    );
    assert_eq!(documents(&out.stdout).len(), 2);

    let raw = run(
        "seal",
        &["raw", "--scope", "cluster", "--key", "k", "-R", &example],
        Some(b"v"),
    );
    assert_eq!(raw.code, Some(0), "{}", raw.stderr);
    assert_eq!(raw.stderr, format!("{EXAMPLE_WARNING}\n"));

    let other = new_recipient();
    let quiet = run(
        "seal",
        &["-r", &other, "examples/db-credentials.yaml"],
        None,
    );
    assert_eq!((quiet.code, quiet.stderr.as_str()), (Some(0), ""));

    // A failed run stays one line: the warning is for what was sealed.
    let line = run(
        "seal",
        &[
            "-R",
            &example,
            "-n",
            "elsewhere",
            "examples/db-credentials.yaml",
        ],
        None,
    )
    .fails_with(1);
    assert!(!line.contains("example key"), "{line}");
}
