//! `seal` talking to a controller through the kubeconfig: the whole loop from the built
//! `seal` binary to a Secret in the (double) cluster. The API-server double stands in for
//! kube-apiserver (which cannot run here), including its service proxy; the controller is
//! the production `unseal` supervisor running in this test.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use apiserver_double::{ApiServerDouble, Fault, ResourceKind};
use seal_e2e::*;
use tokio::sync::watch;

pub(crate) struct Cluster {
    double: Arc<ApiServerDouble>,
    pub(crate) ctx: Arc<unseal::context::Context>,
    stop: watch::Sender<bool>,
    _dir: tempfile::TempDir,
    kubeconfig: String,
}

impl Cluster {
    pub(crate) async fn start() -> Self {
        Self::start_trusting(Vec::new()).await
    }

    /// A cluster whose controller trusts these extra recipients.
    pub(crate) async fn start_trusting(trusted: Vec<String>) -> Self {
        let double = Arc::new(ApiServerDouble::start().await.expect("double"));
        let url = double.url().parse().expect("url");
        let client = kube::Client::try_from(kube::Config::new(url)).expect("client");
        let mut settings = unseal::context::Settings::new("seal-system", "test");
        settings.lease_renew_every = Duration::from_millis(100);
        settings.key_check_every = Duration::from_millis(200);
        settings.trusted_recipients = trusted;
        let ctx = unseal::context::Context::new(client, settings);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        double.register_service(
            "seal-system",
            "unseal:http",
            &format!("http://{}", listener.local_addr().expect("addr")),
        );
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(unseal::supervisor::run(ctx.clone(), listener, stopped));
        let dir = scratch();
        let kubeconfig = write(dir.path(), "kubeconfig", &double.kubeconfig("default"));
        let c = Self {
            double,
            ctx,
            stop,
            _dir: dir,
            kubeconfig,
        };
        let ctx = c.ctx.clone();
        wait("controller ready", move || {
            ctx.is_ready() && ctx.is_leader()
        })
        .await;
        let d = c.double.clone();
        wait("recipients published", move || {
            d.get(
                &ResourceKind::config_maps(),
                "seal-system",
                "unseal-recipients",
            )
            .is_some()
        })
        .await;
        c
    }

