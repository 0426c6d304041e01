//! The HTTP accept loop, in place of `axum::serve` (which offers no header-read timeout, no
//! connection cap and no access to the accepted socket). Every HTTP listener runs it
//! (`docs/security.md`, "HTTP and viewers"):
//!
//! * accept errors back off ([`crate::listener::accept`]);
//! * a connection over `server.max_connections` or `server.max_connections_per_peer` is answered
//!   a bare `503` (on the HTTPS listener, nothing) and closed, counted in
//!   `pixelwire_http_connections_refused_total` and logged at the 1st, 2nd, 4th, … refusal of the
//!   listener;
//! * hyper's HTTP/1 connection with `header_read_timeout` (`server.header_read_timeout_ms`): the
//!   head of each request must be complete that long after the connection opened or the previous
//!   response ended, so it is also the keep-alive idle timeout;
//! * on the HTTPS listener (`server.https`, `crate::tls`), the TLS handshake comes first and must
//!   finish within `header_read_timeout` too; one that fails (a client hello of garbage, a client
//!   that does not trust the certificate) or times out closes that connection with a debug log
//!   line and counts in `pixelwire_http_tls_handshake_failures_total`;
//! * each socket gets `TCP_NOTSENT_LOWAT` (`server.send_queue_bytes`) and every request the
//!   socket's [`SendQueue`] and its `ConnectInfo<SocketAddr>` as extensions.

use crate::config::ServerConfig;
use crate::listener::{ConnectionGate, Refusal, SendQueue, SharedTcp};
use crate::metrics::{HttpRefusal, Metrics};
use crate::shutdown::ShutdownSignal;
use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsAcceptor;
use tower_service::Service;

/// What a refused connection reads before it is closed.
const BUSY: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";

/// The limits of one HTTP listener, from `[server]`.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// Connections held at once.
    pub max_connections: usize,
    /// Connections one peer address holds.
    pub max_connections_per_peer: usize,
    /// Time to send a complete request head.
    pub header_read_timeout: Duration,
    /// `TCP_NOTSENT_LOWAT` of each socket.
    pub send_queue_bytes: u32,
}

impl From<&ServerConfig> for HttpLimits {
    fn from(s: &ServerConfig) -> Self {
        Self {
            max_connections: s.max_connections.get(),
            max_connections_per_peer: s.max_connections_per_peer.get(),
            header_read_timeout: Duration::from_millis(s.header_read_timeout_ms.get()),
            send_queue_bytes: s.send_queue_bytes.get(),
        }
    }
}

/// Serves `router` on `listener` (named `what` in the log) until shutdown; over TLS with `tls`.
pub async fn serve_router(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: HttpLimits,
    metrics: Metrics,
    mut shutdown: ShutdownSignal,
    what: &'static str,
    tls: Option<TlsAcceptor>,
) {
    let gate = ConnectionGate::new(limits.max_connections, limits.max_connections_per_peer);
    let mut refused = 0u64;
    loop {
        let (sock, peer) = tokio::select! {
            c = crate::listener::accept(&listener, what) => c,
            _ = shutdown.wait() => return,
        };
        let admitted = match gate.admit(peer.ip()) {
            Ok(a) => a,
            Err(r) => {
                refused += 1;
                let reason = match r {
                    Refusal::ListenerFull => HttpRefusal::ListenerFull,
                    Refusal::PeerFull => HttpRefusal::PeerFull,
                };
                metrics.http_refused(reason);
                if refused.is_power_of_two() {
                    tracing::warn!(listener = what, %reason, refused, open = gate.connections(), "connection refused: connection cap reached");
                }
                // Best effort and never waiting: a peer that does not read gets the close alone.
                // A TLS client would read the plain 503 as a broken record: it gets the close.
                if tls.is_none() {
                    let _ = sock.try_write(BUSY);
                }
                continue;
            }
        };
        let _ = sock.set_nodelay(true);
        let local = sock.local_addr().ok().map(crate::listener::LocalAddr);
        if let Err(e) = crate::listener::limit_unsent(&sock, limits.send_queue_bytes) {
            tracing::debug!(listener = what, error = %e, "cannot set TCP_NOTSENT_LOWAT; viewers on this connection cannot skip ahead");
        }
        // The place and the gauge go with the socket: an upgraded WebSocket keeps them.
        let io = SharedTcp::new(sock, (admitted, metrics.http_connection()));
        let queue = io.send_queue();
        crate::task::spawn_connection(
            format!("{what} {peer}"),
            serve_connection(
                io,
                tls.clone(),
                queue,
                (peer, local),
                router.clone(),
                limits,
                metrics.clone(),
                shutdown.clone(),
            ),
        );
    }
}

/// Runs the TLS handshake first when there is `tls`, then HTTP.
#[allow(clippy::too_many_arguments)]
async fn serve_connection(
    io: SharedTcp,
    tls: Option<TlsAcceptor>,
    queue: SendQueue,
    (peer, local): (SocketAddr, Option<crate::listener::LocalAddr>),
    router: Router,
    limits: HttpLimits,
    metrics: Metrics,
    mut shutdown: ShutdownSignal,
) {
    let peer = (peer, local);
    let Some(acceptor) = tls else {
        return serve_http(io, queue, peer, router, limits, metrics, shutdown).await;
    };
    let handshake = tokio::select! {
        r = tokio::time::timeout(limits.header_read_timeout, acceptor.accept(io)) => r,
        _ = shutdown.wait() => return,
    };
    match handshake {
        Ok(Ok(stream)) => serve_http(stream, queue, peer, router, limits, metrics, shutdown).await,
        Ok(Err(e)) => {
            metrics.http_tls_handshake_failed();
            tracing::debug!(peer = %peer.0, error = %e, "closed: TLS handshake failed");
        }
        Err(_) => {
            metrics.http_tls_handshake_failed();
            tracing::debug!(peer = %peer.0, "closed: no TLS handshake in time");
        }
    }
}

/// HTTP/1 on `io` (a socket, or a TLS session over one) until it ends or shutdown.
async fn serve_http<I>(
    io: I,
    queue: SendQueue,
    (peer, local): (SocketAddr, Option<crate::listener::LocalAddr>),
    router: Router,
    limits: HttpLimits,
    metrics: Metrics,
    mut shutdown: ShutdownSignal,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        if let Some(l) = local {
            req.extensions_mut().insert(l);
        }
        req.extensions_mut().insert(queue.clone());
        let mut router = router.clone();
        // `Router` is always ready and its error type is `Infallible`.
        async move { router.call(req).await }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let conn = builder
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(conn);
    let mut closing = false;
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                match r {
                    Err(e) if e.is_timeout() => {
                        metrics.http_header_timeout();
                        tracing::debug!(%peer, "closed: no complete request head in time");
                    }
                    Err(e) => tracing::debug!(%peer, error = %e, "HTTP connection ended with an error"),
                    Ok(()) => {}
                }
                return;
            }
            _ = shutdown.wait(), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}
