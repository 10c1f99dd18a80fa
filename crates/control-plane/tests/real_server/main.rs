//! The test harness proven against the real control plane (kube-apiserver,
//! kube-controller-manager and etcd, see `scripts/control-plane`): `deploy/` installs and
//! its CRD validates, deploy/rbac.yaml grants the controller exactly what it needs, a
//! metadata-only list carries no Secret data, and the garbage collector removes what a
//! deleted SealedSecret owned. Skipped, saying so, where Go is absent. One test binary,
//! so one control plane.

mod deploy;
mod gc;
mod metadata;
mod rbac;
mod support;
