//! `seal migrate` against the real bitnami kubeseal (built from its Go module by
//! `scripts/sealed-secrets`): kubeseal seals Secrets offline with `--cert` in every
//! scope, `seal migrate` converts them with the bitnami key, and `unseal recover` opens
//! them to the very bytes the Secrets held. Then what an attacker (or a broken repo)
//! hands `seal migrate` fails cleanly, with nothing written.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use seal_e2e::*;
use serde_json::Value;

const CERT: &str = "keys-example/sealed-secrets.crt";
const KEY: &str = "keys-example/sealed-secrets.key";

/// A value that is neither text nor valid UTF-8.
pub(crate) fn binary_value() -> Vec<u8> {
    let mut v: Vec<u8> = (0..=255u8).rev().collect();
    v.extend_from_slice(b"\xc3\x28\x00\xff");
    v
}

pub(crate) fn secret(name: &str, namespace: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: {namespace}\n  labels:\n    app: orders\n  annotations:\n    team: payments\ntype: Opaque\ndata:\n  blob: {}\n  password: {}\n",
        STANDARD.encode(binary_value()),
        STANDARD.encode("hunter2-top-secret\n"),
    )
}

/// The real kubeseal, offline: sealed to the example certificate, no cluster contacted.
pub(crate) fn kubeseal(manifest: &str, scope: &str) -> String {
    control_plane::sealed_secrets::kubeseal(&["-o", "yaml", "--scope", scope], manifest)
        .expect("kubeseal")
}

fn migrate(dir: &Path, args: &[&str]) -> Run {
    let key = repo_file(KEY);
    let recipients = example_recipients();
    let mut all = vec!["migrate", "--sealed-secrets-keys", &key, "-R", &recipients];
    all.extend_from_slice(args);
    run_in(dir, "seal", &all, None)
}

fn recover(sealed: &str) -> Vec<Value> {
    let identity = example_identity();
    documents(
        &run(
            "unseal",
            &["recover", "-i", &identity],
            Some(sealed.as_bytes()),
        )
        .ok(),
    )
}

/// The files of a folder and their bytes, to show nothing was written.
pub(crate) fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut all: Vec<_> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| {
            let p = e.expect("entry").path();
            let bytes = std::fs::read(&p).unwrap_or_default();
            (p, bytes)
        })
        .collect();
    all.sort();
    all
}

