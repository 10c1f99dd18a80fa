//! The HTTP API, health and metrics on one listener:
//!
//! - `GET /v1/recipients` — the keys' public recipients (JSON; `?format=text` for a
//!   recipients file with the active one).
//! - `POST /v1/verify` — does this SealedSecret open here? 200 or 422 with the reason;
//!   never plaintext.
//! - `POST /v1/reencrypt` — the SealedSecret re-sealed to the active key, same binding;
//!   plaintext never leaves (see [`reseal`] for which recipients it keeps: never one
//!   the body merely names).
//! - `POST /v1/migrate` — one bitnami sealed-secrets SealedSecret (`bitnami.com/v1alpha1`)
//!   converted to a seal SealedSecret with the bitnami keys imported by `unseal keys
//!   import --sealed-secrets` (409 `NoMigrationKeys` until then), sealed to the active key
//!   and, of the `recipient=` asked for, only trusted ones; plaintext never leaves (see
//!   [`migrate`]).
//! - `GET /healthz`, `GET /readyz`, `GET /metrics`.
//!
//! Request bodies are capped at 1 MiB; verify, reencrypt and migrate are rate-limited per client
//! ([`rate_limit`]) and their decryption runs off the async runtime, bounded
//! ([`crate::opener`]), so a flood cannot delay health checks or lease renewal.

pub mod intake;
pub mod migrate;
pub mod rate_limit;
pub mod request;
pub mod reseal;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use crate::clock;
use crate::context::Context;

/// The largest request body accepted.
pub const MAX_BODY: usize = 1 << 20;

/// The router.
pub fn router(ctx: Arc<Context>) -> Router {
    Router::new()
        .route("/v1/recipients", get(recipients))
        .route(
            "/v1/verify",
            post(reseal::verify).layer(from_fn_with_state(ctx.clone(), intake::intake)),
        )
        .route(
            "/v1/reencrypt",
            post(reseal::reencrypt).layer(from_fn_with_state(ctx.clone(), intake::intake)),
        )
        .route(
            "/v1/migrate",
            post(migrate::migrate).layer(from_fn_with_state(ctx.clone(), intake::intake)),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(ctx)
}

/// A refusal: status code, reason code and message (never a secret value).
#[derive(Debug)]
pub struct ApiProblem {
    status: StatusCode,
    reason: &'static str,
    message: String,
}

impl IntoResponse for ApiProblem {
    fn into_response(self) -> Response {
        let body = json!({"ok": false, "reason": self.reason, "message": self.message});
        (self.status, axum::Json(body)).into_response()
    }
}

/// A refusal with this status, reason and message.
pub fn problem(status: StatusCode, reason: &'static str, message: &str) -> ApiProblem {
    ApiProblem {
        status,
        reason,
        message: message.to_owned(),
    }
}

/// The refusal while no key is loaded.
pub fn no_keys() -> ApiProblem {
    problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "NoKeys",
        "no sealing key loaded yet",
    )
}

#[derive(Deserialize)]
struct RecipientsQuery {
    format: Option<String>,
}

async fn recipients(
    State(ctx): State<Arc<Context>>,
    Query(q): Query<RecipientsQuery>,
) -> Result<Response, ApiProblem> {
    let set = ctx.keys.current();
    let active = set.active().ok_or_else(no_keys)?;
    if q.format.as_deref() == Some("text") {
        let text = format!(
            "# active sealing key {} (created {})\n{}\n",
            active.name, active.created, active.recipient
        );
        return Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response());
    }
    let keys: Vec<_> = set
        .keys
        .iter()
        .map(|k| {
            json!({
                "name": k.name,
                "recipient": k.recipient,
                "created": k.created.to_string(),
                "active": k.name == active.name,
            })
        })
        .collect();
    Ok(axum::Json(json!({"active": active.recipient, "keys": keys})).into_response())
}

async fn readyz(State(ctx): State<Arc<Context>>) -> Response {
    if ctx.is_ready() {
        "ready\n".into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: keys or caches not loaded\n",
        )
            .into_response()
    }
}

async fn metrics(State(ctx): State<Arc<Context>>, headers: HeaderMap) -> Response {
    let set = ctx.keys.current();
    ctx.metrics
        .keys
        .set(i64::try_from(set.keys.len()).unwrap_or(i64::MAX));
    ctx.metrics
        .refused_keys
        .set(i64::try_from(set.refused).unwrap_or(i64::MAX));
    ctx.metrics
        .missing_keys
        .set(i64::try_from(ctx.keys.missing().len()).unwrap_or(i64::MAX));
    if let Some(active) = set.active() {
        let age = clock::now().duration_since(active.created).as_secs();
        ctx.metrics.active_key_age.set(age);
    }
    // OpenMetrics for whoever asks for it (Prometheus does), else the classic text format.
    let open_metrics = headers
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("application/openmetrics-text"));
    if open_metrics {
        let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
        ([(header::CONTENT_TYPE, content_type)], ctx.metrics.render()).into_response()
    } else {
        let content_type = "text/plain; version=0.0.4; charset=utf-8";
        (
            [(header::CONTENT_TYPE, content_type)],
            ctx.metrics.render_text(),
        )
            .into_response()
    }
}
