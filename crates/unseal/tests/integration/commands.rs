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
    ],
}

/// Runs the binary on a blocking thread, so the double (on this test's runtime) can
/// answer, with the controller namespace `namespace`.
async fn unseal(kubeconfig: &Path, namespace: &str, args: &[&str]) -> std::process::Output {
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
    let sealed = seal(
        &plain(&apps, "db", &[("password", "never-logged-value")]),
        &recipients,
        &SealOptions::default(),
    );
    h.create(&sealed).await;
    wait_for("secret", async || h.secret(&apps, "db").await).await;
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
