//! End-to-end tests of the built `seal` and `unseal` binaries, one module per area. They
//! are one test binary, not one per file: each binary links kube, k8s-openapi and both
//! crates, and a dozen of them made CI's target folder gigabytes larger and its link step
//! the slowest part of the build.

mod argocd;
mod bad_input;
mod break_glass;
mod chart;
mod chart_real;
mod commands;
mod completion;
mod deploy;
mod edit;
mod examples;
mod generators_real;
mod hostile_repo;
mod image;
mod krew;
mod man_pages;
mod merge;
mod migrate;
mod migrate_online;
mod monitoring;
mod online;
mod readme;
mod recipient_trust;
mod repo_workflow;
mod roundtrip;
mod scopes;
mod sync;
mod tools;
mod traps;
