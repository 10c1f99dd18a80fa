//! Working with a config repo: the `.seal.yaml` rules, sealing a whole tree without Git
//! churn, and the pre-commit check.

pub mod check;
pub mod config;
pub mod git;
pub mod lookup;
pub mod memory;
pub mod tree;
pub mod walk;
