//! The controller's reencrypt query parser, `RecipientChange::parse`: see `seal_fuzz::http::http_query`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| seal_fuzz::http::http_query(data));
