//! `POST /v1/verify` and `POST /v1/reencrypt`: the two endpoints that open values.
//!
//! The trust rule of re-encryption: the controller cannot verify `spec.recipients`
//! (age stanzas are anonymous, anyone can append a key of their own to the list), so it
//! never re-seals to a recipient because a body names it. The output recipients are the
//! active key plus, of the recipients the body lists or `add=` asks for, only the
//! `--trusted-recipient` ones; every other recipient asked for is dropped and named in
//! the [`DROPPED_HEADER`] of the reply (an explicit `add=` of an untrusted key is refused
//! with 403). `remove=` is always honoured.

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use seal_core::documents::{self, Format};
use seal_core::error::DocError;
use seal_core::{Recipients, SealedSecret, convert};
use serde_json::json;

use super::intake::Caller;
use super::request::{RecipientChange, parse_one};
use super::{ApiProblem, no_keys, problem};
use crate::context::Context;
use crate::keys::KeySet;
use crate::opener::{Lane, OpenFailure};

/// The reply header naming, comma-separated, the recipients a reencrypt dropped because
/// this controller does not trust them.
pub const DROPPED_HEADER: &str = "seal-dropped-recipients";
/// The reply header naming, comma-separated, this controller's own older keys a
/// reencrypt replaced by the active one.
pub const REPLACED_HEADER: &str = "seal-replaced-recipients";
/// Key unwraps one rate-limit token pays for: a call is charged one token per this many
/// (rounded up) besides the token every call takes, so a client sending costly objects
/// gets fewer of them through, not the same number as one sending cheap ones.
pub const WORK_PER_TOKEN: usize = 256;

pub(super) fn refused(e: &DocError) -> ApiProblem {
    let reason = match e {
        DocError::Open { error, .. } => error.reason(),
        DocError::Field { .. } => "InvalidSpec",
    };
    problem(StatusCode::UNPROCESSABLE_ENTITY, reason, &e.to_string())
}

pub(super) fn failure(e: OpenFailure) -> ApiProblem {
    match e {
        OpenFailure::Doc(e) => refused(&e),
        OpenFailure::Busy => problem(
            StatusCode::TOO_MANY_REQUESTS,
            "Busy",
            "too many decryptions under way; retry shortly",
        ),
        OpenFailure::Aborted => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "Unavailable",
            "the controller is shutting down",
        ),
    }
}

/// Parses the body off the runtime (no decryption slot needed: parsing is bounded by the
/// body's size), checks what opening it would cost, and charges the caller for it.
async fn admit(
    ctx: &Context,
    caller: &Caller,
    body: Bytes,
    keys: Arc<KeySet>,
) -> Result<(SealedSecret, Format), ApiProblem> {
    let parsed = tokio::task::spawn_blocking(move || {
        let (sealed, format) = parse_one(&body)?;
        let cost = convert::work(&sealed, &keys.ring).map_err(|e| refused(&e))?;
        Ok::<_, ApiProblem>((sealed, format, cost))
    })
    .await
    .map_err(|_| failure(OpenFailure::Aborted))??;
    let (sealed, format, cost) = parsed;
    if cost > convert::MAX_WORK {
        return Err(problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "InvalidSpec",
            &format!(
                "spec.encryptedData: opening would take {cost} key unwraps, over the limit of {}",
                convert::MAX_WORK
            ),
        ));
    }
    let extra = u32::try_from(cost.div_ceil(WORK_PER_TOKEN)).unwrap_or(u32::MAX);
    if extra > 0 && !ctx.api_rate.try_take_n(&caller.0, extra) {
        return Err(problem(
            StatusCode::TOO_MANY_REQUESTS,
            "RateLimited",
            "too much decryption work from this client; retry shortly",
        ));
    }
    Ok((sealed, format))
}

/// Runs `work` on the API lane of the opener.
pub(super) async fn off_runtime<T: Send + 'static>(
    ctx: &Context,
    keys: Arc<KeySet>,
    work: impl FnOnce(&KeySet) -> Result<T, ApiProblem> + Send + 'static,
) -> Result<T, ApiProblem> {
    let all = keys.clone();
    ctx.opener
        .run(Lane::Api, keys, move |_| Ok(work(&all)))
        .await
        .map_err(failure)?
}

