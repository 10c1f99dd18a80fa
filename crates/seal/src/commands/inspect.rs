//! `seal inspect`: what SealedSecrets hold, read without any private key.

use std::fmt::Write as _;

use seal_core::convert;
use seal_core::envelope;
use serde::Serialize;

use crate::cli::{InspectArgs, InspectFormat};
use crate::commands::read_documents;
use crate::output;

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
        let _ = writeln!(out, "{}: SealedSecret {place}", r.source);
        let _ = writeln!(out, "  scope:      {} (bound to {})", r.scope, r.bound_to);
        let _ = writeln!(out, "  mode:       {}", r.mode);
        let _ = writeln!(
            out,
            "  type:       {}",
            r.secret_type.as_deref().unwrap_or("Opaque (default)")
        );
        let _ = writeln!(out, "  recipients: {}", r.recipients.len());
        for recipient in &r.recipients {
            let _ = writeln!(out, "    {recipient}");
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
