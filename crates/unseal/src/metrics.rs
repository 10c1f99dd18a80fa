//! Prometheus metrics. Every label value is a fixed `&'static str` chosen by the code
//! (a result, a reason code), never text built from an error or an object.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// `result` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    /// `synced`, `failed`, or `unchanged` (a sync record vouched that nothing was to be
    /// done: nothing read, opened or written).
    pub result: &'static str,
}

/// `reason` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    /// A reason code such as `DecryptFailed`.
    pub reason: &'static str,
}

/// `action` label for Secret writes.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActionLabel {
    /// `create`, `update` or `recreate`.
    pub action: &'static str,
}

/// `version` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabel {
    version: &'static str,
}

/// The controller's metrics.
pub struct Metrics {
    registry: Registry,
    /// Reconciles by result.
    pub reconciles: Family<ResultLabel, Counter>,
    /// Failed reconciles by reason.
    pub errors: Family<ReasonLabel, Counter>,
    /// Secret writes by action.
    pub secret_writes: Family<ActionLabel, Counter>,
    /// Sealed values given to the opener (decryptions tried).
    pub opened: Counter,
    /// Reconcile duration in seconds.
    pub duration: Histogram,
    /// Keys held.
    pub keys: Gauge,
    /// Key Secrets refused (unreadable, owned, or made "in the future"): alert on > 0.
    pub refused_keys: Gauge,
    /// Keys the registry remembers but no Secret holds: alert on > 0.
    pub missing_keys: Gauge,
    /// Age of the active key in seconds.
    pub active_key_age: Gauge,
    /// Whether this replica leads (1) or not (0).
    pub leader: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("unseal");
        let reconciles = Family::<ResultLabel, Counter>::default();
        let errors = Family::<ReasonLabel, Counter>::default();
        let secret_writes = Family::<ActionLabel, Counter>::default();
        let opened = Counter::default();
        let duration = Histogram::new(exponential_buckets(0.0005, 2.0, 14));
        let keys = Gauge::default();
        let refused_keys = Gauge::default();
        let missing_keys = Gauge::default();
        let active_key_age = Gauge::default();
        let leader = Gauge::default();
        let build = Family::<VersionLabel, Gauge>::default();
        build
            .get_or_create(&VersionLabel {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        registry.register(
            "reconciles",
            "SealedSecret reconciles by result",
            reconciles.clone(),
        );
        registry.register(
            "reconcile_errors",
            "Failed reconciles by reason",
            errors.clone(),
        );
        registry.register(
            "secret_writes",
            "Secret writes by action",
            secret_writes.clone(),
        );
        registry.register(
            "sealed_values_opened",
            "Sealed values opened (or tried) by the reconciler",
            opened.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Time to reconcile one SealedSecret",
            duration.clone(),
        );
        registry.register("keys", "Sealing keys held", keys.clone());
        registry.register(
            "refused_key_secrets",
            "Secrets labelled as sealing keys that were refused (unreadable, owned, or dated in the future)",
            refused_keys.clone(),
        );
        registry.register(
            "missing_keys",
            "Sealing keys once held whose Secret is gone (values sealed to them do not open)",
            missing_keys.clone(),
        );
        registry.register(
            "active_key_age_seconds",
            "Age of the active sealing key",
            active_key_age.clone(),
        );
        registry.register(
            "leader",
            "1 when this replica is the leader",
            leader.clone(),
        );
        registry.register("build_info", "Build information", build);
        Self {
            registry,
            reconciles,
            errors,
            secret_writes,
            opened,
            duration,
            keys,
            refused_keys,
            missing_keys,
            active_key_age,
            leader,
        }
    }
}

impl Metrics {
    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family() {
        let m = Metrics::default();
        m.reconciles
            .get_or_create(&ResultLabel { result: "synced" })
            .inc();
        m.errors
            .get_or_create(&ReasonLabel {
                reason: "DecryptFailed",
            })
            .inc();
        m.duration.observe(0.01);
        let text = m.render();
        for name in [
            "unseal_reconciles_total{result=\"synced\"} 1",
            "unseal_reconcile_errors_total{reason=\"DecryptFailed\"} 1",
            "unseal_reconcile_duration_seconds_count 1",
            "unseal_keys 0",
            "unseal_build_info{version=",
        ] {
            assert!(text.contains(name), "{name} missing from\n{text}");
        }
    }
}
