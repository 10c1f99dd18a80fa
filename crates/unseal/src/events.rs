//! Kubernetes Events about SealedSecrets (`events.k8s.io/v1`), written straight to the API.
//!
//! kube-runtime's `Recorder` keeps every Event it published for six minutes to merge
//! repeats into a series, and scans that cache on every publish: at 10,000 SealedSecrets
//! that is one cached Event per object (most of the controller's memory after an initial
//! sync) and a scan per reconcile. This controller publishes a Normal Event only when it
//! writes a Secret and a Warning only when the failure reason changes, so repeats are rare
//! and nothing is cached.

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event as K8sEvent;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use kube::runtime::events::{Event, EventType};

/// The longest Event name the API server takes (a DNS subdomain).
pub const MAX_NAME: usize = 253;
/// The longest Event note the API server takes, in bytes.
pub const MAX_NOTE: usize = 1024;

/// `<object name>.<time in hex>`, the object's name shortened so the whole fits
/// [`MAX_NAME`] and still ends in a letter or digit.
pub fn event_name(object: &str, nanos: i128) -> String {
    let suffix = format!(".{nanos:x}");
    let room = MAX_NAME.saturating_sub(suffix.len());
    let mut prefix: String = object.chars().take(room).collect();
    while prefix.ends_with(['-', '.']) {
        prefix.pop();
    }
    format!("{prefix}{suffix}")
}

/// The note cut to [`MAX_NOTE`] bytes (on a character boundary, ending in `…`).
pub fn limit_note(note: &str) -> String {
    if note.len() <= MAX_NOTE {
        return note.to_owned();
    }
    let mut end = MAX_NOTE - '…'.len_utf8();
    while !note.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &note[..end])
}

/// Publishes Events as one controller instance.
#[derive(Clone)]
pub struct EventPublisher {
    client: kube::Client,
    controller: String,
    instance: String,
}

impl EventPublisher {
    /// Events reported by `controller` (the component) running as `instance` (the pod).
    pub fn new(client: kube::Client, controller: &str, instance: &str) -> Self {
        Self {
            client,
            controller: controller.to_owned(),
            instance: instance.to_owned(),
        }
    }

    /// Creates one Event about `regarding`, in its namespace.
    pub async fn publish(
        &self,
        ev: &Event,
        regarding: &ObjectReference,
    ) -> Result<(), kube::Error> {
        let namespace = regarding.namespace.as_deref().unwrap_or("default");
        let api: Api<K8sEvent> = Api::namespaced(self.client.clone(), namespace);
        api.create(&PostParams::default(), &self.event(ev, regarding))
            .await
            .map(drop)
    }

    /// The Event object for `ev`.
    pub fn event(&self, ev: &Event, regarding: &ObjectReference) -> K8sEvent {
        let now = Timestamp::now();
        K8sEvent {
            metadata: ObjectMeta {
                namespace: regarding.namespace.clone(),
                name: Some(event_name(
                    regarding.name.as_deref().unwrap_or(&self.controller),
                    now.as_nanosecond(),
                )),
                ..Default::default()
            },
            action: Some(ev.action.clone()),
            reason: Some(ev.reason.clone()),
            note: ev.note.as_deref().map(limit_note),
            event_time: Some(MicroTime(now)),
            regarding: Some(regarding.clone()),
            related: ev.secondary.clone(),
            reporting_controller: Some(self.controller.clone()),
            reporting_instance: Some(self.instance.clone()),
            type_: Some(
                match ev.type_ {
                    EventType::Normal => "Normal",
                    EventType::Warning => "Warning",
                }
                .to_owned(),
            ),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_notes_fit_the_api_servers_limits() {
        let long = format!("{}-x", "a".repeat(240));
        let name = event_name(&long, i128::from(i64::MAX));
        assert!(name.len() <= MAX_NAME, "{}", name.len());
        let dashed = format!("{}-{}", "b".repeat(235), "c".repeat(30));
        let name = event_name(&dashed, i128::from(i64::MAX));
        assert!(name.len() <= MAX_NAME);
        assert!(
            !name.contains("-."),
            "ends in a letter or digit before the suffix: {name}"
        );
        assert_eq!(event_name("db", 255), "db.ff");
        let note = "é".repeat(600);
        let cut = limit_note(&note);
        assert!(cut.len() <= MAX_NOTE && cut.ends_with('…'));
        assert_eq!(limit_note("short"), "short");
    }
}
