//! Picamera-style raw TCP clients (seed 004, `seed-protocols.md` §D): each frame is a `u32`
//! little-endian length and that many bytes; a zero length ends the stream. A frame is a JPEG
//! (`FF D8 FF`), or raw I420 / RGB24 / RGBA at `cameras.tcp_raw_width × tcp_raw_height` with
//! Picamera's padding (width to a multiple of 32, height to 16), told apart by its length. Anything
//! else is counted and skipped, keeping the framing. Many clients at once; each publishes into
//! `tcp-<ip>`, stable across reconnects. A frame over `cameras.max_frame_bytes`, or garbage that
//! breaks the framing, closes that connection only.

use super::{CameraHub, Transport, name_for_address};
use crate::media::MediaFrame;
use crate::media::yuv::{I420, padded_i420_len, padded_packed_len};
use crate::shutdown::ShutdownSignal;
use bytes::Bytes;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

/// A frame must arrive within this long of its length word.
const FRAME_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts Picamera clients until shutdown.
pub async fn run(listener: TcpListener, hub: Arc<CameraHub>, mut shutdown: ShutdownSignal) {
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((sock, peer)) => {
                    let hub = hub.clone();
                    let sd = shutdown.clone();
                    crate::display::spawn_connection(format!("tcp camera {peer}"), async move {
                        let stream = name_for_address("tcp", peer.ip());
                        tracing::info!(%peer, %stream, "tcp camera connected");
                        let reason = serve(sock, peer, &stream, &hub, sd).await;
                        tracing::info!(%peer, %stream, %reason, "tcp camera disconnected");
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = shutdown.wait() => return,
        }
    }
}

/// The padded raw layouts a frame of `len` bytes could be, for `w × h`.
fn raw_frame(data: &[u8], w: u32, h: u32, seq: u64, t: u64) -> Option<MediaFrame> {
    let len = data.len();
    if len == padded_i420_len(w, h) {
        return I420::from_padded(data, w, h).map(|y| MediaFrame::from_i420(y, seq, t));
    }
    let pw = w.div_ceil(32) * 32;
    // RGB24 or RGBA (Picamera's `rgb` / `rgba`): both start each pixel with R, G, B.
    let bpp: u32 = if len == padded_packed_len(w, h, 3) {
        3
    } else if len == padded_packed_len(w, h, 4) {
        4
    } else {
        return None;
    };
    let mut rgba = Vec::with_capacity((w * h * 4) as usize);
    for y in 0..h {
        let row = (y * pw * bpp) as usize;
        for x in 0..w {
            let i = row + (x * bpp) as usize;
            rgba.extend_from_slice(&[data[i], data[i + 1], data[i + 2], 255]);
        }
    }
    Some(MediaFrame::from_rgba(w, h, rgba, seq, t))
}

async fn serve(
    mut sock: TcpStream,
    peer: SocketAddr,
    stream: &str,
    hub: &CameraHub,
    mut shutdown: ShutdownSignal,
) -> String {
    let _guard = hub.camera_connected();
    let (w, h) = (hub.settings.tcp_raw_width, hub.settings.tcp_raw_height);
    let address = peer.to_string();
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
        if n > hub.settings.max_frame_bytes {
            hub.dropped(Transport::Tcp, "too_large");
            return format!("frame of {n} bytes exceeds cameras.max_frame_bytes: closing");
        }
        let mut data = vec![0u8; n];
        match tokio::time::timeout(FRAME_TIMEOUT, sock.read_exact(&mut data)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return format!("frame cut short: {e}"),
            Err(_) => return "frame did not arrive in time".into(),
        }
        seq += 1;
        if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
            // Counted inside if it is not a complete JPEG; the framing goes on.
            let _ = hub.publish_jpeg(stream, stream, Transport::Tcp, &address, Bytes::from(data));
        } else if let Some(frame) = raw_frame(&data, w, h, seq, crate::clock::now().as_micros()) {
            hub.publish(stream, stream, Transport::Tcp, &address, frame, n as u64);
        } else {
            hub.dropped(Transport::Tcp, "unknown_format");
            tracing::debug!(%peer, len = n, "frame is neither JPEG nor a raw size for {w}x{h}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_layouts_by_length() {
        let (w, h) = (320, 240);
        let yuv = vec![128u8; padded_i420_len(w, h)];
        assert_eq!(
            raw_frame(&yuv, w, h, 0, 0).map(|f| (f.width, f.height)),
            Some((320, 240))
        );
        let mut rgb = vec![0u8; padded_packed_len(w, h, 3)];
        rgb[0..3].copy_from_slice(&[200, 100, 50]);
        let f = raw_frame(&rgb, w, h, 0, 0).unwrap();
        assert_eq!(&f.rgba().unwrap().rgba[..4], &[200, 100, 50, 255]);
        assert!(raw_frame(&[0u8; 1000], w, h, 0, 0).is_none());
    }
}
