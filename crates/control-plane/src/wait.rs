//! Waiting for an exact state of one object, through a watch (no polling, no sleeps),
//! with a deadline that fails the test saying what was awaited and what was last seen.

use std::fmt::Debug;
use std::time::Duration;

use kube::runtime::wait::{Condition, await_condition, conditions};
use kube::{Api, Resource};

/// Waits until `condition` holds for the object `name` (absent counts as `None`), at most
/// `timeout`, and returns the object as it was then. Panics on timeout with `what` and
/// the object's last state.
pub async fn wait_for<K>(
    api: &Api<K>,
    name: &str,
    what: &str,
    timeout: Duration,
    condition: impl Condition<K>,
) -> Option<K>
where
    K: Clone + Debug + Send + serde::de::DeserializeOwned + Resource + 'static,
{
    match tokio::time::timeout(timeout, await_condition(api.clone(), name, condition)).await {
        Ok(Ok(found)) => found,
        Ok(Err(e)) => panic!("waiting for {what}: the watch failed: {e}"),
        Err(_) => {
            let last = api.get_opt(name).await;
            panic!("{what}: not after {timeout:?}; {name} is now {last:?}")
        }
    }
}

/// Waits until the object `name` with this `uid` is gone (deleted, or replaced by a new
/// object of the same name), at most `timeout`.
pub async fn wait_deleted<K>(api: &Api<K>, name: &str, uid: &str, timeout: Duration)
where
    K: Clone + Debug + Send + serde::de::DeserializeOwned + Resource + 'static,
{
    let what = format!("{name} (uid {uid}) deleted");
    wait_for(api, name, &what, timeout, conditions::is_deleted(uid)).await;
}
