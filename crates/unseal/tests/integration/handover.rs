//! The hand-over from the real bitnami sealed-secrets controller (v0.36, built from its
//! Go module by `scripts/sealed-secrets`), on the real control plane: the real kubeseal
//! seals a Secret, the real bitnami controller writes it, the migrated seal SealedSecret
//! arrives, and unseal takes the Secret over. Polled all along, the Secret is present with
//! the same data at every read and owned by unseal at the end; pruning the bitnami
//! object then leaves it in place, while the garbage collector does collect the Secret of
//! a bitnami object that was not migrated (so the check is not vacuous).
//!
//! The bitnami controller only runs in a cluster (it reads its ServiceAccount's files
//! under /var/run/secrets), so it runs as a local process in a private mount namespace
//! (`unshare`; for a user other than root, inside a user namespace) where those files
//! hold this test's cluster-admin token and CA.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::support::*;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, PostParams};
use seal_core::bitnami::{self, BitnamiKeys, BitnamiSealedSecret};
use seal_core::convert::{self, SealOptions};
use seal_core::{Mode, documents};
use serde_json::Value;

scenarios! {
    both: [the_marker_does_not_take_a_secret_another_controller_owns],
    real: [a_secret_is_handed_over_from_the_real_bitnami_controller_without_a_gap],
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The folder of the built kubeseal and controller (built once per machine).
pub(crate) fn sealed_secrets_bin() -> PathBuf {
    control_plane::sealed_secrets::bin()
        .expect("the real sealed-secrets")
        .to_path_buf()
}

/// bitnami's SealedSecret CRD, as the built release ships it.
pub(crate) async fn install_bitnami_crd(h: &Harness, bin: &Path) {
    let crd_text = std::fs::read_to_string(bin.join("../crd.yaml")).expect("crd.yaml");
    let crd: Vec<Value> = documents::parse("crd.yaml", &crd_text)
        .expect("CRD parses")
        .into_iter()
        .map(|d| d.value)
        .collect();
    control_plane::apply(&h.client, &crd)
        .await
        .expect("CRD applied");
}

pub(crate) fn bitnami_api(h: &Harness, ns: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("bitnami.com", "v1alpha1", "SealedSecret");
    Api::namespaced_with(h.client.clone(), ns, &ApiResource::from_gvk(&gvk))
}

/// The real kubeseal, offline, to the example certificate.
fn kubeseal(manifest: &str) -> String {
    control_plane::sealed_secrets::kubeseal(&["-o", "yaml"], manifest).expect("kubeseal")
}

/// The bitnami controller, stopped (killed, by its own pid) when dropped.
pub(crate) struct BitnamiController(Child);

impl Drop for BitnamiController {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the real bitnami controller against this test's cluster, its keys in `key_ns`.
pub(crate) fn start_bitnami(
    h: &Harness,
    bin: &Path,
    dir: &Path,
    key_ns: &str,
) -> BitnamiController {
    let kubeconfig: Value = serde_json::from_str(
        &std::fs::read_to_string(h.kubeconfig(dir, false)).expect("kubeconfig"),
    )
    .expect("JSON kubeconfig");
    let cluster = &kubeconfig["clusters"][0]["cluster"];
    let server = cluster["server"].as_str().expect("server");
    let ca = STANDARD
        .decode(cluster["certificate-authority-data"].as_str().expect("CA"))
        .expect("base64 CA");
    let token = kubeconfig["users"][0]["user"]["token"]
        .as_str()
        .expect("token");
    let child = control_plane::bitnami_controller(
        &bin.join("controller"),
        dir,
        &control_plane::InCluster {
            server,
            ca: &ca,
            token,
            namespace: key_ns,
        },
    )
    .expect("service account files written")
    .spawn()
    .expect("unshare runs the bitnami controller");
    BitnamiController(child)
}

fn owner_kind(secret: &Value) -> Option<String> {
    let refs = secret["metadata"]["ownerReferences"].as_array()?;
    let controllers: Vec<&Value> = refs.iter().filter(|r| r["controller"] == true).collect();
    assert!(controllers.len() <= 1, "one controller at most: {refs:?}");
    let r = controllers.first()?;
    Some(format!(
        "{} {}",
        r["apiVersion"].as_str()?,
        r["name"].as_str()?
    ))
}

async fn a_secret_is_handed_over_from_the_real_bitnami_controller_without_a_gap(backend: Backend) {
    let h = Harness::start(backend).await;
    let apps = h.ns("apps");
    let key_ns = h.ns("team-b");
    let dir = tempfile::tempdir().expect("dir");
    let bin = sealed_secrets_bin();

    // bitnami's CRD, and its key (the example one) where its controller looks.
    install_bitnami_crd(&h, &bin).await;
    let key = std::fs::read(repo_root().join("keys-example/sealed-secrets.key")).expect("key");
    let cert = std::fs::read(repo_root().join("keys-example/sealed-secrets.crt")).expect("cert");
    let key_secret: Secret = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "sealed-secrets-key-test", "labels": {"sealedsecrets.bitnami.com/sealed-secrets-key": "active"}},
        "type": "kubernetes.io/tls",
        "data": {"tls.key": STANDARD.encode(&key), "tls.crt": STANDARD.encode(&cert)},
    }))
    .expect("key Secret");
    Api::<Secret>::namespaced(h.client.clone(), &key_ns)
        .create(&PostParams::default(), &key_secret)
        .await
        .expect("key Secret created");
    let _bitnami = start_bitnami(&h, &bin, dir.path(), &key_ns);

    // Two objects sealed by the real kubeseal: `db` is migrated, `left` is not.
    let binary: Vec<u8> = (0..=255u8).rev().collect();
    let manifest = |name: &str| {
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: {apps}\ndata:\n  blob: {}\n  password: {}\n",
            STANDARD.encode(&binary),
            STANDARD.encode("hunter2")
        )
    };
    let api = bitnami_api(&h, &apps);
    let mut sealed_texts = Vec::new();
    for name in ["db", "left"] {
        let text = kubeseal(&manifest(name));
        let value = documents::parse("kubeseal", &text).expect("YAML")[0]
            .value
            .clone();
        let object: DynamicObject = serde_json::from_value(value.clone()).expect("object");
        wait_for("the bitnami CRD served", async || {
            api.create(&PostParams::default(), &object).await.ok()
        })
        .await;
        sealed_texts.push(value);
    }
    let secrets = Api::<Secret>::namespaced(h.client.clone(), &apps);
    let written = wait_within("the bitnami controller writes db", GC_WITHIN, async || {
        h.secret(&apps, "db")
            .await
            .filter(|s| owner_kind(s).as_deref() == Some("bitnami.com/v1alpha1 db"))
    })
    .await;
    let expected = written["data"].clone();
    assert_eq!(
        STANDARD
            .decode(expected["blob"].as_str().expect("blob"))
            .expect("b64"),
        binary
    );
    wait_for("the bitnami controller writes left", async || {
        h.secret(&apps, "left").await
    })
    .await;

    // `seal migrate`'s conversion (the same library code), then the hand-over, polled.
    let mut keys = BitnamiKeys::new();
    keys.add_file(
        "sealed-secrets.key",
        std::str::from_utf8(&key).expect("PEM"),
    )
    .expect("key");
    let bitnami_db = BitnamiSealedSecret::read(&sealed_texts[0], None).expect("reads");
    let opened = bitnami_db.open(&keys).expect("opens");
    let mut migrated = convert::seal_secret(
        &opened,
        &h.recipients(),
        &SealOptions {
            scope: bitnami_db.scope,
            default_namespace: None,
            mode: Mode::Owned,
        },
    )
    .expect("seals");
    migrated
        .metadata
        .annotations
        .get_or_insert_default()
        .insert(
            bitnami::MIGRATED_FROM_ANNOTATION.to_owned(),
            bitnami::API_VERSION.to_owned(),
        );
    let done = Arc::new(AtomicBool::new(false));
    let poller = {
        let (secrets, done, expected) = (secrets.clone(), done.clone(), expected.clone());
        tokio::spawn(async move {
            let mut polls = 0usize;
            while !done.load(Ordering::SeqCst) {
                let secret = secrets.get_opt("db").await.expect("GET works");
                let secret = secret.expect("the Secret is present at every poll");
                let value = serde_json::to_value(&secret).expect("JSON");
                assert_eq!(value["data"], expected, "same data at every poll");
                polls += 1;
            }
            polls
        })
    };
    h.create(&migrated).await;
    wait_for("unseal owns db", async || {
        h.secret(&apps, "db").await.filter(|s| {
            owner_kind(s).is_some_and(|o| o.starts_with("seal.dev/") && o.ends_with(" db"))
        })
    })
    .await;
    h.wait_reason(&apps, "db", "Unsealed").await;
    done.store(true, Ordering::SeqCst);
    let polls = poller.await.expect("the poller saw the Secret every time");
    assert!(polls > 0);

    // An attacker's SealedSecret with the marker and values of their own, for the Secret
    // the bitnami controller still owns: not taken, nothing changed.
    let mut attack = convert::seal_secret(
        &plain(&apps, "left", &[("password", "attacker"), ("blob", "x")]),
        &h.recipients(),
        &SealOptions::default(),
    )
    .expect("seals");
    attack.metadata.annotations.get_or_insert_default().insert(
        bitnami::MIGRATED_FROM_ANNOTATION.to_owned(),
        bitnami::API_VERSION.to_owned(),
    );
    h.create(&attack).await;
    h.wait_reason(&apps, "left", "SecretNotOwned").await;
    let left = h.secret(&apps, "left").await.expect("left stays");
    assert_eq!(
        left["data"], expected,
        "the attacker's values were not written"
    );
    assert_eq!(
        owner_kind(&left).as_deref(),
        Some("bitnami.com/v1alpha1 left")
    );
    sealed_api(&h, &apps)
        .delete("left", &DeleteParams::background())
        .await
        .expect("the attacker's SealedSecret deleted");

    // Prune both bitnami objects: the migrated Secret stays, the other is collected.
    for name in ["db", "left"] {
        api.delete(name, &DeleteParams::background())
            .await
            .expect("bitnami object deleted");
    }
    wait_within(
        "the garbage collector collects left",
        GC_WITHIN,
        async || h.secret(&apps, "left").await.is_none().then_some(()),
    )
    .await;
    let kept = h.secret(&apps, "db").await.expect("db is left in place");
    assert_eq!(kept["data"], expected);
    assert!(owner_kind(&kept).is_some_and(|o| o.starts_with("seal.dev/")));
    h.stop().await;
}

