//! `pixelwire serve`: binds every port, starts the stream sources, the display listeners and the
//! HTTP server, and shuts down gracefully on the first SIGINT/SIGTERM (immediately on the second).

use crate::bus::{Bus, Stream, StreamDescription};
use crate::config::Config;
use crate::display::registry::DisplayRegistry;
use crate::metrics::Metrics;
use crate::shutdown::Shutdown;
use crate::state::AppState;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tracing::info;

/// A started server.
#[derive(Debug)]
pub struct Running {
    /// Where HTTP listens (useful with port 0).
    pub http_addr: SocketAddr,
    /// Where displays connect.
    pub display_addrs: Vec<SocketAddr>,
    /// Shared state (tests inspect it).
    pub state: AppState,
    shutdown: Shutdown,
    tasks: JoinSet<()>,
}

/// Binds everything and starts all tasks.
pub async fn start(cfg: Config) -> anyhow::Result<Running> {
    crate::source::render::text::preload_fonts();
    let (shutdown, signal) = Shutdown::new();
    let cfg = Arc::new(cfg);
    let bus = Arc::new(Bus::default());
    let metrics = Metrics::new();
    let state = AppState {
        cfg: cfg.clone(),
        bus: bus.clone(),
        metrics: metrics.clone(),
        displays: Arc::new(DisplayRegistry::default()),
        started: crate::clock::now(),
        shutdown: signal.clone(),
    };
    let mut tasks = JoinSet::new();
    for sc in cfg.effective_streams() {
        let desc = StreamDescription {
            kind: "generated",
            source: sc.source.name().to_string(),
            width: sc.width,
            height: sc.height,
            nominal_fps: sc.fps.unwrap_or_else(|| sc.source.default_fps()),
        };
        let stream = Stream::new(sc.name.get_ref().clone(), desc);
        bus.insert(stream.clone());
        tasks.spawn(crate::source::run_generated(
            stream,
            sc,
            signal.clone(),
            metrics.clone(),
        ));
    }
    let mut display_addrs = Vec::new();
    for addr in cfg.display_listeners() {
        let l = crate::display::listener::bind(addr).await?;
        display_addrs.push(l.local_addr()?);
        tasks.spawn(crate::display::listener::run(l, state.clone()));
    }
    let http = tokio::net::TcpListener::bind(cfg.server.http)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen for HTTP on {}: {e}", cfg.server.http))?;
    let http_addr = http.local_addr()?;
    let st = state.clone();
    tasks.spawn(async move {
        if let Err(e) = crate::http::serve(http, st).await {
            tracing::error!(error = %e, "HTTP server failed");
        }
    });
    info!(http = %http_addr, displays = ?display_addrs, streams = ?cfg.effective_streams().iter().map(|s| s.name.get_ref().clone()).collect::<Vec<_>>(), "pixelwire serving");
    Ok(Running {
        http_addr,
        display_addrs,
        state,
        shutdown,
        tasks,
    })
}

impl Running {
    /// Asks every task to finish.
    pub fn shutdown(&self) {
        self.shutdown.trigger();
    }

    /// Waits for all tasks (after [`Running::shutdown`]), at most `limit`.
    pub async fn join(mut self, limit: Duration) {
        let _ = tokio::time::timeout(limit, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
    }
}

/// Runs until a signal: the first one shuts down gracefully, a second one exits at once.
pub async fn run(cfg: Config) -> anyhow::Result<()> {
    let running = start(cfg).await?;
    crate::shutdown::signal().await;
    info!("shutting down (send the signal again to exit at once)");
    running.shutdown();
    tokio::select! {
        _ = running.join(Duration::from_secs(5)) => {}
        _ = crate::shutdown::signal() => info!("second signal: exiting now"),
    }
    Ok(())
}
