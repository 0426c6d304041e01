//! A load-generator snapshot client: every `interval`, `GET /api/streams/{name}/snapshot.jpg` on a
//! new connection (as curl or Home Assistant do), timed from connect to the last byte. A good
//! answer is `200` with a body that starts like a JPEG; anything else counts as a failure.

use super::http_get;
use super::tally::Tally;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::sync::watch;

/// Largest snapshot body read.
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

async fn one(server: SocketAddr, path: &str) -> anyhow::Result<usize> {
    let mut r = http_get::get(server, path, true).await?;
    anyhow::ensure!(r.status == 200, "status {}", r.status);
    let mut body = std::mem::take(&mut r.body_start);
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = r.socket.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
        anyhow::ensure!(body.len() <= MAX_BODY_BYTES, "body over 8 MiB");
    }
    anyhow::ensure!(body.starts_with(&[0xff, 0xd8]), "body is not a JPEG");
    Ok(body.len())
}

/// Runs until `stop` turns true; counts into `tally` while `counting` is true: good snapshots as
/// frames with their time as latency, failures as `other`.
pub async fn run(
    server: SocketAddr,
    stream: String,
    interval: Duration,
    tally: Arc<Tally>,
    counting: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
) {
    let path = format!("/api/streams/{stream}/snapshot.jpg");
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = super::stopped(&mut stop) => return,
        }
        let t0 = Instant::now();
        let r = tokio::select! {
            r = one(server, &path) => r,
            _ = super::stopped(&mut stop) => return,
        };
        if !*counting.borrow() {
            continue;
        }
        match r {
            Ok(len) => {
                tally.counters.frame(len);
                tally.latency_us(t0.elapsed().as_micros() as i64);
            }
            Err(e) => {
                tracing::debug!(error = %e, "snapshot failed");
                tally.counters.other(1);
            }
        }
    }
}
