//! `seal regcred`: an image-pull Secret for a private registry, built in memory and sealed
//! at once; the password comes from standard input and never touches disk.

use anyhow::{Context, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use seal_core::convert::{self, SealOptions};
use seal_core::{Location, PlainSecret, SecretBytes};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::cli::RegcredArgs;
use crate::commands::load_recipients_for;
use crate::output;

/// The Secret type and key of a Docker config Secret.
const DOCKERCONFIGJSON_TYPE: &str = "kubernetes.io/dockerconfigjson";
const DOCKERCONFIGJSON_KEY: &str = ".dockerconfigjson";

/// Builds and seals the `regcred` Secret.
pub fn run(args: RegcredArgs) -> anyhow::Result<()> {
    if args.server.is_empty() || args.server.chars().any(char::is_whitespace) {
        bail!("--server: expected a registry host such as harbor.example.com");
    }
    if args.username.is_empty() || args.username.contains(':') {
        bail!("--username: must be non-empty and must not contain ':'");
    }
    let recipients = load_recipients_for(&args.recipients, args.output.write.as_deref())?;
    let password = super::read_stdin_line("--password-stdin")?;
    let config = docker_config(
        &args.server,
        &args.username,
        &password,
        args.email.as_deref(),
    )?;
    let mut secret = PlainSecret {
        name: args.name.clone(),
        namespace: args.namespace.clone(),
        type_: Some(DOCKERCONFIGJSON_TYPE.to_owned()),
        ..Default::default()
    };
    secret.data.insert(DOCKERCONFIGJSON_KEY.to_owned(), config);
    let options = SealOptions {
        scope: args.scope.into(),
        ..Default::default()
    };
    let at = Location::file("--name/--namespace");
    seal_core::names::check_object_name(&secret.name)
        .map_err(|p| anyhow::anyhow!("--name: {p}"))?;
    let sealed = convert::seal_secret(&secret, &recipients, &options).map_err(|e| e.at(&at))?;
    output::emit(&[sealed], &args.output)
}

#[derive(Serialize)]
struct DockerConfig<'a> {
    auths: std::collections::BTreeMap<&'a str, AuthEntry<'a>>,
}

#[derive(Serialize)]
struct AuthEntry<'a> {
    username: &'a str,
    password: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    auth: &'a str,
}

/// The `.dockerconfigjson` document: `auths.<server>` with username, password and
/// `auth` = base64("user:password"). Every buffer holding the password is wiped.
pub fn docker_config(
    server: &str,
    username: &str,
    password: &SecretBytes,
    email: Option<&str>,
) -> anyhow::Result<SecretBytes> {
    let password = std::str::from_utf8(password.expose())
        .map_err(|_| anyhow::anyhow!("--password-stdin: the password is not UTF-8 text"))?;
    let pair = Zeroizing::new(format!("{username}:{password}"));
    let auth = Zeroizing::new(STANDARD.encode(pair.as_bytes()));
    let config = DockerConfig {
        auths: [(
            server,
            AuthEntry {
                username,
                password,
                email,
                auth: &auth,
            },
        )]
        .into_iter()
        .collect(),
    };
    let json =
        Zeroizing::new(serde_json::to_vec(&config).context("cannot build .dockerconfigjson")?);
    Ok(SecretBytes::copy_from(&json))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_config_has_the_auth_pair() {
        let config = docker_config(
            "harbor.example.com",
            "robot$ci",
            &SecretBytes::copy_from(b"p\"w"),
            None,
        )
        .expect("builds");
        let json: serde_json::Value = serde_json::from_slice(config.expose()).expect("json");
        let entry = &json["auths"]["harbor.example.com"];
        assert_eq!(entry["username"], "robot$ci");
        assert_eq!(entry["password"], "p\"w");
        assert_eq!(entry["auth"], STANDARD.encode("robot$ci:p\"w"));
        assert!(entry.get("email").is_none());
    }
}
