//! What the leader does with keys: make the first one, renew on schedule, publish the
//! recipients, refresh the backup. Every replica loads the keys (see [`load`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{ObjectMeta, PostParams};
use kube::runtime::{WatchStreamExt, reflector, watcher};

use kube::{Api, Client};
use seal_core::Recipients;

use super::backup;
use super::secrets::{self, Created, KEY_SELECTOR};
use super::store::{KeySet, KeyStore};
use crate::clock;

/// Name of the ConfigMap that publishes the recipients.
pub const RECIPIENTS_CONFIGMAP: &str = "unseal-recipients";
/// Name of the Secret that holds the encrypted key backup. A Secret, not a ConfigMap:
/// age has no sender authentication and the backup recipient is public, so anyone who
/// can write the backup can plant one; in a Secret of the controller's namespace only
/// those who can already write the keys themselves can.
pub const BACKUP_SECRET: &str = "unseal-keys-backup";
/// The data key of the backup.
pub const BACKUP_KEY: &str = "keys.age";
/// Annotation on the backup: the recipients of the keys it covers.
pub const BACKUP_COVERS_ANNOTATION: &str = "seal.dev/backup-covers";

/// The leader's key duties.
pub struct KeyManager {
    secrets: Api<Secret>,
    config_maps: Api<ConfigMap>,
    namespace: String,
    renew_period: Option<Duration>,
    backup_to: Option<Recipients>,
    store: Arc<KeyStore>,
    /// The backup this term last wrote: what is stored is trusted only if it is this.
    last_backup: Mutex<Option<Vec<u8>>>,
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
        Self {
            secrets: Api::namespaced(client.clone(), namespace),
            config_maps: Api::namespaced(client, namespace),
            namespace: namespace.to_owned(),
            renew_period,
            backup_to,
            store,
            last_backup: Mutex::new(None),
        }
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

    /// Writes the recipients ConfigMap when it differs from the keys held.
    pub async fn publish(&self) -> kube::Result<()> {
        let set = self.store.current();
        let Some(active) = set.active() else {
            return Ok(());
        };
        let mut text = format!(
            "# The active sealing key of unseal in namespace {}: {} (created {}).\n{}\n",
            self.namespace, active.name, active.created, active.recipient
        );
        let mut all = String::new();
        for key in &set.keys {
            all.push_str(&format!(
                "# {} created {}\n{}\n",
                key.name, key.created, key.recipient
            ));
        }
        if set.keys.len() > 1 {
            text.push_str("# Older keys still open what was sealed to them; seal new values to the line above.\n");
        }
        let data = BTreeMap::from([
            ("recipients.txt".to_owned(), text),
            ("all-recipients.txt".to_owned(), all),
            ("active".to_owned(), active.recipient.clone()),
        ]);
        self.upsert_config_map(RECIPIENTS_CONFIGMAP, Some(data), None, None)
            .await
    }

    /// Rewrites the encrypted backup unless what is stored is exactly what this term last
    /// wrote and covers exactly the keys held. The controller cannot read the backup (it
    /// is sealed to an offline key) and age does not authenticate senders, so a backup
    /// it did not write itself (planted, or from an earlier term) is replaced.
    pub async fn refresh_backup(&self) -> kube::Result<()> {
        let Some(to) = &self.backup_to else {
            return Ok(());
        };
        let existing = secrets::list(&self.secrets).await?;
        let stored: Vec<_> = existing
            .iter()
            .filter_map(|s| secrets::decode(s).ok())
            .collect();
        let mut covers: Vec<String> = stored
            .iter()
            .map(|k| k.identity.to_public().to_string())
            .collect();
        covers.sort();
        let covers = covers.join(",");
        let current = self.secrets.get_opt(BACKUP_SECRET).await?;
        let stored_bytes = current
            .as_ref()
            .and_then(|s| s.data.as_ref())
            .and_then(|d| d.get(BACKUP_KEY))
            .map(|b| b.0.clone());
        let stored_covers = current
            .as_ref()
            .and_then(|s| s.metadata.annotations.as_ref())
            .and_then(|a| a.get(BACKUP_COVERS_ANNOTATION));
        let ours = {
            let last = self.last_backup.lock().unwrap_or_else(|p| p.into_inner());
            last.is_some() && *last == stored_bytes
        };
        if ours && stored_covers == Some(&covers) {
            return Ok(());
        }
        let sealed = match backup::encrypt(backup::backup_text(&stored).as_bytes(), to) {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::error!(error = %e, "key backup not written");
                return Ok(());
            }
        };
        let mut secret = Secret {
            metadata: ObjectMeta {
                name: Some(BACKUP_SECRET.to_owned()),
                namespace: Some(self.namespace.clone()),
                annotations: Some(BTreeMap::from([(
                    BACKUP_COVERS_ANNOTATION.to_owned(),
                    covers,
                )])),
                ..Default::default()
            },
            type_: Some("Opaque".to_owned()),
            data: Some(BTreeMap::from([(
                BACKUP_KEY.to_owned(),
                ByteString(sealed.clone()),
            )])),
            ..Default::default()
        };
        match current {
            Some(current) => {
                secret.metadata.resource_version = current.metadata.resource_version;
                self.secrets
                    .replace(BACKUP_SECRET, &PostParams::default(), &secret)
                    .await?;
            }
            None => {
                self.secrets.create(&PostParams::default(), &secret).await?;
            }
        }
        if !ours {
            tracing::info!("key backup written (what was stored was not written by this term)");
        }
        *self.last_backup.lock().unwrap_or_else(|p| p.into_inner()) = Some(sealed);
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
