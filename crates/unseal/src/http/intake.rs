//! What happens to a call to `/v1/verify`, `/v1/reencrypt` or `/v1/migrate` before its
//! handler runs: the caller's rate limit is taken **before** the body is read, the body
//! is read into one of a few slots (so the bodies held in memory at once are bounded; one
//! client may hold two), within a time limit (an upload that stalls is dropped), and the
//! caller is handed on to the handler.
//!
//! Without this, 150 connections each sending 960 KiB of a 1 MiB body and then stopping
//! held 146 MiB of a 128 MiB pod, and the rate limit (inside the handler) never ran.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::rate_limit::ClientKey;
use super::{MAX_BODY, problem};
use crate::context::Context;

/// How many request bodies may be read or held at once (at most this many MiB).
pub const BODY_SLOTS: usize = 8;
/// How many of those one client may hold.
pub const SLOTS_PER_CLIENT: usize = 2;
/// How long reading a body may take.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(5);

/// The body slots: a global bound and a per-client one.
pub struct BodySlots {
    global: Arc<tokio::sync::Semaphore>,
    per_client: Mutex<HashMap<ClientKey, usize>>,
}

impl Default for BodySlots {
    fn default() -> Self {
        Self {
            global: Arc::new(tokio::sync::Semaphore::new(BODY_SLOTS)),
            per_client: Mutex::new(HashMap::new()),
        }
    }
}

/// A slot held; given back on drop.
pub struct Slot<'a> {
    slots: &'a BodySlots,
    client: ClientKey,
    _global: tokio::sync::OwnedSemaphorePermit,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut held = self
            .slots
            .per_client
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = held.get_mut(&self.client) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                held.remove(&self.client);
            }
        }
    }
}

impl BodySlots {
    /// A slot for `client`, if it holds fewer than [`SLOTS_PER_CLIENT`] and one of the
    /// [`BODY_SLOTS`] is free.
    pub fn try_take(&self, client: &ClientKey) -> Option<Slot<'_>> {
        let mut held = self.per_client.lock().unwrap_or_else(|p| p.into_inner());
        let mine = held.get(client).copied().unwrap_or(0);
        if mine >= SLOTS_PER_CLIENT {
            return None;
        }
        let permit = self.global.clone().try_acquire_owned().ok()?;
        held.insert(client.clone(), mine + 1);
        Some(Slot {
            slots: self,
            client: client.clone(),
            _global: permit,
        })
    }
}

/// The caller, as the rate limit knows it (an extension the handlers read).
#[derive(Clone, Debug)]
pub struct Caller(pub ClientKey);

/// The middleware: rate limit, body slot, bounded read.
pub async fn intake(State(ctx): State<Arc<Context>>, request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let Some(peer) = peer else {
        return problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal",
            "no peer address",
        )
        .into_response();
    };
    let forwarded = request
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    let client = ClientKey::new(peer, forwarded);
    if !ctx.api_rate.try_take(&client) {
        return problem(
            StatusCode::TOO_MANY_REQUESTS,
            "RateLimited",
            "too many requests from this client; retry shortly",
        )
        .into_response();
    }
    let Some(slot) = ctx.http_bodies.try_take(&client) else {
        return problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "Busy",
            "too many requests under way; retry shortly",
        )
        .into_response();
    };
    let (mut parts, body) = request.into_parts();
    let bytes = match tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, MAX_BODY)).await
    {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(_)) => {
            return problem(
                StatusCode::PAYLOAD_TOO_LARGE,
                "TooLarge",
                "the body is over 1 MiB or could not be read",
            )
            .into_response();
        }
        Err(_) => {
            return problem(
                StatusCode::REQUEST_TIMEOUT,
                "Timeout",
                "the body took too long to arrive",
            )
            .into_response();
        }
    };
    parts.extensions.insert(Caller(client));
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    drop(slot);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_client_holds_at_most_two_slots_and_all_hold_at_most_eight() {
        let slots = BodySlots::default();
        let client = |i: u8| ClientKey::new(std::net::IpAddr::from([10, 0, 0, i]), None);
        let a1 = slots.try_take(&client(1));
        let a2 = slots.try_take(&client(1));
        assert!(a1.is_some() && a2.is_some());
        assert!(
            slots.try_take(&client(1)).is_none(),
            "a third for the same client"
        );
        let others: Vec<_> = (2..8).filter_map(|i| slots.try_take(&client(i))).collect();
        assert_eq!(others.len(), 6);
        assert!(slots.try_take(&client(9)).is_none(), "all eight taken");
        drop(a1);
        assert!(slots.try_take(&client(9)).is_some(), "given back on drop");
    }
}
