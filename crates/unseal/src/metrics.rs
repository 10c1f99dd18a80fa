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
    /// SealedSecrets whose last reconcile on this replica failed, by reason.
    pub not_synced: Family<ReasonLabel, Gauge>,
    /// The key renewal period in seconds (0: renewal off).
    pub key_renew_period: Gauge,
    /// 1 when backup recipients are configured.
    pub backup_enabled: Gauge,
    /// When the leader last found the key backup complete (or completed it), Unix seconds.
    pub backup_success: Gauge,
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
        let not_synced = Family::<ReasonLabel, Gauge>::default();
        let key_renew_period = Gauge::default();
        let backup_enabled = Gauge::default();
        let backup_success = Gauge::default();
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
        registry.register(
            "sealedsecrets_not_synced",
            "SealedSecrets whose last reconcile failed, by reason (on the leader)",
            not_synced.clone(),
        );
        registry.register(
            "key_renew_period_seconds",
            "How often a new sealing key is made (0: never)",
            key_renew_period.clone(),
        );
        registry.register(
            "key_backup_enabled",
            "1 when backup recipients are configured",
            backup_enabled.clone(),
        );
        registry.register(
            "key_backup_last_success_timestamp_seconds",
            "When the leader last found the key backup complete or completed it (Unix time; 0: not yet)",
            backup_success.clone(),
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
            not_synced,
            key_renew_period,
            backup_enabled,
            backup_success,
        }
    }
}

impl Metrics {
    /// The OpenMetrics text exposition (what Prometheus asks for).
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    /// The Prometheus text format 0.0.4, for scrapers and tools that do not ask for
    /// OpenMetrics (`promtool check metrics`, curl, older agents): the same samples, with
    /// each counter family named after its `_total` samples (0.0.4 parsers take a
    /// family's samples by the family's name), and no `# UNIT` or `# EOF` lines.
    pub fn render_text(&self) -> String {
        to_text_format(&self.render())
    }
}

/// OpenMetrics text as prometheus-client writes it (HELP, TYPE, UNIT, samples per family;
/// `# EOF` last) → the Prometheus text format 0.0.4.
fn to_text_format(open_metrics: &str) -> String {
    let mut out = String::with_capacity(open_metrics.len());
    let mut help: Option<&str> = None;
    for line in open_metrics.lines() {
        if line.starts_with("# HELP ") {
            help = Some(line);
            continue;
        }
        if let Some((name, kind)) = line
            .strip_prefix("# TYPE ")
            .and_then(|rest| rest.split_once(' '))
        {
            let (name, kind) = match kind {
                "counter" if !name.ends_with("_total") => (format!("{name}_total"), kind),
                "unknown" => (name.to_owned(), "untyped"),
                _ => (name.to_owned(), kind),
            };
            if let Some(text) = help
                .take()
                .and_then(|h| h.strip_prefix("# HELP "))
                .and_then(|h| h.split_once(' '))
                .map(|(_, text)| text)
            {
                out.push_str(&format!("# HELP {name} {text}\n"));
            }
            out.push_str(&format!("# TYPE {name} {kind}\n"));
            continue;
        }
        if let Some(h) = help.take() {
            out.push_str(h);
            out.push('\n');
        }
        if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
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
            "unseal_key_renew_period_seconds 0",
            "unseal_key_backup_enabled 0",
            "unseal_key_backup_last_success_timestamp_seconds 0",
            "unseal_build_info{version=",
        ] {
            assert!(text.contains(name), "{name} missing from\n{text}");
        }
    }

    #[test]
    fn the_text_format_names_counters_by_their_samples() {
        let m = Metrics::default();
        m.reconciles
            .get_or_create(&ResultLabel { result: "synced" })
            .inc();
        let open = m.render();
        assert!(
            open.contains("# TYPE unseal_reconciles counter\n"),
            "{open}"
        );
        assert!(open.ends_with("# EOF\n"), "{open}");
        let text = m.render_text();
        assert!(
            text.contains(
                "# HELP unseal_reconciles_total SealedSecret reconciles by result.\n# TYPE unseal_reconciles_total counter\nunseal_reconciles_total{result=\"synced\"} 1\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("# TYPE unseal_keys gauge\nunseal_keys 0\n"),
            "{text}"
        );
        assert!(
            !text.contains("# EOF") && !text.contains("# UNIT"),
            "{text}"
        );
        // The same samples, line for line.
        let samples = |t: &str| -> Vec<String> {
            t.lines()
                .filter(|l| !l.starts_with('#'))
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(samples(&open), samples(&text));
    }
}
