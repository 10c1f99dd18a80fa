//! `POST /v1/migrate` and `unseal keys import --sealed-secrets|--from-cluster`: the
//! real kubeseal (built from its Go module by `scripts/sealed-secrets`) seals Secrets in
//! every scope to the example bitnami certificate, the admin imports the bitnami key
//! into the controller with the `unseal` binary, and the controller converts each object
//! to a seal SealedSecret that its own key opens to the same bytes. Then what an
//! attacker sends it, or plants beside its keys, fails, with nothing sealed.

use std::path::{Path, PathBuf};

use crate::commands::unseal;
use crate::handover::sealed_secrets_bin;
use crate::support::*;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use seal_core::bitnami::{BitnamiKeys, MIGRATED_FROM_ANNOTATION};
use seal_core::{Scope, SealedSecret, convert, documents};
use unseal::keys::bitnami_store;

scenarios! {
    both: [
        imported_keys_convert_real_kubeseal_output_in_every_scope,
        what_an_attacker_sends_is_refused_or_sealed_only_to_trusted_keys,
        a_planted_or_mislabelled_key_store_is_never_used,
        costly_bodies_are_bounded_and_rate_limited_while_health_answers,
        secrets_planted_beside_the_bitnami_keys_are_not_imported_from_the_cluster,
    ],
    real: [
        keys_read_from_the_cluster_convert_on_the_real_control_plane,
        secrets_the_real_bitnami_controller_writes_beside_the_keys_are_no_keys,
    ],
}

fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// A value that is neither text nor valid UTF-8.
fn binary_value() -> Vec<u8> {
    let mut v: Vec<u8> = (0..=255u8).rev().collect();
    v.extend_from_slice(b"\xc3\x28\x00\xff");
    v
}

fn secret_manifest(ns: &str, name: &str, data: &[(&str, &[u8])]) -> String {
    let mut text = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: {ns}\n  labels:\n    app: orders\ntype: Opaque\ndata:\n"
    );
    for (key, value) in data {
        text.push_str(&format!("  {key}: {}\n", STANDARD.encode(value)));
    }
    text
}

/// The real kubeseal, offline, to the example certificate, in `scope`.
fn kubeseal(manifest: &str, scope: &str) -> String {
    control_plane::sealed_secrets::kubeseal(&["-o", "yaml", "--scope", scope], manifest)
        .expect("kubeseal")
}

/// `unseal keys import --sealed-secrets` with the example bitnami key, as the admin.
async fn import_example_key(h: &Harness, dir: &Path) -> String {
    let config = h.kubeconfig(dir, false);
    let key = repo_file("keys-example/sealed-secrets.key");
    let out = unseal(
        &config,
        &h.controller_ns(),
        &[
            "keys",
            "import",
            "--sealed-secrets",
            key.to_str().expect("utf-8"),
        ],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stdout}{stderr}");
    for text in [&stdout, &stderr] {
        assert!(!text.contains("MII"), "a key shown: {text}");
    }
    stdout
}

fn example_fingerprint() -> String {
    fingerprint_of("keys-example/sealed-secrets.key")
}

fn fingerprint_of(path: &str) -> String {
    let mut keys = BitnamiKeys::new();
    keys.add_file("k", &std::fs::read_to_string(repo_file(path)).expect("key"))
        .expect("reads");
    keys.iter().next().expect("a key").fingerprint().to_owned()
}

fn parse_reply(body: &str) -> SealedSecret {
    let doc = documents::parse("response", body).expect("yaml").remove(0);
    convert::sealed_secret_from_value(doc.value).expect("a seal SealedSecret")
}

/// Edits a kubeseal YAML document (name, namespace, annotations).
fn edited(yaml: &str, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut doc = documents::parse("kubeseal", yaml)
        .expect("yaml")
        .remove(0)
        .value;
    edit(&mut doc);
    serde_json::to_string(&doc).expect("json")
}