    /// Runs a binary with this cluster's kubeconfig, on a blocking thread so the double
    /// and the controller (on this runtime) keep answering.
    pub(crate) async fn run(
        &self,
        dir: &Path,
        name: &'static str,
        args: &[&str],
        stdin: Option<&[u8]>,
    ) -> Run {
        let (dir, kubeconfig) = (dir.to_owned(), self.kubeconfig.clone());
        // The keys seal remembers go to this cluster's folder, not the user's.
        let config = self._dir.path().join("config").display().to_string();
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let stdin = stdin.map(<[u8]>::to_vec);
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run_with_env(
                &dir,
                name,
                &args,
                stdin.as_deref(),
                &[
                    ("KUBECONFIG", kubeconfig.as_str()),
                    ("SEAL_CONFIG_DIR", config.as_str()),
                ],
            )
        })
        .await
        .expect("joined")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Polls every 20 ms for up to a minute (generous: a busy machine must not fail a slow
/// test).
async fn wait(what: &str, check: impl Fn() -> bool) {
    for _ in 0..3000 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

const SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: apps\nstringData:\n  password: online-value\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seal_without_recipients_uses_the_cluster_and_the_controller_unseals_it() {
    let c = Cluster::start().await;
    let dir = scratch();
    let file = write(dir.path(), "db.yaml", SECRET);
    c.run(dir.path(), "seal", &[&file, "-w", "db.sealed.yaml"], None)
        .await
        .ok();
    let sealed = std::fs::read_to_string(dir.path().join("db.sealed.yaml")).expect("sealed");
    let doc = &documents(&sealed)[0];
    let active = c
        .ctx
        .keys
        .current()
        .active()
        .expect("key")
        .recipient
        .clone();
    assert_eq!(doc["spec"]["recipients"][0], active.as_str());
    let out = c
        .run(dir.path(), "seal", &["verify", "db.sealed.yaml"], None)
        .await
        .ok();
    assert!(out.contains("db.sealed.yaml: document 1: opens"), "{out}");
    // Apply it as kubectl would, and the controller makes the Secret.
    c.double
        .with_store(|s| {
            s.create(
                &ResourceKind::new("seal.dev", "v1alpha1", "sealedsecrets"),
                "apps",
                doc.clone(),
            )
        })
        .expect("applied");
    let d = c.double.clone();
    wait("Secret", move || {
        d.get(&ResourceKind::secrets(), "apps", "db").is_some()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_recipients_falls_back_to_the_service_proxy() {
    let c = Cluster::start().await;
    let dir = scratch();
    c.double
        .inject(Fault::new("GET", "/configmaps/unseal-recipients", 403, 10));
    let out = c
        .run(
            dir.path(),
            "seal",
            &["fetch-recipients", "-o", "cluster.txt"],
            None,
        )
        .await;
    out.ok();
    let text = std::fs::read_to_string(dir.path().join("cluster.txt")).expect("written");
    let active = c
        .ctx
        .keys
        .current()
        .active()
        .expect("key")
        .recipient
        .clone();
    assert!(text.lines().any(|l| l == active), "{text}");
    // Offline from now on.
    let file = write(dir.path(), "db.yaml", SECRET);
    let sealed = run_in(dir.path(), "seal", &["-R", "cluster.txt", &file], None).ok();
    assert!(sealed.contains(&active));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_reports_the_reason_and_reencrypt_moves_to_the_new_key() {
    let c = Cluster::start().await;
    let dir = scratch();
    let file = write(dir.path(), "db.yaml", SECRET);
    c.run(dir.path(), "seal", &[&file, "-w", "db.sealed.yaml"], None)
        .await
        .ok();
    let moved = std::fs::read_to_string(dir.path().join("db.sealed.yaml"))
        .expect("sealed")
        .replace("namespace: apps", "namespace: other");
    write(dir.path(), "moved.yaml", &moved);
    let line = c
        .run(dir.path(), "seal", &["verify", "moved.yaml"], None)
        .await
        .fails_with(3);
    assert!(
        line.contains("moved.yaml: document 1: ScopeMismatch: "),
        "{line}"
    );
    assert!(!line.contains("online-value"));
    // Rotate, then re-seal the file in place to the new key without any plaintext here.
    let keys: kube::Api<k8s_openapi::api::core::v1::Secret> = kube::Api::namespaced(
        kube::Client::try_from(kube::Config::new(c.double.url().parse().expect("url")))
            .expect("client"),
        "seal-system",
    );
    unseal::keys::secrets::create_next(&keys, "seal-system")
        .await
        .expect("rotated");
    let ctx = c.ctx.clone();
    wait("rotation seen", move || ctx.keys.current().keys.len() == 2).await;
    let new_key = c
        .ctx
        .keys
        .current()
        .active()
        .expect("key")
        .recipient
        .clone();
    let before = std::fs::read_to_string(dir.path().join("db.sealed.yaml")).expect("sealed");
    assert!(!before.contains(&new_key));
    c.run(dir.path(), "seal", &["reencrypt", "db.sealed.yaml"], None)
        .await
        .ok();
    let after = std::fs::read_to_string(dir.path().join("db.sealed.yaml")).expect("resealed");
    assert_eq!(
        documents(&after)[0]["spec"]["recipients"],
        serde_json::json!([new_key])
    );
    c.run(dir.path(), "seal", &["verify", "db.sealed.yaml"], None)
        .await
        .ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_controller_and_rbac_denied_are_one_clear_line() {
    let double = ApiServerDouble::start().await.expect("double");
    let dir = scratch();
    let kubeconfig = write(dir.path(), "kubeconfig", &double.kubeconfig("default"));
    let file = write(dir.path(), "db.yaml", SECRET);
    let run_ = |args: Vec<String>| {
        let (d, k) = (dir.path().to_owned(), kubeconfig.clone());
        tokio::task::spawn_blocking(move || {
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            run_with_env(&d, "seal", &a, None, &[("KUBECONFIG", k.as_str())])
        })
    };
    let line = run_(vec![file.clone(), "-w".into(), "out.yaml".into()])
        .await
        .expect("joined")
        .fails_with(1);
    assert!(line.contains("no seal controller found"), "{line}");
    assert!(!dir.path().join("out.yaml").exists());
    double.inject(Fault::new("*", "/", 403, 100));
    let line = run_(vec!["fetch-recipients".into()])
        .await
        .expect("joined")
        .fails_with(1);
    assert!(line.contains("forbidden"), "{line}");
    drop(double);
    let dead = write(
        dir.path(),
        "dead",
        &ApiServerDouble::start()
            .await
            .expect("double")
            .kubeconfig("default")
            .replace("127.0.0.1", "127.0.0.1:1#"),
    );
    let line = {
        let (d, k) = (dir.path().to_owned(), dead);
        tokio::task::spawn_blocking(move || {
            run_with_env(
                &d,
                "seal",
                &["fetch-recipients", "--kubeconfig", &k],
                None,
                &[],
            )
        })
        .await
        .expect("joined")
    }
    .fails_with(1);
    assert!(line.contains("cannot"), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recipients_add_through_the_controller_takes_only_trusted_keys() {
    let dir = scratch();
    let keygen = |name: &str| {
        run_in(dir.path(), "seal", &["keygen", "-o", name], None).ok();
        let text = std::fs::read_to_string(dir.path().join(name)).expect("identity");
        text.lines()
            .find_map(|l| l.strip_prefix("# public key: "))
            .expect("public key")
            .to_owned()
    };
    let dr = keygen("dr.key");
    let stranger = keygen("stranger.key");
    let c = Cluster::start_trusting(vec![dr.clone()]).await;
    let file = write(dir.path(), "db.yaml", SECRET);
    c.run(dir.path(), "seal", &[&file, "-w", "db.sealed.yaml"], None)
        .await
        .ok();
    let before = std::fs::read_to_string(dir.path().join("db.sealed.yaml")).expect("sealed");
    let refused = c
        .run(
            dir.path(),
            "seal",
            &["recipients", "add", "db.sealed.yaml", "-r", &stranger],
            None,
        )
        .await
        .fails_with(1);
    assert!(
        refused.contains("neither a key of this controller"),
        "{refused}"
    );
    let now = std::fs::read_to_string(dir.path().join("db.sealed.yaml")).expect("sealed");
    assert_eq!(now, before, "nothing written on refusal");
    c.run(
        dir.path(),
        "seal",
        &["recipients", "add", "db.sealed.yaml", "-r", &dr],
        None,
    )
    .await
    .ok();
    let opened = run_in(
        dir.path(),
        "unseal",
        &["recover", "-i", "dr.key", "db.sealed.yaml"],
        None,
    )
    .ok();
    assert!(
        opened.contains("b25saW5lLXZhbHVl"),
        "the DR key opens it: {opened}"
    );
    let out = c
        .run(dir.path(), "seal", &["verify", "db.sealed.yaml"], None)
        .await
        .ok();
    assert!(out.contains("opens"), "the cluster still opens it: {out}");

    // The attack: list the stranger in spec.recipients by hand and ask for a re-seal.
    // The controller drops it and names it; the client writes nothing unless told to.
    let sealed = std::fs::read_to_string(dir.path().join("db.sealed.yaml")).expect("sealed");
    let forged = sealed.replacen(
        "  recipients:\n",
        &format!("  recipients:\n  - {stranger}\n"),
        1,
    );
    assert_ne!(forged, sealed, "the fixture lists spec.recipients");
    std::fs::write(dir.path().join("db.sealed.yaml"), &forged).expect("write");
    let refused = c
        .run(dir.path(), "seal", &["reencrypt", "db.sealed.yaml"], None)
        .await
        .fails_with(1);
    assert!(
        refused.contains(&stranger) && refused.contains("--drop-untrusted"),
        "{refused}"
    );
    let now = std::fs::read_to_string(dir.path().join("db.sealed.yaml")).expect("sealed");
    assert_eq!(
        now, forged,
        "nothing written when recipients would be dropped"
    );
    c.run(
        dir.path(),
        "seal",
        &["reencrypt", "--drop-untrusted", "db.sealed.yaml"],
        None,
    )
    .await
    .ok();
    let resealed = std::fs::read_to_string(dir.path().join("db.sealed.yaml")).expect("sealed");
    assert!(!resealed.contains(&stranger), "{resealed}");
    assert!(
        resealed.contains(&dr),
        "the trusted DR key is kept: {resealed}"
    );
    let line = run_in(
        dir.path(),
        "unseal",
        &["recover", "-i", "stranger.key", "db.sealed.yaml"],
        None,
    )
    .fails_with(3);
    assert!(
        line.contains("NoMatchingKey") || line.contains("no identity"),
        "{line}"
    );
}

/// `seal recipients sync` without `-i`: the controller adds the DR key the new rule
/// lists (it trusts it) and refuses the stranger a later rule lists; nothing is written
/// on refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recipients_sync_through_the_controller_keeps_to_its_trust_rules() {
    let dir = scratch();
    let d = dir.path();
    let keygen = |name: &str| {
        run_in(d, "seal", &["keygen", "-o", name], None).ok();
        let text = std::fs::read_to_string(d.join(name)).expect("identity");
        text.lines()
            .find_map(|l| l.strip_prefix("# public key: "))
            .expect("public key")
            .to_owned()
    };
    let dr = keygen("dr.key");
    let stranger = keygen("stranger.key");
    let c = Cluster::start_trusting(vec![dr.clone()]).await;
    let active = c
        .ctx
        .keys
        .current()
        .active()
        .expect("key")
        .recipient
        .clone();
    std::fs::create_dir(d.join("apps")).expect("folder");
    let rules = |recipients: &[&str]| {
        std::fs::write(
            d.join(".seal.yaml"),
            format!(
                "rules:\n  - path: 'apps/**'\n    recipients: [{}]\n",
                recipients.join(", ")
            ),
        )
        .expect("rules");
    };
    rules(&[&active]);
    write(d, "db.yaml", SECRET);
    c.run(d, "seal", &["db.yaml", "-w", "apps/db.sealed.yaml"], None)
        .await
        .ok();
    rules(&[&active, &dr]);
    c.run(d, "seal", &["recipients", "sync", "apps"], None)
        .await
        .ok();
    let opened = run_in(
        d,
        "unseal",
        &["recover", "-i", "dr.key", "apps/db.sealed.yaml"],
        None,
    )
    .ok();
    assert!(
        opened.contains("b25saW5lLXZhbHVl"),
        "the DR key opens it: {opened}"
    );
    c.run(d, "seal", &["recipients", "sync", "--check", "apps"], None)
        .await
        .ok();

    rules(&[&active, &dr, &stranger]);
    let before = std::fs::read(d.join("apps/db.sealed.yaml")).expect("sealed");
    let line = c
        .run(d, "seal", &["recipients", "sync", "apps"], None)
        .await
        .fails_with(1);
    assert!(
        line.contains("apps/db.sealed.yaml: document 1: not re-sealed"),
        "{line}"
    );
    assert_eq!(
        std::fs::read(d.join("apps/db.sealed.yaml")).expect("sealed"),
        before
    );
}

/// `-o json` where a script wants it: verify gives one verdict per object (and still
/// exits 3 when one does not open), fetch-recipients --format json the recipients, the
/// active one first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_and_fetch_recipients_speak_json_for_scripts() {
    let c = Cluster::start().await;
    let dir = scratch();
    let d = dir.path();
    write(d, "db.yaml", SECRET);
    c.run(d, "seal", &["db.yaml", "-w", "db.sealed.yaml"], None)
        .await
        .ok();
    let good = std::fs::read_to_string(d.join("db.sealed.yaml")).expect("sealed");
    write(
        d,
        "both.yaml",
        &format!(
            "{good}---\n{}",
            good.replace("namespace: apps", "namespace: other")
        ),
    );
    let run = c
        .run(d, "seal", &["verify", "-o", "json", "both.yaml"], None)
        .await;
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    let verdicts: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(verdicts[0]["at"], "both.yaml: document 1");
    assert_eq!(verdicts[0]["opens"], true);
    assert_eq!(verdicts[1]["opens"], false);
    assert_eq!(verdicts[1]["reason"], "ScopeMismatch");
    assert!(!run.stdout.contains("online-value"));

    let out = c
        .run(d, "seal", &["fetch-recipients", "--format", "json"], None)
        .await
        .ok();
    let fetched: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let active = c
        .ctx
        .keys
        .current()
        .active()
        .expect("key")
        .recipient
        .clone();
    assert_eq!(fetched["recipients"][0], active.as_str());
}
