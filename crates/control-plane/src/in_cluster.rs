//! A controller that accepts only in-cluster configuration (the bitnami sealed-secrets
//! controller) run as a process outside any cluster: in a private mount namespace whose
//! `/run/secrets/kubernetes.io/serviceaccount` holds the given token and CA, with
//! `KUBERNETES_SERVICE_HOST`/`_PORT` naming the API server.

use std::path::Path;
use std::process::{Command, Stdio};

/// Where the process's in-cluster identity comes from.
pub struct InCluster<'a> {
    /// The API server, `https://host:port`.
    pub server: &'a str,
    /// Its CA certificate (PEM).
    pub ca: &'a [u8],
    /// The bearer token the process uses.
    pub token: &'a str,
    /// The pod namespace it believes it runs in.
    pub namespace: &'a str,
}

/// The bitnami controller at `controller` as a command ready to spawn: its service
/// account files in `dir/serviceaccount`, its output in `dir/bitnami-controller.log`,
/// no key renewal, loopback listeners and no client throttle. No fork: `unshare` execs
/// `sh`, which execs the controller, so the child's pid is the controller's once it
/// runs. Root makes the mount namespace as it is; anyone else needs a user namespace too.
pub fn bitnami_controller(
    controller: &Path,
    dir: &Path,
    identity: &InCluster<'_>,
) -> std::io::Result<Command> {
    let sa = dir.join("serviceaccount");
    std::fs::create_dir_all(&sa)?;
    std::fs::write(sa.join("ca.crt"), identity.ca)?;
    std::fs::write(sa.join("token"), identity.token)?;
    std::fs::write(sa.join("namespace"), identity.namespace)?;
    let (host, port) = identity
        .server
        .trim_start_matches("https://")
        .rsplit_once(':')
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("no host:port in {}", identity.server),
            )
        })?;
    let log = std::fs::File::create(dir.join("bitnami-controller.log"))?;
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    let mut unshare = Command::new("unshare");
    if !root {
        unshare.arg("--map-root-user");
    }
    unshare
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(
            "mount -t tmpfs tmpfs /run && mkdir -p /run/secrets/kubernetes.io/serviceaccount \
             && cp \"$1\"/* /run/secrets/kubernetes.io/serviceaccount/ \
             && exec \"$2\" --key-renew-period 0 --listen-addr 127.0.0.1:0 \
             --listen-metrics-addr 127.0.0.1:0 --kubeclient-qps -1",
        )
        .arg("sh")
        .arg(&sa)
        .arg(controller)
        .env("KUBERNETES_SERVICE_HOST", host)
        .env("KUBERNETES_SERVICE_PORT", port)
        .env("POD_NAMESPACE", identity.namespace)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    Ok(unshare)
}
