//! 2,000 SealedSecrets on the real API server: the controller lists them in pages of 500
//! and follows the continue tokens; etcd compacted while it is between two pages makes
//! the next page a 410 Expired, and the controller lists again from the start and
//! reaches a steady state (every SealedSecret Synced, its Secret made, no more writes).

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use kube::api::{ListParams, PostParams};
use serde_json::Value;

use crate::etcd;
use crate::proxy::{Exchange, Proxy};
use crate::support::*;

const COUNT: usize = 2_000;
const PAGE: usize = 500;

/// A list (not watch) of SealedSecrets in `ns`.
fn is_page_of(exchange: &Exchange, ns: &str) -> bool {
    exchange.method == "GET"
        && exchange.route() == format!("/apis/seal.dev/v1alpha1/namespaces/{ns}/sealedsecrets")
        && !exchange.is_watch()
}

/// A page's `metadata.continue` (`None` on the last page) and its item count.
fn page(exchange: &Exchange) -> (Option<String>, usize) {
    let body: Value = serde_json::from_str(&exchange.body_text())
        .unwrap_or_else(|e| panic!("{}: {e}", exchange.path));
    (
        body["metadata"]["continue"]
            .as_str()
            .filter(|c| !c.is_empty())
            .map(str::to_owned),
        body["items"].as_array().map_or(0, Vec::len),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_sealed_secrets_are_paged_and_relisted_after_a_compaction() {
    let Some(cluster) = control_plane::get() else {
        return;
    };
    let _turn = turn().await;
    let admin = cluster.client().await;
    control_plane::install_deploy(&admin)
        .await
        .expect("deploy/ applies");
    let ns = cluster.namespace(&admin, "pagination").await;
    let controller_user = cluster.client_as(control_plane::CONTROLLER_USER).await;

    // The controller's key, made (or found) by a first run.
    let first = Controller::start(controller_user.clone(), &ns, "fidelity-keys").await;
    let to = first.recipients();
    first.stop().await;
    let objects = (0..COUNT)
        .map(|i| {
            let name = format!("s{i:04}");
            let value = format!("value-{i}");
            sealed(&ns, &name, &[("password", value.as_bytes())], &to)
        })
        .collect();
    create_all(&admin, &ns, objects, 8).await;

    // A continue token of our own from before the compaction: when the API server
    // refuses it, it refuses the controller's too.
    let api = sealed_secrets(&admin, &ns);
    let probe = api
        .list(&ListParams::default().limit(1))
        .await
        .expect("a first page")
        .metadata
        .continue_
        .expect("a continue token");

    let proxy = Proxy::start(controller_user).await;
    let page_of = format!("/apis/seal.dev/v1alpha1/namespaces/{ns}/sealedsecrets?");
    let mut held = proxy.hold_first(move |method, path| {
        method == "GET" && path.starts_with(&page_of) && path.contains("continue=")
    });
    let controller = Controller::spawn(proxy.client(), &ns, "fidelity-pages").await;
    tokio::time::timeout(Duration::from_secs(120), held.arrived())
        .await
        .expect("the controller asks for a second page within 120 s");

    // A write after its first page, then the compaction up to now.
    Api::<ConfigMap>::namespaced(admin.clone(), &ns)
        .create(
            &PostParams::default(),
            &ConfigMap {
                metadata: ObjectMeta {
                    name: Some("after-the-first-page".to_owned()),
                    ..ObjectMeta::default()
                },
                data: Some(BTreeMap::from([("k".to_owned(), "v".to_owned())])),
                ..ConfigMap::default()
            },
        )
        .await
        .expect("a write");
    let compacted = etcd::compact(&etcd::client_url(cluster.kubeconfig())).await;
    // The watch cache learns of it within its 15 s poll; until then it still serves old
    // pages from its snapshots.
    let started = std::time::Instant::now();
    loop {
        match api
            .list(&ListParams::default().limit(1).continue_token(&probe))
            .await
        {
            Err(kube::Error::Api(status)) if status.code == 410 => break,
            Err(e) => panic!("the probe's page: {e}"),
            Ok(_) => {
                assert!(
                    started.elapsed() < Duration::from_secs(90),
                    "a continue token from before the compaction at {compacted} still served after 90 s"
                );
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
    held.release();

    wait_all_synced(&admin, &ns, COUNT, Duration::from_secs(900)).await;
    controller.wait_ready(Duration::from_secs(60)).await;
    let owned = Api::<Secret>::namespaced(admin.clone(), &ns)
        .list_metadata(&ListParams::default().labels(unseal::secret_sync::MANAGED_SELECTOR))
        .await
        .expect("list the owned Secrets");
    assert_eq!(owned.items.len(), COUNT, "a Secret for every SealedSecret");

    // Steady: in the next 5 s the controller writes nothing but its Lease (and Events of
    // what it already did).
    let before = proxy.log().len();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let writes: Vec<String> = proxy.log()[before..]
        .iter()
        .filter(|e| e.method != "GET")
        .filter(|e| !e.route().contains("/leases/") && !e.route().ends_with("/events"))
        .map(|e| format!("{} {}", e.method, e.path))
        .collect();
    assert!(writes.is_empty(), "writes at steady state: {writes:?}");
    assert_eq!(count_synced(&admin, &ns).await, COUNT);
    controller.stop().await;

    // The pages as they went: 500 each, every continue token the one just received; the
    // one held across the compaction refused with 410; then a whole new list.
    let log = proxy.log();
    let pages: Vec<&Exchange> = log.iter().filter(|e| is_page_of(e, &ns)).collect();
    let limit = PAGE.to_string();
    for p in &pages {
        assert_eq!(
            p.query("limit").as_deref(),
            Some(limit.as_str()),
            "{}",
            p.path
        );
    }
    assert!(
        pages.len() >= 2 + COUNT / PAGE,
        "pages: {:?}",
        pages.iter().map(|p| &p.path).collect::<Vec<_>>()
    );
    assert_eq!(pages[0].query("continue"), None);
    assert_eq!(pages[0].status, Some(200));
    let (token, items) = page(pages[0]);
    assert_eq!(items, PAGE);
    assert_eq!(
        pages[1].query("continue"),
        token,
        "the second page continues the first"
    );
    assert_eq!(pages[1].status, Some(410), "{}", pages[1].body_text());
    assert!(
        pages[1].body_text().contains("Expired"),
        "{}",
        pages[1].body_text()
    );
    // The relist: from the start, every page continuing the one before, 2,000 in all.
    let relist = &pages[2..];
    assert_eq!(
        relist[0].query("continue"),
        None,
        "a new list, not the old token"
    );
    let mut expected = None;
    let mut total = 0;
    for p in relist {
        assert_eq!(p.status, Some(200), "{}: {}", p.path, p.body_text());
        assert_eq!(p.query("continue"), expected, "{}", p.path);
        let (next, items) = page(p);
        total += items;
        expected = next;
        if expected.is_none() {
            break;
        }
    }
    assert_eq!(expected, None, "the relist reached its last page");
    assert_eq!(total, COUNT);
}
