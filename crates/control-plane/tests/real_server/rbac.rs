//! deploy/rbac.yaml for real: a client impersonating the controller's ServiceAccount can
//! do what the controller does, and is refused (403) everything else these tests try.

use std::collections::BTreeMap;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

use crate::support::*;

const CONTROLLER_NS: &str = "seal-system";

fn config_map(name: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([("k".to_owned(), "v".to_owned())])),
        ..ConfigMap::default()
    }
}

fn lease(name: &str) -> Lease {
    serde_json::from_value(json!({
        "metadata": { "name": name },
        "spec": { "holderIdentity": "replica-a", "leaseDurationSeconds": 15 },
    }))
    .expect("a Lease")
}

fn secret(name: &str) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: Some(BTreeMap::from([(
                "seal.dev/managed-by".to_owned(),
                "unseal".to_owned(),
            )])),
            ..ObjectMeta::default()
        },
        string_data: Some(BTreeMap::from([("password".to_owned(), "x".to_owned())])),
        ..Secret::default()
    }
}

/// The admin client, the controller's client and a fresh namespace, with deploy/ applied.
async fn setup(prefix: &str) -> Option<(Client, Client, String)> {
    let cluster = control_plane::get()?;
    let admin = cluster.client().await;
    control_plane::install_deploy(&admin)
        .await
        .expect("deploy/ applies");
    let ns = cluster.namespace(&admin, prefix).await;
    let controller = cluster.client_as(control_plane::CONTROLLER_USER).await;
    Some((admin, controller, ns))
}

#[tokio::test]
async fn the_controller_may_do_what_rbac_yaml_grants() {
    let Some((admin, controller, ns)) = setup("rbac-granted").await else {
        return;
    };
    create_sealed_secret(&admin, &ns, "db").await;

    // SealedSecrets: read everywhere, write status.
    let sealed = sealed_secrets(&controller, &ns);
    sealed.get("db").await.expect("get SealedSecret");
    kube::Api::<kube::api::DynamicObject>::all_with(controller.clone(), &sealed_secret_resource())
        .list(&ListParams::default())
        .await
        .expect("list SealedSecrets in every namespace");
    let status = json!({ "status": { "conditions": [{
        "type": "Synced", "status": "True", "reason": "Unsealed", "message": "",
        "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 1,
    }]}});
    sealed
        .patch_status("db", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("patch SealedSecret status");

    // Secrets: create, read, list by label, replace, delete.
    let secrets: Api<Secret> = Api::namespaced(controller.clone(), &ns);
    let made = secrets
        .create(&PostParams::default(), &secret("db"))
        .await
        .expect("create Secret");
    secrets.get("db").await.expect("get Secret");
    secrets
        .list_metadata(&ListParams::default().labels("seal.dev/managed-by=unseal"))
        .await
        .expect("list Secrets by label");
    let mut changed = made.clone();
    changed.string_data = Some(BTreeMap::from([("password".to_owned(), "y".to_owned())]));
    secrets
        .replace("db", &PostParams::default(), &changed)
        .await
        .expect("replace Secret");
    secrets
        .delete("db", &DeleteParams::default())
        .await
        .expect("delete Secret");

    // Events.
    let event: Event = serde_json::from_value(json!({
        "metadata": { "generateName": "db-" },
        "eventTime": "2026-01-01T00:00:00.000000Z",
        "reportingController": "seal.dev/unseal",
        "reportingInstance": "unseal-test",
        "action": "Unseal",
        "reason": "Unsealed",
        "type": "Normal",
        "note": "test",
        "regarding": { "apiVersion": "seal.dev/v1alpha1", "kind": "SealedSecret",
                       "namespace": ns, "name": "db" },
    }))
    .expect("an Event");
    Api::<Event>::namespaced(controller.clone(), &ns)
        .create(&PostParams::default(), &event)
        .await
        .expect("create Event");

    // Its own namespace: ConfigMaps (recipients, backup) and the leader Lease.
    let config_maps: Api<ConfigMap> = Api::namespaced(controller.clone(), CONTROLLER_NS);
    let name = format!("rbac-test-{ns}");
    let made = config_maps
        .create(&PostParams::default(), &config_map(&name))
        .await
        .expect("create ConfigMap in seal-system");
    config_maps
        .replace(&name, &PostParams::default(), &made)
        .await
        .expect("replace ConfigMap in seal-system");
    config_maps
        .get(&name)
        .await
        .expect("get ConfigMap in seal-system");
    let leases: Api<Lease> = Api::namespaced(controller.clone(), CONTROLLER_NS);
    let made = leases
        .create(&PostParams::default(), &lease(&name))
        .await
        .expect("create Lease in seal-system");
    leases
        .replace(&name, &PostParams::default(), &made)
        .await
        .expect("replace Lease in seal-system");
    leases.get(&name).await.expect("get Lease in seal-system");
}

#[tokio::test]
async fn the_controller_is_refused_what_rbac_yaml_does_not_grant() {
    let Some((admin, controller, ns)) = setup("rbac-refused").await else {
        return;
    };
    let sealed = create_sealed_secret(&admin, &ns, "db").await;

    assert_forbidden(
        "create ConfigMap outside seal-system",
        Api::<ConfigMap>::namespaced(controller.clone(), &ns)
            .create(&PostParams::default(), &config_map("planted"))
            .await,
    );
    assert_forbidden(
        "create Lease outside seal-system",
        Api::<Lease>::namespaced(controller.clone(), &ns)
            .create(&PostParams::default(), &lease("planted"))
            .await,
    );
    assert_forbidden(
        "delete ConfigMap in seal-system",
        Api::<ConfigMap>::namespaced(controller.clone(), CONTROLLER_NS)
            .delete("unseal-recipients", &DeleteParams::default())
            .await,
    );
    let sealed_api = sealed_secrets(&controller, &ns);
    assert_forbidden(
        "delete SealedSecret",
        sealed_api.delete("db", &DeleteParams::default()).await,
    );
    assert_forbidden(
        "replace SealedSecret",
        sealed_api
            .replace("db", &PostParams::default(), &sealed)
            .await,
    );
    assert_forbidden(
        "create SealedSecret",
        sealed_api
            .create(&PostParams::default(), &sealed_secret("planted", json!({})))
            .await,
    );
    Api::<Secret>::namespaced(admin.clone(), &ns)
        .create(&PostParams::default(), &secret("db"))
        .await
        .expect("admin creates a Secret");
    assert_forbidden(
        "patch Secret (the controller never patches Secrets)",
        Api::<Secret>::namespaced(controller.clone(), &ns)
            .patch(
                "db",
                &PatchParams::default(),
                &Patch::Merge(json!({ "metadata": { "labels": { "x": "y" } } })),
            )
            .await,
    );

    // Someone else, authenticated but granted nothing: reads the public recipients only.
    let cluster = control_plane::get().expect("started above");
    let stranger = cluster.client_as("stranger").await;
    let recipients = Api::<ConfigMap>::namespaced(stranger.clone(), CONTROLLER_NS)
        .get("unseal-recipients")
        .await;
    let (code, message) = refused_with("get unseal-recipients (absent)", recipients);
    assert_eq!(
        code, 404,
        "allowed to read, and it does not exist: {message}"
    );
    assert_forbidden(
        "a stranger lists Secrets",
        Api::<Secret>::namespaced(stranger, &ns)
            .list(&ListParams::default())
            .await,
    );
}