async fn imported_keys_convert_real_kubeseal_output_in_every_scope(backend: Backend) {
    let h = Harness::start(backend).await;
    let base = h.controllers[0].http.clone();
    let apps = h.ns("apps");
    let strict = kubeseal(
        &secret_manifest(
            &apps,
            "db",
            &[
                ("blob", &binary_value()),
                ("password", b"hunter2-top-secret\n"),
            ],
        ),
        "strict",
    );
    let (status, body) = http(&base, "POST", "/v1/migrate", strict.as_bytes()).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body.contains("unseal keys import --sealed-secrets"),
        "{body}"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let fingerprint = example_fingerprint();
    let first = import_example_key(&h, dir.path()).await;
    assert!(
        first.contains(&format!("imported bitnami key {fingerprint}")),
        "{first}"
    );
    let again = import_example_key(&h, dir.path()).await;
    assert!(
        again.contains(&format!("already held: bitnami key {fingerprint}")),
        "importing again changes nothing: {again}"
    );
    assert_eq!(h.ctx().keys.current().ring.len(), 1, "no age key added");

    let cases = [
        ("strict", Scope::Strict, strict),
        (
            "namespace-wide",
            Scope::Namespace,
            kubeseal(
                &secret_manifest(&apps, "shared", &[("blob", &binary_value())]),
                "namespace-wide",
            ),
        ),
        (
            "cluster-wide",
            Scope::Cluster,
            kubeseal(
                &secret_manifest(&apps, "everywhere", &[("blob", &binary_value())]),
                "cluster-wide",
            ),
        ),
    ];
    let ring = h.key_ring().await;
    let active = h.recipients().to_strings();
    for (name, scope, yaml) in cases {
        let (status, body) = http(&base, "POST", "/v1/migrate", yaml.as_bytes()).await;
        assert_eq!(status, 200, "{name}: {body}");
        assert!(!body.contains("hunter2"), "{name}: plaintext in the reply");
        let sealed = parse_reply(&body);
        assert_eq!(sealed.spec.scope, scope, "{name}");
        assert_eq!(
            sealed.spec.recipients, active,
            "{name}: the active key only"
        );
        assert_eq!(
            sealed
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(MIGRATED_FROM_ANNOTATION)),
            Some(&"bitnami.com/v1alpha1".to_owned()),
            "{name}"
        );
        let opened = convert::open_sealed_secret(&sealed, &ring).expect("the controller opens it");
        assert_eq!(opened.data["blob"].expose(), binary_value(), "{name}");
        assert_eq!(opened.labels.get("app").map(String::as_str), Some("orders"));
        if name == "strict" {
            assert_eq!(opened.data["password"].expose(), b"hunter2-top-secret\n");
        }
    }
    h.stop().await;
}

