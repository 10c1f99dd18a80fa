//! `.seal.yaml`, `seal::repo::config::RepoConfig::load`: see `seal_fuzz::config::seal_config`.
#![no_main]

use std::sync::OnceLock;

use seal_fuzz::config::{ConfigDir, seal_config};

static DIR: OnceLock<ConfigDir> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| seal_config(DIR.get_or_init(ConfigDir::new), data));
