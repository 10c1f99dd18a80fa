//! The HTTP API, health and metrics on one listener:
//!
//! - `GET /v1/recipients` — the keys' public recipients (JSON; `?format=text` for a
//!   recipients file with the active one).
//! - `POST /v1/verify` — does this SealedSecret open here? 200 or 422 with the reason;
//!   never plaintext.
//! - `POST /v1/reencrypt` — the SealedSecret re-sealed to the active key (other recipients,
//!   such as a break-glass key, are kept), same binding; plaintext never leaves.
//!   `?add=age1…&remove=age1…` (repeatable) also changes the recipients: a removal is
//!   always allowed, an addition only of this controller's keys or of a
//!   `--trusted-recipient` (anyone else could otherwise re-seal to a key of their own).
//! - `GET /healthz`, `GET /readyz`, `GET /metrics`.
//!
//! Request bodies are capped at 1 MiB; verify and reencrypt are rate-limited.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use seal_core::documents::{self, Format};
use seal_core::error::DocError;
use seal_core::{Recipients, SealedSecret, convert};
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
        .route("/v1/verify", post(verify))
        .route("/v1/reencrypt", post(reencrypt))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(ctx)
}

/// A refusal: status code, reason code and message (never a secret value).
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

fn problem(status: StatusCode, reason: &'static str, message: &str) -> ApiProblem {
    ApiProblem {
        status,
        reason,
        message: message.to_owned(),
    }
}

fn no_keys() -> ApiProblem {
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

async fn metrics(State(ctx): State<Arc<Context>>) -> Response {
    let set = ctx.keys.current();
    ctx.metrics
        .keys
        .set(i64::try_from(set.keys.len()).unwrap_or(i64::MAX));
    if let Some(active) = set.active() {
        let age = clock::now().duration_since(active.created).as_secs();
        ctx.metrics.active_key_age.set(age);
    }
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    ([(header::CONTENT_TYPE, content_type)], ctx.metrics.render()).into_response()
}

/// The `add=` and `remove=` recipients of a reencrypt call.
#[derive(Default)]
struct RecipientChange {
    add: Vec<String>,
    remove: Vec<String>,
}

impl RecipientChange {
    fn parse(query: Option<&str>) -> Result<Self, ApiProblem> {
        let bad = |m: String| problem(StatusCode::BAD_REQUEST, "BadRequest", &m);
        let mut change = Self::default();
        for pair in query
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty())
        {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let list = match name {
                "add" => &mut change.add,
                "remove" => &mut change.remove,
                other => return Err(bad(format!("unknown parameter {other:?}"))),
            };
            seal_core::keys::parse_recipient(value).map_err(|p| bad(format!("{name}: {p}")))?;
            list.push(value.to_owned());
        }
        Ok(change)
    }
}

/// Parses the body as exactly one SealedSecret (YAML or JSON).
fn parse_one(body: &Bytes) -> Result<(SealedSecret, Format), ApiProblem> {
    let bad = |message: &str| problem(StatusCode::BAD_REQUEST, "BadRequest", message);
    let text = std::str::from_utf8(body).map_err(|_| bad("the body is not UTF-8 text"))?;
    let format = Format::of(text);
    let mut docs = documents::parse("request", text).map_err(|e| bad(&e.to_string()))?;
    if docs.len() != 1 {
        return Err(bad("send exactly one SealedSecret"));
    }
    let doc = docs.remove(0);
    let sealed = convert::sealed_secret_from_value(doc.value)
        .map_err(|e| bad(&e.at(&doc.at).to_string()))?;
    if sealed.metadata.namespace.is_none() && sealed.spec.scope.binds_namespace() {
        return Err(bad("request: metadata.namespace: required for this scope"));
    }
    Ok((sealed, format))
}

fn rate_limit(ctx: &Context) -> Result<(), ApiProblem> {
    let allowed = ctx
        .api_rate
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .try_take();
    if allowed {
        Ok(())
    } else {
        Err(problem(
            StatusCode::TOO_MANY_REQUESTS,
            "RateLimited",
            "too many requests; retry shortly",
        ))
    }
}

fn refused(e: &DocError) -> ApiProblem {
    let reason = match e {
        DocError::Open { error, .. } => error.reason(),
        DocError::Field { .. } => "InvalidSpec",
    };
    problem(StatusCode::UNPROCESSABLE_ENTITY, reason, &e.to_string())
}

async fn verify(State(ctx): State<Arc<Context>>, body: Bytes) -> Result<Response, ApiProblem> {
    rate_limit(&ctx)?;
    let (sealed, _) = parse_one(&body)?;
    let keys = ctx.keys.current();
    let plain = convert::open_sealed_secret(&sealed, &keys.ring).map_err(|e| refused(&e))?;
    let names: Vec<&String> = plain.data.keys().collect();
    Ok(axum::Json(
        json!({"ok": true, "name": plain.name, "namespace": plain.namespace, "keys": names}),
    )
    .into_response())
}

async fn reencrypt(
    State(ctx): State<Arc<Context>>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, ApiProblem> {
    rate_limit(&ctx)?;
    let change = RecipientChange::parse(query.as_deref())?;
    let (sealed, format) = parse_one(&body)?;
    let keys = ctx.keys.current();
    let active = keys.active().ok_or_else(no_keys)?;
    let held: Vec<String> = keys.ring.recipients();
    if let Some(stranger) = change
        .add
        .iter()
        .find(|r| !held.contains(r) && !ctx.settings.trusted_recipients.contains(r))
    {
        return Err(problem(
            StatusCode::FORBIDDEN,
            "NotTrusted",
            &format!(
                "{stranger} is not a key of this controller nor a --trusted-recipient; add it with an identity (seal recipients add -i) or ask the cluster admin to trust it"
            ),
        ));
    }
    let plain = convert::open_sealed_secret(&sealed, &keys.ring).map_err(|e| refused(&e))?;
    let mut to = Recipients::new();
    for r in sealed
        .spec
        .recipients
        .iter()
        .filter(|r| !held.contains(r))
        .chain([&active.recipient])
        .chain(&change.add)
        .filter(|r| !change.remove.contains(r))
    {
        to.add_arg("spec.recipients", r).map_err(|_| {
            problem(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "spec.recipients: not valid age recipients",
            )
        })?;
    }
    if to.is_empty() {
        return Err(problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "NoRecipients",
            "removing these would leave no recipient",
        ));
    }
    let mut resealed = convert::for_git(&sealed);
    resealed.spec.recipients = to.to_strings();
    resealed.spec.encrypted_data.clear();
    convert::seal_into(&mut resealed, &plain, &to).map_err(|e| {
        problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "InvalidSpec",
            &e.to_string(),
        )
    })?;
    let text = documents::render(&[resealed], format).map_err(|e| {
        problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal",
            &e.to_string(),
        )
    })?;
    let content_type = match format {
        Format::Json => "application/json",
        Format::Yaml => "application/yaml",
    };
    Ok(([(header::CONTENT_TYPE, content_type)], text.to_string()).into_response())
}
