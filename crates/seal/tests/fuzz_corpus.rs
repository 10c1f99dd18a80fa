//! Replays the fuzz corpus of `.seal.yaml` (`fuzz/corpus/seal_config/`) on stable Rust
//! with the fuzz target's own invariant checks (`fuzz/src/config.rs`, included here by
//! path), so that every input that once broke an invariant stays a test case. See the
//! README, "Fuzzing".

use std::path::Path;

#[allow(dead_code)]
#[path = "../../../fuzz/src/common.rs"]
mod common;
#[path = "../../../fuzz/src/config.rs"]
mod config;

#[test]
fn seal_config_corpus_keeps_its_invariants() {
    let dir = config::ConfigDir::new();
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/seal_config");
    common::replay(&corpus, 4, |data| config::seal_config(&dir, data));
}
