//! `seal_core::ciphertext::read` / `check` on arbitrary bytes: see `seal_fuzz::format::ciphertext`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| seal_fuzz::format::ciphertext(data));
