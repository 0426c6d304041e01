//! Load generator for the browser viewer WebSocket (`docs/api.md`, "Viewer WebSocket"): opens N
//! viewer sockets to one stream, reads every message, and reports per-viewer received frames per
//! second and the ingest-to-viewer latency distribution. `scripts/bench_camera.py` runs it to find
//! how many H.264 viewers one stream can serve from one core.
//!
//! Each viewer reads the JSON hello, then binary messages ([`pixelwire_media::viewer_message`]): a
//! 16-byte header whose `capture_time_us` is when the server ingested the frame (server clock, µs
//! since the Unix epoch). Latency is the local wall-clock time at which the whole message was read
//! minus `capture_time_us`, corrected by the clock offset that viewer 0 measures first with the
//! endpoint's `{"type":"ping"}` / `pong` exchange (the sample with the smallest round trip; on one
//! host the offset is only the server clock's drift from the wall clock since it started).
//!
//! Connections open one every `--connect-interval-ms`; measuring starts `--warmup` seconds after
//! the last one is up (every join forces a keyframe) and lasts `--duration` seconds. By default
//! the runtime has one thread, so the generator itself uses at most one core.
//!
//! Output: `measuring for D s` on stderr when the window opens, a one-line report on stderr at
//! the end, and one `summary {json}` line on stdout.
//!
//! Run: `cargo run --release -p pixelwire --example viewer_load -- --url
//! 'ws://127.0.0.1:8080/api/streams/cam/ws?codec=h264' --viewers 100 --duration 10`

use anyhow::Context;
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use pixelwire_media::viewer_message as message;
use serde_json::json;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Command-line options.
#[derive(Debug, Clone, Parser)]
struct Args {
    /// Viewer WebSocket URL, e.g. ws://127.0.0.1:8080/api/streams/cam/ws?codec=h264.
    #[arg(long)]
    url: String,
    /// Number of viewer connections.
    #[arg(long, default_value_t = 1)]
    viewers: usize,
    /// Seconds measured.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds between the last connection and the start of the measurement.
    #[arg(long, default_value_t = 3.0)]
    warmup: f64,
    /// Runtime threads (1: the generator uses at most one core).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Milliseconds between opening two connections.
    #[arg(long, default_value_t = 5)]
    connect_interval_ms: u64,
    /// A viewer below this many frames per second counts as not keeping up.
    #[arg(long, default_value_t = 29.0)]
    min_fps: f64,
    /// Clock-offset probes sent by viewer 0 before it starts counting.
    #[arg(long, default_value_t = 10)]
    pings: u32,
}

/// What one viewer saw inside the measuring window.
#[derive(Debug, Default)]
struct ViewerStats {
    frames: u64,
    keyframes: u64,
    bytes: u64,
    /// Receive time minus capture time, µs, uncorrected.
    latencies_us: Vec<i64>,
    /// The server closed the socket (or it failed) before the end.
    closed_early: bool,
    /// The connection or the hello failed.
    error: Option<String>,
}

/// When counting starts; set once by `run`.
type WindowStart = Arc<OnceLock<Instant>>;

fn wall_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// Opens a viewer socket with TCP_NODELAY (as browsers do).
async fn connect(url: &str) -> anyhow::Result<Socket> {
    let request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url)?;
    let authority = request
        .uri()
        .authority()
        .context("URL without host:port")?
        .as_str()
        .to_string();
    let stream = TcpStream::connect(&authority).await?;
    stream.set_nodelay(true)?;
    let (ws, _) = tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream)).await?;
    Ok(ws)
}

