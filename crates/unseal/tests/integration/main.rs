//! The controller, its HTTP API and its commands, driven through the built `unseal` binary
//! and the real kube client. Each scenario runs twice (`support`): `double::NAME` against
//! the API-server double, `real::NAME` against the real control plane (kube-apiserver and
//! kube-controller-manager, RBAC enforced, one for the whole binary, namespaces of its
//! own per test); what needs the double's faults, stalls or store runs on the double
//! only, and what only the real API server can show on it only. One test binary, not one
//! per file: each links kube and k8s-openapi, and four copies cost CI more disk and link
//! time than the tests take to run.

mod attacks;
mod cli;
mod commands;
mod controller;
mod correctness;
mod fuzz_corpus;
mod handover;
mod http_api;
mod leader;
mod migrate;
mod restart;
mod support;
