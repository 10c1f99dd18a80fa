//! The controller's HTTP API: recipients, verify, reencrypt, health, metrics, the body
//! cap and the rate limit, with the controller running against the API-server double and
//! against the real control plane.

use crate::support::*;

scenarios! {
    both: [
        recipients_health_and_metrics,
        verify_says_whether_it_opens_without_plaintext,
        reencrypt_moves_values_to_the_active_key_and_keeps_only_trusted_recipients,
        reencrypt_adds_only_trusted_recipients_and_removes_any,
        bodies_are_capped_and_calls_rate_limited,
    ],
}
use seal_core::convert::{self, SealOptions};
use seal_core::documents::{self, Format};

fn yaml(sealed: &seal_core::SealedSecret) -> String {
    documents::render(std::slice::from_ref(sealed), Format::Yaml)
        .expect("renders")
        .to_string()
}

async fn recipients_health_and_metrics(backend: Backend) {
    let h = Harness::start(backend).await;
    let base = &h.controllers[0].http;
    let (status, body) = http(base, "GET", "/v1/recipients", b"").await;
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&body).expect("json");
    let active = h.recipients().to_strings()[0].clone();
    assert_eq!(json["active"], active.as_str());
    assert_eq!(json["keys"][0]["active"], true);
    let (status, text) = http(base, "GET", "/v1/recipients?format=text", b"").await;
    assert_eq!(status, 200);
    let mut parsed = seal_core::Recipients::new();
    parsed
        .add_file("response", &text)
        .expect("a recipients file");
    assert_eq!(parsed.to_strings(), [active]);
    assert_eq!(http(base, "GET", "/healthz", b"").await.0, 200);
    assert_eq!(http(base, "GET", "/readyz", b"").await.0, 200);
    let (status, metrics) = http(base, "GET", "/metrics", b"").await;
    assert_eq!(status, 200);
    for name in [
        "unseal_keys 1",
        "unseal_leader 1",
        "unseal_build_info",
        "unseal_active_key_age_seconds",
        "unseal_reconcile_duration_seconds",
    ] {
        assert!(metrics.contains(name), "{name} missing:\n{metrics}");
    }
    h.stop().await;
}

async fn verify_says_whether_it_opens_without_plaintext(backend: Backend) {
    let h = Harness::start(backend).await;
    let base = &h.controllers[0].http;
    let good = seal(
        &plain(&h.ns("apps"), "db", &[("password", "p4ss-value")]),
        &h.recipients(),
        &SealOptions::default(),
    );
    let (status, body) = http(base, "POST", "/v1/verify", yaml(&good).as_bytes()).await;
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains("p4ss-value"));
    let mut moved = good.clone();
    moved.metadata.namespace = Some("elsewhere".into());
    let (status, body) = http(base, "POST", "/v1/verify", yaml(&moved).as_bytes()).await;
    assert_eq!(status, 422);
    assert!(body.contains("\"reason\":\"ScopeMismatch\""), "{body}");
    let (status, body) = http(base, "POST", "/v1/verify", b"kind: [unclosed").await;
    assert_eq!(status, 400, "{body}");
    h.stop().await;
}

async fn reencrypt_moves_values_to_the_active_key_and_keeps_only_trusted_recipients(
    backend: Backend,
) {
    let breakglass = age::x25519::Identity::generate();
    let stranger = age::x25519::Identity::generate();
    let mut settings = fast_settings("replica-a");
    settings.trusted_recipients = vec![breakglass.to_public().to_string()];
    let h = Harness::start_with(backend, settings).await;
    let base = h.controllers[0].http.clone();
    let mut to = h.recipients();
    to.insert(breakglass.to_public());
    to.insert(stranger.to_public());
    let old = seal(
        &plain(&h.ns("apps"), "db", &[("password", "keep-me")]),
        &to,
        &SealOptions::default(),
    );
    let keys: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::namespaced(h.client.clone(), &h.controller_ns());
    unseal::keys::secrets::create_next(&keys, &h.controller_ns())
        .await
        .expect("rotated");
    wait_for("rotation seen", async || {
        (h.ctx().keys.current().keys.len() == 2).then_some(())
    })
    .await;
    let active = h.recipients().to_strings()[0].clone();
    let (status, headers, body) =
        http_with_headers(&base, "POST", "/v1/reencrypt", yaml(&old).as_bytes()).await;
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains("keep-me"));
    let stranger_r = stranger.to_public().to_string();
    assert!(
        headers.contains(&format!("seal-dropped-recipients: {stranger_r}")),
        "the untrusted recipient is named as dropped: {headers}"
    );
    let doc = documents::parse("response", &body).expect("yaml").remove(0);
    let resealed = convert::sealed_secret_from_value(doc.value).expect("sealed secret");
    let mut expected = vec![active, breakglass.to_public().to_string()];
    expected.sort();
    assert_eq!(resealed.spec.recipients, expected);
    let mut only_breakglass = seal_core::KeyRing::new();
    only_breakglass.insert(breakglass);
    let opened = convert::open_sealed_secret(&resealed, &only_breakglass)
        .expect("the trusted break-glass key still opens");
    assert_eq!(opened.data["password"].expose(), b"keep-me");
    let opened =
        convert::open_sealed_secret(&resealed, &h.key_ring().await).expect("cluster opens");
    assert_eq!(opened.data["password"].expose(), b"keep-me");
    h.stop().await;
}

