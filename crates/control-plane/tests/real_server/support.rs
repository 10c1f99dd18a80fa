//! What the tests share: a SealedSecret as generic JSON, its API, and a check for a
//! refused request.

use kube::api::{DynamicObject, PostParams};
use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;
use kube::{Api, Client};
use serde_json::{Value, json};

/// The SealedSecret resource, as the CRD in deploy/ defines it.
pub fn sealed_secret_resource() -> ApiResource {
    let gvk = GroupVersionKind::gvk("seal.dev", "v1alpha1", "SealedSecret");
    ApiResource::from_gvk_with_plural(&gvk, "sealedsecrets")
}

/// SealedSecrets in `ns`, as generic objects (so that invalid ones can be sent too).
pub fn sealed_secrets(client: &Client, ns: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), ns, &sealed_secret_resource())
}

/// A SealedSecret named `name` with this `spec` (no values: the API server does not open
/// them, and these tests are about the API server).
pub fn sealed_secret(name: &str, spec: Value) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "seal.dev/v1alpha1",
        "kind": "SealedSecret",
        "metadata": { "name": name },
        "spec": spec,
    }))
    .expect("a SealedSecret object")
}

/// Creates a valid SealedSecret and returns it as stored.
pub async fn create_sealed_secret(client: &Client, ns: &str, name: &str) -> DynamicObject {
    sealed_secrets(client, ns)
        .create(
            &PostParams::default(),
            &sealed_secret(name, json!({ "encryptedData": {}, "recipients": [] })),
        )
        .await
        .unwrap_or_else(|e| panic!("creating SealedSecret {ns}/{name}: {e}"))
}

/// The API server's status code for a refused request; panics when it was accepted.
pub fn refused_with<T: std::fmt::Debug>(what: &str, result: kube::Result<T>) -> (u16, String) {
    match result {
        Err(kube::Error::Api(status)) => (status.code, status.message),
        other => panic!("{what}: expected the API server to refuse it, got {other:?}"),
    }
}

/// Asserts a 403 Forbidden.
pub fn assert_forbidden<T: std::fmt::Debug>(what: &str, result: kube::Result<T>) {
    let (code, message) = refused_with(what, result);
    assert_eq!(code, 403, "{what}: {message}");
}
