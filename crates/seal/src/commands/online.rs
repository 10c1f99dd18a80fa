//! The commands that ask the cluster's controller: `fetch-recipients`, `verify` and
//! `reencrypt`. Plaintext never reaches this side.

use std::path::Path;

use anyhow::bail;
use seal_core::documents::{self, Format};
use seal_core::{SealedSecret, convert, files};

use crate::cli::{FetchArgs, InspectFormat, OnlineFilesArgs, ReencryptArgs};
use crate::cluster::{self, Cluster};
use crate::commands::reseal_reply;
use crate::output;

/// Some SealedSecrets do not open in the cluster (exit code 3).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotOpened(pub String);

/// Prints or writes the controller's recipients file.
pub fn fetch(args: FetchArgs) -> anyhow::Result<()> {
    let text = cluster::block_on(async {
        Cluster::connect(&args.cluster)
            .await?
            .recipients_text()
            .await
    })?;
    let mut check = seal_core::Recipients::new();
    check.add_file("controller recipients", &text)?;
    let text = match args.format {
        InspectFormat::Text => text.to_string(),
        InspectFormat::Json => {
            // In the order published: the first is the active key.
            let recipients: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .collect();
            let value = serde_json::json!({ "recipients": recipients });
            format!("{}\n", serde_json::to_string_pretty(&value)?)
        }
    };
    match &args.output {
        Some(path) => output::write_file(path, text.as_bytes(), 0o644),
        None => output::print(text.as_bytes()),
    }
}

/// One object's answer from verify, for `-o json`.
#[derive(serde::Serialize)]
struct Verdict {
    /// File and document.
    at: String,
    /// Whether it opens in the cluster.
    opens: bool,
    /// Why not (the controller's reason, e.g. `ScopeMismatch`).
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// The controller's message (never a value).
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

/// One SealedSecret of a file: where it stands, the object, and its rendering alone.
struct Sent {
    at: String,
    object: SealedSecret,
    body: String,
}

/// The SealedSecret documents of a file, each rendered alone, and the file's format.
fn sealed_documents(path: &str) -> anyhow::Result<(Vec<Sent>, Format)> {
    let text = files::read_input(path)?;
    let format = Format::of(&text);
    let mut out = Vec::new();
    for doc in documents::parse(path, &text)? {
        let object = convert::sealed_secret_from_value(doc.value).map_err(|e| e.at(&doc.at))?;
        let body = documents::render(std::slice::from_ref(&object), Format::Yaml)?.to_string();
        out.push(Sent {
            at: doc.at.to_string(),
            object,
            body,
        });
    }
    if out.is_empty() {
        bail!("{path}: no SealedSecrets");
    }
    Ok((out, format))
}

/// Asks the controller about every SealedSecret; fails (exit 3) if any does not open.
pub fn verify(args: OnlineFilesArgs) -> anyhow::Result<()> {
    cluster::block_on(async {
        let cluster = Cluster::connect(&args.cluster).await?;
        let mut refused = Vec::new();
        let mut verdicts = Vec::new();
        let text = args.format == InspectFormat::Text;
        for path in &args.files {
            for Sent { at, body, .. } in sealed_documents(path)?.0 {
                let answer = cluster
                    .call("POST", "/v1/verify", body.into_bytes())
                    .await?;
                match answer.status {
                    200 if text => println!("{at}: opens"),
                    200 => verdicts.push(Verdict {
                        at,
                        opens: true,
                        reason: None,
                        message: None,
                    }),
                    400 | 422 => {
                        refused.push(format!("{at}: {}", cluster::refusal(&answer)));
                        let problem: serde_json::Value =
                            serde_json::from_str(&answer.body).unwrap_or_default();
                        verdicts.push(Verdict {
                            at,
                            opens: false,
                            reason: Some(
                                problem["reason"].as_str().unwrap_or("Refused").to_owned(),
                            ),
                            message: problem["message"].as_str().map(str::to_owned),
                        });
                    }
                    _ => bail!(
                        "{at}: the controller answered {}",
                        cluster::refusal(&answer)
                    ),
                }
            }
        }
        if !text {
            output::print(format!("{}\n", serde_json::to_string_pretty(&verdicts)?).as_bytes())?;
        }
        match refused.len() {
            0 => Ok(()),
            1 => Err(NotOpened(refused.remove(0)).into()),
            n => Err(NotOpened(format!(
                "{n} SealedSecrets do not open; first: {}",
                refused[0]
            ))
            .into()),
        }
    })
}

/// Re-seals every SealedSecret of each file to the active key, writing each file in
/// place once all of its objects came back and were checked ([`reseal_reply::accept`]).
pub fn reencrypt(args: ReencryptArgs) -> anyhow::Result<()> {
    cluster::block_on(async {
        let cluster = Cluster::connect(&args.cluster).await?;
        for path in &args.files {
            let (docs, format) = sealed_documents(path)?;
            let mut resealed = Vec::new();
            for sent in docs {
                let answer = cluster
                    .call("POST", "/v1/reencrypt", sent.body.into_bytes())
                    .await?;
                if answer.status != 200 {
                    bail!("{}: not re-sealed: {}", sent.at, cluster::refusal(&answer));
                }
                resealed.push(reseal_reply::accept(
                    &sent.at,
                    &sent.object,
                    &answer,
                    &[],
                    args.drop_untrusted,
                )?);
            }
            let text = documents::render(&resealed, format)?;
            output::write_file(Path::new(path), text.as_bytes(), 0o644)?;
            eprintln!("{path}: re-sealed {} SealedSecret(s)", resealed.len());
        }
        Ok(())
    })
}
