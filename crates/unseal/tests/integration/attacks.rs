//! The attack suite: every attack of the security review (issue 10), run as the attacker
//! would run it against the real controller (HTTP API, reconciler, key loader). Each test
//! asserts that the attack fails and that nothing was written. Those that go through
//! objects run on the API-server double and on the real control plane (where the
//! controller runs with deploy/rbac.yaml's rights; RBAC is not what stops any of them);
//! those against the HTTP API alone, where the API server plays no part, run once, on the
//! double.

use std::time::{Duration, Instant};

use crate::support::*;
use age::secrecy::ExposeSecret;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::PostParams;
use kube::{Api, ResourceExt};
use seal_core::convert::{self, SealOptions};
use seal_core::documents::{self, Format};
use seal_core::{KeyRing, Mode, Recipients, SealedSecret};
use serde_json::json;

fn yaml(sealed: &SealedSecret) -> String {
    documents::render(std::slice::from_ref(sealed), Format::Yaml)
        .expect("renders")
        .to_string()
}

/// A sealed value whose first X25519 stanza is repeated until there are `n`: well-formed
/// stanzas, as many as an attacker likes, each of which age would try with every key.
fn flooded(value: &str, n: usize) -> String {
    let bytes = STANDARD.decode(value).expect("base64");
    let text = bytes.as_slice();
    let first = find(text, b"\n-> X25519 ").expect("a stanza") + 1;
    let body_end = find(&text[first..], b"\n").expect("stanza line") + first + 1;
    let body_end = find(&text[body_end..], b"\n").expect("stanza body") + body_end + 1;
    let stanza = &text[first..body_end];
    let mut out = text[..first].to_vec();
    for _ in 0..n {
        out.extend_from_slice(stanza);
    }
    out.extend_from_slice(&text[body_end..]);
    STANDARD.encode(out)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A SealedSecret for `flood` in the namespace `apps` whose value carries `n` stanzas
/// and which lists no recipients (so only the absolute cap applies).
fn flood_object(h: &Harness, n: usize) -> SealedSecret {
    let mut sealed = seal(
        &plain(&h.ns("apps"), "flood", &[("k", "v")]),
        &h.recipients(),
        &SealOptions::default(),
    );
    let value = sealed.spec.encrypted_data["k"].clone();
    sealed
        .spec
        .encrypted_data
        .insert("k".into(), flooded(&value, n));
    sealed.spec.recipients.clear();
    sealed
}

scenarios! {
    both: [
        a_forged_recipient_list_does_not_make_reencrypt_seal_to_the_attacker,
        merge_into_a_secret_that_did_not_opt_in_writes_nothing,
        a_sealed_secret_cannot_inject_a_sealing_key,
        a_stanza_flood_is_refused_before_decryption_and_never_retried,
        a_malformed_recipient_cannot_hide_what_reencrypt_drops,
        a_sealed_secret_cannot_mint_service_account_tokens,
    ],
}

async fn a_forged_recipient_list_does_not_make_reencrypt_seal_to_the_attacker(backend: Backend) {
    let h = Harness::start(backend).await;
    let base = h.controllers[0].http.clone();
    let attacker = age::x25519::Identity::generate();
    let mut victim = seal(
        &plain(&h.ns("apps"), "db", &[("password", "victim-password")]),
        &h.recipients(),
        &SealOptions::default(),
    );
    // The attacker's edit: their own key appended to the public recipient list.
    victim
        .spec
        .recipients
        .push(attacker.to_public().to_string());
    let (status, head, body) =
        http_with_headers(&base, "POST", "/v1/reencrypt", yaml(&victim).as_bytes()).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        head.contains(&format!(
            "seal-dropped-recipients: {}",
            attacker.to_public()
        )),
        "{head}"
    );
    let doc = documents::parse("reply", &body).expect("yaml").remove(0);
    let reply = convert::sealed_secret_from_value(doc.value).expect("sealed");
    assert!(
        !reply
            .spec
            .recipients
            .contains(&attacker.to_public().to_string())
    );
    let mut theirs = KeyRing::new();
    theirs.insert(attacker.clone());
    assert!(
        convert::open_sealed_secret(&reply, &theirs).is_err(),
        "the attacker cannot open the re-sealed value"
    );
    // Asking outright is refused, with nothing sealed.
    let (status, body) = http(
        &base,
        "POST",
        &format!("/v1/reencrypt?add={}", attacker.to_public()),
        yaml(&victim).as_bytes(),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(!body.contains("victim-password"));
    h.stop().await;
}

async fn merge_into_a_secret_that_did_not_opt_in_writes_nothing(backend: Backend) {
    let h = Harness::start(backend).await;
    let argocd = h.ns("argocd");
    let api: Api<Secret> = Api::namespaced(h.client.clone(), &argocd);
    let target: Secret = serde_json::from_value(json!({
        "metadata": {"name": "argocd-secret"},
        "data": {"admin.password": "b3JpZ2luYWw=", "server.secretkey": "a2VlcA=="}
    }))
    .expect("secret");
    api.create(&PostParams::default(), &target)
        .await
        .expect("created");
    let before = h.secret(&argocd, "argocd-secret").await.expect("stored");
    let takeover = SealOptions {
        mode: Mode::Merge,
        ..Default::default()
    };
    h.create(&seal(
        &plain(&argocd, "argocd-secret", &[("admin.password", "pwned")]),
        &h.recipients(),
        &takeover,
    ))
    .await;
    h.wait_reason(&argocd, "argocd-secret", "MergeNotAllowed")
        .await;
    assert_eq!(
        h.secret(&argocd, "argocd-secret").await,
        Some(before.clone()),
        "not one byte of the target changed"
    );
    // The Event follows the status write.
    wait_for("a MergeNotAllowed warning", async || {
        (h.warnings(&argocd, "MergeNotAllowed").await == 1).then_some(())
    })
    .await;

    // The owner opts in to the webhook key only: asking for admin.password besides is
    // still refused as a whole, and the webhook key is not written either.
    let mut opted = api.get("argocd-secret").await.expect("read");
    opted.metadata.annotations = Some(
        [(
            "seal.dev/merge-keys".to_owned(),
            "webhook.github.secret".to_owned(),
        )]
        .into(),
    );
    api.replace("argocd-secret", &PostParams::default(), &opted)
        .await
        .expect("annotated");
    let annotated = h.secret(&argocd, "argocd-secret").await.expect("stored");
    let sealed: Api<SealedSecret> = Api::namespaced(h.client.clone(), &argocd);
    let mut current = sealed.get("argocd-secret").await.expect("read");
    let both = seal(
        &plain(
            &argocd,
            "argocd-secret",
            &[("admin.password", "pwned"), ("webhook.github.secret", "w")],
        ),
        &h.recipients(),
        &takeover,
    );
    current.spec = both.spec;
    sealed
        .replace("argocd-secret", &PostParams::default(), &current)
        .await
        .expect("updated");
    h.wait_observed(&argocd, "argocd-secret").await;
    assert_eq!(
        h.condition(&argocd, "argocd-secret").await.map(|c| c.1),
        Some("MergeNotAllowed".to_owned())
    );
    let message = h.message(&argocd, "argocd-secret").await;
    assert!(message.contains("the keys admin.password"), "{message}");
    assert!(!message.contains("pwned"), "{message}");
    assert_eq!(h.secret(&argocd, "argocd-secret").await, Some(annotated));
    h.stop().await;
}

/// The identity file an attacker would seal as a "key Secret".
fn key_file(identity: &age::x25519::Identity) -> String {
    format!("{}\n", identity.to_string().expose_secret())
}

/// The planted key Secret's owner is the SealedSecret planted first, which exists: on
/// the real server the garbage collector would delete a Secret whose owner does not.
async fn a_sealed_secret_cannot_inject_a_sealing_key(backend: Backend) {
    let h = Harness::start(backend).await;
    let (apps, controller_ns) = (h.ns("apps"), h.controller_ns());
    let active_before = h.recipients().to_strings();
    let attacker = age::x25519::Identity::generate();
    let file = key_file(&attacker);
    let mut forged = plain(&controller_ns, "seal-key-9999", &[("identity.txt", &file)]);
    forged
        .labels
        .insert("seal.dev/sealing-key".into(), "true".into());
    forged
        .annotations
        .insert("seal.dev/created-at".into(), "2099-01-01T00:00:00Z".into());
    // `seal` itself drops seal.dev/ metadata; the attacker writes the object by hand.
    let mut sealed = seal(&forged, &h.recipients(), &SealOptions::default());
    sealed.spec.template.metadata.labels = forged.labels.clone();
    sealed.spec.template.metadata.annotations = forged.annotations.clone();
    let planted = h.create(&sealed).await;
    h.wait_reason(&controller_ns, "seal-key-9999", "ReservedNamespace")
        .await;
    assert!(h.secret(&controller_ns, "seal-key-9999").await.is_none());

    // The same in another namespace: the template's reserved metadata is refused.
    let mut elsewhere = forged.clone();
    elsewhere.namespace = Some(apps.clone());
    let mut sealed = seal(&elsewhere, &h.recipients(), &SealOptions::default());
    sealed.spec.template.metadata.labels = forged.labels.clone();
    sealed.spec.template.metadata.annotations = forged.annotations.clone();
    h.create(&sealed).await;
    h.wait_reason(&apps, "seal-key-9999", "InvalidSpec").await;
    assert!(h.secret(&apps, "seal-key-9999").await.is_none());

    // A key Secret with an owner (what unsealing would make) or from the future, planted
    // straight into the namespace, is not loaded either.
    let keys: Api<Secret> = Api::namespaced(h.client.clone(), &controller_ns);
    let mut owned = unseal::keys::secrets::encode(
        "seal-key-owned",
        &controller_ns,
        &attacker,
        unseal::clock::now(),
        false,
    );
    owned.metadata.owner_references = Some(vec![
        serde_json::from_value(json!({
            "apiVersion": "seal.dev/v1alpha1", "kind": "SealedSecret",
            "name": "seal-key-9999", "uid": planted.uid(), "controller": true
        }))
        .expect("ref"),
    ]);
    keys.create(&PostParams::default(), &owned)
        .await
        .expect("planted");
    let future = unseal::keys::secrets::encode(
        "seal-key-future",
        &controller_ns,
        &age::x25519::Identity::generate(),
        "2099-01-01T00:00:00Z".parse().expect("time"),
        false,
    );
    keys.create(&PostParams::default(), &future)
        .await
        .expect("planted");
    wait_for(
        "both planted key Secrets refused by the loader",
        async || (h.ctx().keys.current().refused == 2).then_some(()),
    )
    .await;
    let set = h.ctx().keys.current();
    assert_eq!(set.keys.len(), 1, "{:?}", set.keys);
    assert_eq!(h.recipients().to_strings(), active_before);
    let published: Api<ConfigMap> = Api::namespaced(h.client.clone(), &controller_ns);
    let text = published
        .get("unseal-recipients")
        .await
        .expect("published")
        .data
        .unwrap_or_default();
    let attacker_r = attacker.to_public().to_string();
    assert!(text.values().all(|v| !v.contains(&attacker_r)), "{text:?}");
    let (_, body) = http(&h.controllers[0].http, "GET", "/v1/recipients", b"").await;
    assert!(!body.contains(&attacker_r), "{body}");
    let (_, metrics) = http(&h.controllers[0].http, "GET", "/metrics", b"").await;
    assert!(
        metrics.contains("unseal_refused_key_secrets 2"),
        "refused keys are visible to alerting: {metrics}"
    );
    h.stop().await;
}

/// "Read again" is judged by the controllers' reads of the object: the double's log, or
/// on the real server their clients' log.
async fn a_stanza_flood_is_refused_before_decryption_and_never_retried(backend: Backend) {
    let h = Harness::start(backend).await;
    let apps = h.ns("apps");
    let base = h.controllers[0].http.clone();
    let flood = flood_object(&h, 6000);
    let body = yaml(&flood);
    assert!(body.len() < unseal::http::MAX_BODY, "under the body cap");
    for path in ["/v1/verify", "/v1/reencrypt"] {
        let started = Instant::now();
        let (status, answer) = http(&base, "POST", path, body.as_bytes()).await;
        let took = started.elapsed();
        assert_eq!(status, 422, "{path}: {answer}");
        assert!(answer.contains("\"reason\":\"InvalidSpec\""), "{answer}");
        assert!(answer.contains("more than 64"), "{answer}");
        // Before the shape check this took seconds; the bound leaves room for a debug
        // build on a busy machine.
        assert!(took < Duration::from_secs(2), "{path} took {took:?}");
    }

    // Reconciled: refused with InvalidSpec, no Secret, and not retried on a timer (a
    // backoff would have read it again after 1 s and 2 s).
    h.create(&flood).await;
    h.wait_reason(&apps, "flood", "InvalidSpec").await;
    assert!(h.secret(&apps, "flood").await.is_none());
    let reads = |h: &Harness| {
        h.log()
            .iter()
            .filter(|r| r.method == "GET" && r.path.ends_with("/sealedsecrets/flood"))
            .count()
    };
    let first = reads(&h);
    let window = Instant::now() + Duration::from_secs(4);
    while Instant::now() < window {
        assert_eq!(reads(&h), first, "an InvalidSpec object was read again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    h.stop().await;
}

/// The HTTP API alone: the API server behind it plays no part, so it runs once, on the
/// double.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_checks_answer_during_a_flood() {
    let h = Harness::start(Backend::Double).await;
    let base = h.controllers[0].http.clone();
    let body = std::sync::Arc::new(yaml(&flood_object(&h, 6000)));
    let mut floods = Vec::new();
    for i in 0..10 {
        let (base, body) = (base.clone(), body.clone());
        floods.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            for _ in 0..5 {
                let (status, _, _) = http_as(
                    &base,
                    &format!("flooder-{i}"),
                    "POST",
                    "/v1/verify",
                    body.as_bytes(),
                )
                .await;
                statuses.push(status);
            }
            statuses
        }));
    }
    let mut took = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        let (status, _) = http(&base, "GET", "/healthz", b"").await;
        assert_eq!(status, 200);
        took.push(started.elapsed());
    }
    for f in floods {
        let statuses = f.await.expect("joined");
        assert!(
            statuses.iter().all(|s| [422, 429, 503].contains(s)),
            "{statuses:?}"
        );
    }
    took.sort();
    let (median, slowest) = (took[took.len() / 2], took[took.len() - 1]);
    println!("/healthz during the flood: median {median:?}, slowest {slowest:?}");
    // The target is < 100 ms; the median is held to it. A single slow answer can be the
    // scheduler on a machine whose cores are busy with other work, so the slowest one is
    // only held to a bound that a starved runtime (seconds, before the fix) would break.
    assert!(median < Duration::from_millis(100), "median {median:?}");
    assert!(slowest < Duration::from_secs(1), "slowest {slowest:?}");
    h.stop().await;
}