async fn what_an_attacker_sends_is_refused_or_sealed_only_to_trusted_keys(backend: Backend) {
    let breakglass = age::x25519::Identity::generate();
    let attacker = age::x25519::Identity::generate();
    let mut settings = fast_settings("replica-a");
    settings.trusted_recipients = vec![breakglass.to_public().to_string()];
    let h = Harness::start_with(backend, settings).await;
    let base = h.controllers[0].http.clone();
    let dir = tempfile::tempdir().expect("tempdir");
    import_example_key(&h, dir.path()).await;
    let apps = h.ns("apps");
    let strict = kubeseal(
        &secret_manifest(&apps, "db", &[("password", b"hunter2-top-secret")]),
        "strict",
    );

    // The attacker asks for their own recipient (and the trusted break-glass key).
    let attacker_r = attacker.to_public().to_string();
    let breakglass_r = breakglass.to_public().to_string();
    let path = format!("/v1/migrate?recipient={attacker_r}&recipient={breakglass_r}");
    let (status, headers, body) = http_with_headers(&base, "POST", &path, strict.as_bytes()).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        headers.contains(&format!("seal-dropped-recipients: {attacker_r}")),
        "{headers}"
    );
    let sealed = parse_reply(&body);
    assert!(!sealed.spec.recipients.contains(&attacker_r));
    let mut expected = vec![h.recipients().to_strings()[0].clone(), breakglass_r];
    expected.sort();
    assert_eq!(sealed.spec.recipients, expected);
    let mut theirs = seal_core::KeyRing::new();
    theirs.insert(attacker);
    assert!(
        convert::open_sealed_secret(&sealed, &theirs).is_err(),
        "the attacker's key opens nothing"
    );

    // The same values moved to be opened elsewhere, or tampered with: refused, naming
    // the key, and no SealedSecret in the reply.
    let moved = [
        (
            "renamed",
            edited(&strict, |d| d["metadata"]["name"] = "other".into()),
        ),
        (
            "other namespace",
            edited(&strict, |d| {
                d["metadata"]["namespace"] = h.ns("attacker").into()
            }),
        ),
        (
            "widened to cluster-wide",
            edited(&strict, |d| {
                d["metadata"]["annotations"] =
                    serde_json::json!({"sealedsecrets.bitnami.com/cluster-wide": "true"});
            }),
        ),
        (
            "widened to namespace-wide",
            edited(&strict, |d| {
                d["metadata"]["annotations"] =
                    serde_json::json!({"sealedsecrets.bitnami.com/namespace-wide": "true"});
            }),
        ),
        (
            "tampered",
            edited(&strict, |d| {
                let text = d["spec"]["encryptedData"]["password"]
                    .as_str()
                    .expect("value")
                    .to_owned();
                let mut bytes = STANDARD.decode(text).expect("base64");
                let last = bytes.len() - 1;
                bytes[last] ^= 1;
                d["spec"]["encryptedData"]["password"] = STANDARD.encode(bytes).into();
            }),
        ),
    ];
    for (what, body) in moved {
        let (status, reply) = http(&base, "POST", "/v1/migrate", body.as_bytes()).await;
        assert_eq!(status, 422, "{what}: {reply}");
        assert!(
            reply.contains(r#"spec.encryptedData.\"password\": no given key opens it"#),
            "{what}: {reply}"
        );
        assert!(!reply.contains("encryptedData:"), "{what}: {reply}");
        assert!(!reply.contains("hunter2"), "{what}: {reply}");
    }
    // A strict object without its namespace cannot be opened "somewhere".
    let no_ns = edited(&strict, |d| {
        d["metadata"]
            .as_object_mut()
            .expect("metadata")
            .remove("namespace");
    });
    let (status, reply) = http(&base, "POST", "/v1/migrate", no_ns.as_bytes()).await;
    assert_eq!(status, 422, "{reply}");
    // A seal SealedSecret, two objects, or an unknown parameter are not a bitnami one.
    let (status, _) = http(
        &base,
        "POST",
        "/v1/migrate",
        format!("{strict}---\n{strict}").as_bytes(),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = http(&base, "POST", "/v1/migrate?add=x", strict.as_bytes()).await;
    assert_eq!(status, 400);
    h.stop().await;
}

/// The bitnami key store Secret as the attacker would plant it: `edit` spoils it.
async fn plant_store(h: &Harness, edit: impl FnOnce(&mut Secret)) {
    let key = std::fs::read_to_string(repo_file("keys-example/sealed-secrets.key")).expect("key");
    let mut keys = BitnamiKeys::new();
    keys.add_file("k", &key).expect("reads");
    let k = keys.iter().next().expect("a key");
    let pem = k.to_pkcs8_pem().expect("pem");
    let mut secret: Secret = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {
            "name": bitnami_store::SECRET_NAME,
            "namespace": h.controller_ns(),
            "labels": {bitnami_store::LABEL: "true"},
        },
        "data": {bitnami_store::entry_name(k): STANDARD.encode(pem.as_bytes())},
    }))
    .expect("secret");
    edit(&mut secret);
    let api: Api<Secret> = Api::namespaced(h.client.clone(), &h.controller_ns());
    let _ = api
        .delete(bitnami_store::SECRET_NAME, &Default::default())
        .await;
    wait_for("old store gone", async || {
        api.get_opt(bitnami_store::SECRET_NAME)
            .await
            .expect("get")
            .is_none()
            .then_some(())
    })
    .await;
    api.create(&PostParams::default(), &secret)
        .await
        .expect("planted");
}

