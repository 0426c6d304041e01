//! A load-generator MJPEG client: `GET /api/streams/{name}/mjpeg` (`docs/api.md`), reading the
//! multipart response as fast as it comes and counting its parts ([`super::multipart`]) and bytes.
//! MJPEG parts carry no capture time, so this client measures rate, not latency.

use super::http_get;
use super::multipart::PartCounter;
use super::tally::Tally;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::AsyncReadExt;
use tokio::sync::watch;

/// Runs until `stop` turns true; counts into `tally` while `counting` is true.
pub async fn run(
    server: SocketAddr,
    stream: String,
    tally: Arc<Tally>,
    counting: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
) {
    let stopping = stop.clone();
    let path = format!("/api/streams/{stream}/mjpeg");
    let response = tokio::select! {
        r = http_get::get(server, &path, false) => r,
        _ = super::stopped(&mut stop) => return,
    };
    let mut response = match response {
        Ok(r) if r.status == 200 => r,
        _ => {
            tally.counters.error();
            return;
        }
    };
    let mut parts = PartCounter::new("pixelwireframe");
    parts.feed(&response.body_start);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        tokio::select! {
            n = response.socket.read(&mut buf) => match n {
                Ok(n) if n > 0 => {
                    let before = parts.parts();
                    parts.feed(&buf[..n]);
                    if *counting.borrow() {
                        tally.counters.bytes.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
                        tally.counters.frames.fetch_add(parts.parts() - before, std::sync::atomic::Ordering::Relaxed);
                    }
                }
                _ => {
                    if !*stopping.borrow() {
                        tally.counters.error();
                    }
                    return;
                }
            },
            _ = super::stopped(&mut stop) => return,
        }
    }
}
