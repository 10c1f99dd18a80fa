//! The current time as the Kubernetes types want it, and [`Clock`]: a wall clock that may
//! be set off from the system's, for the times a replica writes into its Lease.
//!
//! Wall time is only ever written here, never used to judge how much time has passed:
//! that is measured on the monotonic clock ([`tokio::time::Instant`]), which no skew
//! between machines affects.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// Now, to the second.
pub fn now() -> Timestamp {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    Timestamp::from_second(i64::try_from(secs).unwrap_or_default()).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A wall clock: the system's, or the system's shifted by a fixed skew (as a machine
/// whose clock runs ahead or behind would read it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Clock {
    skew: SignedDuration,
}

impl Clock {
    /// The system's clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// A clock that reads `by` later than the system's.
    pub fn ahead(by: Duration) -> Self {
        Self {
            skew: SignedDuration::try_from(by).unwrap_or(SignedDuration::MAX),
        }
    }

    /// A clock that reads `by` earlier than the system's.
    pub fn behind(by: Duration) -> Self {
        Self {
            skew: -SignedDuration::try_from(by).unwrap_or(SignedDuration::MAX),
        }
    }

    /// Now on this clock, to the microsecond (the precision of a Lease's `MicroTime`).
    pub fn now(&self) -> Timestamp {
        let micros = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
            .unwrap_or_default();
        Timestamp::from_microsecond(micros)
            .ok()
            .and_then(|t| t.checked_add(self.skew).ok())
            .unwrap_or(Timestamp::UNIX_EPOCH)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skewed_clock_reads_off_by_its_skew() {
        // Generous bounds: the system clock may be stepped between two readings.
        let near = |a: Timestamp, b: Timestamp, secs: i64| {
            (a.duration_since(b) - SignedDuration::from_secs(secs)).abs()
                < SignedDuration::from_secs(5)
        };
        let system = Clock::system().now();
        assert!(near(
            Clock::ahead(Duration::from_secs(60)).now(),
            system,
            60
        ));
        assert!(near(
            Clock::behind(Duration::from_secs(60)).now(),
            system,
            -60
        ));
        assert_eq!(Clock::system(), Clock::ahead(Duration::ZERO));
    }
}