/// Says whether the body opens here; never returns plaintext.
pub async fn verify(
    State(ctx): State<Arc<Context>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<Response, ApiProblem> {
    let keys = ctx.keys.current();
    let (sealed, _) = admit(&ctx, &caller, body, keys.clone()).await?;
    let answer = off_runtime(&ctx, keys, move |keys| {
        let plain = convert::open_sealed_secret(&sealed, &keys.ring).map_err(|e| refused(&e))?;
        let names: Vec<&String> = plain.data.keys().collect();
        Ok(json!({"ok": true, "name": plain.name, "namespace": plain.namespace, "keys": names}))
    })
    .await?;
    Ok(axum::Json(answer).into_response())
}

/// Who a re-sealed value goes to, and who asked-for recipients were dropped.
#[derive(Debug, PartialEq, Eq)]
pub struct Targets {
    /// The output recipients.
    pub to: Vec<String>,
    /// Recipients the body or the query asked for that are not trusted here.
    pub dropped: Vec<String>,
    /// This controller's own keys the body lists that are not the active one (re-sealed
    /// to the active key instead).
    pub replaced: Vec<String>,
}

/// Applies the trust rule (see the module docs). `listed` is the body's
/// `spec.recipients`, `own` this controller's recipients.
pub fn targets(
    listed: &[String],
    change: &RecipientChange,
    active: &str,
    own: &[String],
    trusted: &[String],
) -> Targets {
    let mut to = vec![active.to_owned()];
    let mut dropped = Vec::new();
    let mut replaced = Vec::new();
    for r in listed.iter().chain(&change.add) {
        if change.remove.contains(r) {
            continue;
        }
        if own.contains(r) {
            if r != active && !replaced.contains(r) {
                replaced.push(r.clone());
            }
            continue;
        }
        let list = if trusted.contains(r) {
            &mut to
        } else {
            &mut dropped
        };
        if !list.contains(r) {
            list.push(r.clone());
        }
    }
    to.retain(|r| !change.remove.contains(r));
    to.sort();
    dropped.sort();
    replaced.sort();
    Targets {
        to,
        dropped,
        replaced,
    }
}

/// Re-seals the body's values to the active key (and trusted recipients).
pub async fn reencrypt(
    State(ctx): State<Arc<Context>>,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, ApiProblem> {
    let change = RecipientChange::parse(query.as_deref())?;
    let keys = ctx.keys.current();
    let active = keys.active().ok_or_else(no_keys)?.recipient.clone();
    let own = keys.ring.recipients();
    let trusted = ctx.settings.trusted_recipients.clone();
    if change
        .add
        .iter()
        .any(|r| !own.contains(r) && !trusted.contains(r))
    {
        return Err(problem(
            StatusCode::FORBIDDEN,
            "NotTrusted",
            "add=: a recipient is neither a key of this controller nor a --trusted-recipient; add it with an identity (seal recipients add -i) or ask the cluster admin to trust it",
        ));
    }
    let (sealed, format) = admit(&ctx, &caller, body, keys.clone()).await?;
    let (text, targets) = off_runtime(&ctx, keys, move |keys| {
        let plain = convert::open_sealed_secret(&sealed, &keys.ring).map_err(|e| refused(&e))?;
        let targets = targets(&sealed.spec.recipients, &change, &active, &own, &trusted);
        let to = recipients_of(&targets)?;
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
        Ok((rendered(resealed, format)?, targets))
    })
    .await?;
    reply(text, format, &targets)
}

/// `sealed` as the reply's text, in the format the request came in.
pub(super) fn rendered(sealed: SealedSecret, format: Format) -> Result<String, ApiProblem> {
    documents::render(&[sealed], format)
        .map(|text| text.to_string())
        .map_err(|e| {
            problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal",
                &e.to_string(),
            )
        })
}

/// The [`Recipients`] of `targets.to`; refused when that leaves none.
pub(super) fn recipients_of(targets: &Targets) -> Result<Recipients, ApiProblem> {
    let mut to = Recipients::new();
    for r in &targets.to {
        to.add_arg("recipients", r).map_err(|_| {
            problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal",
                "a trusted recipient does not parse",
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
    Ok(to)
}

/// The reply carrying a re-sealed object, with the [`DROPPED_HEADER`] and
/// [`REPLACED_HEADER`] of `targets`.
pub(super) fn reply(
    text: String,
    format: Format,
    targets: &Targets,
) -> Result<Response, ApiProblem> {
    let content_type = match format {
        Format::Json => "application/json",
        Format::Yaml => "application/yaml",
    };
    let mut response = ([(header::CONTENT_TYPE, content_type)], text).into_response();
    // Every recipient here parsed as age1… (parse_one refuses anything else), so the
    // header values are plain ASCII; a value that still did not fit would be a bug, and
    // the reply must not go out without the header.
    for (name, list) in [
        (DROPPED_HEADER, &targets.dropped),
        (REPLACED_HEADER, &targets.replaced),
    ] {
        if list.is_empty() {
            continue;
        }
        let Ok(value) = list.join(",").parse() else {
            return Err(problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal",
                "a recipient could not be named in the reply",
            ));
        };
        response.headers_mut().insert(name, value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| (*x).to_owned()).collect()
    }

    #[test]
    fn a_recipient_the_body_merely_lists_is_dropped_unless_trusted() {
        let change = RecipientChange::default();
        let t = targets(
            &s(&["age1old", "age1attacker", "age1dr"]),
            &change,
            "age1active",
            &s(&["age1old", "age1active"]),
            &s(&["age1dr"]),
        );
        assert_eq!(t.to, s(&["age1active", "age1dr"]));
        assert_eq!(t.dropped, s(&["age1attacker"]));
        assert_eq!(t.replaced, s(&["age1old"]));
    }

    #[test]
    fn removals_apply_to_everything_and_adds_follow_the_same_rule() {
        let change = RecipientChange {
            add: s(&["age1dr"]),
            remove: s(&["age1gone"]),
        };
        let t = targets(
            &s(&["age1gone"]),
            &change,
            "age1active",
            &s(&["age1active"]),
            &s(&["age1dr", "age1gone"]),
        );
        assert_eq!(t.to, s(&["age1active", "age1dr"]));
        assert!(t.dropped.is_empty());
    }
}
