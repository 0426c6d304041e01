//! A load-generator H.264 viewer: opens the viewer WebSocket (`/api/streams/{name}/ws?codec=h264`,
//! `docs/api.md`, "Viewer WebSocket"), reads the hello and then every unit, and records the latency
//! from the unit's `capture_time_us` (the server's ingest time, server clock) to its arrival,
//! corrected by a clock offset measured once with the socket's ping/pong, the frames missing by
//! capture-time gaps ([`super::gaps`]) and the units per viewer for the slowest viewer's rate.

use super::gaps::GapCounter;
use super::tally::Tally;
use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use pixelwire_media::viewer_message as message;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

type Socket = WebSocketStream<TcpStream>;

/// Server clock minus local wall clock, µs; `i64::MIN` until measured.
#[derive(Debug)]
pub struct ClockOffset(AtomicI64);

impl Default for ClockOffset {
    fn default() -> Self {
        Self(AtomicI64::new(i64::MIN))
    }
}

impl ClockOffset {
    /// The offset, 0 until measured.
    pub fn get(&self) -> i64 {
        match self.0.load(Ordering::Relaxed) {
            i64::MIN => 0,
            o => o,
        }
    }

    fn measured(&self) -> bool {
        self.0.load(Ordering::Relaxed) != i64::MIN
    }
}

/// One viewer's settings.
#[derive(Debug, Clone)]
pub struct ViewerSpec {
    /// Server HTTP address.
    pub server: SocketAddr,
    /// Stream name.
    pub stream: String,
    /// The camera's frame rate (for gap counting).
    pub fps: f64,
}

/// Local wall clock, µs since the Unix epoch.
pub fn wall_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

async fn connect(spec: &ViewerSpec) -> anyhow::Result<Socket> {
    let url = format!(
        "ws://{}/api/streams/{}/ws?codec=h264",
        spec.server, spec.stream
    );
    let tcp = TcpStream::connect(spec.server).await?;
    tcp.set_nodelay(true)?;
    let (mut ws, _) = tokio_tungstenite::client_async(url.as_str(), tcp).await?;
    match ws.next().await.context("closed before the hello")?? {
        Message::Text(t) if t.as_str().contains("\"hello\"") => Ok(ws),
        other => anyhow::bail!("expected the JSON hello, got {other:?}"),
    }
}

/// Measures the clock offset from the fastest of ten pings.
async fn measure_offset(ws: &mut Socket, offset: &ClockOffset) -> anyhow::Result<()> {
    let mut best: Option<(i64, i64)> = None;
    for id in 0..10u32 {
        let t0 = wall_us();
        ws.send(Message::text(format!(r#"{{"type":"ping","id":{id}}}"#)))
            .await?;
        let server_us = loop {
            match ws.next().await.context("closed while waiting for pong")?? {
                Message::Text(t) => {
                    let v: serde_json::Value = serde_json::from_str(t.as_str())?;
                    if v["type"] == "pong" && v["id"] == id {
                        break v["server_us"].as_i64().context("pong without server_us")?;
                    }
                }
                Message::Close(_) => anyhow::bail!("closed while waiting for pong"),
                _ => {}
            }
        };
        let t1 = wall_us();
        if best.is_none_or(|(_, rtt)| t1 - t0 < rtt) {
            best = Some((server_us - (t0 + t1) / 2, t1 - t0));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    if let Some((o, _)) = best {
        offset.0.store(o, Ordering::Relaxed);
    }
    Ok(())
}

/// Runs until `stop` turns true; counts into `tally` (and `units`, this viewer's own count) while
/// `counting` is true. The first viewer to connect measures `offset`.
pub async fn run(
    spec: ViewerSpec,
    tally: Arc<Tally>,
    units: Arc<AtomicU64>,
    offset: Arc<ClockOffset>,
    counting: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
) {
    let stopping = stop.clone();
    let setup = async {
        let mut ws = connect(&spec).await?;
        if !offset.measured() {
            measure_offset(&mut ws, &offset).await?;
        }
        Ok::<_, anyhow::Error>(ws)
    };
    let ws = tokio::select! {
        r = setup => r,
        _ = super::stopped(&mut stop) => return,
    };
    let mut ws = match ws {
        Ok(ws) => ws,
        Err(e) => {
            tracing::debug!(error = %e, "viewer failed to connect");
            tally.counters.error();
            return;
        }
    };
    let mut gaps = GapCounter::new(spec.fps);
    loop {
        tokio::select! {
            m = ws.next() => match m {
                Some(Ok(Message::Binary(b))) => {
                    let received = wall_us();
                    let Some((h, _)) = message::parse(&b) else { continue };
                    let missing = gaps.unit(h.capture_time_us);
                    if *counting.borrow() {
                        tally.counters.frame(b.len());
                        tally.counters.other(u64::from(h.keyframe));
                        tally.counters.missing(missing);
                        tally.latency_us(received - h.capture_time_us as i64 + offset.get());
                        units.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => {
                    if !*stopping.borrow() {
                        tally.counters.error();
                    }
                    return;
                }
            },
            _ = super::stopped(&mut stop) => {
                let _ = ws.close(None).await;
                return;
            }
        }
    }
}
