//! The election record a Lease carries, what a candidate writes into it, and how a
//! candidate judges that a holder has gone: by time passed on its own monotonic clock
//! since it last saw the record change, never by the holder's `renewTime` (another
//! machine's clock).

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use tokio::time::Instant;

/// What a Lease says about the election.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Record {
    /// The holder's identity; `None` (or empty) when nobody holds it.
    pub holder: Option<String>,
    /// How long the holder promised the Lease holds without renewal.
    pub duration_seconds: Option<i32>,
    /// When the holder took it, on the holder's clock.
    pub acquired: Option<Timestamp>,
    /// When the holder last renewed it, on the holder's clock.
    pub renewed: Option<Timestamp>,
    /// How many times it changed hands.
    pub transitions: i32,
}

impl Record {
    /// The record in `lease`.
    pub fn of(lease: &Lease) -> Self {
        let spec = lease.spec.clone().unwrap_or_default();
        Self {
            holder: spec.holder_identity,
            duration_seconds: spec.lease_duration_seconds,
            acquired: spec.acquire_time.map(|t| t.0),
            renewed: spec.renew_time.map(|t| t.0),
            transitions: spec.lease_transitions.unwrap_or(0),
        }
    }

    /// The holder, if somebody holds it.
    pub fn holder(&self) -> Option<&str> {
        self.holder.as_deref().filter(|h| !h.is_empty())
    }

    /// What `me` writes to take or renew the Lease at `now` (its own clock), promising
    /// `seconds`: a renewal keeps the acquisition time and the transition count, a
    /// takeover restarts the one and counts one more of the other.
    pub fn next(current: Option<&Record>, me: &str, now: Timestamp, seconds: i32) -> Self {
        let (acquired, transitions) = match current {
            None => (now, 0),
            Some(c) if c.holder() == Some(me) => (c.acquired.unwrap_or(now), c.transitions),
            Some(c) => (now, c.transitions.saturating_add(1)),
        };
        Self {
            holder: Some(me.to_owned()),
            duration_seconds: Some(seconds),
            acquired: Some(acquired),
            renewed: Some(now),
            transitions,
        }
    }

    /// The record with nobody holding it (a release at `now`): a peer may take it at once.
    pub fn released(&self, now: Timestamp) -> Self {
        Self {
            holder: None,
            renewed: Some(now),
            ..self.clone()
        }
    }

    /// Writes this record into `spec`, leaving its other fields as they are.
    pub fn write_into(&self, spec: &mut LeaseSpec) {
        spec.holder_identity = self.holder.clone();
        spec.lease_duration_seconds = self.duration_seconds;
        spec.acquire_time = self.acquired.map(MicroTime);
        spec.renew_time = self.renewed.map(MicroTime);
        spec.lease_transitions = Some(self.transitions);
    }
}

/// A record as this replica last saw it change, and when, on its monotonic clock.
#[derive(Clone, Debug)]
pub struct Observation {
    record: Record,
    version: Option<String>,
    at: Instant,
}

impl Observation {
    /// Takes in what was just read (or written) at `now`: the time of the observation
    /// moves only when the record or its resourceVersion changed.
    pub fn update(seen: &mut Option<Self>, record: Record, version: Option<String>, now: Instant) {
        let unchanged = seen
            .as_ref()
            .is_some_and(|s| s.record == record && s.version == version);
        if !unchanged {
            *seen = Some(Self {
                record,
                version,
                at: now,
            });
        }
    }

    /// Whether the holder has gone: the duration it promised (or `fallback` when the
    /// record names none) has passed since the record last changed.
    pub fn expired(&self, now: Instant, fallback: Duration) -> bool {
        let promised = self
            .record
            .duration_seconds
            .and_then(|s| u64::try_from(s).ok())
            .filter(|s| *s > 0)
            .map_or(fallback, Duration::from_secs);
        now.saturating_duration_since(self.at) >= promised
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(second).expect("timestamp")
    }

