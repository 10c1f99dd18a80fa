//! `seal_core::envelope::open_value` (and `seal_value`) with the keys-example identity: see `seal_fuzz::format::envelope`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| seal_fuzz::format::envelope(data));
