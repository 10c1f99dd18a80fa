//! The name rules Kubernetes applies to Secret keys, object names and namespaces.
//!
//! Checking them before sealing turns a late API-server rejection into an early,
//! precise error, and guarantees that the sealed header (space-separated) is unambiguous:
//! none of these may contain a space or a newline.

/// Why a name was refused; the text never repeats the name itself.
pub type NameProblem = &'static str;

/// A key of a Secret's `data` (Kubernetes' `IsConfigMapKey`).
pub fn check_key(key: &str) -> Result<(), NameProblem> {
    if key.is_empty() {
        return Err("a key must not be empty");
    }
    if key.len() > 253 {
        return Err("a key must be at most 253 characters");
    }
    if !key
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err("a key may hold only letters, digits, '-', '_' and '.'");
    }
    if key == "." || key == ".." || key.starts_with("..") {
        return Err("a key must not be '.' or start with '..'");
    }
    Ok(())
}

/// An object name (DNS-1123 subdomain), as Secrets and SealedSecrets require.
pub fn check_object_name(name: &str) -> Result<(), NameProblem> {
    if name.is_empty() {
        return Err("a name must not be empty");
    }
    if name.len() > 253 {
        return Err("a name must be at most 253 characters");
    }
    // Kubernetes' IsDNS1123Subdomain: labels of the label shape, but no per-label length
    // limit (a 253-character single-label Secret name is accepted by the API server).
    if !name
        .split('.')
        .all(|label| dns_label_shape(label, usize::MAX).is_ok())
    {
        return Err(
            "a name must be lowercase letters, digits, '-' and '.', starting and ending with a letter or digit",
        );
    }
    Ok(())
}

/// A host name as an Ingress or a Gateway route takes it: a DNS-1123 subdomain with at
/// least two labels, not an IP address.
pub fn check_hostname(host: &str) -> Result<(), NameProblem> {
    let problem = "expected a DNS name such as argocd.example.com (lowercase, no scheme, no port)";
    // DNS itself limits each label to 63 characters (object names do not).
    if check_object_name(host).is_err()
        || !host.contains('.')
        || host.split('.').any(|label| label.len() > 63)
    {
        return Err(problem);
    }
    if host
        .split('.')
        .all(|label| label.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(problem);
    }
    Ok(())
}

/// A namespace name (DNS-1123 label).
pub fn check_namespace(namespace: &str) -> Result<(), NameProblem> {
    if namespace.is_empty() {
        return Err("a namespace must not be empty");
    }
    if namespace.len() > 63 {
        return Err("a namespace must be at most 63 characters");
    }
    dns_label_shape(namespace, 63).map_err(|_| {
        "a namespace must be lowercase letters, digits and '-', starting and ending with a letter or digit"
    })
}

fn dns_label_shape(label: &str, max: usize) -> Result<(), ()> {
    let bytes = label.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return Err(());
    };
    let inner_ok = bytes
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-');
    let edge = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if inner_ok && edge(first) && edge(last) && bytes.len() <= max {
        Ok(())
    } else {
        Err(())
    }
}

/// Whether a text holds an age private key (`AGE-SECRET-KEY-…`, in any case): such a text
/// is never shown, not even cut short.
pub fn looks_like_an_identity(text: &str) -> bool {
    text.to_ascii_uppercase().contains("AGE-SECRET-KEY-")
}

/// `text` with every age private key in it replaced by `AGE-SECRET-KEY-…`, for messages
/// that quote input (a parser's message naming an unknown field, say).
pub fn without_identities(text: &str) -> String {
    const PREFIX: &str = "AGE-SECRET-KEY-";
    let upper = text.to_ascii_uppercase();
    let mut out = String::with_capacity(text.len());
    let mut rest = 0;
    while let Some(found) = upper[rest..].find(PREFIX) {
        let start = rest + found;
        out.push_str(&text[rest..start]);
        out.push_str("AGE-SECRET-KEY-…");
        let tail = &text[start + PREFIX.len()..];
        let key_len = tail
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(tail.len());
        rest = start + PREFIX.len() + key_len;
    }
    out.push_str(&text[rest..]);
    out
}

/// Shows a user-given name in an error message: quoted, cut to 64 characters; never a
/// text that holds an age private key.
///
/// Names and keys are not secret, but a mangled manifest can put anything where a name
/// belongs, so what is shown is bounded.
pub fn shown(name: &str) -> String {
    if looks_like_an_identity(name) {
        return "(a value that holds an age private key; not shown)".to_owned();
    }
    let cut: String = name.chars().take(64).collect();
    if cut.len() < name.len() {
        format!("{cut:?}…")
    } else {
        format!("{cut:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_are_never_shown() {
        let text = "Secret AGE-SECRET-KEY-1QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L";
        assert!(!shown(text).contains("QPZRY"));
        assert!(!shown(&text.to_lowercase()).contains("qpzry"));
        assert_eq!(
            without_identities("unknown field `age-secret-key-1abc`, expected path"),
            "unknown field `AGE-SECRET-KEY-…`, expected path"
        );
        assert_eq!(without_identities("nothing here"), "nothing here");
    }

    #[test]
    fn long_single_label_names_are_objects_but_not_namespaces() {
        assert_eq!(check_object_name(&"a".repeat(253)), Ok(()));
        assert!(check_object_name(&"a".repeat(254)).is_err());
        assert!(check_namespace(&"a".repeat(64)).is_err());
    }

    #[test]
    fn keys_follow_kubernetes() {
        for ok in [".dockerconfigjson", "tls.crt", "a_b-c.d", "A", "x..y"] {
            assert_eq!(check_key(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "..x",
            "a b",
            "a/b",
            "é",
            "a\nb",
            &"k".repeat(254),
        ] {
            assert!(check_key(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn object_names_are_dns_subdomains() {
        for ok in ["regcred", "a.b-c", "x1", &"a".repeat(63)] {
            assert_eq!(check_object_name(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "Reg",
            "-a",
            "a-",
            "a..b",
            "a b",
            "a_b",
            &"a".repeat(254),
        ] {
            assert!(check_object_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn hostnames() {
        assert_eq!(check_hostname("argocd.example.com"), Ok(()));
        for bad in [
            "https://a.b",
            "argocd",
            "a.b:443",
            "10.0.0.1",
            "Argo.example.com",
            "*.example.com",
            "",
        ] {
            assert!(check_hostname(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn namespaces_are_dns_labels() {
        assert_eq!(check_namespace("argocd"), Ok(()));
        for bad in ["", "a.b", "A", "-x", &"a".repeat(64)] {
            assert!(check_namespace(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn shown_names_are_bounded() {
        assert_eq!(shown("ab"), "\"ab\"");
        assert!(shown(&"x".repeat(100)).ends_with('…'));
    }
}
