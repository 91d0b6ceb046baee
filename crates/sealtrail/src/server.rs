//! Starting and stopping the server: bind, serve, sign checkpoints, and
//! shut down gracefully (in-flight requests finish; nothing is acknowledged
//! that is not durable).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::app::App;
use crate::config::Config;

/// A running server.
pub struct Running {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    /// Shared state.
    pub app: Arc<App>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops accepting, lets in-flight requests finish, signs a final
    /// round of checkpoints and writes every record already queued.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }

    /// Waits until the server stops by itself (on a signal).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

/// Opens the app and starts serving on `config.listen`.
pub async fn start(config: Config) -> anyhow::Result<Running> {
    let listen = config.listen;
    let app = Arc::new(tokio::task::spawn_blocking(move || App::open(config)).await??);
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let router = crate::api::router(app.clone());
    let cp_app = app.clone();
    let cp_stop = stop_rx.clone();
    let interval = Duration::from_millis(app.config.checkpoint_interval_ms);
    let checkpointer = tokio::spawn(crate::log::checkpoint::run(cp_app, interval, cp_stop));
    let pruner = tokio::spawn(crate::privacy::retention::run(
        app.clone(),
        Duration::from_secs(app.config.prune_interval_secs),
        stop_rx.clone(),
    ));
    let delivery = tokio::spawn(crate::delivery::worker::supervise(
        app.clone(),
        stop_rx.clone(),
    ));
    let mut srv_stop = stop_rx.clone();
    let stop_after = stop_tx.clone();
    let flush_app = app.clone();
    let task = tokio::spawn(async move {
        let shutdown = async move {
            tokio::select! {
                _ = srv_stop.changed() => {}
                _ = terminate() => {}
            }
        };
        if let Err(e) = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "server error");
        }
        // Records queued by the last requests are written before the
        // final checkpoints are signed.
        if let Err(e) = flush_app.sequencer.flush().await {
            tracing::warn!(error = %e, "could not write the last queued records");
        }
        let _ = stop_after.send(true);
        let _ = checkpointer.await;
        let _ = pruner.await;
        let _ = delivery.await;
        // And whatever the background tasks queued while stopping.
        if let Err(e) = flush_app.sequencer.flush().await {
            tracing::warn!(error = %e, "could not write the last queued records");
        }
    });
    Ok(Running {
        addr,
        app,
        stop: stop_tx,
        task,
    })
}

async fn terminate() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
