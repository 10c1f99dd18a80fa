//! What the leader does with keys: make the first one, renew on schedule, publish the
//! recipients, refresh the backup. Every replica loads the keys (see [`load`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
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

/// How often a publication is re-done from a fresh read when the ConfigMap changed
/// under it (`unseal keys retire` or `import` marking the registry at that moment).
const PUBLISH_ATTEMPTS: u32 = 5;

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
    ///
    /// The registry is merged from the ConfigMap as read, and written back only over that
    /// same version (a replace with its resourceVersion): a mark that `unseal keys
    /// retire` or `import` wrote in between is never overwritten; the write is re-done
    /// from a fresh read instead.
    pub async fn publish(&self) -> kube::Result<()> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.publish_once().await {
                Err(kube::Error::Api(s)) if s.code == 409 && attempt < PUBLISH_ATTEMPTS => {
                    tracing::debug!(
                        attempt,
                        "recipients ConfigMap changed while publishing; again"
                    );
                }
                other => return other,
            }
        }
    }

    async fn publish_once(&self) -> kube::Result<()> {
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
        self.write_config_map(RECIPIENTS_CONFIGMAP, current, data)
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

    /// Writes `data` into the ConfigMap `name` over `current`, the version it was
    /// computed from: created when there was none, replaced with `current`'s
    /// resourceVersion (a 409 when it changed since), untouched when already equal.
    async fn write_config_map(
        &self,
        name: &str,
        current: Option<ConfigMap>,
        data: BTreeMap<String, String>,
    ) -> kube::Result<()> {
        match current {
            Some(mut current) => {
                if current.data.as_ref() == Some(&data) {
                    return Ok(());
                }
                current.data = Some(data);
                self.config_maps
                    .replace(name, &PostParams::default(), &current)
                    .await?;
            }
            None => {
                let map = ConfigMap {
                    metadata: ObjectMeta {
                        name: Some(name.to_owned()),
                        namespace: Some(self.namespace.clone()),
                        ..Default::default()
                    },
                    data: Some(data),
                    ..Default::default()
                };
                self.config_maps
                    .create(&PostParams::default(), &map)
                    .await?;
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

#[cfg(test)]
mod tests {
    use apiserver_double::{ApiServerDouble, Fault};

    use super::*;

    const NS: &str = "seal-system";

    /// A manager on the API-server double (the race needs a write to land between our
    /// read and our write, which only the double's fault injection makes repeatable),
    /// holding the keys the double holds.
    async fn manager(double: &ApiServerDouble) -> KeyManager {
        let url = double.url().parse().expect("url");
        let client = Client::try_from(kube::Config::new(url)).expect("client");
        KeyManager::new(client, NS, None, None, Arc::new(KeyStore::default()))
    }

    async fn load_keys(manager: &KeyManager) {
        let secrets = secrets::list(&manager.secrets).await.expect("list");
        manager.store.replace(KeySet::from_secrets(&secrets).0);
    }

    fn known_keys(map: Option<ConfigMap>) -> String {
        map.and_then(|m| m.data)
            .and_then(|mut d| d.remove(registry::KNOWN_KEYS))
            .unwrap_or_default()
    }

    /// `unseal keys retire` marks the registry while the leader publishes: the leader's
    /// write, computed from the version it read before the mark, must not land over it.
    #[tokio::test]
    async fn a_write_over_a_version_that_changed_since_is_refused_and_the_mark_kept() {
        let double = ApiServerDouble::start().await.expect("double");
        let manager = manager(&double).await;
        manager.ensure_fresh_key().await.expect("first key");
        load_keys(&manager).await;
        manager.publish().await.expect("published");
        let read = manager
            .config_maps
            .get_opt(RECIPIENTS_CONFIGMAP)
            .await
            .expect("get");
        let before = known_keys(read.clone());
        assert!(!before.is_empty(), "the registry lists the key");
        // Another writer (the retire command) changes the ConfigMap after our read.
        let mut marked = read.clone().expect("exists");
        let mut data = marked.data.clone().unwrap_or_default();
        data.insert(
            registry::KNOWN_KEYS.to_owned(),
            format!("{before}# marked\n"),
        );
        marked.data = Some(data);
        manager
            .config_maps
            .replace(RECIPIENTS_CONFIGMAP, &PostParams::default(), &marked)
            .await
            .expect("the other writer");
        let mut stale_data = read.clone().and_then(|m| m.data).unwrap_or_default();
        stale_data.insert("something".to_owned(), "else".to_owned());
        let err = manager
            .write_config_map(RECIPIENTS_CONFIGMAP, read, stale_data)
            .await
            .expect_err("a write over the stale version");
        assert!(matches!(err, kube::Error::Api(s) if s.code == 409), "409");
        let now = manager
            .config_maps
            .get_opt(RECIPIENTS_CONFIGMAP)
            .await
            .expect("get");
        assert!(known_keys(now).ends_with("# marked\n"), "the mark is kept");
    }

    /// A publication that meets such a conflict is re-done from a fresh read and lands.
    #[tokio::test]
    async fn a_conflicting_publication_is_redone_from_a_fresh_read() {
        let double = ApiServerDouble::start().await.expect("double");
        let manager = manager(&double).await;
        manager.ensure_fresh_key().await.expect("first key");
        load_keys(&manager).await;
        manager.publish().await.expect("published");
        secrets::create_next(&manager.secrets, NS)
            .await
            .expect("a second key");
        load_keys(&manager).await;
        double.inject(Fault::new("PUT", "/configmaps/", 409, 2));
        manager.publish().await.expect("published on the third try");
        let registry = known_keys(
            manager
                .config_maps
                .get_opt(RECIPIENTS_CONFIGMAP)
                .await
                .expect("get"),
        );
        assert_eq!(
            registry::parse(&registry).len(),
            2,
            "both keys are registered: {registry}"
        );
        double.inject(Fault::new(
            "PUT",
            "/configmaps/",
            409,
            PUBLISH_ATTEMPTS as usize,
        ));
        secrets::create_next(&manager.secrets, NS)
            .await
            .expect("a third key");
        load_keys(&manager).await;
        let err = manager.publish().await.expect_err("conflicts every time");
        assert!(matches!(err, kube::Error::Api(s) if s.code == 409));
    }
}
