//! The controller's Secret watch asks for metadata only: with the real API server, a
//! list or a watch sent with that Accept header carries no Secret data at all.

use std::collections::BTreeMap;

use base64::Engine as _;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{ListParams, PostParams};
use kube::{Api, Client};
use serde_json::Value;

const METADATA_LIST: &str = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
const METADATA: &str = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";
const CANARY: &[u8] = b"metadata-only-canary-value";

async fn get_raw(client: &Client, uri: &str, accept: &str) -> String {
    let request = http::Request::get(uri)
        .header(http::header::ACCEPT, accept)
        .body(Vec::new())
        .expect("a request");
    client
        .request_text(request)
        .await
        .unwrap_or_else(|e| panic!("GET {uri}: {e}"))
}

fn assert_no_data(what: &str, body: &str) {
    let encoded = base64::engine::general_purpose::STANDARD.encode(CANARY);
    assert!(
        !body.contains(&encoded),
        "{what} carries the Secret's value"
    );
    assert!(
        !body.contains("\"data\""),
        "{what} carries a data field: {body}"
    );
}

#[tokio::test]
async fn a_metadata_only_list_and_watch_of_secrets_carry_no_data() {
    let Some(cluster) = control_plane::get() else {
        return;
    };
    let admin = cluster.client().await;
    let ns = cluster.namespace(&admin, "metadata").await;
    let secrets: Api<Secret> = Api::namespaced(admin.clone(), &ns);
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some("db".to_owned()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(
            "password".to_owned(),
            ByteString(CANARY.to_vec()),
        )])),
        ..Secret::default()
    };
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .expect("create Secret");
    let uri = format!("/api/v1/namespaces/{ns}/secrets");

    // The same request without the header does carry it: the canary is findable.
    let full = get_raw(&admin, &uri, "application/json").await;
    let encoded = base64::engine::general_purpose::STANDARD.encode(CANARY);
    assert!(full.contains(&encoded), "a plain list carries the value");

    let list = get_raw(&admin, &uri, METADATA_LIST).await;
    assert_no_data("the metadata-only list", &list);
    let parsed: Value = serde_json::from_str(&list).expect("JSON");
    assert_eq!(parsed["kind"], "PartialObjectMetadataList");
    assert_eq!(parsed["items"][0]["kind"], "PartialObjectMetadata");
    assert_eq!(parsed["items"][0]["metadata"]["name"], "db");

    // A watch from resourceVersion 0 starts with what exists; timeoutSeconds ends the
    // response (after a second) so that it can be read whole.
    let watch = get_raw(
        &admin,
        &format!("{uri}?watch=true&resourceVersion=0&timeoutSeconds=1"),
        METADATA,
    )
    .await;
    assert_no_data("the metadata-only watch", &watch);
    let first: Value =
        serde_json::from_str(watch.lines().next().expect("one event")).expect("JSON event");
    assert_eq!(first["type"], "ADDED");
    assert_eq!(first["object"]["kind"], "PartialObjectMetadata");

    // kube's typed metadata list sends that header.
    let typed = secrets
        .list_metadata(&ListParams::default())
        .await
        .expect("list_metadata");
    assert_eq!(typed.items.len(), 1);
    assert_eq!(typed.items[0].metadata.name.as_deref(), Some("db"));
}