    fn held_by(holder: &str, renewed: i64) -> Record {
        Record {
            holder: Some(holder.to_owned()),
            duration_seconds: Some(15),
            acquired: Some(at(100)),
            renewed: Some(at(renewed)),
            transitions: 3,
        }
    }

    #[test]
    fn a_renewal_keeps_acquisition_and_transitions() {
        let next = Record::next(Some(&held_by("a", 110)), "a", at(112), 15);
        assert_eq!(next.holder(), Some("a"));
        assert_eq!(next.acquired, Some(at(100)));
        assert_eq!(next.renewed, Some(at(112)));
        assert_eq!(next.transitions, 3);
        assert_eq!(next.duration_seconds, Some(15));
    }

    #[test]
    fn a_takeover_restarts_acquisition_and_counts_a_transition() {
        let next = Record::next(Some(&held_by("a", 110)), "b", at(130), 10);
        assert_eq!(next.holder(), Some("b"));
        assert_eq!(next.acquired, Some(at(130)));
        assert_eq!(next.renewed, Some(at(130)));
        assert_eq!(next.transitions, 4);
        assert_eq!(next.duration_seconds, Some(10));
        let first = Record::next(None, "b", at(130), 10);
        assert_eq!((first.acquired, first.transitions), (Some(at(130)), 0));
    }

    #[test]
    fn a_released_record_names_nobody() {
        let released = held_by("a", 110).released(at(111));
        assert_eq!(released.holder(), None);
        assert_eq!(released.transitions, 3);
        let empty = Record {
            holder: Some(String::new()),
            ..Record::default()
        };
        assert_eq!(empty.holder(), None);
    }

    #[test]
    fn written_and_read_back_the_record_is_the_same() {
        let record = held_by("a", 110);
        let mut lease = Lease::default();
        record.write_into(lease.spec.get_or_insert_with(Default::default));
        assert_eq!(Record::of(&lease), record);
    }

    #[test]
    fn expiry_counts_from_the_last_change_seen_not_from_renew_time() {
        let start = Instant::now();
        let fallback = Duration::from_secs(15);
        let mut seen = None;
        // The holder's renewTime is an hour old on this clock: that alone proves nothing.
        Observation::update(&mut seen, held_by("a", 110), Some("7".into()), start);
        let s = seen.clone().expect("seen");
        assert!(!s.expired(start + Duration::from_secs(14), fallback));
        assert!(s.expired(start + Duration::from_secs(15), fallback));
        // The same record read again does not move the observation...
        let later = start + Duration::from_secs(10);
        Observation::update(&mut seen, held_by("a", 110), Some("7".into()), later);
        assert!(
            seen.clone()
                .expect("seen")
                .expired(start + Duration::from_secs(15), fallback)
        );
        // ...a renewal (new renewTime, new version) does.
        Observation::update(&mut seen, held_by("a", 111), Some("8".into()), later);
        let s = seen.expect("seen");
        assert!(!s.expired(start + Duration::from_secs(24), fallback));
        assert!(s.expired(start + Duration::from_secs(25), fallback));
    }

    #[test]
    fn a_new_resource_version_alone_counts_as_a_change() {
        let start = Instant::now();
        let mut seen = None;
        Observation::update(&mut seen, held_by("a", 110), Some("7".into()), start);
        let later = start + Duration::from_secs(14);
        Observation::update(&mut seen, held_by("a", 110), Some("9".into()), later);
        let s = seen.expect("seen");
        assert!(!s.expired(start + Duration::from_secs(20), Duration::from_secs(15)));
    }

    #[test]
    fn a_record_without_duration_uses_the_fallback() {
        let start = Instant::now();
        let mut seen = None;
        let record = Record {
            duration_seconds: None,
            ..held_by("a", 110)
        };
        Observation::update(&mut seen, record, None, start);
        let s = seen.expect("seen");
        assert!(!s.expired(start + Duration::from_secs(2), Duration::from_secs(3)));
        assert!(s.expired(start + Duration::from_secs(3), Duration::from_secs(3)));
    }
}
