//! [`Context`]: what the reconciler, the key tasks and the HTTP API share.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use kube::Client;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::ObjectRef;
use seal_core::{Recipients, SealedSecret};

use crate::clock::Clock;
use crate::events::EventPublisher;
use crate::http::rate_limit::ClientRates;
use crate::keys::KeyStore;
use crate::metrics::Metrics;
use crate::not_synced::NotSynced;
use crate::opener::Opener;
use crate::secret_sync::write_wars::WriteWars;
use crate::sync_record::SyncCaches;

/// A SealedSecret as the controller's triggers name it.
pub type SealedRef = ObjectRef<PartialObjectMeta<SealedSecret>>;

/// The controller's settings (from flags or `UNSEAL_*` variables).
#[derive(Clone, Debug)]
pub struct Settings {
    /// The namespace holding the keys, the recipients ConfigMap and the Lease.
    pub namespace: String,
    /// Namespaces whose SealedSecrets are reconciled (empty: all).
    pub watch_namespaces: Vec<String>,
    /// Only SealedSecrets matching this label selector are reconciled (`None`: all), so
    /// that two controllers can run side by side during a migration.
    pub label_selector: Option<String>,
    /// SealedSecrets reconciled at once.
    pub concurrency: u16,
    /// Key renewal period (`None`: never renew).
    pub renew_period: Option<Duration>,
    /// How often the leader checks its keys.
    pub key_check_every: Duration,
    /// How often every SealedSecret is checked again without any change (catches drift
    /// of a `Merge` target that lost its label, which its watch selects on); one timer
    /// for all of them.
    pub resync_every: Duration,
    /// Recipients of the automatic key backup, if any.
    pub backup_to: Option<Recipients>,
    /// Recipients that `POST /v1/reencrypt?add=…` may add, besides this controller's
    /// own keys.
    pub trusted_recipients: Vec<String>,
    /// Calls to verify and reencrypt one client may make at once (its token bucket).
    pub api_burst: u32,
    /// Tokens each client's bucket gets back per second.
    pub api_per_second: u32,
    /// Rewrites of one merged key within [`Settings::write_war_window`] after which the
    /// controller stops writing it (reason `Conflict`).
    pub write_war_rounds: usize,
    /// The window write-war rounds are counted in.
    pub write_war_window: Duration,
    /// This replica's identity (pod name) for the Lease and Events.
    pub identity: String,
    /// Lease name.
    pub lease_name: String,
    /// How long a lease holds without renewal: a peer takes it over once this long has
    /// passed, on its own clock, since it last saw the Lease change.
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew after its last successful renewal
    /// before it steps down; shorter than `lease_duration`, so that it stops before a
    /// peer can take over.
    pub lease_renew_deadline: Duration,
    /// How often the lease is renewed or tried (client-go's retry period).
    pub lease_renew_every: Duration,
    /// The wall clock whose time this replica writes into the Lease.
    pub clock: Clock,
}

impl Settings {
    /// Defaults for a controller in `namespace` named `identity`.
    pub fn new(namespace: &str, identity: &str) -> Self {
        Self {
            namespace: namespace.to_owned(),
            watch_namespaces: Vec::new(),
            label_selector: None,
            concurrency: 4,
            renew_period: Some(Duration::from_secs(720 * 3600)),
            key_check_every: Duration::from_secs(60),
            resync_every: Duration::from_secs(600),
            backup_to: None,
            trusted_recipients: Vec::new(),
            api_burst: 20,
            api_per_second: 10,
            write_war_rounds: 5,
            write_war_window: Duration::from_secs(600),
            identity: identity.to_owned(),
            lease_name: "unseal-leader".to_owned(),
            lease_duration: Duration::from_secs(15),
            lease_renew_deadline: Duration::from_secs(10),
            lease_renew_every: Duration::from_secs(2),
            clock: Clock::system(),
        }
    }
}

/// Shared state.
pub struct Context {
    /// The API client.
    pub client: Client,
    /// The keys held.
    pub keys: Arc<KeyStore>,
    /// Metrics.
    pub metrics: Metrics,
    /// Publishes Events.
    pub recorder: EventPublisher,
    /// Opens sealed values off the async runtime, bounded.
    pub opener: Opener,
    /// Merge keys someone else keeps changing back.
    pub write_wars: WriteWars,
    /// Settings.
    pub settings: Settings,
    /// Consecutive failures per object, for backoff.
    failures: Mutex<HashMap<String, u32>>,
    /// The objects whose last reconcile failed, by reason (a metric).
    pub not_synced: NotSynced,
    /// SealedSecrets that did not open for want of a key: the only ones a new key
    /// re-tries.
    waiting_for_key: Mutex<HashSet<SealedRef>>,
    /// What the running controller's watches show of sync records.
    sync_caches: RwLock<Arc<SyncCaches>>,
    /// Set once the controller's caches are synced.
    synced: AtomicBool,
    /// Set while this replica leads.
    leader: AtomicBool,
    /// Rate limits of the verify and reencrypt endpoints, per client.
    pub api_rate: ClientRates,
    /// Slots for request bodies being read or held (see [`crate::http::intake`]).
    pub http_bodies: crate::http::intake::BodySlots,
    /// The imported bitnami keys last read for `/v1/migrate`, with the resourceVersion
    /// of the Secret they came from (read again only when it changes).
    pub bitnami_keys: Mutex<Option<(String, Arc<seal_core::bitnami::BitnamiKeys>)>>,
}

