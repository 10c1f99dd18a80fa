//! `unseal run`: every replica loads the keys and serves HTTP; the replica holding the
//! Lease also manages the keys and reconciles (see [`crate::leader`]). A leader that
//! cannot renew in time steps down and becomes a candidate again. SIGTERM (or the
//! `shutdown` signal) drains and returns.

use std::sync::Arc;

use anyhow::Context as _;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::context::Context;
use crate::keys::lifecycle::{self, KeyManager};
use crate::leader::{Candidate, Elector, TermEnd, Timings};
use crate::{controller, http};

/// A spawned task aborted when this handle is dropped: if [`run`] itself is dropped
/// (its task aborted, as a crash would end it), nothing it started keeps running.
struct Owned<T>(JoinHandle<T>);

impl<T> Drop for Owned<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The work of one leadership term, stopped when the term ends (aborted if dropped).
struct Term {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl Term {
    fn start(ctx: &Arc<Context>) -> Self {
        let (stop, stopped) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let manager = KeyManager::new(
            ctx.client.clone(),
            &ctx.settings.namespace,
            ctx.settings.renew_period,
            ctx.settings.backup_to.clone(),
            ctx.keys.clone(),
        )
        .reporting_backups_to(ctx.metrics.backup_success.clone());
        let every = ctx.settings.key_check_every;
        {
            let stopped = stopped.clone();
            tasks.spawn(async move { manager.run(every, stopped).await });
        }
        let ctx = ctx.clone();
        let mut stopped = stopped;
        tasks.spawn(async move {
            let mut loaded = ctx.keys.subscribe();
            while !ctx.keys.is_loaded() {
                tokio::select! {
                    r = loaded.changed() => if r.is_err() { return },
                    _ = stopped.changed() => return,
                }
            }
            controller::run(ctx, stopped).await;
        });
        Self { stop, tasks }
    }

    /// Asks the term's tasks to stop, lets them finish within `grace`, then aborts them.
    async fn end(mut self, grace: std::time::Duration) {
        let _ = self.stop.send(true);
        let finished = tokio::time::timeout(grace, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if finished.is_err() {
            tracing::warn!(?grace, "term's tasks did not stop in time: aborted");
            self.tasks.shutdown().await;
        }
    }
}

/// Runs until `shutdown` turns true, serving HTTP on `listener`.
pub async fn run(
    ctx: Arc<Context>,
    listener: tokio::net::TcpListener,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let settings = &ctx.settings;
    let timings = Timings::new(
        settings.lease_duration,
        settings.lease_renew_deadline,
        settings.lease_renew_every,
    )
    .context("leader election timings")?;
    let _loader = Owned(tokio::spawn(lifecycle::load(
        ctx.client.clone(),
        settings.namespace.clone(),
        ctx.keys.clone(),
    )));
    tracing::info!(address = %listener.local_addr()?, "HTTP API listening");
    let mut server = {
        let mut shutdown = shutdown.clone();
        let app = http::router(ctx.clone());
        Owned(tokio::spawn(async move {
            let graceful = async move {
                let _ = shutdown.wait_for(|s| *s).await;
            };
            let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(graceful)
                .await
            {
                tracing::error!(error = %e, "HTTP server failed");
            }
        }))
    };
    let me = Candidate {
        namespace: settings.namespace.clone(),
        lease: settings.lease_name.clone(),
        identity: settings.identity.clone(),
    };
    let mut elector = Elector::new(ctx.client.clone(), me, timings, settings.clock);
    while let Some(renewed) = elector.acquire(&mut shutdown).await {
        tracing::info!(identity = %elector.identity(), "leading: managing keys and reconciling");
        ctx.set_leader(true);
        let term = Term::start(&ctx);
        let end = elector.hold(renewed, &mut shutdown).await;
        ctx.set_leader(false);
        match &end {
            TermEnd::Shutdown => {}
            TermEnd::Lost(holder) => {
                tracing::warn!(leader = %holder, "lost the lease: stopping reconciliation");
            }
            TermEnd::DeadlinePassed => tracing::warn!(
                deadline = ?timings.renew_deadline(),
                "lease not renewed in time: stepping down before it can expire"
            ),
        }
        term.end(timings.stop_grace()).await;
        // An aborted controller did not get to say so itself.
        ctx.set_synced(false);
        if end == TermEnd::Shutdown {
            if let Err(e) = elector.release().await {
                tracing::warn!(error = %e, "lease not released");
            }
            break;
        }
    }
    tracing::info!("shutting down");
    let _ = (&mut server.0).await;
    Ok(())
}
