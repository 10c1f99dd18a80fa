//! `seal_core::documents::parse`, then `PlainSecret::from_value` and `convert::sealed_secret_from_value` on each document: see `seal_fuzz::manifests::documents`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| seal_fuzz::manifests::documents(data));