impl Context {
    /// A context for `client` with `settings`.
    pub fn new(client: Client, settings: Settings) -> Arc<Self> {
        let metrics = Metrics::default();
        let renew_seconds = settings.renew_period.map_or(0, |p| p.as_secs());
        metrics
            .key_renew_period
            .set(i64::try_from(renew_seconds).unwrap_or(i64::MAX));
        metrics
            .backup_enabled
            .set(i64::from(settings.backup_to.is_some()));
        Arc::new(Self {
            recorder: EventPublisher::new(client.clone(), "unseal", &settings.identity),
            client,
            opener: Opener::for_this_machine(),
            write_wars: WriteWars::new(settings.write_war_rounds, settings.write_war_window),
            api_rate: ClientRates::new(settings.api_burst, settings.api_per_second),
            keys: Arc::new(KeyStore::default()),
            not_synced: NotSynced::new(metrics.not_synced.clone()),
            metrics,
            settings,
            failures: Mutex::new(HashMap::new()),
            waiting_for_key: Mutex::new(HashSet::new()),
            sync_caches: RwLock::new(Arc::new(SyncCaches::new(0))),
            synced: AtomicBool::new(false),
            leader: AtomicBool::new(false),
            http_bodies: Default::default(),
            bitnami_keys: Mutex::new(None),
        })
    }

    /// Records a failure of `object`; returns how many in a row.
    pub fn record_failure(&self, object: &str) -> u32 {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let n = failures.entry(object.to_owned()).or_default();
        *n += 1;
        *n
    }

    /// Forgets the failures of `object`.
    pub fn record_success(&self, object: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(object);
        self.not_synced.synced(object);
    }

