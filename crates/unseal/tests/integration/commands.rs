//! The `unseal` binary's cluster commands through a kubeconfig file, against the
//! API-server double and against the real control plane: `run` (environment variables,
//! readiness, SIGTERM; on the real server as the controller's ServiceAccount, so with
//! deploy/rbac.yaml's rights), `rotate`, `keys list|export|import` (as the test's own
//! user, an admin outside the cluster), and `crd` (kept in sync with
//! deploy/cluster/crd.yaml).

use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::*;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use seal_core::convert::SealOptions;

const UNSEAL: &str = env!("CARGO_BIN_EXE_unseal");

scenarios! {
    both: [
        run_serves_reconciles_and_exits_cleanly_on_sigterm,
        rotate_list_export_and_import,
        retire_refuses_keys_in_use_and_keeps_them_in_the_backup,
    ],
}

/// Runs the binary on a blocking thread, so the double (on this test's runtime) can
/// answer, with the controller namespace `namespace`.
pub(crate) async fn unseal(
    kubeconfig: &Path,
    namespace: &str,
    args: &[&str],
) -> std::process::Output {
    let kubeconfig = kubeconfig.to_owned();
    let namespace = namespace.to_owned();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        Command::new(UNSEAL)
            .args(&args)
            .env("KUBECONFIG", &kubeconfig)
            .env("UNSEAL_CONTROLLER_NAMESPACE", &namespace)
            .output()
            .expect("unseal runs")
    })
    .await
    .expect("joined")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

