//! The current time as the Kubernetes types want it.

use k8s_openapi::jiff::Timestamp;

/// Now, to the second.
pub fn now() -> Timestamp {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    Timestamp::from_second(i64::try_from(secs).unwrap_or_default()).unwrap_or(Timestamp::UNIX_EPOCH)
}
