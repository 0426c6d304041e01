//! Accepts display connections and tells the two protocols apart: bytes within
//! `legacy.detect_ms` mean a pixelwire device (the bytes start its HELLO; garbage gets a clear ERROR
//! from the session), silence means a seed-000 sketch.

use super::DisplayContext;
use crate::metrics::Protocol;
use std::net::SocketAddr;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

/// Binds `addr` (fails at start-up if it cannot).
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen for displays on {addr}: {e}"))
}

/// Accepts connections until shutdown.
pub async fn run(listener: TcpListener, ctx: DisplayContext) {
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let mut shutdown = ctx.shutdown.clone();
    let limits = &ctx.cfg.limits;
    let gate = crate::listener::ConnectionGate::new(
        limits.display_connections.max(1),
        limits.display_connections_per_peer.max(1),
    );
    let mut refused = 0u64;
    loop {
        tokio::select! {
            (sock, peer) = crate::listener::accept(&listener, "displays") => {
                let Some(place) = gate.admit_or_close(peer, "displays", &mut refused) else {
                    continue;
                };
                let st = ctx.clone();
                crate::task::spawn_connection(format!("display {peer}"), async move {
                    // The place is held as long as the connection.
                    let _place = place;
                    classify(sock, peer, port, st).await;
                });
            },
            _ = shutdown.wait() => return,
        }
    }
}

async fn classify(mut sock: TcpStream, peer: SocketAddr, port: u16, ctx: DisplayContext) {
    let _ = sock.set_nodelay(true);
    let detect = ctx.cfg.legacy.detect_ms.duration();
    let mut first = vec![0u8; 4096];
    match tokio::time::timeout(detect, sock.read(&mut first)).await {
        Err(_) => {
            ctx.metrics.display_connection(Protocol::Legacy);
            super::legacy_conn::serve(sock, peer, port, ctx).await;
        }
        Ok(Ok(0)) => {}
        Ok(Ok(n)) => {
            first.truncate(n);
            ctx.metrics.display_connection(Protocol::Pixelwire);
            super::pixelwire_conn::serve(sock, peer, first, ctx).await;
        }
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "read failed before the protocol was known")
        }
    }
}