    /// Forgets the failures of every object whose key starts with `prefix` (an object
    /// that is gone or being deleted keeps no backoff state).
    pub fn forget_failures(&self, prefix: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|k, _| !k.starts_with(prefix));
        self.not_synced.retain(|k| !k.starts_with(prefix));
    }

    /// Keeps only the backoff state whose key `keep` accepts.
    pub fn retain_failures(&self, keep: impl Fn(&str) -> bool) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|k, _| keep(k));
        self.not_synced.retain(keep);
    }

    /// How many objects have backoff state (for tests and metrics).
    pub fn failing(&self) -> usize {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    /// Records that `object` did not open for want of a key, with the keys of version
    /// `keys_version`. Returns `false` (and records nothing) when the keys have changed
    /// since: the object must be tried again with them, as the change's re-try may have
    /// come and gone before it was recorded.
    pub fn wait_for_key(&self, object: SealedRef, keys_version: u64) -> bool {
        let mut waiting = self
            .waiting_for_key
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if self.keys.version() != keys_version {
            waiting.remove(&object);
            return false;
        }
        waiting.insert(object);
        true
    }

    /// Forgets that `object` waits for a key.
    pub fn stop_waiting_for_key(&self, object: &SealedRef) {
        self.waiting_for_key
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(object);
    }

    /// Whether `object` waits for a key.
    pub fn is_waiting_for_key(&self, object: &SealedRef) -> bool {
        self.waiting_for_key
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(object)
    }

    /// Takes the objects waiting for a key in `namespace` (all when `None`), to re-try
    /// them with new keys.
    pub fn take_waiting_for_key(&self, namespace: Option<&str>) -> Vec<SealedRef> {
        let mut waiting = self
            .waiting_for_key
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let (take, keep): (Vec<SealedRef>, Vec<SealedRef>) = waiting
            .drain()
            .partition(|o| namespace.is_none() || o.namespace.as_deref() == namespace);
        waiting.extend(keep);
        take
    }

    /// How many objects wait for a key.
    pub fn waiting_for_key_count(&self) -> usize {
        self.waiting_for_key
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    /// What the running controller's watches show of sync records.
    pub fn sync_caches(&self) -> Arc<SyncCaches> {
        self.sync_caches
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Puts the caches of a newly started controller in place.
    pub fn set_sync_caches(&self, caches: Arc<SyncCaches>) {
        *self.sync_caches.write().unwrap_or_else(|p| p.into_inner()) = caches;
    }

    /// Marks the controller's caches synced (or not).
    pub fn set_synced(&self, synced: bool) {
        self.synced.store(synced, Ordering::SeqCst);
    }

    /// Marks this replica leader (or not).
    pub fn set_leader(&self, leader: bool) {
        self.leader.store(leader, Ordering::SeqCst);
        self.metrics.leader.set(i64::from(leader));
        if !leader {
            self.not_synced.clear();
        }
    }

    /// Whether this replica leads.
    pub fn is_leader(&self) -> bool {
        self.leader.load(Ordering::SeqCst)
    }

    /// Ready: keys loaded and, on the leader, the controller's caches synced.
    pub fn is_ready(&self) -> bool {
        self.keys.is_loaded() && (!self.is_leader() || self.synced.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::ReasonLabel;

    /// A client that is never used (nothing here sends a request).
    fn unused_client() -> Client {
        let url = "http://127.0.0.1:9".parse().expect("url");
        Client::try_from(kube::Config::new(url)).expect("client")
    }

    #[tokio::test]
    async fn the_settings_behind_the_alerts_are_exported() {
        let mut settings = Settings::new("seal-system", "test");
        settings.renew_period = Some(Duration::from_secs(3600));
        settings.backup_to = Some(Recipients::new());
        let ctx = Context::new(unused_client(), settings);
        assert_eq!(ctx.metrics.key_renew_period.get(), 3600);
        assert_eq!(ctx.metrics.backup_enabled.get(), 1);
        let mut off = Settings::new("seal-system", "test");
        off.renew_period = None;
        let ctx = Context::new(unused_client(), off);
        assert_eq!(ctx.metrics.key_renew_period.get(), 0);
        assert_eq!(ctx.metrics.backup_enabled.get(), 0);
    }

    #[tokio::test]
    async fn a_replica_that_stops_leading_reports_no_failures_and_success_clears_one() {
        let ctx = Context::new(unused_client(), Settings::new("seal-system", "test"));
        let gauge = |reason: &'static str| {
            ctx.metrics
                .not_synced
                .get_or_create(&ReasonLabel { reason })
                .get()
        };
        ctx.set_leader(true);
        ctx.not_synced.failed("apps/a/1", "NoMatchingKey");
        ctx.not_synced.failed("apps/b/2", "NoMatchingKey");
        assert_eq!(gauge("NoMatchingKey"), 2);
        ctx.record_success("apps/a/1");
        assert_eq!(gauge("NoMatchingKey"), 1);
        ctx.forget_failures("apps/b/");
        assert_eq!(gauge("NoMatchingKey"), 0);
        ctx.not_synced.failed("apps/c/3", "SecretNotOwned");
        ctx.set_leader(false);
        assert_eq!(
            gauge("SecretNotOwned"),
            0,
            "the new leader reports it, not this replica"
        );
    }

    fn object(ns: &str, name: &str) -> SealedRef {
        ObjectRef::new(name).within(ns)
    }

    fn context() -> Arc<Context> {
        let config = kube::Config::new("http://127.0.0.1:1".parse().expect("url"));
        let client = Client::try_from(config).expect("client");
        Context::new(client, Settings::new("seal-system", "test"))
    }

    #[tokio::test]
    async fn a_key_change_takes_only_what_waits_for_a_key_in_its_namespace() {
        let ctx = context();
        let version = ctx.keys.version();
        assert!(ctx.wait_for_key(object("apps", "a"), version));
        assert!(ctx.wait_for_key(object("team-b", "b"), version));
        assert!(ctx.is_waiting_for_key(&object("apps", "a")));
        assert_eq!(
            ctx.take_waiting_for_key(Some("apps")),
            vec![object("apps", "a")]
        );
        assert_eq!(ctx.waiting_for_key_count(), 1);
        ctx.stop_waiting_for_key(&object("team-b", "b"));
        assert!(ctx.take_waiting_for_key(None).is_empty());
    }

    #[tokio::test]
    async fn an_object_that_failed_with_keys_since_replaced_is_not_left_waiting() {
        let ctx = context();
        let version = ctx.keys.version();
        let (set, _) = crate::keys::KeySet::from_secrets([&crate::keys::secrets::encode(
            "seal-key-0001",
            "seal-system",
            &age::x25519::Identity::generate(),
            crate::clock::now(),
            false,
        )]);
        ctx.keys.replace(set);
        assert!(
            !ctx.wait_for_key(object("apps", "a"), version),
            "the keys changed while it was opened: re-try it now"
        );
        assert_eq!(ctx.waiting_for_key_count(), 0);
    }
}
