//! What the editor shows: the opened SealedSecrets of a file as plain Secret manifests
//! (text values under `stringData`, anything else base64 under `data`), below a comment
//! header that says what the file is, and, after a failed attempt, why it was refused.

use std::collections::BTreeMap;

use seal_core::documents::{self, Format};
use seal_core::{PlainSecret, SecretBytes};
use serde::Serialize;
use zeroize::Zeroizing;

/// Renders the buffer: `header` lines (each prefixed with `# `), then the Secrets.
pub fn render(header: &[String], secrets: &[PlainSecret]) -> anyhow::Result<Zeroizing<String>> {
    let manifests: Vec<Manifest<'_>> = secrets.iter().map(Manifest::of).collect();
    let body = documents::render(&manifests, Format::Yaml)?;
    let mut out = Zeroizing::new(String::with_capacity(body.len() + 512));
    for line in header {
        out.push_str("# ");
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(&body);
    Ok(out)
}

/// The buffer without its leading comment lines (the header `seal` wrote, which a new
/// header replaces when the buffer is shown again).
pub fn without_header(text: &str) -> &str {
    let mut rest = text;
    while rest.starts_with('#') {
        rest = rest.split_once('\n').map_or("", |(_, tail)| tail);
    }
    rest
}

/// Whether the buffer holds nothing but comments and blank lines (the user emptied it).
pub fn is_blank(text: &str) -> bool {
    text.lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
}

/// Reads the edited buffer back as Secrets. The error names the document and field and
/// never carries a value.
pub fn parse(name: &str, text: &str) -> Result<Vec<PlainSecret>, String> {
    let docs = documents::parse(name, text).map_err(|e| e.to_string())?;
    docs.into_iter()
        .map(|doc| {
            let at = doc.at.clone();
            PlainSecret::from_value(doc.value).map_err(|e| e.at(&at).to_string())
        })
        .collect()
}

/// Whether a value is shown as text (`stringData`): UTF-8 without control characters
/// other than newline and tab, so that it reads and edits as it is.
fn is_text(value: &SecretBytes) -> bool {
    std::str::from_utf8(value.expose())
        .is_ok_and(|s| !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t'))
}

/// A Secret manifest for the editor.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Manifest<'a> {
    api_version: &'static str,
    kind: &'static str,
    metadata: Metadata<'a>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    type_: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    immutable: Option<bool>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    string_data: BTreeMap<&'a str, &'a str>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    data: BTreeMap<&'a str, &'a SecretBytes>,
}

#[derive(Serialize)]
struct Metadata<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<&'a str>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    labels: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: &'a BTreeMap<String, String>,
}

impl<'a> Manifest<'a> {
    fn of(secret: &'a PlainSecret) -> Self {
        let mut string_data = BTreeMap::new();
        let mut data = BTreeMap::new();
        for (key, value) in &secret.data {
            match std::str::from_utf8(value.expose()) {
                Ok(text) if is_text(value) => {
                    string_data.insert(key.as_str(), text);
                }
                _ => {
                    data.insert(key.as_str(), value);
                }
            }
        }
        Self {
            api_version: "v1",
            kind: "Secret",
            metadata: Metadata {
                name: &secret.name,
                namespace: secret.namespace.as_deref(),
                labels: &secret.labels,
                annotations: &secret.annotations,
            },
            type_: secret.type_.as_deref(),
            immutable: secret.immutable,
            string_data,
            data,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(values: &[(&str, &[u8])]) -> PlainSecret {
        let mut s = PlainSecret {
            name: "db".into(),
            namespace: Some("apps".into()),
            type_: Some("Opaque".into()),
            ..Default::default()
        };
        for (k, v) in values {
            s.data.insert((*k).into(), SecretBytes::copy_from(v));
        }
        s
    }

    /// Values YAML likes to change on the way: booleans, numbers, leading and trailing
    /// blanks, newlines, quotes, comment marks, non-UTF-8 and control bytes.
    #[test]
    fn every_value_comes_back_byte_for_byte() {
        let tricky: &[(&str, &[u8])] = &[
            ("bool", b"yes"),
            ("number", b"0123"),
            ("blank", b""),
            ("spaces", b"  lead and trail  "),
            ("lines", b"line 1\nline 2\n\n"),
            ("quotes", b"'\"#: not a comment"),
            ("binary", b"\xff\x00\x01"),
            ("control", b"a\x1b[2Kb\r"),
            ("unicode", "pässwörd ✓".as_bytes()),
            ("pem", b"-----BEGIN KEY-----\nMIIB\n-----END KEY-----\n"),
        ];
        let original = secret(tricky);
        let text = render(&["header".into()], std::slice::from_ref(&original)).expect("renders");
        assert!(text.starts_with("# header\n"), "{}", &*text);
        assert!(text.contains("stringData:"), "{}", &*text);
        let back = parse("buffer", &text).expect("parses");
        assert_eq!(back, vec![original]);
    }

    #[test]
    fn the_header_is_stripped_and_blank_buffers_are_seen() {
        assert_eq!(without_header("# a\n# b\nkind: x\n# c\n"), "kind: x\n# c\n");
        assert!(is_blank("# only\n\n  # comments\n"));
        assert!(!is_blank("# c\nkind: Secret\n"));
    }

    #[test]
    fn errors_name_the_field_and_not_the_value() {
        let text =
            "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\ndata: {password: hunter2!}\n";
        let err = parse("buffer", text).expect_err("not base64");
        assert!(err.contains("data.password"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
}