/// The HTTP API alone: the API server behind it plays no part, so it runs once, on the
/// double.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_sending_garbage_does_not_starve_another() {
    // No refill during the test, so how many calls get through does not depend on how
    // fast a busy machine sends them: exactly the burst, then 429.
    let mut settings = fast_settings("replica-a");
    settings.api_per_second = 0;
    let h = Harness::start_with(Backend::Double, settings.clone()).await;
    let base = h.controllers[0].http.clone();
    let good = yaml(&seal(
        &plain("apps", "db", &[("k", "v")]),
        &h.recipients(),
        &SealOptions::default(),
    ));
    let mut refused = 0;
    for _ in 0..100 {
        let (status, _, _) = http_as(&base, "garbage", "POST", "/v1/verify", b"{{{{").await;
        if status == 429 {
            refused += 1;
        }
    }
    let burst = usize::try_from(settings.api_burst).expect("small");
    assert_eq!(
        refused,
        100 - burst,
        "the noisy client is limited to its burst"
    );
    for _ in 0..10 {
        let (status, _, body) =
            http_as(&base, "honest", "POST", "/v1/verify", good.as_bytes()).await;
        assert_eq!(status, 200, "{body}");
    }
    h.stop().await;
}

#[test]
fn the_recipients_of_an_attack_fixture_are_real() {
    // Guards the fixtures above: a flooded value still names the controller's kind of
    // stanza, so the refusal is the shape check's and not a parse error.
    let id = age::x25519::Identity::generate();
    let mut to = Recipients::new();
    to.insert(id.to_public());
    let sealed = seal(
        &plain("apps", "x", &[("k", "v")]),
        &to,
        &SealOptions::default(),
    );
    let value = flooded(&sealed.spec.encrypted_data["k"], 10);
    let shape = seal_core::ciphertext::shape(&value).expect("parses");
    assert_eq!(shape.x25519_stanzas, 10);
}

