//! The binding header line, `seal_core::binding::Header::split`: see `seal_fuzz::format::header`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| seal_fuzz::format::header(data));