fn sealed_api(h: &Harness, ns: &str) -> Api<seal_core::SealedSecret> {
    Api::namespaced(h.client.clone(), ns)
}

/// The marker on a SealedSecret whose Secret another controller owns (here a ConfigMap
/// standing for it, which exists, so the real garbage collector keeps the Secret), with
/// the very same data: not taken; the Secret and its owner stay as they were.
async fn the_marker_does_not_take_a_secret_another_controller_owns(backend: Backend) {
    let h = Harness::start(backend).await;
    let apps = h.ns("apps");
    let owner = other_owner(&h, &apps, "db", true).await;
    let theirs: Secret = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "db", "ownerReferences": [owner]},
        "data": {"password": STANDARD.encode("same")},
    }))
    .expect("secret");
    Api::<Secret>::namespaced(h.client.clone(), &apps)
        .create(&PostParams::default(), &theirs)
        .await
        .expect("created");
    let mut sealed = convert::seal_secret(
        &plain(&apps, "db", &[("password", "same")]),
        &h.recipients(),
        &SealOptions::default(),
    )
    .expect("seals");
    sealed.metadata.annotations.get_or_insert_default().insert(
        bitnami::MIGRATED_FROM_ANNOTATION.to_owned(),
        bitnami::API_VERSION.to_owned(),
    );
    h.create(&sealed).await;
    h.wait_reason(&apps, "db", "SecretNotOwned").await;
    let kept = h.secret(&apps, "db").await.expect("kept");
    assert_eq!(owner_kind(&kept).as_deref(), Some("v1 db"));
    assert!(
        kept["metadata"]["labels"].is_null(),
        "not even labelled: {kept}"
    );
    h.stop().await;
}
