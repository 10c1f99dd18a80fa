//! `seal migrate --online` against the real kubeseal's output (built from its Go module
//! by `scripts/sealed-secrets`) and a running controller (the production `unseal`
//! supervisor on the API-server double, reached through the double's service proxy like
//! every online command): the admin imports the bitnami key with the built `unseal keys
//! import --sealed-secrets`, `seal migrate --online` has the controller convert, and the
//! controller's own key opens the result to the very bytes the Secrets held. No bitnami
//! key is given to `seal`. Then what must stop a run stops it, with nothing written.

use std::path::Path;

use seal_core::{KeyRing, convert};
use seal_e2e::*;

use crate::migrate::{binary_value, kubeseal, secret, snapshot};
use crate::online::Cluster;

const KEY: &str = "keys-example/sealed-secrets.key";

/// The controller's keys, to open what it sealed.
fn controller_keys(c: &Cluster) -> std::sync::Arc<unseal::keys::KeySet> {
    c.ctx.keys.current()
}

/// A fresh recipient from `seal keygen` (its identity in a folder of its own).
fn new_recipient() -> String {
    let dir = scratch();
    run_in(dir.path(), "seal", &["keygen", "-o", "k.txt"], None).ok();
    let text = std::fs::read_to_string(dir.path().join("k.txt")).expect("identity");
    text.lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .expect("public key")
        .to_owned()
}

/// Opens every SealedSecret of `text` with `ring`: (name, values).
fn open_all(
    text: &str,
    ring: &KeyRing,
) -> Vec<(String, std::collections::BTreeMap<String, Vec<u8>>)> {
    seal_core::documents::parse("out", text)
        .expect("yaml")
        .into_iter()
        .map(|doc| {
            let sealed = convert::sealed_secret_from_value(doc.value).expect("SealedSecret");
            let plain = convert::open_sealed_secret(&sealed, ring).expect("opens");
            let data = plain
                .data
                .iter()
                .map(|(k, v)| (k.clone(), v.expose().to_vec()))
                .collect();
            (plain.name, data)
        })
        .collect()
}

/// `seal migrate --online --beside .` in `dir`, against `c`'s controller.
async fn migrate_online_beside(c: &Cluster, dir: &Path) -> Run {
    c.run(dir, "seal", &["migrate", "--online", "--beside", "."], None)
        .await
}

