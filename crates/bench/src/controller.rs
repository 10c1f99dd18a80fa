//! Controller benchmark against the API-server double (`scripts/bench controller [N]`).
//!
//! The double runs in this process; the controller is the release `unseal run` binary in
//! a child process (the shipped binary, allocator included), so its CPU time and memory
//! are measured alone from /proc.
//! Reports: idle RSS with no SealedSecrets, time and objects per second to sync N new
//! SealedSecrets, CPU per reconcile, peak RSS, RSS once synced, and the writes made in a
//! following steady period (should be zero).

use std::time::{Duration, Instant};

use apiserver_double::{ApiServerDouble, LabelSelector, ResourceKind};
use seal_core::convert::{self, SealOptions};
use seal_core::{PlainSecret, Recipients, SecretBytes};

/// The controller's namespace.
pub(crate) const NS: &str = "seal-system";

/// A process measured from /proc.
pub(crate) struct Proc(pub(crate) u32);

impl Proc {
    /// A `/proc/PID/status` field in KiB (`VmRSS:`, `VmHWM:`).
    pub(crate) fn status(&self, field: &str) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.0))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with(field))
                    .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
            })
            .unwrap_or(0)
    }

    /// User + system CPU seconds.
    pub(crate) fn cpu(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.0)).unwrap_or_default();
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, r)| r.split_whitespace().collect())
            .unwrap_or_default();
        let ticks: f64 = fields
            .get(11..13)
            .map(|f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum())
            .unwrap_or(0.0);
        ticks / 100.0
    }
}

/// The load average over 1, 5 and 15 minutes, as `/proc/loadavg` gives it: the machine
/// is shared, and a figure means little without how busy it was.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// KiB as MiB.
pub(crate) fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// `n` SealedSecrets of 5 keys each, sealed to `recipient`, spread over `namespaces` in
/// turn (as JSON, in that order).
pub(crate) fn sealed_objects(
    n: usize,
    recipient: &str,
    namespaces: &[String],
) -> anyhow::Result<Vec<serde_json::Value>> {
    let mut to = Recipients::new();
    to.add_arg("bench", recipient)?;
    let mut objects = Vec::with_capacity(n);
    for i in 0..n {
        let mut p = PlainSecret {
            name: format!("s{i:05}"),
            namespace: Some(namespaces[i % namespaces.len()].clone()),
            ..Default::default()
        };
        for k in 0..5 {
            p.data.insert(
                format!("key{k}"),
                SecretBytes::copy_from(format!("value-{i}-{k}-0123456789abcdef").as_bytes()),
            );
        }
        objects.push(serde_json::to_value(convert::seal_secret(
            &p,
            &to,
            &SealOptions::default(),
        )?)?);
    }
    Ok(objects)
}

/// The release `unseal` binary beside this one.
pub(crate) fn unseal_binary() -> anyhow::Result<std::path::PathBuf> {
    let unseal = std::env::current_exe()?.with_file_name("unseal");
    anyhow::ensure!(
        unseal.exists(),
        "{} missing: run scripts/bench (it builds unseal in release)",
        unseal.display()
    );
    Ok(unseal)
}

/// Starts `unseal run` with this kubeconfig, as the benchmark runs it.
pub(crate) fn spawn_controller(
    kubeconfig: &std::path::Path,
    listen: &str,
) -> anyhow::Result<std::process::Child> {
    Ok(std::process::Command::new(unseal_binary()?)
        .arg("run")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args([
            "--controller-namespace",
            NS,
            "--identity",
            "bench",
            "--listen",
            listen,
            "--lease-renew-period",
            "200ms",
            "--resync-period",
            "1h",
        ])
        .env("UNSEAL_LOG", "warn")
        .spawn()?)
}