// Findings of the second adversarial review (after the fixes above).

/// The HTTP API alone: the API server behind it plays no part, so it runs once, on the
/// double.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_yaml_alias_bomb_is_refused_within_the_body_budget() {
    let h = Harness::start(Backend::Double).await;
    let base = h.controllers[0].http.clone();
    let big = "x".repeat(900_000);
    let aliases = "- *big\n".repeat(72);
    let bomb = format!("apiVersion: v1\nkind: List\nitems:\n- &big \"{big}\"\n{aliases}");
    assert!(bomb.len() < unseal::http::MAX_BODY);
    let (status, body) = http(&base, "POST", "/v1/verify", bomb.as_bytes()).await;
    assert_eq!(status, 400, "{body}");
    h.stop().await;
}

/// The HTTP API alone: the API server behind it plays no part, so it runs once, on the
/// double.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_uploads_hold_at_most_two_slots_per_client_and_time_out() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let h = Harness::start(Backend::Double).await;
    let base = h.controllers[0].http.clone();
    let host = base.trim_start_matches("http://").to_owned();
    // Two uploads that announce 1 MiB, send 100 KB and stop.
    let mut stalled = Vec::new();
    for _ in 0..2 {
        let mut stream = tokio::net::TcpStream::connect(&host)
            .await
            .expect("connect");
        let head = format!(
            "POST /v1/verify HTTP/1.1\r\nHost: {host}\r\nContent-Length: 1000000\r\nX-Forwarded-For: staller\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.expect("head");
        stream.write_all(&vec![b'a'; 100_000]).await.expect("part");
        stalled.push(stream);
    }
    let good = yaml(&seal(
        &plain("apps", "db", &[("k", "v")]),
        &h.recipients(),
        &SealOptions::default(),
    ));
    // Each upload takes its slot as soon as its head is in; wait for both to be counted.
    wait_for("both stalled uploads hold a slot", async || {
        let probe = ClientProbe(&h);
        (probe.slots_taken() == 2).then_some(())
    })
    .await;
    let (status, _, _) = http_as(&base, "staller", "POST", "/v1/verify", good.as_bytes()).await;
    assert_eq!(status, 503, "a third upload of the same client");
    let (status, _, body) = http_as(&base, "honest", "POST", "/v1/verify", good.as_bytes()).await;
    assert_eq!(status, 200, "{body}");
    // The stalled uploads are answered 408 once their time is up, and give their slots back.
    let mut answer = Vec::new();
    let _ = stalled[0].read_to_end(&mut answer).await;
    assert!(
        String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    h.stop().await;
}

/// Reads how many body slots are taken, through a verify the probe itself would need.
struct ClientProbe<'a>(&'a Harness);

