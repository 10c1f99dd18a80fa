//! `unseal run`: logging, settings, signals, then the supervisor.

use std::time::Duration;

use anyhow::Context as _;
use seal_core::Recipients;
use tokio::sync::watch;

use crate::cli::{LogFormat, RunArgs};
use crate::context::{Context, Settings};
use crate::supervisor;

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("UNSEAL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// A label selector as the API server takes it (`key=value`, `key!=value`, `key`,
/// `!key`, `key in (a,b)`, comma-separated), checked for what it may hold so that a typo
/// fails at start rather than in every watch.
fn checked_selector(selector: &str) -> anyhow::Result<String> {
    let allowed = |c: char| {
        c.is_ascii_alphanumeric()
            || matches!(c, '-' | '_' | '.' | '/' | '=' | '!' | ',' | '(' | ')' | ' ')
    };
    if !selector.chars().all(allowed) || selector.split(',').any(|part| part.trim().is_empty()) {
        anyhow::bail!(
            "--label-selector: not a label selector (key=value, key!=value, key, !key, key in (a,b), comma-separated)"
        );
    }
    Ok(selector.to_owned())
}

/// Settings from the flags.
pub fn settings(args: &RunArgs) -> anyhow::Result<Settings> {
    let identity = args
        .identity
        .clone()
        .or_else(|| std::env::var("POD_NAME").ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| format!("unseal-{}", std::process::id()));
    let mut settings = Settings::new(&args.cluster.controller_namespace, &identity);
    // A namespace named twice would start two controllers on the same objects.
    let mut namespaces = Vec::new();
    for ns in &args.namespaces {
        let ns = ns.trim();
        if !ns.is_empty() && !namespaces.iter().any(|n: &String| n == ns) {
            namespaces.push(ns.to_owned());
        }
    }
    settings.watch_namespaces = namespaces;
    settings.label_selector = match args.label_selector.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(selector) => Some(checked_selector(selector)?),
    };
    settings.concurrency = args.concurrency.max(1);
    settings.renew_period =
        (args.key_renew_period > Duration::ZERO).then_some(args.key_renew_period);
    settings.resync_every = args.resync_period;
    settings.key_check_every = args.key_check_period;
    settings.lease_duration = args.lease_duration;
    settings.lease_renew_every = args.lease_renew_period;
    settings.lease_renew_deadline = args.lease_renew_deadline;
    if !args.backup_recipients.is_empty() {
        let mut to = Recipients::new();
        for r in &args.backup_recipients {
            to.add_arg("--backup-recipient", r)?;
        }
        settings.backup_to = Some(to);
    }
    let mut trusted = Recipients::new();
    for r in &args.trusted_recipients {
        trusted.add_arg("--trusted-recipient", r)?;
    }
    settings.trusted_recipients = trusted.to_strings();
    Ok(settings)
}

/// Runs the controller until SIGTERM or Ctrl-C.
pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    init_logging(args.log_format);
    let settings = settings(&args)?;
    let client = super::client(&args.cluster).await?;
    let ctx = Context::new(client, settings);
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("termination signal received");
        let _ = stop.send(true);
    });
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    supervisor::run(ctx, listener, stopped)
        .await
        .context("controller failed")
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    #[test]
    fn a_namespace_named_twice_is_watched_once() {
        let cli = Cli::try_parse_from([
            "unseal",
            "run",
            "--namespace",
            "apps,team-b,apps",
            "--namespace",
            "team-b",
        ])
        .expect("parses");
        let Command::Run(args) = cli.command else {
            panic!("not run");
        };
        let settings = settings(&args).expect("settings");
        assert_eq!(settings.watch_namespaces, ["apps", "team-b"]);
    }
}

#[cfg(test)]
mod selector_tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn selector(value: &str) -> anyhow::Result<Option<String>> {
        let cli =
            Cli::try_parse_from(["unseal", "run", "--label-selector", value]).expect("parses");
        let Command::Run(args) = cli.command else {
            panic!("not run");
        };
        settings(&args).map(|s| s.label_selector)
    }

    #[test]
    fn label_selectors_are_taken_as_written_and_typos_refused() {
        assert_eq!(
            selector("seal.dev/controller=new")
                .expect("fine")
                .as_deref(),
            Some("seal.dev/controller=new")
        );
        assert_eq!(
            selector("team in (a,b),!legacy").expect("fine").as_deref(),
            Some("team in (a,b),!legacy")
        );
        assert_eq!(selector("  ").expect("empty is none"), None);
        for bad in ["team=a,,x", "team=a\nrole=b", "team:a"] {
            assert!(selector(bad).is_err(), "{bad:?}");
        }
    }
}