async fn a_planted_or_mislabelled_key_store_is_never_used(backend: Backend) {
    let h = Harness::start(backend).await;
    let base = h.controllers[0].http.clone();
    let strict = kubeseal(
        &secret_manifest(&h.ns("apps"), "db", &[("password", b"v")]),
        "strict",
    );
    // Made from a SealedSecret (owned): the shape of a Secret an attacker who can write
    // SealedSecrets into the controller's namespace could have the controller write.
    let owner = other_owner(&h, &h.controller_ns(), "planted", true).await;
    plant_store(&h, |s| {
        s.metadata.owner_references = Some(vec![
            serde_json::from_value(owner).expect("owner reference"),
        ]);
    })
    .await;
    let (status, body) = http(&base, "POST", "/v1/migrate", strict.as_bytes()).await;
    assert_eq!(status, 409, "an owned store is ignored: {body}");

    // Labelled as a sealing key too: neither an age key nor the bitnami store.
    plant_store(&h, |s| {
        s.metadata.labels.get_or_insert_default().insert(
            unseal::keys::secrets::KEY_LABEL.to_owned(),
            "true".to_owned(),
        );
    })
    .await;
    wait_for("the double-labelled Secret refused as a key", async || {
        (h.ctx().keys.current().refused == 1).then_some(())
    })
    .await;
    assert_eq!(h.ctx().keys.current().ring.len(), 1, "no key from it");
    let (status, body) = http(&base, "POST", "/v1/migrate", strict.as_bytes()).await;
    assert_eq!(
        status, 409,
        "a store that claims to be a key is ignored: {body}"
    );

    // The genuine store works, and the controller's age keys are not read as bitnami keys
    // (an age key Secret renamed to the store's name, without its label, is no store).
    plant_store(&h, |_| {}).await;
    let (status, body) = http(&base, "POST", "/v1/migrate", strict.as_bytes()).await;
    assert_eq!(status, 200, "{body}");
    let mut age_key = unseal::keys::secrets::encode(
        bitnami_store::SECRET_NAME,
        &h.controller_ns(),
        &age::x25519::Identity::generate(),
        unseal::clock::now(),
        true,
    );
    age_key.metadata.labels = None;
    plant_store(&h, |s| *s = age_key).await;
    let (status, body) = http(&base, "POST", "/v1/migrate", strict.as_bytes()).await;
    assert_eq!(status, 409, "{body}");
    h.stop().await;
}

async fn costly_bodies_are_bounded_and_rate_limited_while_health_answers(backend: Backend) {
    // No refill, so the count does not depend on how fast a busy machine sends.
    let mut settings = fast_settings("replica-a");
    settings.api_per_second = 0;
    let h = Harness::start_with(backend, settings.clone()).await;
    let base = h.controllers[0].http.clone();
    let dir = tempfile::tempdir().expect("tempdir");
    import_example_key(&h, dir.path()).await;
    // A second imported key of the same size (a renewal): every value's worst case is
    // now two RSA tries.
    let other = repo_file("keys-example/sealed-secrets-other.key");
    let out = unseal(
        &h.kubeconfig(dir.path(), false),
        &h.controller_ns(),
        &[
            "keys",
            "import",
            "--sealed-secrets",
            other.to_str().expect("utf-8"),
        ],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let values: Vec<(String, Vec<u8>)> = (0..=unseal::http::migrate::MAX_RSA_TRIES)
        .map(|i| (format!("k{i}"), vec![b'x'; 8]))
        .collect();
    let data = |n: usize| -> Vec<(&str, &[u8])> {
        values[..n]
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_slice()))
            .collect()
    };
    let apps = h.ns("apps");
    let over = kubeseal(
        &secret_manifest(&apps, "big", &data(values.len())),
        "strict",
    );
    let (status, body) = http(&base, "POST", "/v1/migrate", over.as_bytes()).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("more than the 256 RSA decryptions (counted as RSA-4096 ones) allowed"),
        "{body}"
    );

    // 240 values: a worst case of 480 tries, charged as the bound (256: 16 tokens besides
    // the one at intake), so one such call per client fits the burst of 20 and the next
    // does not. Each converts within the bound: the key that opened the first value is
    // tried first on the others.
    let costly = kubeseal(&secret_manifest(&apps, "costly", &data(240)), "strict");
    let clients: Vec<String> = (1..=6).map(|i| format!("10.9.9.{i}")).collect();
    let floods = clients.iter().map(|client| {
        let (base, body, client) = (base.clone(), costly.clone(), client.clone());
        tokio::spawn(async move {
            let first = http_as(&base, &client, "POST", "/v1/migrate", body.as_bytes())
                .await
                .0;
            let second = http_as(&base, &client, "POST", "/v1/migrate", body.as_bytes())
                .await
                .0;
            (first, second)
        })
    });
    let floods: Vec<_> = floods.collect();
    // While the floods are decrypting, health checks answer.
    for _ in 0..5 {
        assert_eq!(http(&base, "GET", "/healthz", b"").await.0, 200);
    }
    let mut converted = 0;
    for flood in floods {
        let (first, second) = flood.await.expect("joined");
        // 429 for the first: Busy, the API lane's short queue was full (it was charged).
        assert!(first == 200 || first == 429, "first call: {first}");
        converted += usize::from(first == 200);
        assert_eq!(second, 429, "a second costly call from the same client");
    }
    assert!(converted >= 1, "the costly calls did run");
    assert_eq!(http(&base, "GET", "/healthz", b"").await.0, 200);
    h.stop().await;
}

