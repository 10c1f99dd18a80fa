//! End-to-end against a real cluster, when `KUBECONFIG` is set (skipped otherwise, and
//! says so). It expects the controller installed and running (namespace from
//! `UNSEAL_E2E_CONTROLLER_NAMESPACE`, default `seal-system`) and creates its objects in the
//! namespace `UNSEAL_E2E_NAMESPACE` (default `default`): it reads the published recipient,
//! creates a SealedSecret, waits for its Secret and status, then deletes it and waits for
//! the Secret to be garbage-collected.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{DeleteParams, PostParams};
use kube::{Api, Client};
use seal_core::convert::{self, SealOptions};
use seal_core::{PlainSecret, Recipients, SealedSecret, SecretBytes};

#[tokio::test]
async fn seal_unseal_and_collect_on_a_real_cluster() {
    if std::env::var_os("KUBECONFIG").is_none() {
        eprintln!("SKIPPED: KUBECONFIG is not set; the real-cluster end-to-end suite did not run");
        return;
    }
    let controller_ns =
        std::env::var("UNSEAL_E2E_CONTROLLER_NAMESPACE").unwrap_or_else(|_| "seal-system".into());
    let ns = std::env::var("UNSEAL_E2E_NAMESPACE").unwrap_or_else(|_| "default".into());
    let client = Client::try_default().await.expect("cluster reachable");
    let cm = Api::<ConfigMap>::namespaced(client.clone(), &controller_ns)
        .get("unseal-recipients")
        .await
        .expect("the controller publishes its recipients");
    let active = cm
        .data
        .as_ref()
        .and_then(|d| d.get("active"))
        .expect("active recipient")
        .clone();
    let mut to = Recipients::new();
    to.add_arg("unseal-recipients", &active).expect("recipient");
    let name = format!("seal-e2e-{}", std::process::id());
    let mut plain = PlainSecret {
        name: name.clone(),
        namespace: Some(ns.clone()),
        ..Default::default()
    };
    plain
        .data
        .insert("password".into(), SecretBytes::copy_from(b"e2e-value"));
    let sealed = convert::seal_secret(&plain, &to, &SealOptions::default()).expect("seals");
    let sealed_api: Api<SealedSecret> = Api::namespaced(client.clone(), &ns);
    sealed_api
        .create(&PostParams::default(), &sealed)
        .await
        .expect("created");
    let secrets: Api<Secret> = Api::namespaced(client, &ns);
    let deadline = Instant::now() + Duration::from_secs(60);
    let secret = loop {
        if let Ok(Some(s)) = secrets.get_opt(&name).await {
            break s;
        }
        assert!(Instant::now() < deadline, "no Secret after 60 s");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(secret.data.expect("data")["password"].0, b"e2e-value");
    sealed_api
        .delete(&name, &DeleteParams::default())
        .await
        .expect("deleted");
    let deadline = Instant::now() + Duration::from_secs(60);
    while let Ok(Some(_)) = secrets.get_opt(&name).await {
        assert!(Instant::now() < deadline, "Secret not collected after 60 s");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
