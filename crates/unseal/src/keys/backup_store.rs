//! The automatic key backup: the Secret `unseal-keys-backup` in the controller's
//! namespace, one age-encrypted entry per key (`<key name>.age`, each to the
//! `--backup-recipient` keys), that only ever grows.
//!
//! - Only grows: an entry stays when its key Secret is gone (deleted by mistake,
//!   relabelled): the backup is exactly what is needed then. Entries leave only by an
//!   explicit act of an admin.
//! - Trusted only if written by this term: age has no sender authentication and the
//!   backup recipient is public, so anyone who can write the Secret could plant an entry.
//!   An entry for a key held is rewritten unless it is byte for byte what this term
//!   wrote. (Only those who may write key Secrets may write this Secret anyway.)

use std::collections::BTreeMap;
use std::sync::Mutex;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{ObjectMeta, PostParams};
use seal_core::Recipients;

use super::backup;
use super::secrets::StoredKey;

/// Name of the backup Secret.
pub const BACKUP_SECRET: &str = "unseal-keys-backup";
/// Annotation on the backup: the names of the keys it holds, comma-separated.
pub const BACKUP_COVERS_ANNOTATION: &str = "seal.dev/backup-covers";

/// The data key of a key's entry.
pub fn entry_name(key_name: &str) -> String {
    format!("{key_name}.age")
}

/// Keeps the backup Secret current; remembers what it wrote in this term.
#[derive(Default)]
pub struct BackupStore {
    written: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl BackupStore {
    /// Adds or rewrites the entries of `held` keys that are missing or were not written by
    /// this term; keeps every other entry. Writes nothing when nothing changes. Returns
    /// how many entries were (re)written.
    pub async fn refresh(
        &self,
        api: &Api<Secret>,
        namespace: &str,
        held: &[StoredKey],
        to: &Recipients,
    ) -> kube::Result<usize> {
        let current = api.get_opt(BACKUP_SECRET).await?;
        // Another controller's output (see `made_by_another_controller`): while both
        // controllers run, whoever may create bitnami SealedSecrets here could have one
        // written with entries of their own, which an admin restoring would import.
        let planted = current
            .as_ref()
            .is_some_and(|s| super::bitnami_store::made_by_another_controller(s).is_some());
        if planted {
            tracing::warn!(
                "{BACKUP_SECRET} has an owner or was written by the bitnami controller: its entries are not kept"
            );
        }
        let mut data = current
            .as_ref()
            .filter(|_| !planted)
            .and_then(|s| s.data.clone())
            .unwrap_or_default();
        let mut fresh = Vec::new();
        {
            let written = self.written.lock().unwrap_or_else(|p| p.into_inner());
            for key in held {
                let entry = entry_name(&key.name);
                let ours = written.get(&entry);
                if ours.is_none() || data.get(&entry).map(|b| &b.0) != ours {
                    fresh.push(key);
                }
            }
        }
        if fresh.is_empty() {
            return Ok(0);
        }
        let mut made = Vec::new();
        for key in &fresh {
            match backup::encrypt(
                backup::backup_text(std::slice::from_ref(*key)).as_bytes(),
                to,
            ) {
                Ok(bytes) => {
                    let entry = entry_name(&key.name);
                    data.insert(entry.clone(), ByteString(bytes.clone()));
                    made.push((entry, bytes));
                }
                Err(e) => {
                    tracing::error!(key = %key.name, error = %e, "key backup entry not written")
                }
            }
        }
        let covers = data
            .keys()
            .filter_map(|k| k.strip_suffix(".age"))
            .collect::<Vec<_>>()
            .join(",");
        let mut secret = Secret {
            metadata: ObjectMeta {
                name: Some(BACKUP_SECRET.to_owned()),
                namespace: Some(namespace.to_owned()),
                annotations: Some(BTreeMap::from([(
                    BACKUP_COVERS_ANNOTATION.to_owned(),
                    covers,
                )])),
                ..Default::default()
            },
            type_: Some("Opaque".to_owned()),
            data: Some(data),
            ..Default::default()
        };
        match current {
            Some(current) => {
                secret.metadata.resource_version = current.metadata.resource_version;
                api.replace(BACKUP_SECRET, &PostParams::default(), &secret)
                    .await?;
            }
            None => {
                api.create(&PostParams::default(), &secret).await?;
            }
        }
        let count = made.len();
        self.written
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(made);
        tracing::info!(entries = count, "key backup entries written");
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use apiserver_double::ApiServerDouble;
    use kube::Client;
    use kube::ResourceExt as _;

    use super::*;
    use crate::keys::secrets;

    const NS: &str = "seal-system";

    /// A client of the API-server double (a Secret planted as another controller would
    /// write it is all this needs; the real bitnami controller writing one is
    /// `migrate::real::secrets_the_real_bitnami_controller_writes_beside_the_keys_are_no_keys`).
    fn api(double: &ApiServerDouble) -> Api<Secret> {
        let url = double.url().parse().expect("url");
        Api::namespaced(
            Client::try_from(kube::Config::new(url)).expect("client"),
            NS,
        )
    }

    fn held() -> StoredKey {
        let secret = secrets::encode(
            "seal-key-1",
            NS,
            &age::x25519::Identity::generate(),
            crate::clock::now(),
            false,
        );
        secrets::decode(&secret).expect("a key")
    }

    async fn plant(api: &Api<Secret>, annotations: &[(&str, &str)]) {
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(BACKUP_SECRET.to_owned()),
                annotations: Some(
                    annotations
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect(),
                ),
                ..Default::default()
            },
            data: Some(BTreeMap::from([(
                "evil.age".to_owned(),
                ByteString(b"an entry the attacker made".to_vec()),
            )])),
            ..Default::default()
        };
        api.create(&PostParams::default(), &secret)
            .await
            .expect("planted");
    }

    #[tokio::test]
    async fn a_backup_the_bitnami_controller_wrote_keeps_none_of_its_entries() {
        let double = ApiServerDouble::start().await.expect("double");
        let api = api(&double);
        plant(
            &api,
            &[(
                "sealedsecrets.bitnami.com/skip-set-owner-references",
                "true",
            )],
        )
        .await;
        let mut to = Recipients::new();
        to.insert(age::x25519::Identity::generate().to_public());
        let written = BackupStore::default()
            .refresh(&api, NS, &[held()], &to)
            .await
            .expect("refreshed");
        assert_eq!(written, 1);
        let backup = api.get(BACKUP_SECRET).await.expect("backup");
        let entries: Vec<&String> = backup.data.as_ref().expect("data").keys().collect();
        assert_eq!(entries, ["seal-key-1.age"], "the planted entry is gone");
        assert!(!super::super::bitnami_store::written_by_bitnami(&backup));
        assert_eq!(
            backup
                .annotations()
                .get(BACKUP_COVERS_ANNOTATION)
                .map(String::as_str),
            Some("seal-key-1")
        );
    }

    #[tokio::test]
    async fn a_backup_of_our_own_keeps_entries_of_keys_no_longer_held() {
        let double = ApiServerDouble::start().await.expect("double");
        let api = api(&double);
        plant(&api, &[]).await;
        let mut to = Recipients::new();
        to.insert(age::x25519::Identity::generate().to_public());
        BackupStore::default()
            .refresh(&api, NS, &[held()], &to)
            .await
            .expect("refreshed");
        let backup = api.get(BACKUP_SECRET).await.expect("backup");
        let entries: Vec<&String> = backup.data.as_ref().expect("data").keys().collect();
        assert_eq!(entries, ["evil.age", "seal-key-1.age"], "only grows");
    }
}