async fn keys_read_from_the_cluster_convert_on_the_real_control_plane(backend: Backend) {
    let h = Harness::start(backend).await;
    let base = h.controllers[0].http.clone();
    // The bitnami controller's key Secret, as it keeps it (kube-system in a cluster).
    let bitnami_ns = h.ns("team-b");
    let key = std::fs::read(repo_file("keys-example/sealed-secrets.key")).expect("key");
    let cert = std::fs::read(repo_file("keys-example/sealed-secrets.crt")).expect("cert");
    let secret: Secret = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": {
            "name": "sealed-secrets-keyabcde",
            "namespace": bitnami_ns,
            "labels": {"sealedsecrets.bitnami.com/sealed-secrets-key": "active"},
        },
        "data": {"tls.key": STANDARD.encode(key), "tls.crt": STANDARD.encode(cert)},
    }))
    .expect("secret");
    Api::<Secret>::namespaced(h.client.clone(), &bitnami_ns)
        .create(&PostParams::default(), &secret)
        .await
        .expect("bitnami key Secret");
    let out = import_from_cluster(&h, &bitnami_ns).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("imported bitnami key {}", example_fingerprint())),
        "{stdout}"
    );
    let yaml = kubeseal(
        &secret_manifest(&h.ns("apps"), "db", &[("blob", &binary_value())]),
        "strict",
    );
    let (status, body) = http(&base, "POST", "/v1/migrate", yaml.as_bytes()).await;
    assert_eq!(status, 200, "{body}");
    let opened =
        convert::open_sealed_secret(&parse_reply(&body), &h.key_ring().await).expect("opens");
    assert_eq!(opened.data["blob"].expose(), binary_value());
    h.stop().await;
}

/// A Secret labelled as a bitnami key in the bitnami controller's namespace, holding
/// `key_path`'s key.
fn labelled_key_secret(ns: &str, name: &str, type_: &str, key_path: &str) -> Secret {
    let key = std::fs::read(repo_file(key_path)).expect("key");
    let cert = std::fs::read(repo_file("keys-example/sealed-secrets.crt")).expect("cert");
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Secret", "type": type_,
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": {"sealedsecrets.bitnami.com/sealed-secrets-key": "active"},
        },
        // The certificate of the example key (the bitnami controller reads it too).
        "data": {"tls.key": STANDARD.encode(key), "tls.crt": STANDARD.encode(cert)},
    }))
    .expect("secret")
}

