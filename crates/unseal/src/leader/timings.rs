//! The three durations of leader election and the relation between them that keeps two
//! replicas from leading at once (the one client-go enforces).

use std::time::Duration;

/// How far client-go lets a retry period stretch with jitter; the renew deadline must be
/// longer than this many retry periods, so that the leader tries at least once more.
const JITTER: f64 = 1.2;

/// Lease duration, renew deadline and retry period, checked against each other.
///
/// A peer takes the Lease over once `lease_duration` has passed on its own clock since it
/// last saw the Lease change; the leader steps down once `renew_deadline` has passed since
/// its last successful renewal, and the renew deadline is the shorter, so the leader has
/// stopped before a peer can start. Between its renewals the leader waits `retry_period`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timings {
    lease_duration: Duration,
    renew_deadline: Duration,
    retry_period: Duration,
}

/// Timings that would let two replicas lead at once, or that cannot be written.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimingsError {
    /// A Lease records its duration in whole seconds.
    #[error("the lease duration must be at least 1 s (a Lease records whole seconds), not {0:?}")]
    LeaseTooShort(Duration),
    /// The leader would still be leading when a peer takes over.
    #[error(
        "the lease renew deadline ({deadline:?}) must be shorter than the lease duration ({lease:?})"
    )]
    DeadlineNotShorter {
        /// The renew deadline.
        deadline: Duration,
        /// The lease duration.
        lease: Duration,
    },
    /// The leader would get no second try before stepping down.
    #[error(
        "the lease renew deadline ({deadline:?}) must be longer than 1.2 renew periods ({retry:?})"
    )]
    DeadlineTooShort {
        /// The renew deadline.
        deadline: Duration,
        /// The retry period.
        retry: Duration,
    },
}

impl Timings {
    /// Checks `lease_duration > renew_deadline > 1.2 × retry_period > 0` and a lease of at
    /// least one second.
    pub fn new(
        lease_duration: Duration,
        renew_deadline: Duration,
        retry_period: Duration,
    ) -> Result<Self, TimingsError> {
        if lease_duration < Duration::from_secs(1) {
            return Err(TimingsError::LeaseTooShort(lease_duration));
        }
        if renew_deadline >= lease_duration {
            return Err(TimingsError::DeadlineNotShorter {
                deadline: renew_deadline,
                lease: lease_duration,
            });
        }
        if retry_period.is_zero() || renew_deadline <= retry_period.mul_f64(JITTER) {
            return Err(TimingsError::DeadlineTooShort {
                deadline: renew_deadline,
                retry: retry_period,
            });
        }
        Ok(Self {
            lease_duration,
            renew_deadline,
            retry_period,
        })
    }

    /// How long a Lease holds without renewal.
    pub fn lease_duration(&self) -> Duration {
        self.lease_duration
    }

    /// How long after its last successful renewal the leader steps down.
    pub fn renew_deadline(&self) -> Duration {
        self.renew_deadline
    }

    /// The wait between two tries.
    pub fn retry_period(&self) -> Duration {
        self.retry_period
    }

    /// The lease duration as the Lease records it: whole seconds, rounded up, so that
    /// peers never wait less than this replica promised.
    pub fn lease_seconds(&self) -> i32 {
        let whole =
            self.lease_duration.as_secs() + u64::from(self.lease_duration.subsec_nanos() > 0);
        i32::try_from(whole).unwrap_or(i32::MAX)
    }

    /// How long one request about the Lease may take: a quarter of the renew deadline (or
    /// a retry period, if longer), so that even when every request hangs the leader tries
    /// more than once before it must step down.
    pub fn request_timeout(&self) -> Duration {
        self.retry_period.max(self.renew_deadline / 4)
    }

    /// How long a stepping-down leader lets its reconcilers and key tasks finish before
    /// they are aborted: half the gap between the renew deadline and the lease duration,
    /// so that they are gone before a peer can take over.
    pub fn stop_grace(&self) -> Duration {
        (self.lease_duration - self.renew_deadline) / 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn client_go_defaults_hold() {
        let t = Timings::new(s(15), s(10), s(2)).expect("valid");
        assert_eq!(t.lease_seconds(), 15);
        assert_eq!(t.request_timeout(), Duration::from_millis(2500));
        assert_eq!(t.stop_grace(), Duration::from_millis(2500));
        assert!(t.renew_deadline() + t.stop_grace() < t.lease_duration());
    }

    #[test]
    fn a_deadline_as_long_as_the_lease_is_refused() {
        assert_eq!(
            Timings::new(s(15), s(15), s(2)),
            Err(TimingsError::DeadlineNotShorter {
                deadline: s(15),
                lease: s(15)
            })
        );
    }

    #[test]
    fn a_deadline_without_room_for_a_retry_is_refused() {
        assert!(matches!(
            Timings::new(s(15), s(6), s(5)),
            Err(TimingsError::DeadlineTooShort { .. })
        ));
        assert!(matches!(
            Timings::new(s(15), s(6), Duration::ZERO),
            Err(TimingsError::DeadlineTooShort { .. })
        ));
        assert!(Timings::new(s(15), Duration::from_millis(6001), s(5)).is_ok());
    }

    #[test]
    fn a_lease_under_a_second_is_refused_and_fractions_round_up() {
        assert!(matches!(
            Timings::new(
                Duration::from_millis(900),
                Duration::from_millis(500),
                Duration::from_millis(100)
            ),
            Err(TimingsError::LeaseTooShort(_))
        ));
        let t = Timings::new(
            Duration::from_millis(2500),
            s(1),
            Duration::from_millis(100),
        )
        .expect("valid");
        assert_eq!(t.lease_seconds(), 3);
    }
}
