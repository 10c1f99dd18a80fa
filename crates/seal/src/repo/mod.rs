//! Working with a config repo: the `.seal.yaml` rules, sealing a whole tree without Git
//! churn, and the pre-commit check.

pub mod config;
