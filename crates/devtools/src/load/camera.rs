//! A load-generator camera: pushes pre-encoded JPEGs over the camera WebSocket
//! (`/ws/camera/{name}`, `docs/api.md`, "Camera ingest") on a fixed frame clock, one binary
//! message per frame. Encoding happens once before the run, so a camera costs the generator only
//! its socket writes. A tick that comes while the previous frame is still being written is skipped
//! and counted (the server did not take frames as fast as they were made): the camera never
//! queues frames.

use super::tally::Tally;
use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::{Bytes, Message};

/// One camera's settings.
#[derive(Debug, Clone)]
pub struct CameraSpec {
    /// Server HTTP address.
    pub server: SocketAddr,
    /// Stream name.
    pub stream: String,
    /// Frames per second.
    pub fps: f64,
    /// The frames, replayed in a loop.
    pub frames: Arc<[Bytes]>,
    /// Index of the first frame (cameras start at different frames).
    pub first: usize,
}

/// Runs until `stop` turns true; counts into `tally` (and `sent`, this camera's own count) while
/// `counting` is true.
pub async fn run(
    spec: CameraSpec,
    tally: Arc<Tally>,
    sent: Arc<AtomicU64>,
    counting: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
) {
    let stopping = stop.clone();
    let url = format!("ws://{}/ws/camera/{}", spec.server, spec.stream);
    let ws = async {
        let tcp = TcpStream::connect(spec.server).await?;
        tcp.set_nodelay(true)?;
        let (ws, _) = tokio_tungstenite::client_async(url.as_str(), tcp).await?;
        Ok::<_, anyhow::Error>(ws)
    };
    let ws = tokio::select! {
        r = ws => r,
        _ = super::stopped(&mut stop) => return,
    };
    let Ok(ws) = ws else {
        tally.counters.error();
        return;
    };
    let (mut tx, mut rx) = ws.split();
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / spec.fps.max(0.1)));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let period = ticks.period();
    let mut i = spec.first;
    let mut next_due = Instant::now();
    loop {
        tokio::select! {
            t = ticks.tick() => {
                // Ticks the previous send overran were skipped by the interval: count them.
                let missed = t.saturating_duration_since(next_due).as_secs_f64() / period.as_secs_f64();
                let missed = missed.round() as u64;
                next_due = t + period;
                let frame = spec.frames[i % spec.frames.len()].clone();
                i += 1;
                let len = frame.len();
                if tx.send(Message::Binary(frame)).await.is_err() {
                    if !*stopping.borrow() {
                        tally.counters.error();
                    }
                    return;
                }
                if *counting.borrow() {
                    tally.counters.frame(len);
                    sent.fetch_add(1, Ordering::Relaxed);
                    tally.counters.missing(missed);
                }
            }
            m = rx.next() => match m {
                Some(Ok(_)) => {}
                _ => {
                    if !*stopping.borrow() {
                        tally.counters.error();
                    }
                    return;
                }
            },
            _ = super::stopped(&mut stop) => {
                let _ = tx.close().await;
                return;
            }
        }
    }
}
