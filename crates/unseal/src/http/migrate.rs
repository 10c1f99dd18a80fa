//! `POST /v1/migrate`: a bitnami sealed-secrets SealedSecret in, the seal SealedSecret it
//! migrates to out, converted here with the bitnami keys an admin imported (`unseal keys
//! import --sealed-secrets`), so that no bitnami private key sits on a workstation.
//!
//! - The values open with the label the object's own metadata and scope annotations give
//!   (the one conversion `seal migrate` uses offline,
//!   [`seal_core::bitnami::BitnamiSealedSecret::migrate`]): an object moved to another
//!   name or namespace, or switched to a wider scope, does not open.
//! - The reply is sealed to the active key and, of the `recipient=` the caller asks for,
//!   only this controller's own and `--trusted-recipient` keys: the trust rule of
//!   reencrypt ([`super::reseal::targets`]), with the same reply headers naming what was
//!   dropped. Plaintext never leaves the controller; no value is logged or echoed.
//! - Cost: every value may need one RSA decryption per imported key of its size (a few
//!   milliseconds each with 4,096 bits; counted in RSA-4096 operations, so a larger key
//!   counts for the cube of its size: [`seal_core::bitnami::format::rsa_cost`]). The worst case is computed from the lengths before any
//!   decryption and, up to [`MAX_RSA_TRIES`], charged to the caller's rate limit in
//!   advance (one token per [`RSA_TRIES_PER_TOKEN`]); the decryption stops at
//!   [`MAX_RSA_TRIES`] (422). It runs on the API lane of the opener, off the async
//!   runtime, so `/healthz` and lease renewal are never delayed by it.

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use seal_core::bitnami::BitnamiKeys;
use seal_core::bitnami::format::RsaBudget;

use super::intake::Caller;
use super::request::{RecipientChange, parse_one_bitnami, requested_recipients};
use super::reseal::{failure, off_runtime, recipients_of, refused, rendered, reply, targets};
use super::{ApiProblem, no_keys, problem};
use crate::context::Context;
use crate::keys::bitnami_store;
use crate::opener::OpenFailure;

/// The most RSA decryptions one call may make, counted in RSA-4096 operations: under a
/// second of one core (about 3 ms each with aws-lc), whatever the keys' size.
pub const MAX_RSA_TRIES: usize = 256;
/// RSA decryptions one rate-limit token pays for, besides the token every call takes: a
/// call at [`MAX_RSA_TRIES`] takes 17 tokens, within the default burst of 20, so a
/// client gets about one such call through per 1.7 s at the default refill rate.
pub const RSA_TRIES_PER_TOKEN: usize = 16;

/// The refusal while no bitnami key is imported.
fn no_bitnami_keys() -> ApiProblem {
    problem(
        StatusCode::CONFLICT,
        "NoMigrationKeys",
        "no bitnami sealed-secrets keys are imported into this controller; an admin runs `unseal keys import --sealed-secrets PATH` (or `--from-cluster`) first",
    )
}

/// The imported keys, read again only when their Secret changed. A store that is not
/// trustworthy (see [`bitnami_store::decode`]) counts as none, and says so in the log
/// (by name and reason, never with key material).
async fn imported_keys(ctx: &Context) -> Result<Arc<BitnamiKeys>, ApiProblem> {
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &ctx.settings.namespace);
    let secret = bitnami_store::load(&api).await.map_err(|e| {
        tracing::warn!(error = %e, "cannot read the bitnami migration keys");
        problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "Unavailable",
            "cannot read the imported bitnami keys; retry shortly",
        )
    })?;
    let Some(secret) = secret else {
        *ctx.bitnami_keys.lock().unwrap_or_else(|p| p.into_inner()) = None;
        return Err(no_bitnami_keys());
    };
    let version = secret.metadata.resource_version.clone().unwrap_or_default();
    if let Some((seen, keys)) = &*ctx.bitnami_keys.lock().unwrap_or_else(|p| p.into_inner())
        && *seen == version
        && !version.is_empty()
    {
        return Ok(keys.clone());
    }
    let keys = tokio::task::spawn_blocking(move || bitnami_store::decode(&secret))
        .await
        .map_err(|_| failure(OpenFailure::Aborted))?;
    match keys {
        Ok(keys) => {
            let keys = Arc::new(keys);
            *ctx.bitnami_keys.lock().unwrap_or_else(|p| p.into_inner()) =
                Some((version, keys.clone()));
            Ok(keys)
        }
        Err(e) => {
            tracing::warn!(error = %e, "ignoring the bitnami migration keys");
            Err(no_bitnami_keys())
        }
    }
}

/// Converts the body (one bitnami SealedSecret) to a seal SealedSecret.
pub async fn migrate(
    State(ctx): State<Arc<Context>>,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, ApiProblem> {
    let requested = requested_recipients(query.as_deref())?;
    let keys = ctx.keys.current();
    let active = keys.active().ok_or_else(no_keys)?.recipient.clone();
    let own = keys.ring.recipients();
    let trusted = ctx.settings.trusted_recipients.clone();
    let bitnami = imported_keys(&ctx).await?;
    let admitted = bitnami.clone();
    let (object, format, tries) = tokio::task::spawn_blocking(move || {
        let (object, format) = parse_one_bitnami(&body)?;
        let tries = object.rsa_work(&admitted);
        Ok::<_, ApiProblem>((object, format, tries))
    })
    .await
    .map_err(|_| failure(OpenFailure::Aborted))??;
    // Paid in advance for the worst case within the bound; the decryption itself stops
    // at the bound, so an honest object whose worst case is higher (many imported keys)
    // still converts when the keys it needs come first, and no call costs more.
    let paid = tries.min(MAX_RSA_TRIES);
    let extra = u32::try_from(paid.div_ceil(RSA_TRIES_PER_TOKEN)).unwrap_or(u32::MAX);
    if extra > 0 && !ctx.api_rate.try_take_n(&caller.0, extra) {
        return Err(problem(
            StatusCode::TOO_MANY_REQUESTS,
            "RateLimited",
            "too much decryption work from this client; retry shortly",
        ));
    }
    let (text, targets) = off_runtime(&ctx, keys, move |_| {
        let targets = targets(
            &requested,
            &RecipientChange::default(),
            &active,
            &own,
            &trusted,
        );
        let to = recipients_of(&targets)?;
        let mut budget = RsaBudget::new(MAX_RSA_TRIES);
        let sealed = object
            .migrate_within(&bitnami, &to, &mut budget)
            .map_err(|e| refused(&e))?;
        Ok((rendered(sealed, format)?, targets))
    })
    .await?;
    reply(text, format, &targets)
}