/// The three bitnami scopes, the object sealed in each (`<name>.yaml` in `dir`, by the
/// real kubeseal) and the seal scope it maps to: `(bitnami scope, name, seal scope)`.
pub(crate) fn kubesealed_in_every_scope(
    dir: &Path,
) -> [(&'static str, &'static str, &'static str); 3] {
    let scopes = [
        ("strict", "db-strict", "strict"),
        ("namespace-wide", "db-ns", "namespace"),
        ("cluster-wide", "db-cluster", "cluster"),
    ];
    for (scope, name, _) in scopes {
        write(
            dir,
            &format!("{name}.yaml"),
            &kubeseal(&secret(name, "apps"), scope),
        );
    }
    scopes
}

#[test]
fn kubeseal_output_in_every_scope_opens_to_the_same_bytes() {
    let dir = scratch();
    let scopes = kubesealed_in_every_scope(dir.path());
    // Something else in the tree is left alone.
    write(
        dir.path(),
        "config.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
    );
    migrate(dir.path(), &["--beside", "."]).ok();
    for (_, name, seal_scope) in scopes {
        let text = std::fs::read_to_string(dir.path().join(format!("{name}.seal.yaml")))
            .expect("written beside");
        let sealed = &documents(&text)[0];
        assert_eq!(sealed["apiVersion"], "seal.dev/v1alpha1");
        assert_eq!(sealed["spec"]["scope"], seal_scope, "{name}");
        assert_eq!(
            sealed["metadata"]["annotations"]["seal.dev/migrated-from"],
            "bitnami.com/v1alpha1"
        );
        let template = &sealed["spec"]["template"];
        assert_eq!(template["metadata"]["labels"]["app"], "orders");
        assert_eq!(template["metadata"]["annotations"]["team"], "payments");
        assert!(
            !text.contains("sealedsecrets.bitnami.com"),
            "bitnami annotations are dropped: {text}"
        );
        assert!(!text.contains("hunter2"), "{text}");
        let secret = &recover(&text)[0];
        let data = secret_data(secret);
        assert_eq!(data["blob"], binary_value(), "{name}");
        assert_eq!(data["password"], b"hunter2-top-secret\n", "{name}");
        assert_eq!(secret["metadata"]["name"], name);
        assert_eq!(secret["metadata"]["namespace"], "apps");
    }
    assert!(!dir.path().join("config.seal.yaml").exists());
    // A file named twice (itself and under its folder) is migrated once.
    for (_, name, _) in scopes {
        std::fs::remove_file(dir.path().join(format!("{name}.seal.yaml"))).expect("removed");
    }
    let twice = migrate(dir.path(), &["--beside", ".", "db-ns.yaml"]);
    assert_eq!(twice.code, Some(0), "{}", twice.stderr);
    assert!(
        twice
            .stderr
            .contains("seal migrate: 3 SealedSecret(s) migrated"),
        "{}",
        twice.stderr
    );
    // Running again would overwrite: refused, by name.
    let line = migrate(dir.path(), &["--beside", "."]).fails_with(1);
    assert!(
        line.contains("db-cluster.seal.yaml: already exists"),
        "{line}"
    );
}

#[test]
fn a_kubesealed_value_moved_elsewhere_or_tampered_is_refused_and_nothing_is_written() {
    let dir = scratch();
    let good = kubeseal(&secret("db", "apps"), "strict");
    write(dir.path(), "a-good.yaml", &good);
    let cases = [
        (
            "moved to another namespace",
            good.replace("namespace: apps", "namespace: evil"),
        ),
        ("renamed", good.replace("name: db\n", "name: stolen\n")),
        ("scope widened", {
            let mut doc = documents(&good)[0].clone();
            doc["metadata"]["annotations"] =
                serde_json::json!({"sealedsecrets.bitnami.com/cluster-wide": "true"});
            doc.to_string()
        }),
    ];
    for (what, text) in cases {
        write(dir.path(), "b-bad.yaml", &text);
        let before = snapshot(dir.path());
        let line = migrate(dir.path(), &["--beside", "."]).fails_with(1);
        assert!(
            line.contains("b-bad.yaml: document 1: spec.encryptedData."),
            "{what}: {line}"
        );
        assert!(!line.contains("hunter2"), "{line}");
        assert_eq!(snapshot(dir.path()), before, "{what}: nothing written");
    }
    // One flipped byte of a value's ciphertext.
    let doc = &documents(&good)[0];
    let value = doc["spec"]["encryptedData"]["password"]
        .as_str()
        .expect("value");
    let mut bytes = STANDARD.decode(value).expect("base64");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    write(
        dir.path(),
        "b-bad.yaml",
        &good.replace(value, &STANDARD.encode(&bytes)),
    );
    let line = migrate(dir.path(), &["-w", "out.yaml", "."]).fails_with(1);
    assert!(
        line.contains("spec.encryptedData.\"password\": no given key opens it"),
        "{line}"
    );
    assert!(!dir.path().join("out.yaml").exists());
}

#[test]
fn crafted_bitnami_objects_fail_cleanly() {
    let dir = scratch();
    let header = "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n  name: db\n  namespace: apps\n";
    let huge = STANDARD.encode(vec![7u8; 2 * 1024 * 1024]);
    let oversized_rsa = STANDARD.encode([&[0xffu8, 0xff][..], &[1u8; 600]].concat());
    let cases = [
        (
            "oversized RSA block length",
            format!("{header}spec:\n  encryptedData:\n    k: {oversized_rsa}\n"),
            "too short",
        ),
        (
            "huge value",
            format!("{header}spec:\n  encryptedData:\n    k: {huge}\n"),
            "larger than a Secret can hold",
        ),
        (
            "Go template",
            format!(
                "{header}spec:\n  encryptedData: {{}}\n  template:\n    data:\n      url: 'postgres://{{{{ .password }}}}'\n"
            ),
            "spec.template.data: Go templates",
        ),
        (
            "legacy data",
            format!("{header}spec:\n  data: AAAA\n"),
            "spec.data: the legacy",
        ),
        (
            "unknown scope value",
            "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n  name: db\n  namespace: apps\n  annotations:\n    sealedsecrets.bitnami.com/namespace-wide: \"yes\"\nspec:\n  encryptedData: {}\n"
                .to_owned(),
            "unknown scope value",
        ),
        (
            "patch annotation",
            format!(
                "{header}spec:\n  encryptedData: {{}}\n  template:\n    metadata:\n      annotations:\n        sealedsecrets.bitnami.com/patch: \"true\"\n"
            ),
            "seal does not patch",
        ),
        (
            "alias bomb",
            format!(
                "{header}spec:\n  encryptedData:\n    a: &a [x, x, x, x, x, x, x, x, x]\n    b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n    c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n    d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n    e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n    f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n    g: [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
            ),
            "crafted.yaml",
        ),
    ];
    for (what, text, expected) in cases {
        write(dir.path(), "crafted.yaml", &text);
        let before = snapshot(dir.path());
        let line = migrate(dir.path(), &["--beside", "crafted.yaml"]).fails_with(1);
        assert!(line.contains(expected), "{what}: {line}");
        assert!(line.len() < 400, "{what}: one short line: {line}");
        assert_eq!(snapshot(dir.path()), before, "{what}: nothing written");
    }
}

#[test]
fn a_key_file_that_is_not_a_key_is_refused_without_showing_it() {
    let dir = scratch();
    write(
        dir.path(),
        "db.yaml",
        &kubeseal(&secret("db", "apps"), "strict"),
    );
    let not_keys = [
        (
            "cert.pem",
            std::fs::read_to_string(repo_file(CERT)).expect("cert"),
        ),
        (
            "secret.yaml",
            format!(
                "apiVersion: v1\nkind: Secret\nmetadata: {{name: x}}\ndata:\n  password: {}\n",
                STANDARD.encode("hunter2")
            ),
        ),
        (
            "identity.txt",
            std::fs::read_to_string(example_identity()).expect("identity"),
        ),
    ];
    for (file, text) in not_keys {
        let path = write(dir.path(), file, &text);
        let before = snapshot(dir.path());
        let recipients = example_recipients();
        let line = run_in(
            dir.path(),
            "seal",
            &[
                "migrate",
                "--sealed-secrets-keys",
                &path,
                "-R",
                &recipients,
                "--beside",
                "db.yaml",
            ],
            None,
        )
        .fails_with(1);
        assert!(line.contains(file), "{line}");
        assert!(
            !line.contains("aHVudGVyMg") && !line.contains("AGE-SECRET-KEY"),
            "{line}"
        );
        assert_eq!(snapshot(dir.path()), before, "{file}: nothing written");
    }
    // A real key of another cluster: every value is named as not opening.
    let other = dir.path().join("other.key");
    let made = Command::new("openssl")
        .args(["genrsa", "-traditional", "-out"])
        .arg(&other)
        .arg("2048")
        .stderr(Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(made.success());
    let recipients = example_recipients();
    let line = run_in(
        dir.path(),
        "seal",
        &[
            "migrate",
            "--sealed-secrets-keys",
            "other.key",
            "-R",
            &recipients,
            "db.yaml",
        ],
        None,
    )
    .fails_with(1);
    assert!(
        line.contains("db.yaml: document 1: spec.encryptedData.\"blob\": no given key opens it"),
        "{line}"
    );
}

/// Without -r/-R the `.seal.yaml` rule covering the output gives the recipients; several
/// key files (a List of key Secrets, as kubectl prints them, beside another cluster's
/// PEM) are all tried; standard output and `-w` get the same objects.
#[test]
fn the_repo_rule_gives_the_recipients_and_every_key_is_tried() {
    let dir = scratch();
    let prod = dir.path().join("prod");
    std::fs::create_dir_all(&prod).expect("prod/");
    let (_, stranger) = {
        let out = run("seal", &["keygen"], None);
        let text = out.ok();
        let recipient = text
            .lines()
            .find_map(|l| l.split_whitespace().find(|w| w.starts_with("age1")))
            .expect("a recipient")
            .to_owned();
        (text, recipient)
    };
    let example = std::fs::read_to_string(example_recipients()).expect("recipients");
    let example = example
        .lines()
        .find(|l| l.starts_with("age1"))
        .expect("the example recipient")
        .to_owned();
    write(
        dir.path(),
        ".seal.yaml",
        &format!("rules:\n  - path: 'prod/**'\n    recipients: [{example}, {stranger}]\n"),
    );
    write(&prod, "db.yaml", &kubeseal(&secret("db", "apps"), "strict"));
    let key_pem = std::fs::read_to_string(repo_file(KEY)).expect("key");
    let key_list = format!(
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  type: kubernetes.io/tls\n  metadata:\n    name: sealed-secrets-keyabc\n    namespace: kube-system\n    labels:\n      sealedsecrets.bitnami.com/sealed-secrets-key: active\n  data:\n    tls.key: {}\n",
        STANDARD.encode(key_pem)
    );
    write(dir.path(), "keys.yaml", &key_list);
    let other = dir.path().join("other.key");
    let made = Command::new("openssl")
        .args(["genrsa", "-traditional", "-out"])
        .arg(&other)
        .arg("2048")
        .stderr(Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(made.success());
    let args = [
        "migrate",
        "--sealed-secrets-keys",
        "other.key",
        "--sealed-secrets-keys",
        "keys.yaml",
    ];
    let printed = run_in(
        dir.path(),
        "seal",
        &[&args[..], &["prod/db.yaml"]].concat(),
        None,
    )
    .ok();
    let sealed = &documents(&printed)[0];
    let listed: Vec<&str> = sealed["spec"]["recipients"]
        .as_array()
        .expect("recipients")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed.contains(&example.as_str()) && listed.contains(&stranger.as_str()));
    assert_eq!(secret_data(&recover(&printed)[0])["blob"], binary_value());
    run_in(
        dir.path(),
        "seal",
        &[&args[..], &["-w", "prod/db.migrated.yaml", "prod/db.yaml"]].concat(),
        None,
    )
    .ok();
    let written = std::fs::read_to_string(prod.join("db.migrated.yaml")).expect("-w wrote");
    assert_eq!(
        documents(&written)[0]["spec"]["recipients"],
        sealed["spec"]["recipients"]
    );
    assert_eq!(
        secret_data(&recover(&written)[0])["password"],
        b"hunter2-top-secret\n"
    );
}