impl ClientProbe<'_> {
    fn slots_taken(&self) -> usize {
        let client = |i: u8| {
            unseal::http::rate_limit::ClientKey::new(std::net::IpAddr::from([192, 0, 2, i]), None)
        };
        let slots = &self.0.ctx().http_bodies;
        let mut held = Vec::new();
        for i in 0..(unseal::http::intake::BODY_SLOTS as u8) {
            match slots.try_take(&client(i)) {
                Some(slot) => held.push(slot),
                None => break,
            }
        }
        unseal::http::intake::BODY_SLOTS - held.len()
    }
}

/// The HTTP API alone: the API server behind it plays no part, so it runs once, on the
/// double.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn costly_objects_are_capped_and_charged_by_their_cost() {
    // No refill during the test: what each call costs is then exactly what is left.
    let mut settings = fast_settings("replica-a");
    settings.api_per_second = 0;
    let h = Harness::start_with(Backend::Double, settings).await;
    let base = h.controllers[0].http.clone();
    // 63 decoy recipients and the controller's key: every value costs 64 unwraps.
    let mut to = h.recipients();
    for _ in 0..63 {
        to.insert(age::x25519::Identity::generate().to_public());
    }
    let values: Vec<(String, String)> =
        (0..20).map(|i| (format!("k{i}"), "v".to_owned())).collect();
    let pairs: Vec<(&str, &str)> = values
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let costly = seal(
        &plain("apps", "costly", &pairs),
        &to,
        &SealOptions::default(),
    );
    // Over the cap: the same 64-stanza value under 70 keys (4,480 unwraps). Refused from
    // its shape alone, before any decryption.
    let mut heavy = costly.clone();
    let value = heavy.spec.encrypted_data["k0"].clone();
    for i in 0..70 {
        heavy
            .spec
            .encrypted_data
            .insert(format!("k{i}"), value.clone());
    }
    let (status, body) = http(&base, "POST", "/v1/verify", yaml(&heavy).as_bytes()).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("over the limit"), "{body}");
    // Under the cap but costly (20 values x 64 = 1,280 unwraps): charged 1 + 5 tokens of
    // a burst of 20, so the fourth in a row is refused.
    let costly = yaml(&costly);
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(
            http_as(&base, "greedy", "POST", "/v1/verify", costly.as_bytes())
                .await
                .0,
        );
    }
    assert_eq!(statuses, [200, 200, 200, 429]);
    let good = yaml(&seal(
        &plain("apps", "db", &[("k", "v")]),
        &h.recipients(),
        &SealOptions::default(),
    ));
    let (status, _, body) = http_as(&base, "honest", "POST", "/v1/verify", good.as_bytes()).await;
    assert_eq!(status, 200, "{body}");
    h.stop().await;
}