/// `unseal keys import --from-cluster`, as the admin, reading the bitnami key Secrets in
/// `bitnami_ns`.
async fn import_from_cluster(h: &Harness, bitnami_ns: &str) -> std::process::Output {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = h.kubeconfig(dir.path(), false);
    unseal(
        &config,
        &h.controller_ns(),
        &[
            "keys",
            "import",
            "--from-cluster",
            "--sealed-secrets-namespace",
            bitnami_ns,
        ],
    )
    .await
}

/// Someone who may write SealedSecrets (or Secrets of their own kind) in the bitnami
/// controller's namespace has a Secret made there that carries the bitnami key label and
/// a key of theirs: one owned by the object it was made from, one `Opaque`. The admin's
/// `--from-cluster` imports the bitnami controller's own key only, and names the others
/// as skipped.
async fn secrets_planted_beside_the_bitnami_keys_are_not_imported_from_the_cluster(
    backend: Backend,
) {
    use k8s_openapi::api::core::v1::ConfigMap;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
    let h = Harness::start(backend).await;
    let bitnami_ns = h.ns("team-b");
    let secrets = Api::<Secret>::namespaced(h.client.clone(), &bitnami_ns);
    let planted_key = "keys-example/sealed-secrets-other.key";
    secrets
        .create(
            &PostParams::default(),
            &labelled_key_secret(
                &bitnami_ns,
                "sealed-secrets-keyabcde",
                "kubernetes.io/tls",
                "keys-example/sealed-secrets.key",
            ),
        )
        .await
        .expect("bitnami key Secret");
    // A live owner, so that no garbage collector removes the planted Secret first.
    let owner: ConfigMap = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "from-a-sealed-secret", "namespace": bitnami_ns},
    }))
    .expect("configmap");
    let owner = Api::<ConfigMap>::namespaced(h.client.clone(), &bitnami_ns)
        .create(&PostParams::default(), &owner)
        .await
        .expect("owner");
    let mut owned = labelled_key_secret(
        &bitnami_ns,
        "planted-owned",
        "kubernetes.io/tls",
        planted_key,
    );
    owned.metadata.owner_references = Some(vec![OwnerReference {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        name: "from-a-sealed-secret".into(),
        uid: owner.metadata.uid.clone().expect("uid"),
        ..Default::default()
    }]);
    secrets
        .create(&PostParams::default(), &owned)
        .await
        .expect("planted owned");
    secrets
        .create(
            &PostParams::default(),
            &labelled_key_secret(&bitnami_ns, "planted-opaque", "Opaque", planted_key),
        )
        .await
        .expect("planted opaque");

    let out = import_from_cluster(&h, &bitnami_ns).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("imported bitnami key {}", example_fingerprint())),
        "{stdout}"
    );
    let planted = fingerprint_of(planted_key);
    assert!(
        !stdout.contains(&planted),
        "a planted key imported: {stdout}"
    );
    for name in ["planted-owned", "planted-opaque"] {
        assert!(
            stderr.contains(&format!("secret {bitnami_ns}/{name}: skipped")),
            "{stderr}"
        );
    }
    assert!(
        !stderr.contains("MII") && !stdout.contains("MII"),
        "a key shown"
    );
    let store = Api::<Secret>::namespaced(h.client.clone(), &h.controller_ns())
        .get(bitnami_store::SECRET_NAME)
        .await
        .expect("the store");
    let stored = bitnami_store::decode(&store).expect("trusted");
    let held: Vec<&str> = stored.iter().map(|k| k.fingerprint()).collect();
    assert_eq!(held, [example_fingerprint().as_str()]);
    h.stop().await;
}

/// A Secret manifest in `ns` with `labels`, and the annotation that has the bitnami
/// controller write it without an owner reference.
fn unowned_secret_manifest(
    ns: &str,
    name: &str,
    labels: &[(&str, &str)],
    data: &[(&str, &[u8])],
) -> String {
    let mut text = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: {ns}\n  annotations:\n    sealedsecrets.bitnami.com/skip-set-owner-references: \"true\"\n  labels:\n"
    );
    for (k, v) in labels {
        text.push_str(&format!("    {k}: \"{v}\"\n"));
    }
    text.push_str("type: Opaque\ndata:\n");
    for (key, value) in data {
        text.push_str(&format!("  {key}: {}\n", STANDARD.encode(value)));
    }
    text
}

