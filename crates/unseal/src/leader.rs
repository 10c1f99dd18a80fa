//! Lease-based leader election (coordination.k8s.io/v1 Lease): one replica reconciles and
//! manages keys; every replica serves the HTTP API.
//!
//! The holder renews the Lease every `renew_every`; another replica takes it over only
//! once `renewTime + leaseDurationSeconds` has passed. Every write carries the
//! resourceVersion it read, so two replicas cannot both win (the loser gets 409).

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};

use crate::clock;

/// Who this replica is and which Lease it competes for.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// The Lease's namespace.
    pub namespace: String,
    /// The Lease's name.
    pub lease: String,
    /// This replica's identity.
    pub identity: String,
    /// How long a Lease holds without renewal.
    pub duration: Duration,
}

/// Tries to acquire or renew the Lease once. `Ok(true)`: this replica leads now.
pub async fn try_lead(client: &Client, me: &Candidate) -> kube::Result<bool> {
    let api: Api<Lease> = Api::namespaced(client.clone(), &me.namespace);
    let now = MicroTime(clock::now());
    let seconds = i32::try_from(me.duration.as_secs()).unwrap_or(i32::MAX);
    let Some(mut lease) = api.get_opt(&me.lease).await? else {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(me.lease.clone()),
                namespace: Some(me.namespace.clone()),
                ..Default::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(me.identity.clone()),
                lease_duration_seconds: Some(seconds),
                acquire_time: Some(now.clone()),
                renew_time: Some(now),
                lease_transitions: Some(0),
                ..Default::default()
            }),
        };
        return match api.create(&PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(e),
        };
    };
    let spec = lease.spec.get_or_insert_with(Default::default);
    let holder = spec.holder_identity.clone().unwrap_or_default();
    let expired = match (&spec.renew_time, spec.lease_duration_seconds) {
        (Some(renewed), Some(secs)) => {
            clock::now().duration_since(renewed.0).as_secs() >= i64::from(secs)
        }
        _ => true,
    };
    if holder != me.identity {
        if !holder.is_empty() && !expired {
            return Ok(false);
        }
        spec.holder_identity = Some(me.identity.clone());
        spec.acquire_time = Some(now.clone());
        spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
    }
    spec.renew_time = Some(now);
    spec.lease_duration_seconds = Some(seconds);
    match api.replace(&me.lease, &PostParams::default(), &lease).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
        Err(e) => Err(e),
    }
}

/// Gives the Lease up (on shutdown) so a peer can take over at once.
pub async fn release(client: &Client, me: &Candidate) -> kube::Result<()> {
    let api: Api<Lease> = Api::namespaced(client.clone(), &me.namespace);
    if let Some(mut lease) = api.get_opt(&me.lease).await?
        && let Some(spec) = lease.spec.as_mut()
        && spec.holder_identity.as_deref() == Some(me.identity.as_str())
    {
        spec.holder_identity = None;
        spec.renew_time = None;
        api.replace(&me.lease, &PostParams::default(), &lease)
            .await?;
    }
    Ok(())
}