async fn a_malformed_recipient_cannot_hide_what_reencrypt_drops(backend: Backend) {
    let breakglass = age::x25519::Identity::generate().to_public().to_string();
    let h = Harness::start(backend).await;
    let base = h.controllers[0].http.clone();
    let mut sealed = seal(
        &plain(&h.ns("apps"), "db", &[("k", "v")]),
        &h.recipients(),
        &SealOptions::default(),
    );
    sealed.spec.recipients.push(breakglass.clone());
    sealed.spec.recipients.push("age1bogus\nx".to_owned());
    let (status, body) = http(&base, "POST", "/v1/reencrypt", yaml(&sealed).as_bytes()).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("spec.recipients[2]"), "{body}");
    sealed.spec.recipients.pop();
    let (status, head, body) =
        http_with_headers(&base, "POST", "/v1/reencrypt", yaml(&sealed).as_bytes()).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        head.contains(&format!("seal-dropped-recipients: {breakglass}")),
        "{head}"
    );
    h.stop().await;
}

async fn a_sealed_secret_cannot_mint_service_account_tokens(backend: Backend) {
    let h = Harness::start(backend).await;
    let apps = h.ns("apps");
    let mut token = plain(&apps, "minted", &[("x", "y")]);
    token.type_ = Some("kubernetes.io/service-account-token".to_owned());
    token.annotations.insert(
        "kubernetes.io/service-account.name".into(),
        "default".into(),
    );
    h.create(&seal(&token, &h.recipients(), &SealOptions::default()))
        .await;
    h.wait_reason(&apps, "minted", "InvalidSpec").await;
    assert!(h.secret(&apps, "minted").await.is_none());
    h.stop().await;
}
