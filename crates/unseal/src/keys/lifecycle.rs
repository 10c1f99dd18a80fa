//! What the leader does with keys: make the first one, renew on schedule, publish the
//! recipients, refresh the backup. Every replica loads the keys (see [`load`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{ObjectMeta, PostParams};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use prometheus_client::metrics::gauge::Gauge;

use kube::{Api, Client};
use seal_core::Recipients;

use super::backup_store::BackupStore;
use super::missing::MissingKeys;
use super::publication;
use super::registry::{self, KnownKey};
use super::secrets::{self, Created, KEY_SELECTOR};
use super::store::{KeySet, KeyStore};
use crate::clock;

/// Name of the ConfigMap that publishes the recipients.
pub const RECIPIENTS_CONFIGMAP: &str = "unseal-recipients";

/// The leader's key duties.
pub struct KeyManager {
    secrets: Api<Secret>,
    config_maps: Api<ConfigMap>,
    namespace: String,
    renew_period: Option<Duration>,
    backup_to: Option<Recipients>,
    store: Arc<KeyStore>,
    /// The backup Secret and what this term wrote into it.
    backups: BackupStore,
    /// Reports keys the registry remembers but no Secret holds.
    missing: MissingKeys,
    /// Set to the time of each backup refresh that succeeded.
    backup_success: Gauge,
}

impl KeyManager {
    /// A manager for the keys in `namespace`.
    pub fn new(
        client: Client,
        namespace: &str,
        renew_period: Option<Duration>,
        backup_to: Option<Recipients>,
        store: Arc<KeyStore>,
    ) -> Self {
        let client_for_events = client.clone();
        Self {
            secrets: Api::namespaced(client.clone(), namespace),
            config_maps: Api::namespaced(client, namespace),
            namespace: namespace.to_owned(),
            renew_period,
            backup_to,
            store,
            backups: BackupStore::default(),
            missing: MissingKeys::new(client_for_events, namespace),
            backup_success: Gauge::default(),
        }
    }

    /// Reports the time of every successful backup refresh to `gauge`
    /// (`unseal_key_backup_last_success_timestamp_seconds`).
    pub fn reporting_backups_to(mut self, gauge: Gauge) -> Self {
        self.backup_success = gauge;
        self
    }

    /// Makes the first key when there is none; renews when the active key is older than
    /// the renewal period. Returns what was created, if anything.
    pub async fn ensure_fresh_key(&self) -> kube::Result<Option<Created>> {
        let existing = secrets::list(&self.secrets).await?;
        let (set, _) = KeySet::from_secrets(&existing);
        let due = match (set.active(), self.renew_period) {
            (None, _) => true,
            (Some(active), Some(period)) => {
                let age = clock::now().duration_since(active.created);
                age.as_secs() >= i64::try_from(period.as_secs()).unwrap_or(i64::MAX)
            }
            (Some(_), None) => false,
        };
        if !due {
            return Ok(None);
        }
        let created = secrets::create_next(&self.secrets, &self.namespace).await?;
        tracing::info!(key = ?created, "sealing key created");
        Ok(Some(created))
    }

    /// Writes the recipients ConfigMap when it differs from the keys held, with the
    /// registry of every key ever held, and reports keys that have gone missing.
    pub async fn publish(&self) -> kube::Result<()> {
        let set = self.store.current();
        let Some(active) = set.active() else {
            return Ok(());
        };
        let current = self.config_maps.get_opt(RECIPIENTS_CONFIGMAP).await?;
        let known = current
            .as_ref()
            .and_then(|m| m.data.as_ref())
            .and_then(|d| d.get(registry::KNOWN_KEYS))
            .map(|t| registry::parse(t))
            .unwrap_or_default();
        let held: Vec<KnownKey> = set.keys.iter().map(KnownKey::from).collect();
        let known = registry::merge(&known, &held);
        let missing: Vec<KnownKey> = registry::missing(&known, &held)
            .into_iter()
            .cloned()
            .collect();
        self.store
            .set_missing(missing.iter().map(|k| k.name.clone()).collect());
        self.missing.report(&missing).await;
        let data = publication::recipients_data(&self.namespace, &set, active, &known);
        self.upsert_config_map(RECIPIENTS_CONFIGMAP, Some(data), None, None)
            .await
    }

    /// Adds backup entries for keys that have none, or whose entry this term did not
    /// write (see [`BackupStore`]).
    pub async fn refresh_backup(&self) -> kube::Result<()> {
        let Some(to) = &self.backup_to else {
            return Ok(());
        };
        let existing = secrets::list(&self.secrets).await?;
        let stored: Vec<_> = existing
            .iter()
            .filter_map(|s| secrets::decode(s).ok())
            .collect();
        self.backups
            .refresh(&self.secrets, &self.namespace, &stored, to)
            .await?;
        self.backup_success.set(clock::now().as_second());
        Ok(())
    }

    async fn upsert_config_map(
        &self,
        name: &str,
        data: Option<BTreeMap<String, String>>,
        binary_data: Option<BTreeMap<String, ByteString>>,
        annotations: Option<BTreeMap<String, String>>,
    ) -> kube::Result<()> {
        match self.config_maps.get_opt(name).await? {
            Some(mut current) => {
                if current.data == data
                    && current.binary_data == binary_data
                    && annotations
                        .as_ref()
                        .is_none_or(|a| current.metadata.annotations.as_ref() == Some(a))
                {
                    return Ok(());
                }
                current.data = data;
                current.binary_data = binary_data;
                if annotations.is_some() {
                    current.metadata.annotations = annotations;
                }
                self.config_maps
                    .replace(name, &PostParams::default(), &current)
                    .await?;
            }
            None => {
                let map = ConfigMap {
                    metadata: ObjectMeta {
                        name: Some(name.to_owned()),
                        namespace: Some(self.namespace.clone()),
                        annotations,
                        ..Default::default()
                    },
                    data,
                    binary_data,
                    ..Default::default()
                };
                match self.config_maps.create(&PostParams::default(), &map).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(s)) if s.code == 409 => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// The leader's loop: fresh key, publication and backup now, then every `tick` and
    /// whenever the keys change, until `shutdown` fires.
    pub async fn run(&self, tick: Duration, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let mut changes = self.store.subscribe();
        loop {
            let result = async {
                self.ensure_fresh_key().await?;
                self.publish().await?;
                self.refresh_backup().await
            }
            .await;
            if let Err(e) = result {
                tracing::warn!(error = %e, "key maintenance failed; will retry");
            }
            tokio::select! {
                _ = tokio::time::sleep(tick) => {}
                _ = changes.changed() => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}

/// Keeps `store` equal to the key Secrets of `namespace`, on every replica: a watch on the
/// labelled Secrets only, so new or imported keys are used without a restart.
pub async fn load(client: Client, namespace: String, store: Arc<KeyStore>) {
    let api: Api<Secret> = Api::namespaced(client, &namespace);
    let (reader, writer) = reflector::store();
    let stream = reflector(
        writer,
        watcher(api, watcher::Config::default().labels(KEY_SELECTOR)),
    )
    .default_backoff();
    futures::pin_mut!(stream);
    while let Some(event) = stream.next().await {
        if let Err(e) = event {
            tracing::warn!(error = %e, "watching key Secrets");
            continue;
        }
        let secrets = reader.state();
        let (set, bad) = KeySet::from_secrets(secrets.iter().map(|s| s.as_ref()));
        for b in bad {
            tracing::warn!(error = %b, "key Secret skipped");
        }
        store.replace(set);
    }
}