/// During the migration both controllers run. Someone who may create bitnami
/// SealedSecrets in the seal controller's namespace seals, with the public certificate,
/// a "sealing key" (an age identity of theirs, dated to become the newest) and a "bitnami
/// key store" (an RSA key of theirs), each with `skip-set-owner-references`: the real
/// bitnami controller writes both as unowned Secrets, which passes the ownerReferences
/// check. Neither is loaded: the active key stays, `/v1/migrate` sees no store.
async fn secrets_the_real_bitnami_controller_writes_beside_the_keys_are_no_keys(backend: Backend) {
    use age::secrecy::ExposeSecret as _;
    use kube::api::DynamicObject;
    let h = Harness::start(backend).await;
    let controller_ns = h.controller_ns();
    let key_ns = h.ns("team-b");
    let dir = tempfile::tempdir().expect("dir");
    let bin = sealed_secrets_bin();
    crate::handover::install_bitnami_crd(&h, &bin).await;
    Api::<Secret>::namespaced(h.client.clone(), &key_ns)
        .create(
            &PostParams::default(),
            &labelled_key_secret(
                &key_ns,
                "sealed-secrets-keyabcde",
                "kubernetes.io/tls",
                "keys-example/sealed-secrets.key",
            ),
        )
        .await
        .expect("bitnami key Secret");
    let _bitnami = crate::handover::start_bitnami(&h, &bin, dir.path(), &key_ns);
    let active_before = h.recipients().to_strings();

    let attacker = age::x25519::Identity::generate();
    let identity = format!("{}\n", attacker.to_string().expose_secret());
    let soon = (unseal::clock::now() + std::time::Duration::from_secs(200)).to_string();
    let mut age_key = unowned_secret_manifest(
        &controller_ns,
        "seal-key-9999",
        &[("seal.dev/sealing-key", "true")],
        &[("identity.txt", identity.as_bytes())],
    );
    age_key = age_key.replace(
        "  labels:\n",
        &format!("    seal.dev/created-at: \"{soon}\"\n  labels:\n"),
    );
    let rsa_key = std::fs::read(repo_file("keys-example/sealed-secrets-other.key")).expect("key");
    let store = unowned_secret_manifest(
        &controller_ns,
        bitnami_store::SECRET_NAME,
        &[(bitnami_store::LABEL, "true")],
        &[("sha256-0000000000000000.pem", &rsa_key)],
    );
    let api = crate::handover::bitnami_api(&h, &controller_ns);
    for manifest in [age_key, store] {
        let text = kubeseal(&manifest, "strict");
        let value = documents::parse("kubeseal", &text).expect("YAML")[0]
            .value
            .clone();
        let object: DynamicObject = serde_json::from_value(value).expect("object");
        wait_for("the bitnami CRD served", async || {
            api.create(&PostParams::default(), &object).await.ok()
        })
        .await;
    }
    for name in ["seal-key-9999", bitnami_store::SECRET_NAME] {
        let written = wait_within("the bitnami controller writes it", GC_WITHIN, async || {
            h.secret(&controller_ns, name).await
        })
        .await;
        assert!(
            written["metadata"]["ownerReferences"].is_null(),
            "{name}: written without an owner: {written}"
        );
    }
    wait_for(
        "the planted sealing key refused by the loader",
        async || (h.ctx().keys.current().refused == 1).then_some(()),
    )
    .await;
    assert_eq!(h.ctx().keys.current().keys.len(), 1);
    assert_eq!(h.recipients().to_strings(), active_before);
    let strict = kubeseal(
        &secret_manifest(&h.ns("apps"), "db", &[("password", b"hunter2")]),
        "strict",
    );
    let (status, body) = http(
        &h.controllers[0].http,
        "POST",
        "/v1/migrate",
        strict.as_bytes(),
    )
    .await;
    assert_eq!(status, 409, "the planted store is not used: {body}");
    assert!(body.contains("NoMigrationKeys"), "{body}");
    h.stop().await;
}
