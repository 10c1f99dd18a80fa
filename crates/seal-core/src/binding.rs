//! [`Binding`]: where a value is sealed for, and the header line that carries it inside
//! the ciphertext (format v1, see docs/FORMAT.md).
//!
//! age has no associated data, so the binding travels in the plaintext: one header line,
//! then the value's bytes. age authenticates the whole plaintext, so the header cannot be
//! changed without the value failing to open.

use crate::error::OpenError;
use crate::names::{self, NameProblem};
use crate::scope::Scope;

/// The first token of every v1 header.
pub const FORMAT_V1: &str = "seal.dev/v1";

/// The longest header a reader accepts (the longest valid one is about 600 bytes).
pub const MAX_HEADER_LEN: usize = 1024;

/// Where a value is sealed for (when sealing) or where it stands (when opening).
///
/// In every scope the key is bound; `namespace` is bound in `strict` and `namespace`
/// scope, `name` only in `strict` scope. Fields the scope does not bind are ignored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    /// How far the value may travel.
    pub scope: Scope,
    /// The namespace (empty when unknown; then only `cluster` scope is valid).
    pub namespace: String,
    /// The SealedSecret's (and Secret's) name.
    pub name: String,
    /// The key in `data` / `encryptedData`.
    pub key: String,
}

/// Which part of a binding is invalid, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct BindingError {
    /// `metadata.namespace`, `metadata.name` or the key.
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: NameProblem,
}

impl Binding {
    /// A binding whose parts the scope needs are present and valid.
    pub fn new(scope: Scope, namespace: &str, name: &str, key: &str) -> Result<Self, BindingError> {
        names::check_key(key).map_err(|problem| BindingError {
            field: "key",
            problem,
        })?;
        if scope.binds_namespace() {
            if namespace.is_empty() {
                return Err(BindingError {
                    field: "metadata.namespace",
                    problem: "required for strict and namespace scope (set it in the manifest, or pass -n, or use --scope cluster)",
                });
            }
            names::check_namespace(namespace).map_err(|problem| BindingError {
                field: "metadata.namespace",
                problem,
            })?;
        }
        if scope.binds_name() {
            names::check_object_name(name).map_err(|problem| BindingError {
                field: "metadata.name",
                problem,
            })?;
        }
        Ok(Self {
            scope,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            key: key.to_owned(),
        })
    }

    /// The header line (with its trailing newline) that seals this binding.
    pub fn header_line(&self) -> String {
        let mut line = format!("{FORMAT_V1} {}", self.scope);
        if self.scope.binds_namespace() {
            line.push(' ');
            line.push_str(&self.namespace);
        }
        if self.scope.binds_name() {
            line.push(' ');
            line.push_str(&self.name);
        }
        line.push(' ');
        line.push_str(&self.key);
        line.push('\n');
        line
    }

    /// Checks an opened header against where the value stands. The header is the only
    /// truth about scope; a header whose scope differs from this binding's declared scope
    /// is refused too, so that what `spec.scope` says is always what opened.
    pub fn accepts(&self, header: &Header) -> Result<(), OpenError> {
        let mismatch = |field: &'static str, sealed: &str, here: &str| OpenError::ScopeMismatch {
            field,
            sealed_for: sealed.to_owned(),
            stands_in: here.to_owned(),
        };
        if header.scope != self.scope {
            return Err(mismatch(
                "scope",
                header.scope.as_str(),
                self.scope.as_str(),
            ));
        }
        if let Some(ns) = &header.namespace
            && ns != &self.namespace
        {
            return Err(mismatch("namespace", ns, &self.namespace));
        }
        if let Some(name) = &header.name
            && name != &self.name
        {
            return Err(mismatch("name", name, &self.name));
        }
        if header.key != self.key {
            return Err(mismatch("key", &header.key, &self.key));
        }
        Ok(())
    }
}

/// A parsed v1 header: what the value was sealed for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The scope the value was sealed with.
    pub scope: Scope,
    /// The namespace, in `strict` and `namespace` scope.
    pub namespace: Option<String>,
    /// The name, in `strict` scope.
    pub name: Option<String>,
    /// The key.
    pub key: String,
}

impl Header {
    /// Splits an opened plaintext into its header and the value's bytes.
    ///
    /// Refuses anything that is not a well-formed v1 header: an unknown version, a
    /// missing or overlong header line, a wrong number of fields, names Kubernetes would
    /// reject. Error messages never include bytes of the plaintext except a version token
    /// of the expected shape.
    pub fn split(plaintext: &[u8]) -> Result<(Header, &[u8]), OpenError> {
        let window = &plaintext[..plaintext.len().min(MAX_HEADER_LEN)];
        let Some(end) = window.iter().position(|b| *b == b'\n') else {
            return Err(OpenError::NotSealFormat);
        };
        let line = std::str::from_utf8(&plaintext[..end]).map_err(|_| OpenError::NotSealFormat)?;
        let value = &plaintext[end + 1..];
        let mut fields = line.split(' ');
        let version = fields.next().unwrap_or_default();
        if version != FORMAT_V1 {
            return Err(unsupported(version));
        }
        let scope: Scope = fields
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or(OpenError::NotSealFormat)?;
        let rest: Vec<&str> = fields.collect();
        let expected = 1 + usize::from(scope.binds_namespace()) + usize::from(scope.binds_name());
        if rest.len() != expected {
            return Err(OpenError::NotSealFormat);
        }
        let mut rest = rest.into_iter();
        let mut take = || rest.next().map(str::to_owned).unwrap_or_default();
        let namespace = scope.binds_namespace().then(&mut take);
        let name = scope.binds_name().then(&mut take);
        let key = take();
        let binding_ok = names::check_key(&key).is_ok()
            && namespace
                .as_deref()
                .is_none_or(|n| names::check_namespace(n).is_ok())
            && name
                .as_deref()
                .is_none_or(|n| names::check_object_name(n).is_ok());
        if !binding_ok {
            return Err(OpenError::NotSealFormat);
        }
        Ok((
            Header {
                scope,
                namespace,
                name,
                key,
            },
            value,
        ))
    }
}

