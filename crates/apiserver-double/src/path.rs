//! Parsing request paths into the resource, namespace, name and subresource they address.

/// A kind of resource as the API addresses it: group, version and plural name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceKind {
    /// API group; empty for the core group.
    pub group: String,
    /// API version.
    pub version: String,
    /// Plural resource name (`secrets`, `sealedsecrets`, …).
    pub plural: String,
}

impl ResourceKind {
    /// A kind from its parts.
    pub fn new(group: &str, version: &str, plural: &str) -> Self {
        Self {
            group: group.to_owned(),
            version: version.to_owned(),
            plural: plural.to_owned(),
        }
    }

    /// Core Secrets.
    pub fn secrets() -> Self {
        Self::new("", "v1", "secrets")
    }

    /// Core ConfigMaps.
    pub fn config_maps() -> Self {
        Self::new("", "v1", "configmaps")
    }

    /// The `apiVersion` of objects of this kind.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The `kind` of objects of this resource (a fixed table of what the tests use, with a
    /// best guess otherwise).
    pub fn kind(&self) -> String {
        let known = [
            ("secrets", "Secret"),
            ("configmaps", "ConfigMap"),
            ("events", "Event"),
            ("leases", "Lease"),
            ("sealedsecrets", "SealedSecret"),
            ("namespaces", "Namespace"),
            ("customresourcedefinitions", "CustomResourceDefinition"),
        ];
        known
            .iter()
            .find(|(p, _)| *p == self.plural)
            .map(|(_, k)| (*k).to_owned())
            .unwrap_or_else(|| {
                let mut k = self.plural.trim_end_matches('s').to_owned();
                if let Some(first) = k.get_mut(0..1) {
                    first.make_ascii_uppercase();
                }
                k
            })
    }

    /// Whether writes to the main resource leave `.status` alone (status subresource).
    pub fn has_status_subresource(&self) -> bool {
        self.plural == "sealedsecrets"
    }
}

/// What a request path addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The resource kind.
    pub kind: ResourceKind,
    /// The namespace, when the path names one.
    pub namespace: Option<String>,
    /// The object name, when the path names one.
    pub name: Option<String>,
    /// The subresource (`status`), when present.
    pub subresource: Option<String>,
}

/// Parses `/api/v1/…` and `/apis/<group>/<version>/…` paths.
pub fn parse(path: &str) -> Option<Target> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match parts.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some((*ns).to_owned()), rest),
        _ => (None, rest),
    };
    let (plural, name, subresource) = match rest {
        [plural] => (*plural, None, None),
        [plural, name] => (*plural, Some(*name), None),
        [plural, name, sub] => (*plural, Some(*name), Some(*sub)),
        _ => return None,
    };
    Some(Target {
        kind: ResourceKind::new(group, version, plural),
        namespace,
        name: name.map(str::to_owned),
        subresource: subresource.map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let t = parse("/api/v1/namespaces/apps/secrets/db").expect("parses");
        assert_eq!(t.kind, ResourceKind::secrets());
        assert_eq!(t.namespace.as_deref(), Some("apps"));
        assert_eq!(t.name.as_deref(), Some("db"));
        let t =
            parse("/apis/seal.dev/v1alpha1/namespaces/a/sealedsecrets/x/status").expect("parses");
        assert_eq!(t.kind.group, "seal.dev");
        assert_eq!(t.subresource.as_deref(), Some("status"));
        let t = parse("/api/v1/secrets").expect("parses");
        assert_eq!((t.namespace, t.name), (None, None));
        let t = parse("/api/v1/namespaces/apps").expect("parses");
        assert_eq!(t.kind.plural, "namespaces");
        assert_eq!(t.name.as_deref(), Some("apps"));
        assert_eq!(ResourceKind::secrets().kind(), "Secret");
        assert!(parse("/healthz").is_none());
    }
}
