//! `seal webhook`: a Git-host webhook for Argo CD, so pushes refresh applications at once
//! instead of at the next 3-minute poll. The shared secret is sealed in `Merge` mode into
//! `argocd-secret` under the key Argo CD reads; the Git host's side (payload URL, content
//! type, events, and for GitHub and GitLab the create-hook API body) is printed, the body
//! only to a 0600 file or to stdout when asked for, since it carries the secret.

use std::fmt::Write as _;

use anyhow::{Context as _, bail};
use rand::RngCore;
use seal_core::convert::{self, SealOptions};
use seal_core::files::{self, Overwrite};
use seal_core::{Location, Mode, PlainSecret, SecretBytes, names};
use serde_json::json;
use zeroize::Zeroizing;

use crate::cli::{GitProvider, WebhookArgs};
use crate::commands::load_recipients_for;
use crate::output;

impl GitProvider {
    /// The `argocd-secret` key that holds the shared secret.
    pub fn secret_key(self) -> &'static str {
        match self {
            GitProvider::Github => "webhook.github.secret",
            GitProvider::Gitlab => "webhook.gitlab.secret",
            GitProvider::Bitbucket => "webhook.bitbucket.uuid",
            GitProvider::Bitbucketserver => "webhook.bitbucketserver.secret",
            GitProvider::Gogs => "webhook.gogs.secret",
            GitProvider::Azuredevops => "webhook.azuredevops.password",
        }
    }
}

/// A strong random secret: 32 bytes from the OS, as 64 hex digits (no character a Git
/// host's form or an HTTP header could mangle).
fn random_secret() -> SecretBytes {
    let mut bytes = Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(&mut *bytes);
    let mut hex = Zeroizing::new(String::with_capacity(64));
    for b in bytes.iter() {
        // Written straight into the wiped buffer (a `format!` would leave a copy).
        let _ = write!(hex, "{b:02x}");
    }
    SecretBytes::copy_from(hex.as_bytes())
}

