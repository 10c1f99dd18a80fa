//! Replays the fuzz corpus of the format and manifest targets (`fuzz/corpus/<target>/`)
//! on stable Rust with the fuzz targets' own invariant checks (`fuzz/src/`, included
//! here by path), so that every input that once broke an invariant stays a test case.
//! See the README, "Fuzzing".

use std::path::{Path, PathBuf};

#[path = "../../../fuzz/src/bitnami.rs"]
mod bitnami;
#[path = "../../../fuzz/src/common.rs"]
mod common;
#[path = "../../../fuzz/src/format.rs"]
mod format;
#[path = "../../../fuzz/src/manifests.rs"]
mod manifests;

fn corpus(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

#[test]
fn ciphertext_corpus_keeps_its_invariants() {
    common::replay(&corpus("ciphertext"), 10, format::ciphertext);
}

#[test]
fn envelope_corpus_keeps_its_invariants() {
    common::replay(&corpus("envelope"), 10, format::envelope);
}

#[test]
fn header_corpus_keeps_its_invariants() {
    common::replay(&corpus("header"), 5, format::header);
}

#[test]
fn documents_corpus_keeps_its_invariants() {
    common::replay(&corpus("documents"), 5, manifests::documents);
}

#[test]
fn bitnami_corpus_keeps_its_invariants() {
    common::replay(&corpus("bitnami"), 6, bitnami::bitnami);
}