/// A version token is shown only when it has the shape of one of ours (`seal.dev/v…`,
/// short, plain ASCII); anything else might be someone's plaintext.
fn unsupported(version: &str) -> OpenError {
    let ours = version.len() <= 32
        && version
            .strip_prefix("seal.dev/")
            .is_some_and(|v| v.bytes().all(|b| b.is_ascii_alphanumeric()));
    if ours {
        OpenError::UnsupportedVersion {
            version: version.to_owned(),
        }
    } else {
        OpenError::NotSealFormat
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict() -> Binding {
        Binding::new(Scope::Strict, "apps", "db", "password").expect("valid binding")
    }

    #[test]
    fn header_lines_per_scope() {
        assert_eq!(
            strict().header_line(),
            "seal.dev/v1 strict apps db password\n"
        );
        let ns = Binding::new(Scope::Namespace, "apps", "db", "password").expect("valid");
        assert_eq!(ns.header_line(), "seal.dev/v1 namespace apps password\n");
        let cl = Binding::new(Scope::Cluster, "", "", "password").expect("valid");
        assert_eq!(cl.header_line(), "seal.dev/v1 cluster password\n");
    }

    #[test]
    fn header_round_trips_and_accepts_its_binding() {
        for b in [
            strict(),
            Binding::new(Scope::Namespace, "apps", "x", "k").expect("valid"),
            Binding::new(Scope::Cluster, "", "", "k").expect("valid"),
        ] {
            let mut plain = b.header_line().into_bytes();
            plain.extend_from_slice(b"value\nwith newline");
            let (header, value) = Header::split(&plain).expect("parses");
            assert_eq!(value, b"value\nwith newline");
            assert_eq!(b.accepts(&header), Ok(()));
        }
    }

    #[test]
    fn moved_values_are_refused_naming_the_field() {
        let (header, _) = Header::split(strict().header_line().as_bytes()).expect("parses");
        let cases = [
            (
                Binding {
                    namespace: "other".into(),
                    ..strict()
                },
                "namespace",
            ),
            (
                Binding {
                    name: "other".into(),
                    ..strict()
                },
                "name",
            ),
            (
                Binding {
                    key: "username".into(),
                    ..strict()
                },
                "key",
            ),
            (
                Binding {
                    scope: Scope::Cluster,
                    ..strict()
                },
                "scope",
            ),
        ];
        for (here, field) in cases {
            match here.accepts(&header) {
                Err(OpenError::ScopeMismatch { field: f, .. }) => assert_eq!(f, field),
                other => panic!("expected mismatch on {field}, got {other:?}"),
            }
        }
    }

    #[test]
    fn wider_scopes_ignore_what_they_do_not_bind() {
        let b = Binding::new(Scope::Namespace, "apps", "db", "k").expect("valid");
        let (header, _) = Header::split(b.header_line().as_bytes()).expect("parses");
        let renamed = Binding {
            name: "renamed".into(),
            ..b
        };
        assert_eq!(renamed.accepts(&header), Ok(()));
    }

    #[test]
    fn malformed_headers_are_refused() {
        let cases: [(&[u8], &str); 6] = [
            (b"no newline at all", "NotSealFormat"),
            (b"seal.dev/v2 strict a b c\nx", "UnsupportedVersion"),
            (b"hunter2 strict a b c\nx", "NotSealFormat"),
            (b"seal.dev/v1 strict a b\nx", "NotSealFormat"),
            (b"seal.dev/v1 global k\nx", "NotSealFormat"),
            (b"seal.dev/v1 cluster bad/key\nx", "NotSealFormat"),
        ];
        for (plain, reason) in cases {
            let err = Header::split(plain).expect_err("must fail");
            assert_eq!(err.reason(), reason, "{:?}", String::from_utf8_lossy(plain));
            assert!(!err.to_string().contains("hunter2"));
        }
    }

    #[test]
    fn bindings_need_what_their_scope_binds() {
        assert_eq!(
            Binding::new(Scope::Strict, "", "db", "k").map_err(|e| e.field),
            Err("metadata.namespace")
        );
        assert_eq!(
            Binding::new(Scope::Strict, "apps", "Bad Name", "k").map_err(|e| e.field),
            Err("metadata.name")
        );
        assert_eq!(
            Binding::new(Scope::Cluster, "", "", "a b").map_err(|e| e.field),
            Err("key")
        );
    }
}