async fn reencrypt_adds_only_trusted_recipients_and_removes_any(backend: Backend) {
    let dr = age::x25519::Identity::generate();
    let stranger = age::x25519::Identity::generate().to_public().to_string();
    let mut settings = fast_settings("replica-a");
    settings.trusted_recipients = vec![dr.to_public().to_string()];
    let h = Harness::start_with(backend, settings).await;
    let base = h.controllers[0].http.clone();
    let breakglass = age::x25519::Identity::generate();
    let mut to = h.recipients();
    to.insert(breakglass.to_public());
    let old = yaml(&seal(
        &plain(&h.ns("apps"), "db", &[("password", "keep-me")]),
        &to,
        &SealOptions::default(),
    ));
    let (status, body) = http(
        &base,
        "POST",
        &format!("/v1/reencrypt?add={stranger}"),
        old.as_bytes(),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("NotTrusted"), "{body}");
    let path = format!(
        "/v1/reencrypt?add={}&remove={}",
        dr.to_public(),
        breakglass.to_public()
    );
    let (status, body) = http(&base, "POST", &path, old.as_bytes()).await;
    assert_eq!(status, 200, "{body}");
    let doc = documents::parse("response", &body).expect("yaml").remove(0);
    let resealed = convert::sealed_secret_from_value(doc.value).expect("sealed secret");
    let mut expected = vec![
        h.recipients().to_strings()[0].clone(),
        dr.to_public().to_string(),
    ];
    expected.sort();
    assert_eq!(resealed.spec.recipients, expected);
    let mut ring = seal_core::KeyRing::new();
    ring.insert(dr);
    let opened = convert::open_sealed_secret(&resealed, &ring).expect("the DR key opens");
    assert_eq!(opened.data["password"].expose(), b"keep-me");
    let mut gone = seal_core::KeyRing::new();
    gone.insert(breakglass);
    assert!(
        convert::open_sealed_secret(&resealed, &gone).is_err(),
        "removed key no longer opens"
    );
    let (status, _) = http(&base, "POST", "/v1/reencrypt?add=age1nope", old.as_bytes()).await;
    assert_eq!(status, 400);
    h.stop().await;
}

async fn bodies_are_capped_and_calls_rate_limited(backend: Backend) {
    // No refill, so the count does not depend on how fast a busy machine sends.
    let mut settings = fast_settings("replica-a");
    settings.api_per_second = 0;
    let h = Harness::start_with(backend, settings.clone()).await;
    let base = &h.controllers[0].http;
    let huge = vec![b'a'; unseal::http::MAX_BODY + 1];
    let (status, _) = http(base, "POST", "/v1/verify", &huge).await;
    assert_eq!(status, 413);
    let body = yaml(&seal(
        &plain(&h.ns("apps"), "db", &[("k", "v")]),
        &h.recipients(),
        &SealOptions::default(),
    ));
    let mut statuses = Vec::new();
    for _ in 0..40 {
        statuses.push(http(base, "POST", "/v1/verify", body.as_bytes()).await.0);
    }
    // The 413 above paid one token at intake; each verify pays one at intake and one for
    // its opening (a cost of one unwrap rounds up to a token).
    let burst = usize::try_from(settings.api_burst).expect("small");
    let ok = statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(ok, (burst - 1) / 2, "{statuses:?}");
    assert!(statuses[ok..].iter().all(|s| *s == 429), "{statuses:?}");
    h.stop().await;
}
