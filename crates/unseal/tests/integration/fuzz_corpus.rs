//! Replays the fuzz corpus of the HTTP request parsers (`fuzz/corpus/http_body/`,
//! `fuzz/corpus/http_query/`) with the fuzz targets' own invariant checks
//! (`fuzz/src/http.rs`, included here by path), so that every input that once broke an
//! invariant stays a test case. See the README, "Fuzzing".

use std::path::{Path, PathBuf};

#[allow(dead_code)]
#[path = "../../../../fuzz/src/common.rs"]
mod common;
#[path = "../../../../fuzz/src/http.rs"]
mod http;

fn corpus(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

#[test]
fn http_body_corpus_keeps_its_invariants() {
    common::replay(&corpus("http_body"), 4, http::http_body);
}

#[test]
fn http_query_corpus_keeps_its_invariants() {
    common::replay(&corpus("http_query"), 4, http::http_query);
}