/// Runs the double, starts the controller child, measures.
pub async fn parent(n: usize) -> anyhow::Result<Figures> {
    let double = ApiServerDouble::start().await?;
    let dir = tempfile::tempdir()?;
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, double.kubeconfig("default"))?;
    let child = spawn_controller(&kubeconfig, "127.0.0.1:0")?;
    let proc = Proc(child.id());
    let secrets = ResourceKind::secrets();
    let everything = LabelSelector::parse("").map_err(anyhow::Error::msg)?;
    let key_selector =
        LabelSelector::parse(unseal::keys::secrets::KEY_SELECTOR).map_err(anyhow::Error::msg)?;
    // Wait for the controller to make its key, then read the recipient it publishes.
    let recipient = loop {
        if let Some(cm) = double.get(&ResourceKind::config_maps(), NS, "unseal-recipients") {
            break cm["data"]["active"].as_str().unwrap_or_default().to_owned();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let keys = double.with_store(|s| s.list(&secrets, Some(NS), &key_selector, &everything).len());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_empty = proc.status("VmRSS:");
    let sealed_kind = ResourceKind::new("seal.dev", "v1alpha1", "sealedsecrets");
    let teams: Vec<String> = (0..10).map(|t| format!("team-{t}")).collect();
    let objects = sealed_objects(n, &recipient, &teams)?;
    // Count Secret writes (cheap) rather than listing 10,000 objects every few ms, which
    // would hold the double's lock and steal the CPU being measured. Counted from before
    // the first batch: the controller writes while later batches arrive.
    let secret_writes = |d: &ApiServerDouble| d.writes().get("secrets").copied().unwrap_or(0);
    let writes_at_start = secret_writes(&double);
    let load_at_start = load_average();
    // The double runs in this process: its CPU is this process's, over the same span.
    let this = Proc(std::process::id());
    let cpu_before = proc.cpu();
    let server_cpu_before = this.cpu();
    let started = Instant::now();
    // In batches, as clients would send them: one store lock for 100,000 creations made
    // the double's watches fall more than its 65,536 buffered changes behind (410
    // Expired, re-lists), and kept the controller's Lease renewals waiting.
    let mut objects = objects.into_iter().enumerate().peekable();
    while objects.peek().is_some() {
        double.with_store(|s| {
            for (i, obj) in objects.by_ref().take(1000) {
                let _ = s.create(&sealed_kind, &teams[i % teams.len()], obj);
            }
        });
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    loop {
        let synced = secret_writes(&double) - writes_at_start;
        if synced >= n {
            break;
        }
        if started.elapsed() > Duration::from_secs(600) {
            anyhow::bail!("only {synced} of {n} synced after 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    let owned =
        LabelSelector::parse(unseal::secret_sync::MANAGED_SELECTOR).map_err(anyhow::Error::msg)?;
    let created = double.with_store(|s| s.list(&secrets, None, &owned, &everything).len());
    anyhow::ensure!(
        created == n,
        "{created} owned Secrets for {n} SealedSecrets"
    );
    // Status writes trail the Secret writes; let them land before measuring the steady state.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let cpu = proc.cpu() - cpu_before;
    let server_cpu = this.cpu() - server_cpu_before;
    let peak = proc.status("VmHWM:");
    let steady = || double.writes_besides(&["leases", "events"]);
    let writes_before = steady();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let writes_after = steady();
    let idle_synced = proc.status("VmRSS:");
    // jemalloc hands freed pages back over its 10-second decay; idle a while longer shows
    // where the RSS settles, not only where it is 8 s after the burst.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let idle_settled = proc.status("VmRSS:");
    let restart = crate::restart::on_double(&double, child, &kubeconfig, n).await?;
    let figures = Figures {
        n,
        keys,
        sync: elapsed,
        cpu,
        server_cpu: Some(("the double (this process)", server_cpu)),
        load: format!("{load_at_start} at the start, {} after", load_average()),
        idle_empty,
        idle_synced,
        idle_settled,
        peak,
        restart: Some(restart),
        steady_writes: if writes_after == writes_before {
            "0".to_owned()
        } else {
            format!("{writes_before:?} -> {writes_after:?}")
        },
    };
    figures.print("against the API-server double on loopback (sharing the cores)");
    Ok(figures)
}

/// What one controller run measured.
pub(crate) struct Figures {
    /// SealedSecrets synced.
    pub n: usize,
    /// Key Secrets the controller held.
    pub keys: usize,
    /// From the first SealedSecret written to the last Secret made.
    pub sync: Duration,
    /// The controller's CPU seconds over the sync and its status writes.
    pub cpu: f64,
    /// What served the API and its CPU seconds over the same span, when measured.
    pub server_cpu: Option<(&'static str, f64)>,
    /// The load average at the start of the sync and after it.
    pub load: String,
    /// RSS (KiB) with no SealedSecrets.
    pub idle_empty: u64,
    /// RSS (KiB) 8 s after the sync.
    pub idle_synced: u64,
    /// RSS (KiB) 20 s after the sync.
    pub idle_settled: u64,
    /// Peak RSS (KiB).
    pub peak: u64,
    /// Writes in the 5 s after the sync ("0" when none).
    pub steady_writes: String,
    /// The restart and rotation rows, when measured.
    pub restart: Option<crate::restart::RestartFigures>,
}

impl Figures {
    /// SealedSecrets synced per second.
    pub fn rate(&self) -> f64 {
        self.n as f64 / self.sync.as_secs_f64()
    }

    /// CPU milliseconds per reconcile.
    pub fn cpu_per_reconcile_ms(&self) -> f64 {
        self.cpu * 1000.0 / self.n as f64
    }

    /// Prints the figures under a title saying what the controller ran against.
    pub fn print(&self, against: &str) {
        let (n, keys, rate) = (self.n, self.keys, self.rate());
        println!("\n== controller: {n} SealedSecrets x 5 keys, {keys} key, {against} ==");
        println!(
            "  initial sync:        {:.2} s, {rate:.0} objects/s = {:.2}x the 500/s target",
            self.sync.as_secs_f64(),
            rate / 500.0
        );
        println!(
            "  CPU per reconcile:   {:.3} ms (incl. status write; {:.2} CPU-s total)",
            self.cpu_per_reconcile_ms(),
            self.cpu
        );
        if let Some((server, cpu)) = self.server_cpu {
            println!(
                "  API server CPU:      {cpu:.2} CPU-s in {server} over the same span ({:.3} ms per object)",
                cpu * 1000.0 / self.n as f64
            );
        }
        println!("  load average:        {}", self.load);
        println!("  RSS idle, empty:     {:.1} MiB", mib(self.idle_empty));
        println!(
            "  RSS idle, synced:    {:.1} MiB 8 s after the sync (target <= 32 MiB at 10,000, <= 96 MiB at 100,000)",
            mib(self.idle_synced)
        );
        println!("  RSS idle, 20 s on:   {:.1} MiB", mib(self.idle_settled));
        println!(
            "  per SealedSecret:    {:.0} bytes of idle RSS above the empty controller (20 s on)",
            self.idle_settled.saturating_sub(self.idle_empty) as f64 * 1024.0 / self.n as f64
        );
        println!(
            "  RSS peak:            {:.1} MiB (target <= 64 MiB at 10,000, <= 160 MiB at 100,000)",
            mib(self.peak)
        );
        println!("  writes in 5 s steady state: {}", self.steady_writes);
    }
}