/// Clock offset (server − local, µs) and round trip (µs) from the fastest of `n` pings.
async fn clock_offset(ws: &mut Socket, n: u32) -> anyhow::Result<(i64, i64)> {
    let mut best: Option<(i64, i64)> = None;
    for id in 0..n {
        let t0 = wall_us();
        ws.send(Message::text(
            json!({ "type": "ping", "id": id }).to_string(),
        ))
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
        let rtt = t1 - t0;
        let offset = server_us - (t0 + t1) / 2;
        if best.is_none_or(|(_, r)| rtt < r) {
            best = Some((offset, rtt));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    best.context("no pings")
}

/// One viewer: connects, reads the hello, optionally measures the clock offset, then reads until
/// `stop` changes, counting what arrives inside the window.
async fn viewer(
    args: Arc<Args>,
    index: usize,
    start: WindowStart,
    mut stop: watch::Receiver<bool>,
    connected: mpsc::UnboundedSender<Option<(i64, i64)>>,
) -> ViewerStats {
    let mut stats = ViewerStats::default();
    let setup = async {
        let mut ws = connect(&args.url).await?;
        match ws.next().await.context("closed before the hello")?? {
            Message::Text(t) if t.as_str().contains("\"hello\"") => {}
            other => anyhow::bail!("expected the JSON hello, got {other:?}"),
        }
        let offset = if index == 0 && args.pings > 0 {
            Some(clock_offset(&mut ws, args.pings).await?)
        } else {
            None
        };
        Ok::<_, anyhow::Error>((ws, offset))
    };
    let mut ws = match setup.await {
        Ok((ws, offset)) => {
            let _ = connected.send(offset);
            ws
        }
        Err(e) => {
            stats.error = Some(format!("{e:#}"));
            let _ = connected.send(None);
            return stats;
        }
    };
    loop {
        tokio::select! {
            m = ws.next() => match m {
                Some(Ok(Message::Binary(b))) => {
                    let received_us = wall_us();
                    if start.get().is_some_and(|s| Instant::now() >= *s)
                        && let Some((h, _)) = message::parse(&b)
                    {
                        stats.frames += 1;
                        stats.keyframes += u64::from(h.keyframe);
                        stats.bytes += b.len() as u64;
                        stats.latencies_us.push(received_us - h.capture_time_us as i64);
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                    stats.closed_early = !*stop.borrow();
                    break;
                }
                Some(Ok(_)) => {}
            },
            _ = stop.changed() => break,
        }
    }
    let _ = ws.close(None).await;
    stats
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

async fn run(args: Args) -> anyhow::Result<()> {
    let args = Arc::new(args);
    let start: WindowStart = Arc::new(OnceLock::new());
    let (stop_tx, stop_rx) = watch::channel(false);
    let (conn_tx, mut conn_rx) = mpsc::unbounded_channel();
    let mut tasks = Vec::with_capacity(args.viewers);
    for i in 0..args.viewers {
        tasks.push(tokio::spawn(viewer(
            args.clone(),
            i,
            start.clone(),
            stop_rx.clone(),
            conn_tx.clone(),
        )));
        tokio::time::sleep(Duration::from_millis(args.connect_interval_ms)).await;
    }
    drop(conn_tx);
    // Every viewer reports once, connected or not (each keeps its sender, so count).
    let mut clock: Option<(i64, i64)> = None;
    for _ in 0..args.viewers {
        match conn_rx.recv().await {
            Some(c) => clock = clock.or(c),
            None => break,
        }
    }
    tokio::time::sleep(Duration::from_secs_f64(args.warmup)).await;
    let t0 = Instant::now();
    let _ = start.set(t0);
    // Drivers wait for this line to align their own measurements with the window.
    eprintln!("measuring for {} s", args.duration);
    tokio::time::sleep(Duration::from_secs_f64(args.duration)).await;
    let _ = stop_tx.send(true);
    let window_s = t0.elapsed().as_secs_f64();
    let mut all = Vec::with_capacity(tasks.len());
    for t in tasks {
        all.push(t.await.context("viewer task panicked")?);
    }

    let (offset_us, rtt_us) = clock.unwrap_or((0, 0));
    let failed: Vec<&str> = all.iter().filter_map(|s| s.error.as_deref()).collect();
    let ok: Vec<&ViewerStats> = all.iter().filter(|s| s.error.is_none()).collect();
    let closed_early = ok.iter().filter(|s| s.closed_early).count();
    let per_s = |f: fn(&ViewerStats) -> u64| -> Vec<f64> {
        sorted(ok.iter().map(|s| f(s) as f64 / window_s).collect())
    };
    let fps = per_s(|s| s.frames);
    let bytes_per_s = per_s(|s| s.bytes);
    let keyframes_per_s = per_s(|s| s.keyframes);
    let below = fps.iter().filter(|f| **f < args.min_fps).count();
    let lat_ms = sorted(
        ok.iter()
            .flat_map(|s| s.latencies_us.iter())
            .map(|l| (l - offset_us) as f64 / 1000.0)
            .collect(),
    );

    let summary = json!({
        "viewers": args.viewers,
        "connected": ok.len(),
        "failed": failed.len(),
        "closed_early": closed_early,
        "window_s": window_s,
        "fps_min": fps.first(),
        "fps_p50": percentile(&fps, 50.0),
        "viewers_below_min_fps": below,
        "kbytes_per_s_p50": percentile(&bytes_per_s, 50.0).map(|b| b / 1000.0),
        "keyframes_per_s_p50": percentile(&keyframes_per_s, 50.0),
        "samples": lat_ms.len(),
        "latency_p50_ms": percentile(&lat_ms, 50.0),
        "latency_p95_ms": percentile(&lat_ms, 95.0),
        "latency_p99_ms": percentile(&lat_ms, 99.0),
        "latency_max_ms": lat_ms.last(),
        "clock_offset_ms": offset_us as f64 / 1000.0,
        "clock_rtt_ms": rtt_us as f64 / 1000.0,
    });
    eprintln!(
        "{} of {} viewers connected ({} failed, {closed_early} closed early); {window_s:.1} s \
         measured; fps min {:.1}, median {:.1}, {below} below {}; latency ms p50 {:.2}, p95 {:.2}, \
         p99 {:.2} ({} samples, clock offset {:.3} ms)",
        ok.len(),
        args.viewers,
        failed.len(),
        fps.first().copied().unwrap_or(0.0),
        percentile(&fps, 50.0).unwrap_or(0.0),
        args.min_fps,
        percentile(&lat_ms, 50.0).unwrap_or(f64::NAN),
        percentile(&lat_ms, 95.0).unwrap_or(f64::NAN),
        percentile(&lat_ms, 99.0).unwrap_or(f64::NAN),
        lat_ms.len(),
        offset_us as f64 / 1000.0,
    );
    if let Some(e) = failed.first() {
        eprintln!("first failure: {e}");
    }
    println!("summary {summary}");
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.viewers > 0, "--viewers must be at least 1");
    let runtime = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()?
    };
    runtime.block_on(run(args))
}
