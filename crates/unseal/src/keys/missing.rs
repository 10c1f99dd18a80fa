//! Reporting keys that have gone missing, loudly: a key Secret deleted or relabelled
//! by mistake means everything sealed to it no longer opens. Each newly missing key gets
//! an error log and a Warning Event on the recipients ConfigMap (where `unseal keys
//! list` and the registry show it too); the count is the `unseal_missing_keys` metric.

use std::collections::BTreeSet;
use std::sync::Mutex;

use k8s_openapi::api::core::v1::ObjectReference;
use kube::Client;
use kube::runtime::events::{Event, EventType};

use super::lifecycle::RECIPIENTS_CONFIGMAP;
use super::registry::KnownKey;
use crate::events::EventPublisher;

/// Remembers which missing keys were already reported in this term.
pub struct MissingKeys {
    events: EventPublisher,
    namespace: String,
    reported: Mutex<BTreeSet<String>>,
}

impl MissingKeys {
    /// Reports about keys of the controller in `namespace`.
    pub fn new(client: Client, namespace: &str) -> Self {
        Self {
            events: EventPublisher::new(client, "unseal", "key-manager"),
            namespace: namespace.to_owned(),
            reported: Mutex::new(BTreeSet::new()),
        }
    }

    /// Logs every missing key, and publishes an Event for each one not reported yet.
    pub async fn report(&self, missing: &[KnownKey]) {
        let fresh: Vec<&KnownKey> = {
            let mut reported = self.reported.lock().unwrap_or_else(|p| p.into_inner());
            reported.retain(|name| missing.iter().any(|k| &k.name == name));
            missing
                .iter()
                .filter(|k| reported.insert(k.name.clone()))
                .collect()
        };
        for key in missing {
            tracing::error!(key = %key.name, recipient = %key.recipient, "sealing key missing: its Secret is gone; values sealed to it no longer open; restore it with unseal keys import");
        }
        let regarding = ObjectReference {
            api_version: Some("v1".to_owned()),
            kind: Some("ConfigMap".to_owned()),
            name: Some(RECIPIENTS_CONFIGMAP.to_owned()),
            namespace: Some(self.namespace.clone()),
            ..Default::default()
        };
        for key in fresh {
            let event = Event {
                type_: EventType::Warning,
                reason: "KeyMissing".to_owned(),
                note: Some(format!(
                    "sealing key {} ({}) has no Secret any more: values sealed to it no longer open; restore it from a backup with unseal keys import",
                    key.name, key.recipient
                )),
                action: "CheckKeys".to_owned(),
                secondary: None,
            };
            if let Err(e) = self.events.publish(&event, &regarding).await {
                tracing::debug!(error = %e, "event not published");
            }
        }
    }
}