/// The one error line of a run that must fail with exit code 1 (a first contact with
/// the cluster may add a note line before it: the key it trusts from now on).
fn error_line(run: Run) -> String {
    assert_eq!(run.code, Some(1), "exit code; stderr: {}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| !l.starts_with("seal: note: first use of context"))
        .collect();
    assert_eq!(errors.len(), 1, "one error line: {}", run.stderr);
    errors[0].to_owned()
}

async fn import_key(c: &Cluster, dir: &Path) {
    let key = repo_file(KEY);
    let out = c
        .run(
            dir,
            "unseal",
            &["keys", "import", "--sealed-secrets", &key],
            None,
        )
        .await;
    let stdout = out.ok();
    assert!(stdout.contains("imported bitnami key sha256:"), "{stdout}");
    assert!(!stdout.contains("MII"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controller_converts_real_kubeseal_output_in_every_scope() {
    let c = Cluster::start().await;
    let dir = scratch();
    let scopes = crate::migrate::kubesealed_in_every_scope(dir.path());
    // Before the admin imports the keys: refused by name, nothing written.
    let before = snapshot(dir.path());
    let line = migrate_online_beside(&c, dir.path()).await;
    let line = error_line(line);
    assert!(line.contains("NoMigrationKeys"), "{line}");
    assert!(
        line.contains("unseal keys import --sealed-secrets"),
        "{line}"
    );
    assert_eq!(snapshot(dir.path()), before, "nothing written");

    import_key(&c, dir.path()).await;
    let run = migrate_online_beside(&c, dir.path()).await;
    let stderr = run.stderr.clone();
    run.ok();
    assert!(
        stderr.contains("seal migrate: 3 SealedSecret(s) migrated"),
        "{stderr}"
    );
    let keys = controller_keys(&c);
    let ring = &keys.ring;
    let active = c
        .ctx
        .keys
        .current()
        .active()
        .expect("active")
        .recipient
        .clone();
    for (_, name, seal_scope) in scopes {
        let text = std::fs::read_to_string(dir.path().join(format!("{name}.seal.yaml")))
            .expect("written beside");
        assert!(!text.contains("hunter2"), "{text}");
        let sealed = &documents(&text)[0];
        assert_eq!(sealed["spec"]["scope"], seal_scope, "{name}");
        assert_eq!(sealed["spec"]["recipients"], serde_json::json!([active]));
        assert_eq!(
            sealed["metadata"]["annotations"]["seal.dev/migrated-from"],
            "bitnami.com/v1alpha1"
        );
        assert_eq!(
            sealed["spec"]["template"]["metadata"]["labels"]["app"],
            "orders"
        );
        let opened = open_all(&text, ring);
        assert_eq!(opened[0].0, name);
        assert_eq!(opened[0].1["blob"], binary_value(), "{name}");
        assert_eq!(opened[0].1["password"], b"hunter2-top-secret\n", "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_recipients_and_tampered_values_stop_the_run_with_nothing_written() {
    let breakglass = new_recipient();
    let c = Cluster::start_trusting(vec![breakglass.clone()]).await;
    let dir = scratch();
    import_key(&c, dir.path()).await;
    let good = kubeseal(&secret("db", "apps"), "strict");
    write(dir.path(), "a-good.yaml", &good);
    let out = dir.path().join("out.yaml").display().to_string();

    // A recipient the controller does not trust (another cluster's, or an attacker's
    // who edited .seal.yaml): named, nothing written, unless --drop-untrusted.
    let stranger = new_recipient();
    let line = c
        .run(
            dir.path(),
            "seal",
            &[
                "migrate",
                "--online",
                "-r",
                &stranger,
                "-r",
                &breakglass,
                "a-good.yaml",
                "-w",
                &out,
            ],
            None,
        )
        .await;
    let line = error_line(line);
    assert!(line.contains("a-good.yaml: document 1"), "{line}");
    assert!(line.contains(&stranger), "{line}");
    assert!(line.contains("--drop-untrusted"), "{line}");
    assert!(!Path::new(&out).exists(), "nothing written");
    c.run(
        dir.path(),
        "seal",
        &[
            "migrate",
            "--online",
            "--drop-untrusted",
            "-r",
            &stranger,
            "-r",
            &breakglass,
            "a-good.yaml",
            "-w",
            &out,
        ],
        None,
    )
    .await
    .ok();
    let text = std::fs::read_to_string(&out).expect("written");
    let recipients = documents(&text)[0]["spec"]["recipients"].clone();
    let recipients: Vec<String> = serde_json::from_value(recipients).expect("list");
    assert!(recipients.contains(&breakglass), "{recipients:?}");
    assert!(!recipients.contains(&stranger), "{recipients:?}");
    assert_eq!(
        open_all(&text, &controller_keys(&c).ring)[0].1["blob"],
        binary_value()
    );
    std::fs::remove_file(&out).expect("removed");

    // A tampered value, a value moved to another name: the run stops on it, naming file,
    // document and key, and the good file beside it is not converted either.
    let tampered = {
        let mut doc = documents(&good)[0].clone();
        let text = doc["spec"]["encryptedData"]["password"]
            .as_str()
            .expect("value")
            .to_owned();
        use base64::Engine as _;
        let engine = base64::engine::general_purpose::STANDARD;
        let mut bytes = engine.decode(text).expect("base64");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        doc["spec"]["encryptedData"]["password"] = engine.encode(bytes).into();
        doc.to_string()
    };
    for (what, text, key) in [
        ("tampered", tampered, "password"),
        (
            "renamed",
            good.replace("name: db\n", "name: stolen\n"),
            "blob",
        ),
    ] {
        write(dir.path(), "b-bad.yaml", &text);
        let before = snapshot(dir.path());
        let line = migrate_online_beside(&c, dir.path()).await;
        let line = error_line(line);
        assert!(
            line.contains("b-bad.yaml: document 1: not migrated"),
            "{what}: {line}"
        );
        assert!(line.contains("spec.encryptedData."), "{what}: {line}");
        assert!(
            line.contains(&format!(
                "spec.encryptedData.\"{key}\": no given key opens it"
            )),
            "{what}: {line}"
        );
        assert!(!line.contains("hunter2"), "{what}: {line}");
        assert_eq!(snapshot(dir.path()), before, "{what}: nothing written");
    }
}

#[test]
fn online_and_local_keys_are_exclusive() {
    let key = repo_file(KEY);
    let run = run(
        "seal",
        &[
            "migrate",
            "--online",
            "--sealed-secrets-keys",
            &key,
            "x.yaml",
        ],
        None,
    );
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("cannot be used with"), "{}", run.stderr);
    let run = seal_e2e::run("seal", &["migrate", "x.yaml"], None);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
}
