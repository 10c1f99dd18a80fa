//! The invariants of seal's parsers of untrusted input, checked on any bytes: by the fuzz
//! targets in `fuzz_targets/` and by the corpus replay tests of the workspace crates
//! (`crates/*/tests/fuzz_corpus*.rs`), which include these files with `#[path]` so that
//! a saved input is checked the same way on stable Rust in `cargo test`.
//!
//! Every check panics when an invariant does not hold; an input the code under test
//! merely refuses is fine. The modules refer to one another only as `super::…`, so they
//! can be included side by side anywhere.

pub mod bitnami;
pub mod common;
pub mod config;
pub mod format;
pub mod http;
pub mod manifests;
