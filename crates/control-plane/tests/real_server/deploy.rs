//! `deploy/` applied for real: every object accepted, the CRD established with a
//! structural schema, and the schema enforced on create.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{DynamicObject, PostParams};
use kube::core::GroupVersionKind;
use kube::discovery::{Discovery, Scope};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn deploy_applies_and_its_crd_passes_the_structural_schema_check() {
    let Some(cluster) = control_plane::get() else {
        return;
    };
    let admin = cluster.client().await;
    control_plane::install_deploy(&admin)
        .await
        .expect("deploy/ applies");
    // Twice: what a GitOps tool does on every sync.
    control_plane::install_deploy(&admin)
        .await
        .expect("deploy/ applies again");
    let crd = Api::<CustomResourceDefinition>::all(admin.clone())
        .get("sealedsecrets.seal.dev")
        .await
        .expect("the CRD is stored");
    let conditions = crd
        .status
        .and_then(|s| s.conditions)
        .expect("CRD conditions");
    let status_of = |t: &str| {
        conditions
            .iter()
            .find(|c| c.type_ == t)
            .map(|c| (c.status.clone(), c.message.clone()))
    };
    assert_eq!(
        status_of("Established").map(|s| s.0).as_deref(),
        Some("True")
    );
    assert_eq!(
        status_of("NamesAccepted").map(|s| s.0).as_deref(),
        Some("True")
    );
    assert_eq!(
        status_of("NonStructuralSchema"),
        None,
        "the API server found the schema not structural"
    );
    // Every object of deploy/ is stored, managed by the apply.
    let discovery = Discovery::new(admin.clone())
        .run_aggregated()
        .await
        .expect("discovery");
    for document in control_plane::deploy_documents().expect("deploy/ reads") {
        let object: DynamicObject = serde_json::from_value(document).expect("an object");
        let types = object.types.as_ref().expect("apiVersion and kind");
        let gvk = GroupVersionKind::try_from(types).expect("apiVersion");
        let (resource, capabilities) = discovery
            .resolve_gvk(&gvk)
            .unwrap_or_else(|| panic!("{gvk:?} is served"));
        let api: Api<DynamicObject> = match capabilities.scope {
            Scope::Namespaced => Api::namespaced_with(
                admin.clone(),
                object.metadata.namespace.as_deref().unwrap_or("default"),
                &resource,
            ),
            Scope::Cluster => Api::all_with(admin.clone(), &resource),
        };
        let name = object.metadata.name.as_deref().expect("name");
        let stored = api
            .get(name)
            .await
            .unwrap_or_else(|e| panic!("{} {name}: {e}", types.kind));
        let managers: Vec<_> = stored
            .metadata
            .managed_fields
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| m.manager)
            .collect();
        assert!(
            managers.iter().any(|m| m == control_plane::FIELD_MANAGER),
            "{} {name}: managers {managers:?}",
            types.kind
        );
    }
}

#[tokio::test]
async fn the_api_server_refuses_an_invalid_mode_or_scope_at_create() {
    let Some(cluster) = control_plane::get() else {
        return;
    };
    let admin = cluster.client().await;
    control_plane::install_deploy(&admin)
        .await
        .expect("deploy/ applies");
    let ns = cluster.namespace(&admin, "schema").await;
    let api = sealed_secrets(&admin, &ns);
    for (field, value) in [("mode", "Bogus"), ("scope", "galaxy"), ("mode", "owned")] {
        let object = sealed_secret(
            "invalid",
            json!({ "encryptedData": {}, "recipients": [], field: value }),
        );
        let (code, message) = refused_with(
            &format!("spec.{field}: {value}"),
            api.create(&PostParams::default(), &object).await,
        );
        assert_eq!(code, 422, "spec.{field}={value}: {message}");
        assert!(
            message.contains(&format!("spec.{field}")) && message.contains("Unsupported value"),
            "spec.{field}={value}: {message}"
        );
    }
    // A valid one is stored, with the schema's defaults filled in by the server.
    let stored = api
        .create(
            &PostParams::default(),
            &sealed_secret("valid", json!({ "mode": "Merge" })),
        )
        .await
        .expect("a valid SealedSecret is accepted");
    assert_eq!(stored.data["spec"]["scope"], "strict");
    assert_eq!(stored.data["spec"]["encryptedData"], json!({}));
    assert_eq!(stored.data["spec"]["recipients"], json!([]));
}
