//! `seal inspect`: what SealedSecrets hold, read without any private key. Every string
//! the file holds is shown so that it cannot write to the terminal: a recipient that is
//! not an age key is quoted and escaped, and so is a `type` with control characters.

use std::fmt::Write as _;

use seal_core::convert;
use seal_core::envelope;
use serde::Serialize;

use crate::cli::{InspectArgs, InspectFormat};
use crate::commands::read_documents;
use crate::output;
use crate::repo::check::is_recipient;

/// One SealedSecret as inspect reports it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// File and document.
    pub source: String,
    /// `metadata.namespace`.
    pub namespace: Option<String>,
    /// `metadata.name`.
    pub name: String,
    /// `spec.scope`.
    pub scope: String,
    /// What the scope binds each value to.
    pub bound_to: String,
    /// `spec.mode`.
    pub mode: String,
    /// `spec.template.type`.
    pub secret_type: Option<String>,
    /// `spec.recipients`.
    pub recipients: Vec<String>,
    /// One entry per key.
    pub keys: Vec<KeyReport>,
}

/// One sealed value.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyReport {
    /// The key.
    pub key: String,
    /// Bytes of the value itself (known from the ciphertext length).
    pub value_bytes: usize,
    /// Bytes of the base64 text in the manifest.
    pub sealed_bytes: usize,
    /// Recipient stanzas in the ciphertext.
    pub recipient_stanzas: usize,
    /// Anything odd about this value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// Prints a report for every SealedSecret of the inputs.
pub fn run(args: InspectArgs) -> anyhow::Result<()> {
    let mut reports = Vec::new();
    for doc in read_documents(&args.files)? {
        let sealed = convert::sealed_secret_from_value(doc.value).map_err(|e| e.at(&doc.at))?;
        reports.push(report(doc.at.to_string(), &sealed).map_err(|e| e.at(&doc.at))?);
    }
    let text = match args.format {
        InspectFormat::Json => serde_json::to_string_pretty(&reports)? + "\n",
        InspectFormat::Text => render_text(&reports),
    };
    output::print(text.as_bytes())
}

fn report(
    source: String,
    sealed: &seal_core::SealedSecret,
) -> Result<Report, seal_core::error::DocError> {
    let spec = &sealed.spec;
    let mut keys = Vec::new();
    for (key, text) in &spec.encrypted_data {
        let binding = convert::binding_of(sealed, key)?;
        let shape = envelope::shape(text).map_err(|error| seal_core::error::DocError::Open {
            field: format!("spec.encryptedData.{key}"),
            error,
        })?;
        let warning = (shape.x25519_stanzas != spec.recipients.len()).then(|| {
            format!(
                "{} recipient stanzas but spec.recipients lists {}",
                shape.x25519_stanzas,
                spec.recipients.len()
            )
        });
        keys.push(KeyReport {
            key: key.clone(),
            value_bytes: shape.value_len(&binding),
            sealed_bytes: text.len(),
            recipient_stanzas: shape.x25519_stanzas,
            warning,
        });
    }
    let namespace = sealed.metadata.namespace.clone();
    let name = sealed.metadata.name.clone().unwrap_or_default();
    let bound_to = match spec.scope {
        seal_core::Scope::Strict => format!(
            "namespace {}, name {name}, key",
            namespace.as_deref().unwrap_or("?")
        ),
        seal_core::Scope::Namespace => {
            format!("namespace {}, key", namespace.as_deref().unwrap_or("?"))
        }
        seal_core::Scope::Cluster => "key only".to_owned(),
    };
    Ok(Report {
        source,
        namespace,
        name,
        scope: spec.scope.to_string(),
        bound_to,
        mode: format!("{:?}", spec.mode),
        secret_type: spec.template.type_.clone(),
        recipients: spec.recipients.clone(),
        keys,
    })
}

fn render_text(reports: &[Report]) -> String {
    let mut out = String::new();
    for r in reports {
        let place = match &r.namespace {
            Some(ns) => format!("{ns}/{}", r.name),
            None => r.name.clone(),
        };
        let _ = writeln!(out, "{}: SealedSecret {place}", output::one_line(&r.source));
        let _ = writeln!(out, "  scope:      {} (bound to {})", r.scope, r.bound_to);
        let _ = writeln!(out, "  mode:       {}", r.mode);
        let _ = writeln!(
            out,
            "  type:       {}",
            r.secret_type
                .as_deref()
                .map_or("Opaque (default)".into(), output::shown)
        );
        let _ = writeln!(out, "  recipients: {}", r.recipients.len());
        for recipient in &r.recipients {
            if is_recipient(recipient) {
                let _ = writeln!(out, "    {recipient}");
            } else {
                let _ = writeln!(
                    out,
                    "    {}  warning: not an age X25519 recipient",
                    seal_core::names::shown(recipient)
                );
            }
        }
        let _ = writeln!(out, "  keys:       {}", r.keys.len());
        let width = r.keys.iter().map(|k| k.key.len()).max().unwrap_or(0);
        for k in &r.keys {
            let _ = write!(
                out,
                "    {:width$}  {} bytes (sealed: {} chars, {} recipient{})",
                k.key,
                k.value_bytes,
                k.sealed_bytes,
                k.recipient_stanzas,
                if k.recipient_stanzas == 1 { "" } else { "s" }
            );
            if let Some(w) = &k.warning {
                let _ = write!(out, "  warning: {w}");
            }
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_from_the_file_cannot_write_to_the_terminal() {
        let forged = "\n::error file=.seal.yaml,line=1::all good\n\u{1b}[2K\u{1b}[1A";
        let good = age::x25519::Identity::generate().to_public().to_string();
        let report = Report {
            source: "s.yaml: document 1".into(),
            namespace: Some("apps".into()),
            name: "db".into(),
            scope: "strict".into(),
            bound_to: "namespace apps, name db, key".into(),
            mode: "Owned".into(),
            secret_type: Some(format!("Opaque{forged}")),
            recipients: vec![good.clone(), format!("{good}{forged}")],
            keys: Vec::new(),
        };
        let text = render_text(&[report]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 8, "{text}");
        assert!(text.lines().all(output::is_plain), "{text:?}");
        assert!(!text.contains("\n::error"), "{text}");
        assert_eq!(lines[5], format!("    {good}"));
        assert!(
            lines[6].ends_with("warning: not an age X25519 recipient"),
            "{text}"
        );
        assert!(
            lines[3].starts_with("  type:       \"Opaque\\n::error"),
            "{text}"
        );
    }
}
