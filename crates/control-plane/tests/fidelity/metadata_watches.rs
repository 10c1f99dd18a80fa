//! The controller's watches carry no Secret data, proven on the real API server: the
//! production controller runs as its ServiceAccount behind a recording proxy, unseals a
//! SealedSecret into a Secret and restores that Secret after someone changes its value,
//! and every list and watch response it received is read back. Outside its own namespace
//! (where it watches its key Secrets, which it must read whole) not one of them carries a
//! Secret's data, though it did read and write that Secret by GET, POST and PUT.

use std::time::Duration;

use base64::Engine as _;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{DynamicObject, PostParams};
use kube::runtime::wait::Condition;
use serde_json::Value;

use crate::proxy::{Exchange, Proxy};
use crate::support::*;

const PASSWORD: &[u8] = b"canary-password-7f3a9c";
const TOKEN: &[u8] = b"canary-token-51be02";
const TAMPERED: &[u8] = b"canary-tampered-c0ffee";

/// The forms in which a value could travel: as is and base64 (Secret `data`).
fn forms(value: &[u8]) -> [String; 2] {
    [
        String::from_utf8_lossy(value).into_owned(),
        base64::engine::general_purpose::STANDARD.encode(value),
    ]
}

/// Whether the Secret's `password` is `value`.
fn password_is(value: &'static [u8]) -> impl Condition<Secret> {
    move |secret: Option<&Secret>| {
        secret
            .and_then(|s| s.data.as_ref())
            .and_then(|d| d.get("password"))
            .is_some_and(|v| v.0 == value)
    }
}

/// The kinds of the objects in a list body or in each event of a watch body.
fn kinds(exchange: &Exchange) -> Vec<String> {
    let body = exchange.body_text();
    if exchange.is_watch() {
        body.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let event: Value = serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("{}: a watch event: {e}: {l}", exchange.path));
                match event["type"].as_str() {
                    Some("ERROR") => "Status".to_owned(),
                    _ => event["object"]["kind"].as_str().unwrap_or("?").to_owned(),
                }
            })
            .collect()
    } else {
        let list: Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{}: a list: {e}", exchange.path));
        vec![list["kind"].as_str().unwrap_or("?").to_owned()]
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_data_reaches_the_controller_through_its_watches() {
    let Some(cluster) = control_plane::get() else {
        return;
    };
    let _turn = turn().await;
    let admin = cluster.client().await;
    control_plane::install_deploy(&admin)
        .await
        .expect("deploy/ applies");
    let ns = cluster.namespace(&admin, "metadata-watch").await;
    let proxy = Proxy::start(cluster.client_as(control_plane::CONTROLLER_USER).await).await;
    let controller = Controller::start(proxy.client(), &ns, "fidelity-metadata").await;

    let object = sealed(
        &ns,
        "db",
        &[("password", PASSWORD), ("token", TOKEN)],
        &controller.recipients(),
    );
    let object: DynamicObject = serde_json::from_value(object).expect("an object");
    sealed_secrets(&admin, &ns)
        .create(&PostParams::default(), &object)
        .await
        .expect("create the SealedSecret");
    let secrets: Api<Secret> = Api::namespaced(admin.clone(), &ns);
    let within = Duration::from_secs(60);
    let made =
        control_plane::wait_for(&secrets, "db", "db unsealed", within, password_is(PASSWORD))
            .await
            .expect("the Secret");

    // Someone changes the value: the controller's Secret watch wakes it, and it puts the
    // sealed value back.
    let mut tampered = made.clone();
    if let Some(data) = tampered.data.as_mut() {
        data.insert("password".to_owned(), ByteString(TAMPERED.to_vec()));
    }
    secrets
        .replace("db", &PostParams::default(), &tampered)
        .await
        .expect("tamper with the Secret");
    control_plane::wait_for(&secrets, "db", "db restored", within, password_is(PASSWORD)).await;
    controller.stop().await;

    let log = proxy.log();
    let canaries: Vec<String> = [PASSWORD, TOKEN, TAMPERED]
        .iter()
        .flat_map(|v| forms(v))
        .collect();
    let key_watch = format!("/api/v1/namespaces/{CONTROLLER_NS}/secrets");
    let mut metadata_reads = 0;
    let mut saw_db = false;
    for exchange in log.iter().filter(|e| e.is_collection_read("secrets")) {
        if exchange.route() == key_watch {
            // The key Secrets, whole by necessity: selected by their label, in the
            // controller's own namespace only.
            assert_eq!(
                exchange.query("labelSelector").as_deref(),
                Some(unseal::keys::secrets::KEY_SELECTOR),
                "{}",
                exchange.path
            );
            continue;
        }
        assert_eq!(
            exchange.route(),
            format!("/api/v1/namespaces/{ns}/secrets"),
            "a Secret list or watch outside the watched namespace"
        );
        assert!(
            exchange.accept.contains("as=PartialObjectMetadata"),
            "{} asked for whole Secrets: Accept {}",
            exchange.path,
            exchange.accept
        );
        let body = exchange.body_text();
        for canary in &canaries {
            assert!(
                !body.contains(canary.as_str()),
                "{} carried a value",
                exchange.path
            );
        }
        assert!(
            !body.contains("\"data\""),
            "{} carried data: {body}",
            exchange.path
        );
        for kind in kinds(exchange) {
            assert!(
                [
                    "PartialObjectMetadata",
                    "PartialObjectMetadataList",
                    "Status"
                ]
                .contains(&kind.as_str()),
                "{}: a {kind}",
                exchange.path
            );
        }
        metadata_reads += 1;
        saw_db |= body.contains("\"name\":\"db\"");
    }
    assert!(
        metadata_reads >= 2,
        "a list and a watch of Secrets: {metadata_reads}"
    );
    assert!(
        saw_db,
        "the Secret's events reached the controller (as metadata)"
    );

    // SealedSecrets are watched as metadata too: no spec, so no ciphertext (an age
    // ciphertext starts "age-encryption.org/v1", base64 "YWdlLWVuY3J5cHRpb24…"; the
    // field names in managedFields are all that is said of the spec).
    for exchange in log.iter().filter(|e| e.is_collection_read("sealedsecrets")) {
        assert!(
            exchange.accept.contains("as=PartialObjectMetadata"),
            "{}",
            exchange.path
        );
        let body = exchange.body_text();
        assert!(
            !body.contains("YWdlLWVuY3J5cHRpb24"),
            "{} carried ciphertext",
            exchange.path
        );
        assert!(
            !body.contains("\"spec\""),
            "{} carried a spec",
            exchange.path
        );
    }

    // Yet the controller did read and write the Secret itself, one object at a time.
    let one = format!("/api/v1/namespaces/{ns}/secrets/db");
    let did = |method: &str, path: &str, status: u16| {
        log.iter()
            .any(|e| e.method == method && e.route() == path && e.status == Some(status))
    };
    assert!(
        did("POST", &format!("/api/v1/namespaces/{ns}/secrets"), 201),
        "created the Secret"
    );
    assert!(did("GET", &one, 200), "read the Secret");
    assert!(did("PUT", &one, 200), "replaced the Secret");
    let read_whole = log
        .iter()
        .filter(|e| e.method == "GET" && e.route() == one)
        .any(|e| e.body_text().contains(&forms(TAMPERED)[1]));
    assert!(
        read_whole,
        "a GET of the Secret carries its data (the proxy sees bodies)"
    );
}
