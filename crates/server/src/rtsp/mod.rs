//! RTSP out (`docs/rtsp.md`): `rtsp://HOST:8554/NAME` for NVRs, Frigate, VLC and ffmpeg. Every
//! session reads the stream's shared encoder (`crate::encoded`): no RTSP client ever costs an
//! encode. `session.rs` is the sans-IO protocol (requests in, responses out), `sdp.rs` the
//! session description, `rtp.rs` the packetisation and `connection.rs` the socket edge.

pub mod connection;
pub mod rtp;
pub mod sdp;
pub mod session;

use crate::bus::Bus;
use crate::config::RtspSettings;
use crate::encoded::SharedEncoders;
use crate::listener::ConnectionGate;
use crate::metrics::Metrics;
use crate::shutdown::ShutdownSignal;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// What RTSP connections share; cheap to clone.
#[derive(Debug, Clone)]
pub struct RtspContext {
    /// Streams.
    pub bus: Arc<Bus>,
    /// The shared encoders.
    pub encoders: Arc<SharedEncoders>,
    /// Metrics.
    pub metrics: Metrics,
    /// Shutdown.
    pub shutdown: ShutdownSignal,
    /// `[rtsp]`.
    pub settings: RtspSettings,
    /// `server.send_queue_bytes`: unsent bytes before units are skipped.
    pub send_queue_bytes: u32,
    /// `server.stalled_viewer_timeout_ms`.
    pub stalled_limit: Duration,
}

/// Accepts RTSP connections on `listener` until shutdown, within `[rtsp]`'s connection caps.
pub async fn run(listener: TcpListener, ctx: RtspContext) {
    let gate = ConnectionGate::new(
        ctx.settings.max_connections,
        ctx.settings.max_connections_per_peer,
    );
    let mut refused = 0u64;
    let mut sd = ctx.shutdown.clone();
    loop {
        let (sock, peer) = tokio::select! {
            a = crate::listener::accept(&listener, "RTSP") => a,
            _ = sd.wait() => return,
        };
        let Some(admitted) = gate.admit_or_close(peer, "RTSP", &mut refused) else {
            continue;
        };
        tokio::spawn(connection::serve(sock, peer, ctx.clone(), admitted));
    }
}