async fn run_serves_reconciles_and_exits_cleanly_on_sigterm(backend: Backend) {
    let h = Harness::without_controller(backend).await;
    let (apps, controller_ns) = (h.ns("apps"), h.controller_ns());
    let dir = tempfile::tempdir().expect("tempdir");
    let config = h.kubeconfig(dir.path(), true);
    let port = free_port();
    let log = dir.path().join("unseal.log");
    let mut child = Command::new(UNSEAL)
        .arg("run")
        .env("KUBECONFIG", &config)
        .env("UNSEAL_CONTROLLER_NAMESPACE", &controller_ns)
        .env("UNSEAL_NAMESPACES", h.watched_namespaces().join(","))
        .env("UNSEAL_IDENTITY", "unseal-test")
        .env("UNSEAL_LISTEN", format!("127.0.0.1:{port}"))
        .env("UNSEAL_LEASE_RENEW_PERIOD", "100ms")
        .env("UNSEAL_LOG_FORMAT", "json")
        // Through the binary too: only SealedSecrets with this label are this one's.
        .env("UNSEAL_LABEL_SELECTOR", "e2e-controller=new")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("starts");
    let base = format!("http://127.0.0.1:{port}");
    let ready = async || {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
            && http(&base, "GET", "/readyz", b"").await.0 == 200
    };
    let deadline = std::time::Instant::now() + WAIT_AT_MOST;
    while !ready().await {
        assert!(
            std::time::Instant::now() < deadline,
            "not ready after {WAIT_AT_MOST:?}: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (_, body) = http(&base, "GET", "/v1/recipients?format=text", b"").await;
    let mut recipients = seal_core::Recipients::new();
    recipients.add_file("response", &body).expect("recipients");
    let unlabelled = seal(
        &plain(&apps, "other", &[("password", "never-logged-value")]),
        &recipients,
        &SealOptions::default(),
    );
    h.create(&unlabelled).await;
    let mut sealed = seal(
        &plain(&apps, "db", &[("password", "never-logged-value")]),
        &recipients,
        &SealOptions::default(),
    );
    sealed.metadata.labels = Some([("e2e-controller".to_owned(), "new".to_owned())].into());
    h.create(&sealed).await;
    wait_for("secret", async || h.secret(&apps, "db").await).await;
    h.wait_observed(&apps, "db").await;
    assert!(
        h.secret(&apps, "other").await.is_none(),
        "a SealedSecret without the label is left to another controller"
    );
    assert!(h.sealed(&apps, "other").await.expect("there")["status"].is_null());
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = wait_for("exit after SIGTERM", async || {
        child.try_wait().expect("wait")
    })
    .await;
    assert_eq!(exit.code(), Some(0));
    let logs = std::fs::read_to_string(&log).expect("log");
    assert!(
        logs.lines().all(|l| l.starts_with('{')),
        "JSON logs expected:\n{logs}"
    );
    assert!(logs.contains("termination signal received"), "{logs}");
    assert!(!logs.contains("never-logged-value"));
    // Not a bare "403": the log names the listening port, which may contain it.
    let lower = logs.to_ascii_lowercase();
    assert!(
        !lower.contains("forbidden") && !lower.contains("code: 403"),
        "refused by RBAC: {logs}"
    );
    // The Lease was released for a fast failover.
    let lease = h.lease().await.expect("lease");
    assert!(lease["spec"]["holderIdentity"].is_null(), "{lease}");
    h.stop().await;
}

async fn rotate_list_export_and_import(backend: Backend) {
    let mut h = Harness::start(backend).await;
    let (apps, controller_ns) = (h.ns("apps"), h.controller_ns());
    let dir = tempfile::tempdir().expect("tempdir");
    let config = h.kubeconfig(dir.path(), false);
    let r = h.recipients();
    h.create(&seal(
        &plain(&apps, "one", &[("k", "v")]),
        &r,
        &SealOptions::default(),
    ))
    .await;
    let out = unseal(&config, &controller_ns, &["rotate"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("created sealing key seal-key-0002"));
    let out = unseal(&config, &controller_ns, &["keys", "list"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing = String::from_utf8_lossy(&out.stdout).into_owned();
    let old = listing
        .lines()
        .find(|l| l.starts_with("seal-key-0001"))
        .expect("old key row");
    assert!(
        old.contains(" no ") && old.trim_end().ends_with(" 1"),
        "{listing}"
    );
    let new = listing
        .lines()
        .find(|l| l.starts_with("seal-key-0002"))
        .expect("new key row");
    assert!(
        new.contains(" yes ") && new.trim_end().ends_with(" 0"),
        "{listing}"
    );

    // Export to an offline key, wipe the cluster's keys, import the backup back.
    let offline = age::x25519::Identity::generate();
    let offline_file = dir.path().join("offline.txt");
    use age::secrecy::ExposeSecret;
    std::fs::write(
        &offline_file,
        format!("{}\n", offline.to_string().expose_secret()),
    )
    .expect("written");
    let backup = dir.path().join("keys.age");
    let backup_s = backup.display().to_string();
    let offline_recipient = offline.to_public().to_string();
    let export = [
        "keys",
        "export",
        "--to",
        &offline_recipient,
        "-o",
        &backup_s,
    ];
    let out = unseal(&config, &controller_ns, &export).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&backup).expect("backup");
    assert!(bytes.starts_with(b"age-encryption.org/v1\n"));
    assert!(!String::from_utf8_lossy(&bytes).contains("AGE-SECRET-KEY-1"));
    let again = unseal(&config, &controller_ns, &export).await;
    assert!(!again.status.success(), "export must not overwrite");

    let second = tempfile::tempdir().expect("tempdir");
    let fresh = h.fresh_controller_namespace(second.path()).await;
    let fresh_config = &fresh.kubeconfig;
    let out = unseal(
        fresh_config,
        &fresh.namespace,
        &["keys", "import", &backup_s],
    )
    .await;
    assert!(!out.status.success(), "an encrypted backup needs -i");
    let out = unseal(
        fresh_config,
        &fresh.namespace,
        &[
            "keys",
            "import",
            &backup_s,
            "-i",
            &offline_file.display().to_string(),
        ],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with("imported"))
            .count(),
        2
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    for key in &h.ctx().keys.current().keys {
        assert!(
            stderr.contains(&key.recipient),
            "import lists what it imports: {stderr}"
        );
    }
    let keys: Api<Secret> = Api::namespaced(fresh.client.clone(), &fresh.namespace);
    let restored = unseal::keys::secrets::list(&keys).await.expect("list");
    let (set, bad) = unseal::keys::KeySet::from_secrets(&restored);
    assert!(bad.is_empty());
    assert_eq!(set.keys.len(), 2);
    assert_eq!(
        set.active(),
        None,
        "imported keys open but never seal unless --activate"
    );
    let names: Vec<String> = set.keys.iter().map(|k| k.name.clone()).collect();
    let before: Vec<String> = h
        .ctx()
        .keys
        .current()
        .keys
        .iter()
        .map(|k| k.name.clone())
        .collect();
    assert_eq!(names, before, "names and creation order survive the backup");
    let out = unseal(
        fresh_config,
        &fresh.namespace,
        &[
            "keys",
            "import",
            &backup_s,
            "-i",
            &offline_file.display().to_string(),
        ],
    )
    .await;
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with("already held"))
            .count(),
        2
    );

    let third = tempfile::tempdir().expect("tempdir");
    let activated = h.fresh_controller_namespace(third.path()).await;
    let activated_config = &activated.kubeconfig;
    let wanted = h
        .ctx()
        .keys
        .current()
        .active()
        .map(|k| k.recipient.clone())
        .expect("active");
    let stranger = age::x25519::Identity::generate().to_public().to_string();
    let out = unseal(
        activated_config,
        &activated.namespace,
        &[
            "keys",
            "import",
            &backup_s,
            "-i",
            &offline_file.display().to_string(),
            "--activate",
            &stranger,
        ],
    )
    .await;
    assert!(
        !out.status.success(),
        "--activate names a key of the file, or nothing is imported"
    );
    let out = unseal(
        activated_config,
        &activated.namespace,
        &[
            "keys",
            "import",
            &backup_s,
            "-i",
            &offline_file.display().to_string(),
            "--activate",
            &wanted,
        ],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let keys: Api<Secret> = Api::namespaced(activated.client.clone(), &activated.namespace);
    let restored = unseal::keys::secrets::list(&keys).await.expect("list");
    let (set, _) = unseal::keys::KeySet::from_secrets(&restored);
    assert_eq!(
        set.active().map(|k| k.recipient.clone()),
        h.ctx().keys.current().active().map(|k| k.recipient.clone()),
        "--activate age1… makes that key of the backup the sealing key again"
    );
    h.stop().await;
}

/// Runs `unseal` and returns (success, stdout, stderr).
async fn unseal_text(kubeconfig: &Path, namespace: &str, args: &[&str]) -> (bool, String, String) {
    let out = unseal(kubeconfig, namespace, args).await;
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Whether the automatic backup holds this entry.
async fn backup_has(h: &Harness, ns: &str, entry: &str) -> bool {
    h.secret(ns, "unseal-keys-backup")
        .await
        .is_some_and(|b| b["data"][entry].is_string())
}

/// `unseal keys list -o json`, by key name.
async fn key_rows(
    kubeconfig: &Path,
    namespace: &str,
) -> std::collections::BTreeMap<String, serde_json::Value> {
    let (ok, out, err) = unseal_text(kubeconfig, namespace, &["keys", "list", "-o", "json"]).await;
    assert!(ok, "{err}");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out).expect("a JSON array");
    rows.into_iter()
        .map(|r| (r["name"].as_str().expect("name").to_owned(), r))
        .collect()
}

/// Three keys: seal-key-0001 used by one SealedSecret, seal-key-0002 by none,
/// seal-key-0003 active. The active key and the used key are refused (the used one
/// naming its user); the unused one is retired: its Secret deleted, its backup entry
/// kept, the registry marking it retired so that the controller does not report it
/// missing. --force retires the used one only when its name is typed back.
async fn retire_refuses_keys_in_use_and_keeps_them_in_the_backup(backend: Backend) {
    let offline = age::x25519::Identity::generate();
    let mut backup_to = seal_core::Recipients::new();
    backup_to.insert(offline.to_public());
    let mut settings = fast_settings("replica-a");
    settings.backup_to = Some(backup_to);
    let h = Harness::start_with(backend, settings).await;
    let (apps, controller_ns) = (h.ns("apps"), h.controller_ns());
    let dir = tempfile::tempdir().expect("tempdir");
    let config = h.kubeconfig(dir.path(), false);
    let r = h.recipients();
    h.create(&seal(
        &plain(&apps, "one", &[("k", "v"), ("l", "w")]),
        &r,
        &SealOptions::default(),
    ))
    .await;
    for _ in 0..2 {
        let (ok, _, err) = unseal_text(&config, &controller_ns, &["rotate"]).await;
        assert!(ok, "{err}");
    }
    for entry in [
        "seal-key-0001.age",
        "seal-key-0002.age",
        "seal-key-0003.age",
    ] {
        wait_for(entry, async || {
            backup_has(&h, &controller_ns, entry).await.then_some(())
        })
        .await;
    }
    let rows = key_rows(&config, &controller_ns).await;
    assert_eq!(rows["seal-key-0001"]["state"], "old");
    assert_eq!(rows["seal-key-0001"]["sealedSecrets"], 1);
    assert_eq!(rows["seal-key-0001"]["values"], 2);
    assert_eq!(rows["seal-key-0002"]["sealedSecrets"], 0);
    assert_eq!(rows["seal-key-0003"]["state"], "active");
    let old_recipient = rows["seal-key-0001"]["recipient"]
        .as_str()
        .expect("r")
        .to_owned();
    let unused_recipient = rows["seal-key-0002"]["recipient"]
        .as_str()
        .expect("r")
        .to_owned();

    let (ok, _, err) = unseal_text(
        &config,
        &controller_ns,
        &["keys", "retire", "seal-key-0003"],
    )
    .await;
    assert!(!ok && err.contains("is the active sealing key"), "{err}");
    let (ok, _, err) =
        unseal_text(&config, &controller_ns, &["keys", "retire", &old_recipient]).await;
    assert!(!ok, "a key in use is refused");
    assert!(
        err.contains(&format!(
            "still opens 1 SealedSecret(s) with 2 value(s): {apps}/one"
        )) && err.contains("nothing retired"),
        "{err}"
    );
    let (ok, _, err) = unseal_text(
        &config,
        &controller_ns,
        &[
            "keys",
            "retire",
            "seal-key-0001",
            "--force",
            "--confirm",
            "seal-key-0002",
        ],
    )
    .await;
    assert!(!ok && err.contains("not confirmed"), "{err}");
    assert!(err.contains("WARNING"), "{err}");
    // Asked to type the name, with nothing typed (no terminal, empty input): refused.
    let (ok, _, err) = unseal_text(
        &config,
        &controller_ns,
        &["keys", "retire", "seal-key-0001", "--force"],
    )
    .await;
    assert!(
        !ok && err.contains("Type the key's name (seal-key-0001)"),
        "{err}"
    );
    assert!(err.contains("not confirmed"), "{err}");
    assert!(h.secret(&controller_ns, "seal-key-0001").await.is_some());

    let (ok, out, err) = unseal_text(
        &config,
        &controller_ns,
        &["keys", "retire", "seal-key-0002"],
    )
    .await;
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!("retired seal-key-0002 ({unused_recipient})")),
        "{out}"
    );
    assert!(h.secret(&controller_ns, "seal-key-0002").await.is_none());
    assert!(
        backup_has(&h, &controller_ns, "seal-key-0002.age").await,
        "the backup keeps it"
    );
    // The controller lets go of it and publishes without it: not missing, no warning.
    let ctx = h.ctx().clone();
    wait_for("the controller drops the key", async || {
        (!ctx
            .keys
            .current()
            .keys
            .iter()
            .any(|k| k.name == "seal-key-0002"))
        .then_some(())
    })
    .await;
    wait_for("published without it", async || {
        let map = h.config_map(&controller_ns, "unseal-recipients").await?;
        let all = map["data"]["all-recipients.txt"].as_str()?.to_owned();
        (!all.contains(&unused_recipient)).then_some(())
    })
    .await;
    let map = h
        .config_map(&controller_ns, "unseal-recipients")
        .await
        .expect("map");
    let registry = map["data"]["known-keys"].as_str().expect("registry");
    assert!(
        registry
            .lines()
            .any(|l| l.starts_with("seal-key-0002 ") && l.ends_with(" retired")),
        "{registry}"
    );
    assert!(h.ctx().keys.missing().is_empty());
    assert_eq!(h.warnings(&controller_ns, "KeyMissing").await, 0);
    let rows = key_rows(&config, &controller_ns).await;
    assert_eq!(rows["seal-key-0002"]["state"], "retired");
    let (ok, _, err) = unseal_text(
        &config,
        &controller_ns,
        &["keys", "retire", "seal-key-0002"],
    )
    .await;
    assert!(!ok && err.contains("already retired"), "{err}");

    // The emergency: by force, with the name typed back.
    let (ok, _, err) = unseal_text(
        &config,
        &controller_ns,
        &[
            "keys",
            "retire",
            "seal-key-0001",
            "--force",
            "--confirm",
            "seal-key-0001",
        ],
    )
    .await;
    assert!(ok, "{err}");
    assert!(
        err.contains(&format!(
            "WARNING:   seal-key-0001 ({old_recipient}) still opens"
        )),
        "{err}"
    );
    assert!(h.secret(&controller_ns, "seal-key-0001").await.is_none());
    h.stop().await;
}

#[test]
fn the_committed_crd_matches_the_rust_types() {
    let out = Command::new(UNSEAL).arg("crd").output().expect("runs");
    assert!(out.status.success());
    let committed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/cluster/crd.yaml"),
    )
    .expect("deploy/cluster/crd.yaml");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        committed,
        "deploy/cluster/crd.yaml is stale: run `cargo run -q -p unseal -- crd > deploy/cluster/crd.yaml`"
    );
}

#[test]
fn no_cluster_is_one_clear_line() {
    let out = Command::new(UNSEAL)
        .args(["keys", "list", "--kubeconfig", "/nonexistent/kubeconfig"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("/nonexistent/kubeconfig: cannot read kubeconfig"),
        "{stderr}"
    );
}
