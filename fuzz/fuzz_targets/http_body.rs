//! The controller's request body parser, `unseal::http::request::parse_one`: see `seal_fuzz::http::http_body`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| seal_fuzz::http::http_body(data));
