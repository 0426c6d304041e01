//! A simulated slow link on top of a real TCP connection: downstream bytes are read in 1460-byte
//! segments no faster than `kbps` allows and handed on after half the round trip; upstream bytes
//! are written after half the round trip. Reading slowly lets TCP flow control push back on the
//! server, as a slow WiFi link would; the socket's receive buffer is kept small for the same reason.

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Lateness of the reader's wake-up still taken as bytes that were waiting (one 1460-byte segment
/// at 300 kB/s takes 4.9 ms; a timer wakes up to about 1 ms late, more on a busy machine).
const BACK_TO_BACK: Duration = Duration::from_millis(5);

/// Link parameters.
#[derive(Debug, Clone, Copy)]
pub struct LinkModel {
    /// Bytes per second each way; `None` for unthrottled.
    pub bytes_per_s: Option<f64>,
    /// One-way delay (half the round trip).
    pub one_way: Duration,
}

/// A downstream segment and when it reaches the device.
#[derive(Debug)]
pub struct Segment {
    /// When it arrives.
    pub at: Instant,
    /// The bytes (empty means the connection closed).
    pub bytes: Vec<u8>,
}

/// Spawns the downstream reader; segments arrive on the returned channel in order.
pub fn spawn_reader(mut rd: OwnedReadHalf, link: LinkModel) -> mpsc::Receiver<Segment> {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        let mut buf = vec![0u8; 1460];
        let mut free_at = Instant::now();
        loop {
            let n = match rd.read(&mut buf).await {
                Ok(0) | Err(_) => 0,
                Ok(n) => n,
            };
            let now = Instant::now();
            if let Some(rate) = link.bytes_per_s {
                // Bytes read within a segment's time of the link freeing up were waiting for it
                // (the timer woke this task late): they follow back to back, so the timer's
                // lateness does not slow the link down segment after segment.
                let back_to_back = now.saturating_duration_since(free_at) < BACK_TO_BACK;
                free_at = if back_to_back { free_at } else { now }
                    + Duration::from_secs_f64(n as f64 / rate);
                tokio::time::sleep_until(free_at).await;
            } else {
                free_at = now;
            }
            let seg = Segment {
                at: free_at + link.one_way,
                bytes: buf[..n].to_vec(),
            };
            if tx.send(seg).await.is_err() || n == 0 {
                return;
            }
        }
    });
    rx
}

/// Spawns the upstream writer: each buffer is written `one_way` after it was queued.
pub fn spawn_writer(mut wr: OwnedWriteHalf, link: LinkModel) -> mpsc::UnboundedSender<Vec<u8>> {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    tokio::spawn(async move {
        while let Some(b) = out_rx.recv().await {
            if tx.send((Instant::now() + link.one_way, b)).is_err() {
                return;
            }
        }
    });
    tokio::spawn(async move {
        while let Some((at, bytes)) = rx.recv().await {
            tokio::time::sleep_until(at).await;
            if wr.write_all(&bytes).await.is_err() {
                return;
            }
        }
        let _ = wr.shutdown().await;
    });
    out_tx
}
