//! The real Kubernetes control plane for a test binary: etcd, kube-apiserver (RBAC and
//! Node authorization, the default admission plugins) and kube-controller-manager
//! (garbage collector, namespaces, service accounts), built from their published Go
//! modules by `scripts/control-plane` and started on loopback the first time a test asks
//! for it. Every later test of the binary shares it; it stops when the binary exits,
//! however that happens (a watchdog on the binary's pid).
//!
//! ```no_run
//! # async fn example() {
//! let Some(cluster) = control_plane::get() else { return }; // no Go here: skipped
//! let admin = cluster.client().await;
//! let ns = cluster.namespace(&admin, "gc").await;
//! control_plane::install_deploy(&admin).await.expect("deploy/ applies");
//! let controller = cluster.client_as(control_plane::CONTROLLER_USER).await;
//! # }
//! ```
//!
//! - No `go` on `PATH`: [`get`] returns `None` and says once on stderr that the real
//!   control plane tests did not run. In CI (`CI` set) that is a failure instead.
//! - With Go, failing to build or start is a panic naming the component and quoting the
//!   end of its log, never a skip.
//! - The SealedSecret CRD (deploy/cluster/crd.yaml) exists from the start, created before the
//!   controller manager starts: its garbage collector collects what a deleted
//!   SealedSecret owned at once (a kind created later is noticed up to 30 s later).
//! - Logs (`<component>.log`) are in a temporary directory removed when the binary exits;
//!   `SEAL_CONTROL_PLANE_KEEP=1` keeps it.
//! - `SEAL_CONTROL_PLANE_KUBECONFIG=PATH` uses a control plane already running (e.g. from
//!   `scripts/control-plane up`) instead of starting one: quicker while iterating.

mod cluster;
mod in_cluster;
mod launch;
mod manifests;
pub mod sealed_secrets;
mod wait;

pub use cluster::{CONTROLLER_USER, ControlPlane, TEST_NAMESPACE_LABEL};
pub use in_cluster::{InCluster, bitnami_controller};
pub use manifests::{ApplyError, FIELD_MANAGER, apply, deploy_documents, install_deploy};
pub use wait::{wait_deleted, wait_for};

use std::sync::OnceLock;

static STARTED: OnceLock<Result<Option<ControlPlane>, String>> = OnceLock::new();

/// This test binary's control plane, started (and built, the first time on a machine) on
/// the first call; `None` when Go is absent and this is not CI (the tests are skipped,
/// and that is said once). Blocks while starting, so call it before anything that times
/// out. Panics, in every test that calls it, when the control plane could not be built
/// or started.
pub fn get() -> Option<&'static ControlPlane> {
    match STARTED.get_or_init(launch::start) {
        Ok(cluster) => cluster.as_ref(),
        Err(why) => panic!("{why}"),
    }
}