/// Builds, seals and prints.
pub fn run(args: WebhookArgs) -> anyhow::Result<()> {
    let url = args.argocd_url.strip_prefix("https://").ok_or_else(|| {
        anyhow::anyhow!("--argocd-url: must start with https:// (Git hosts send the secret to it)")
    })?;
    let host = url.trim_end_matches('/');
    names::check_hostname(host).map_err(|p| anyhow::anyhow!("--argocd-url: {p}"))?;
    names::check_namespace(&args.namespace).map_err(|p| anyhow::anyhow!("--namespace: {p}"))?;
    if args.hook_body.as_deref() == Some("-".as_ref()) && args.output.write.is_none() {
        bail!(
            "--hook-body -: standard output would carry both the SealedSecret and the hook body; give -w for the SealedSecret"
        );
    }
    let recipients = load_recipients_for(&args.recipients, args.output.write.as_deref())?;
    let secret = match (args.provider, args.secret_stdin) {
        // Argo CD does not trim: a trailing newline would break every signature check.
        (_, true) => super::read_stdin_line("--secret-stdin")?,
        (GitProvider::Bitbucket, false) => bail!(
            "--provider bitbucket: Bitbucket Cloud has no shared secret; Argo CD checks the webhook's UUID, which Bitbucket assigns: create the hook, then pass its UUID with --secret-stdin"
        ),
        (_, false) => random_secret(),
    };
    let mut plain = PlainSecret {
        name: args.secret_name.clone(),
        namespace: Some(args.namespace.clone()),
        ..Default::default()
    };
    plain
        .data
        .insert(args.provider.secret_key().to_owned(), secret.clone());
    if args.provider == GitProvider::Azuredevops {
        plain.data.insert(
            "webhook.azuredevops.username".to_owned(),
            SecretBytes::copy_from(args.username.as_bytes()),
        );
    }
    let options = SealOptions {
        mode: Mode::Merge,
        ..Default::default()
    };
    let sealed = convert::seal_secret(&plain, &recipients, &options)
        .map_err(|e| e.at(&Location::file("--namespace/--secret-name")))?;
    let payload_url = format!("https://{host}/api/webhook");
    if let Some(path) = &args.hook_body {
        let body = hook_body(args.provider, &payload_url, &secret)?;
        match body {
            Some(body) if path.as_os_str() == "-" => output::print(body.as_bytes())?,
            Some(body) => files::write_atomic(path, body.as_bytes(), 0o600, Overwrite::Refuse)?,
            None => bail!(
                "--hook-body: {:?} has no create-hook API body here (GitHub and GitLab do); set the hook up by hand as printed below",
                args.provider
            ),
        }
    }
    output::emit(&[sealed], &args.output)?;
    eprintln!("# Git host side ({:?}):", args.provider);
    eprintln!("#   payload URL:  {payload_url}");
    eprintln!("#   content type: application/json");
    eprintln!("#   events:       push");
    match args.provider {
        GitProvider::Github => {
            eprintln!("#   API: POST /repos/{{owner}}/{{repo}}/hooks with the --hook-body file")
        }
        GitProvider::Gitlab => {
            eprintln!("#   API: POST /projects/:id/hooks with the --hook-body file")
        }
        GitProvider::Azuredevops => eprintln!(
            "#   basic auth: user {:?} and the sealed password (open it with --hook-body - … or from the cluster)",
            args.username
        ),
        _ => eprintln!("#   secret: the sealed value (see --secret-stdin to choose it yourself)"),
    }
    eprintln!(
        "# Apply the SealedSecret to namespace {}; the controller merges the key into {} (Merge mode)",
        args.namespace, args.secret_name
    );
    eprintln!(
        "# once {} has opted in; its owner runs, once (if it already has the annotation, add these keys to its list and use --overwrite):",
        args.secret_name
    );
    eprintln!(
        "#   kubectl annotate secret -n {} {} {MERGE_KEYS_ANNOTATION}={}",
        args.namespace,
        args.secret_name,
        merge_keys(args.provider).join(",")
    );
    Ok(())
}

/// The annotation a Merge target carries to accept keys from SealedSecrets (the
/// controller refuses to merge into a Secret without it).
pub const MERGE_KEYS_ANNOTATION: &str = "seal.dev/merge-keys";

/// The `argocd-secret` keys this provider's SealedSecret merges.
pub fn merge_keys(provider: GitProvider) -> Vec<&'static str> {
    match provider {
        GitProvider::Azuredevops => vec!["webhook.azuredevops.username", provider.secret_key()],
        other => vec![other.secret_key()],
    }
}

/// The create-hook API body for GitHub and GitLab (it carries the secret).
pub fn hook_body(
    provider: GitProvider,
    payload_url: &str,
    secret: &SecretBytes,
) -> anyhow::Result<Option<Zeroizing<String>>> {
    let secret = std::str::from_utf8(secret.expose()).context("the secret is not UTF-8 text")?;
    let mut body = match provider {
        GitProvider::Github => json!({
            "name": "web",
            "active": true,
            "events": ["push"],
            "config": {"url": payload_url, "content_type": "json", "secret": secret, "insecure_ssl": "0"}
        }),
        GitProvider::Gitlab => json!({
            "url": payload_url,
            "push_events": true,
            "token": secret,
            "enable_ssl_verification": true
        }),
        _ => return Ok(None),
    };
    // Serialized into a wiped buffer big enough not to move while it grows; the JSON
    // value's copy of the secret is wiped too.
    let mut out = Zeroizing::new(Vec::with_capacity(1024 + payload_url.len() + secret.len()));
    let written = serde_json::to_writer_pretty(&mut *out, &body);
    seal_core::secret::scrub(&mut body);
    written?;
    out.push(b'\n');
    let text = Zeroizing::new(String::from_utf8(std::mem::take(&mut *out))?);
    Ok(Some(text))
}
