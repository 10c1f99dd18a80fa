//! `seal migrate`'s bitnami readers (key files, SealedSecrets): see `seal_fuzz::bitnami::bitnami`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| seal_fuzz::bitnami::bitnami(data));
