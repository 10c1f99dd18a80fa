//! The restart and rotation rows (issue 16), against the double, after the initial sync
//! of `scripts/bench controller N`: the controller is stopped as a rolling update stops
//! it (SIGTERM) and started again over the N synced SealedSecrets, then a new key is
//! made. Counted from the double's request log and the controller's own metrics: reads
//! of single SealedSecrets, writes (leases and events aside) and values opened.

use std::io::{Read, Write};

use std::process::Child;
use std::time::{Duration, Instant};

use apiserver_double::{ApiServerDouble, Request, ResourceKind};

use crate::controller::{NS, spawn_controller};

/// What the restart and the rotation cost.
pub struct RestartFigures {
    /// From the new process's start to holding the Lease.
    pub leader: Duration,
    /// From the new process's start to `/readyz` answering 200 (caches synced).
    pub ready: Duration,
    /// From the start to every SealedSecret found unchanged by its sync record.
    pub steady: Duration,
    /// From caches synced to every SealedSecret found unchanged.
    pub steady_after_ready: Duration,
    /// Single SealedSecrets read by the new process.
    pub reads: usize,
    /// Writes by the new process, leases and events aside.
    pub writes: usize,
    /// Values the new process opened.
    pub opened: u64,
    /// After a new key: single SealedSecrets read, values opened.
    pub rotation_reads: usize,
    /// After a new key: values opened.
    pub rotation_opened: u64,
}

/// A free loopback port.
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// `GET path` on the controller's HTTP API: status and body.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, text))
}

/// The value of the metric line starting with `name` (0 when absent).
fn metric(port: u16, name: &str) -> u64 {
    get(port, "/metrics")
        .and_then(|(_, text)| {
            text.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(0, |v| v as u64)
}

fn reads_one_sealed_secret(r: &Request) -> bool {
    let path = r.path.split('?').next().unwrap_or_default();
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    r.method == "GET" && parts.len() == 7 && parts[5] == "sealedsecrets"
}

/// Stops `child` with SIGTERM and waits for it.
fn terminate(child: &mut Child) -> anyhow::Result<()> {
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    child.wait()?;
    Ok(())
}

/// What the restart needs from the API server it runs against.
pub struct Server<C, K, A> {
    /// Cumulative (single SealedSecrets read, writes besides leases and events).
    pub counts: C,
    /// Stores a new key Secret.
    pub add_key: K,
    /// The active recipient the controller publishes.
    pub active: A,
}

/// Restarts the controller over `n` synced SealedSecrets, then makes a new key.
pub async fn run<C, K, A>(
    server: &Server<C, K, A>,
    mut child: Child,
    kubeconfig: &std::path::Path,
    n: usize,
    against: &str,
) -> anyhow::Result<RestartFigures>
where
    C: AsyncFn() -> anyhow::Result<(u64, u64)>,
    K: AsyncFn(k8s_openapi::api::core::v1::Secret) -> anyhow::Result<()>,
    A: AsyncFn() -> anyhow::Result<Option<String>>,
{
    terminate(&mut child)?;
    let (reads_before, writes_before) = (server.counts)().await?;
    let port = free_port()?;
    let started = Instant::now();
    let mut child = spawn_controller(kubeconfig, &format!("127.0.0.1:{port}"))?;
    let deadline = started + Duration::from_secs(600);
    // Ready means caches synced only on the leader: wait for the lease first.
    let leader = loop {
        if metric(port, "unseal_leader ") == 1 {
            break started.elapsed();
        }
        anyhow::ensure!(Instant::now() < deadline, "not leader after 10 minutes");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let ready = loop {
        if get(port, "/readyz").is_some_and(|(s, _)| s == 200) {
            break started.elapsed();
        }
        anyhow::ensure!(Instant::now() < deadline, "not ready after 10 minutes");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let unchanged = "unseal_reconciles_total{result=\"unchanged\"}";
    let steady = loop {
        if metric(port, unchanged) >= n as u64 {
            break started.elapsed();
        }
        anyhow::ensure!(Instant::now() < deadline, "not steady after 10 minutes");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let opened = "unseal_sealed_values_opened_total";
    let (reads_after, writes_after) = (server.counts)().await?;
    let opened_at_start = metric(port, opened);

    // A new key, as `unseal rotate` makes it; the controller has taken it once the
    // recipients it publishes name it.
    let key = age::x25519::Identity::generate();
    let recipient = key.to_public().to_string();
    let secret = unseal::keys::secrets::encode(
        "seal-key-bench-rotation",
        NS,
        &key,
        unseal::clock::now(),
        false,
    );
    (server.add_key)(secret).await?;
    while (server.active)().await?.as_deref() != Some(recipient.as_str()) {
        anyhow::ensure!(Instant::now() < deadline, "new key not taken");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // What a re-sync of every object would cost shows within seconds; give it five.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (reads_rotated, _) = (server.counts)().await?;
    let rotation_opened = metric(port, opened) - opened_at_start;
    terminate(&mut child)?;
    let figures = RestartFigures {
        leader,
        ready,
        steady,
        steady_after_ready: steady.saturating_sub(ready),
        reads: (reads_after - reads_before) as usize,
        writes: (writes_after - writes_before) as usize,
        opened: opened_at_start,
        rotation_reads: (reads_rotated - reads_after) as usize,
        rotation_opened,
    };
    figures.print(n, against);
    Ok(figures)
}

/// The double as a [`Server`]: counts from its request log.
pub async fn on_double(
    double: &ApiServerDouble,
    child: Child,
    kubeconfig: &std::path::Path,
    n: usize,
) -> anyhow::Result<RestartFigures> {
    let server = Server {
        counts: async || {
            let log = double.log();
            let reads = log.iter().filter(|r| reads_one_sealed_secret(r)).count();
            let writes = log
                .iter()
                .filter(|r| r.is_write() && !r.is_for("leases") && !r.is_for("events"))
                .count();
            Ok((reads as u64, writes as u64))
        },
        add_key: async |secret: k8s_openapi::api::core::v1::Secret| {
            let body = serde_json::to_value(&secret)?;
            double
                .with_store(|s| s.create(&ResourceKind::secrets(), NS, body))
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            Ok(())
        },
        active: async || {
            Ok(double
                .get(&ResourceKind::config_maps(), NS, "unseal-recipients")
                .and_then(|cm| cm["data"]["active"].as_str().map(str::to_owned)))
        },
    };
    run(&server, child, kubeconfig, n, "the double").await
}

impl RestartFigures {
    /// Prints the rows.
    pub fn print(&self, n: usize, against: &str) {
        println!("\n== restart over {n} synced SealedSecrets, nothing changed ({against}) ==");
        println!(
            "  leading {:.2} s after start; caches synced (/readyz) {:.2} s after start; every object known in sync {:.2} s after start, {:.2} s after the caches (target <= 2 s)",
            self.leader.as_secs_f64(),
            self.ready.as_secs_f64(),
            self.steady.as_secs_f64(),
            self.steady_after_ready.as_secs_f64()
        );
        println!(
            "  single SealedSecrets read: {} (target 0); values opened: {} (target 0); writes: {} (target 0)",
            self.reads, self.opened, self.writes
        );
        println!("== a new key over {n} synced SealedSecrets ({against}) ==");
        println!(
            "  single SealedSecrets read in the 5 s after: {} (target 0); values opened: {}",
            self.rotation_reads, self.rotation_opened
        );
    }
}
