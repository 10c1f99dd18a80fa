//! [`Elector`]: one replica's side of the election, one attempt at a time. Every request
//! has its own timeout, and every write carries the resourceVersion it read, so two
//! replicas cannot both win (the loser gets 409).

use std::future::Future;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};
use tokio::time::Instant;

use super::Candidate;
use super::record::{Observation, Record};
use super::timings::Timings;
use crate::clock::Clock;

/// What one attempt found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// This replica holds the Lease: it took it, or renewed it, just now.
    Leading,
    /// Another replica holds it, and this replica has not yet seen it go unrenewed for
    /// the lease duration.
    HeldBy(String),
}

/// Why an attempt failed (it may succeed next time).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LeaseError {
    /// The API server did not answer in time.
    #[error("no answer about the Lease within {0:?}")]
    Timeout(Duration),
    /// Someone wrote the Lease between this replica's read and its write.
    #[error("the Lease changed while it was being written")]
    Conflict,
    /// The API server refused, or could not be reached.
    #[error("Lease request failed: {0}")]
    Api(#[from] kube::Error),
}

/// One replica competing for the Lease.
pub struct Elector {
    api: Api<Lease>,
    me: Candidate,
    timings: Timings,
    clock: Clock,
    seen: Option<Observation>,
}

impl Elector {
    /// An elector for `me`, writing times from `clock`.
    pub fn new(client: Client, me: Candidate, timings: Timings, clock: Clock) -> Self {
        Self {
            api: Api::namespaced(client, &me.namespace),
            me,
            timings,
            clock,
            seen: None,
        }
    }

    /// The timings this elector keeps to.
    pub fn timings(&self) -> &Timings {
        &self.timings
    }

    /// This replica's identity.
    pub fn identity(&self) -> &str {
        &self.me.identity
    }

    /// Reads the Lease, then takes it (if nobody holds it, or its holder has not renewed
    /// it for the lease duration as this replica has watched it) or renews it (if this
    /// replica holds it).
    pub async fn try_acquire_or_renew(&mut self) -> Result<Attempt, LeaseError> {
        let Some(lease) = self.within(self.api.get_opt(&self.me.lease)).await? else {
            return self.create().await;
        };
        let current = Record::of(&lease);
        let version = lease.metadata.resource_version.clone();
        Observation::update(&mut self.seen, current.clone(), version, Instant::now());
        if let Some(holder) = current.holder()
            && holder != self.me.identity
            && !self.holder_gone()
        {
            return Ok(Attempt::HeldBy(holder.to_owned()));
        }
        let next = Record::next(
            Some(&current),
            &self.me.identity,
            self.clock.now(),
            self.timings.lease_seconds(),
        );
        self.write(lease, next).await?;
        Ok(Attempt::Leading)
    }

    /// Gives the Lease up, if this replica holds it, so that a peer can take over at once.
    pub async fn release(&mut self) -> Result<(), LeaseError> {
        let Some(lease) = self.within(self.api.get_opt(&self.me.lease)).await? else {
            return Ok(());
        };
        let current = Record::of(&lease);
        if current.holder() != Some(self.me.identity.as_str()) {
            return Ok(());
        }
        let released = current.released(self.clock.now());
        self.write(lease, released).await
    }

    /// Writes `record` into the Lease read as `lease` and remembers it as seen now.
    /// `lease.metadata` still carries the resourceVersion read: a write in between makes
    /// this one fail with 409.
    async fn write(&mut self, mut lease: Lease, record: Record) -> Result<(), LeaseError> {
        record.write_into(lease.spec.get_or_insert_with(Default::default));
        let written = self
            .within(
                self.api
                    .replace(&self.me.lease, &PostParams::default(), &lease),
            )
            .await?;
        Observation::update(
            &mut self.seen,
            record,
            written.metadata.resource_version,
            Instant::now(),
        );
        Ok(())
    }

    /// Whether the holder last seen has left the Lease unrenewed for the duration it
    /// promised, measured on this replica's monotonic clock.
    fn holder_gone(&self) -> bool {
        self.seen
            .as_ref()
            .is_none_or(|s| s.expired(Instant::now(), self.timings.lease_duration()))
    }

    /// Creates the Lease, held by this replica (409: a peer created it first).
    async fn create(&mut self) -> Result<Attempt, LeaseError> {
        let record = Record::next(
            None,
            &self.me.identity,
            self.clock.now(),
            self.timings.lease_seconds(),
        );
        let mut spec = LeaseSpec::default();
        record.write_into(&mut spec);
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(self.me.lease.clone()),
                namespace: Some(self.me.namespace.clone()),
                ..Default::default()
            },
            spec: Some(spec),
        };
        let written = self
            .within(self.api.create(&PostParams::default(), &lease))
            .await?;
        Observation::update(
            &mut self.seen,
            record,
            written.metadata.resource_version,
            Instant::now(),
        );
        Ok(Attempt::Leading)
    }

    /// Runs one request with the request timeout; 409 becomes [`LeaseError::Conflict`].
    async fn within<T>(
        &self,
        request: impl Future<Output = kube::Result<T>>,
    ) -> Result<T, LeaseError> {
        let limit = self.timings.request_timeout();
        match tokio::time::timeout(limit, request).await {
            Err(_) => Err(LeaseError::Timeout(limit)),
            Ok(Err(kube::Error::Api(status))) if status.code == 409 => Err(LeaseError::Conflict),
            Ok(result) => Ok(result?),
        }
    }
}
