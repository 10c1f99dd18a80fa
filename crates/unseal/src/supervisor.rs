//! `unseal run`: every replica loads the keys and serves HTTP; the replica holding the
//! Lease also manages the keys and reconciles. SIGTERM (or the `shutdown` signal) drains
//! and returns.

use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::context::Context;
use crate::keys::lifecycle::{self, KeyManager};
use crate::leader::{self, Candidate};
use crate::{controller, http};

/// The work of one leadership term, stopped when the term ends.
struct Term {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Term {
    fn start(ctx: &Arc<Context>) -> Self {
        let (stop, stopped) = watch::channel(false);
        let manager = KeyManager::new(
            ctx.client.clone(),
            &ctx.settings.namespace,
            ctx.settings.renew_period,
            ctx.settings.backup_to.clone(),
            ctx.keys.clone(),
        );
        let every = ctx.settings.key_check_every;
        let keys_task = {
            let stopped = stopped.clone();
            tokio::spawn(async move { manager.run(every, stopped).await })
        };
        let controller_task = {
            let ctx = ctx.clone();
            let mut stopped = stopped.clone();
            tokio::spawn(async move {
                let mut loaded = ctx.keys.subscribe();
                while !ctx.keys.is_loaded() {
                    tokio::select! {
                        r = loaded.changed() => if r.is_err() { return },
                        _ = stopped.changed() => return,
                    }
                }
                controller::run(ctx, stopped).await;
            })
        };
        Self {
            stop,
            tasks: vec![keys_task, controller_task],
        }
    }

    async fn end(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Runs until `shutdown` turns true, serving HTTP on `listener`.
pub async fn run(
    ctx: Arc<Context>,
    listener: tokio::net::TcpListener,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let loader = tokio::spawn(lifecycle::load(
        ctx.client.clone(),
        ctx.settings.namespace.clone(),
        ctx.keys.clone(),
    ));
    tracing::info!(address = %listener.local_addr()?, "HTTP API listening");
    let server = {
        let mut shutdown = shutdown.clone();
        let app = http::router(ctx.clone());
        tokio::spawn(async move {
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
        })
    };
    let me = Candidate {
        namespace: ctx.settings.namespace.clone(),
        lease: ctx.settings.lease_name.clone(),
        identity: ctx.settings.identity.clone(),
        duration: ctx.settings.lease_duration,
    };
    let mut term: Option<Term> = None;
    loop {
        let leading = match leader::try_lead(&ctx.client, &me).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "lease not renewed");
                false
            }
        };
        match (leading, term.is_some()) {
            (true, false) => {
                tracing::info!(identity = %me.identity, "leading: managing keys and reconciling");
                ctx.set_leader(true);
                term = Some(Term::start(&ctx));
            }
            (false, true) => {
                tracing::warn!(identity = %me.identity, "lost the lease: stopping reconciliation");
                ctx.set_leader(false);
                if let Some(t) = term.take() {
                    t.end().await;
                }
            }
            _ => {}
        }
        tokio::select! {
            _ = tokio::time::sleep(ctx.settings.lease_renew_every) => {}
            _ = shutdown.wait_for(|s| *s) => break,
        }
    }
    tracing::info!("shutting down");
    if let Some(t) = term.take() {
        t.end().await;
        ctx.set_leader(false);
        if let Err(e) = leader::release(&ctx.client, &me).await {
            tracing::warn!(error = %e, "lease not released");
        }
    }
    loader.abort();
    let _ = server.await;
    Ok(())
}
