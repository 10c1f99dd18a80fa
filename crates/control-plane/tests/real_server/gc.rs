//! kube-controller-manager's garbage collector for real: a Secret whose ownerReference
//! names a SealedSecret goes when the SealedSecret goes.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Api;
use kube::api::{DeleteParams, PostParams};

use crate::support::*;

/// The collector notices a new kind (the CRD) at its next discovery, every 30 s; then it
/// acts within a second or two.
const COLLECTED_WITHIN: Duration = Duration::from_secs(120);

#[tokio::test]
async fn a_secret_owned_by_a_deleted_sealed_secret_is_collected() {
    let Some(cluster) = control_plane::get() else {
        return;
    };
    let admin = cluster.client().await;
    control_plane::install_deploy(&admin)
        .await
        .expect("deploy/ applies");
    let ns = cluster.namespace(&admin, "gc").await;
    let owner = create_sealed_secret(&admin, &ns, "db").await;
    let owner_uid = owner.metadata.uid.clone().expect("uid");
    let secrets: Api<Secret> = Api::namespaced(admin.clone(), &ns);
    let owned = |name: &str| Secret {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            owner_references: Some(vec![OwnerReference {
                api_version: "seal.dev/v1alpha1".to_owned(),
                kind: "SealedSecret".to_owned(),
                name: "db".to_owned(),
                uid: owner_uid.clone(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..ObjectMeta::default()
        },
        string_data: Some(BTreeMap::from([("password".to_owned(), "x".to_owned())])),
        ..Secret::default()
    };
    let secret = secrets
        .create(&PostParams::default(), &owned("db"))
        .await
        .expect("create the owned Secret");
    let bystander = secrets
        .create(
            &PostParams::default(),
            &Secret {
                metadata: ObjectMeta {
                    name: Some("bystander".to_owned()),
                    ..ObjectMeta::default()
                },
                ..Secret::default()
            },
        )
        .await
        .expect("create an unowned Secret");

    sealed_secrets(&admin, &ns)
        .delete("db", &DeleteParams::default())
        .await
        .expect("delete the SealedSecret");
    let uid = secret.metadata.uid.expect("uid");
    control_plane::wait_deleted(&secrets, "db", &uid, COLLECTED_WITHIN).await;

    let still = secrets
        .get("bystander")
        .await
        .expect("the unowned Secret stays");
    assert_eq!(still.metadata.uid, bystander.metadata.uid);
}
