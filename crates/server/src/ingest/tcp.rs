//! Picamera-style raw TCP clients (seed 004, `seed-protocols.md` §D): each frame is a `u32`
//! little-endian length and that many bytes; a zero length ends the stream. A frame is a JPEG
//! (`FF D8 FF`), or raw I420 / RGB24 / RGBA at `cameras.tcp_raw_width × tcp_raw_height` with
//! Picamera's padding (width to a multiple of 32, height to 16), told apart by its length. Anything
//! else is counted and skipped, keeping the framing. Many clients at once; each publishes into
//! `tcp-<ip>`, stable across reconnects. A frame over `cameras.max_frame_bytes`, or garbage that
//! breaks the framing, closes that connection only.

use super::{CameraHub, Transport, name_for_address};
use crate::metrics::DropReason;
use crate::shutdown::ShutdownSignal;
use bytes::Bytes;
use pixelwire_media::picamera::raw_frame;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

/// A frame must arrive within this long of its length word.
const FRAME_TIMEOUT: Duration = Duration::from_secs(10);
/// What a frame's buffer starts at before its bytes arrive.
const INITIAL_BUFFER: usize = 64 * 1024;

/// Accepts Picamera clients until shutdown.
pub async fn run(listener: TcpListener, hub: Arc<CameraHub>, mut shutdown: ShutdownSignal) {
    let gate = crate::listener::ConnectionGate::new(
        hub.settings.tcp_max_connections.max(1),
        hub.settings.tcp_max_connections_per_peer.max(1),
    );
    let mut refused = 0u64;
    loop {
        tokio::select! {
            (sock, peer) = crate::listener::accept(&listener, "tcp cameras") => {
                let allow = &hub.settings.tcp_allow;
                if !allow.is_empty() && !allow.iter().any(|n| n.contains(peer.ip())) {
                    hub.dropped(Transport::Tcp, DropReason::Unauthorized);
                    tracing::info!(%peer, "tcp camera refused: not in cameras.tcp_allow");
                    drop(sock);
                    continue;
                }
                let Some(place) = gate.admit_or_close(peer, "tcp cameras", &mut refused) else {
                    continue;
                };
                let hub = hub.clone();
                let sd = shutdown.clone();
                crate::task::spawn_connection(format!("tcp camera {peer}"), async move {
                    let _place = place;
                    let stream = name_for_address("tcp", peer.ip());
                    tracing::info!(%peer, %stream, "tcp camera connected");
                    let reason = serve(sock, peer, &stream, &hub, sd).await;
                    tracing::info!(%peer, %stream, %reason, "tcp camera disconnected");
                });
            },
            _ = shutdown.wait() => return,
        }
    }
}

async fn serve(
    mut sock: TcpStream,
    peer: SocketAddr,
    stream: &str,
    hub: &CameraHub,
    mut shutdown: ShutdownSignal,
) -> String {
    let _guard = hub.camera_connected();
    let (w, h) = (
        hub.settings.tcp_raw_width.get(),
        hub.settings.tcp_raw_height.get(),
    );
    let feed = hub.feed(stream, stream, Transport::Tcp, &peer.to_string());
    let mut seq = 0u64;
    loop {
        let mut len = [0u8; 4];
        tokio::select! {
            r = sock.read_exact(&mut len) => if let Err(e) = r {
                return if e.kind() == std::io::ErrorKind::UnexpectedEof {
                    "closed without the zero end marker".into()
                } else {
                    format!("read failed: {e}")
                };
            },
            _ = shutdown.wait() => return "server shutting down".into(),
        }
        let n = u32::from_le_bytes(len) as usize;
        if n == 0 {
            return "end of stream (zero length)".into();
        }
        if n > hub.settings.max_frame_bytes.get() {
            hub.dropped(Transport::Tcp, DropReason::TooLarge);
            return format!("frame of {n} bytes exceeds cameras.max_frame_bytes: closing");
        }
        // The buffer grows as bytes arrive: a peer that announces 16 MiB and sends nothing costs
        // nothing (issue 13: 50 such peers took 300 MiB when the length was allocated up front).
        let mut data = Vec::with_capacity(n.min(INITIAL_BUFFER));
        let mut body = (&mut sock).take(n as u64);
        match tokio::time::timeout(FRAME_TIMEOUT, body.read_to_end(&mut data)).await {
            Ok(Ok(got)) if got == n => {}
            Ok(Ok(got)) => return format!("frame cut short: {got} of {n} bytes"),
            Ok(Err(e)) => return format!("frame cut short: {e}"),
            Err(_) => return "frame did not arrive in time".into(),
        }
        seq += 1;
        let published = if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
            // Counted inside if it is not a complete JPEG; the framing goes on.
            hub.publish_jpeg(&feed, Bytes::from(data))
        } else if let Some(frame) = raw_frame(&data, w, h, seq, crate::clock::now().as_micros()) {
            hub.publish(&feed, frame, n as u64)
        } else {
            hub.dropped(Transport::Tcp, DropReason::UnknownFormat);
            tracing::debug!(%peer, len = n, "frame is neither JPEG nor a raw size for {w}x{h}");
            Ok(())
        };
        // Limits and another key's stream refuse every later frame too: close with the reason.
        if let Err(e) = published
            && e.ends_connection()
        {
            return format!("{e}: closing");
        }
    }
}
