//! [`Scope`]: how far a sealed value may travel from where it was sealed for.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What a sealed value is bound to, besides its key (which is bound in every scope).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Bound to namespace, name and key: the value opens only where it was sealed for.
    #[default]
    Strict,
    /// Bound to namespace and key: the SealedSecret may be renamed within its namespace.
    Namespace,
    /// Bound to the key only: the SealedSecret may move to any namespace and name.
    Cluster,
}

impl Scope {
    /// The word used on the command line, in `spec.scope` and in the sealed header.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Strict => "strict",
            Scope::Namespace => "namespace",
            Scope::Cluster => "cluster",
        }
    }

    /// Whether values of this scope are bound to a namespace.
    pub fn binds_namespace(self) -> bool {
        matches!(self, Scope::Strict | Scope::Namespace)
    }

    /// Whether values of this scope are bound to the object's name.
    pub fn binds_name(self) -> bool {
        matches!(self, Scope::Strict)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The word given is not one of `strict`, `namespace`, `cluster`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope (expected strict, namespace or cluster)")]
pub struct UnknownScope;

impl FromStr for Scope {
    type Err = UnknownScope;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "strict" => Ok(Scope::Strict),
            "namespace" => Ok(Scope::Namespace),
            "cluster" => Ok(Scope::Cluster),
            _ => Err(UnknownScope),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        for scope in [Scope::Strict, Scope::Namespace, Scope::Cluster] {
            assert_eq!(scope.as_str().parse::<Scope>(), Ok(scope));
        }
        assert_eq!("Strict".parse::<Scope>(), Err(UnknownScope));
    }
}
