//! The live status of one connected display, as served by `GET /api/displays` and drawn on the web
//! page: identity, link and controller state, and rolling figures over the last few seconds. The
//! status is made when asked for ([`super::live::LiveDisplay::status`]); the counts in it are read
//! from the connection's metric series, the rolling figures from the samples in [`Rolling`].

use serde::Serialize;
use std::collections::VecDeque;

pub use crate::metrics::device::DeviceFigures;

/// One display as the API shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DisplayStatus {
    /// Device id, or `legacy-<ip>-<port>`.
    pub id: String,
    /// "pixelwire" or "legacy".
    pub protocol: &'static str,
    /// Peer address.
    pub address: String,
    /// Stream shown.
    pub stream: String,
    /// Where `stream` comes from: `"config"` or `"override"` (page or API); filled by the API.
    pub stream_origin: Option<super::routes::RouteOrigin>,
    /// The configuration's stream for this display; filled by the API.
    pub configured_stream: Option<String>,
    /// Its rate-control policy (`prefer`) and where that comes from; set by the route table.
    pub prefer: Option<crate::config::PreferName>,
    /// `config` or `override` (chosen on the page or through the API).
    pub prefer_origin: Option<super::routes::RouteOrigin>,
    /// Panel width.
    pub width: u32,
    /// Panel height.
    pub height: u32,
    /// Firmware version (pixelwire devices).
    pub firmware: Option<String>,
    /// Pixel format the panel declared in HELLO: `rgb565`, `rgb565le`, `gray8`, `gray4` or
    /// `mono1` (`docs/protocol.md`, "Pixel formats").
    pub pixel_format: &'static str,
    /// Seconds since connecting.
    pub connected_s: f64,
    /// Frames presented per second (legacy: frames written).
    pub fps: f64,
    /// Kilobytes sent per second.
    pub kbytes_per_s: f64,
    /// Median capture-to-presentation latency over the last 5 s, ms.
    pub latency_ms_p50: Option<f64>,
    /// 95th percentile of the same.
    pub latency_ms_p95: Option<f64>,
    /// Frames sent and not yet acknowledged.
    pub frames_in_flight: usize,
    /// Rate controller's quality level (0 = exact).
    pub quality_level: u8,
    /// PSNR of the panel after the last frame sent against its source before RGB565, dB (100:
    /// equal; `pixelwire_core::psnr`).
    pub psnr_db: Option<f64>,
    /// Mean per-frame PSNR since connecting, dB.
    pub psnr_db_mean: Option<f64>,
    /// Measured link + device capacity, kB/s.
    pub capacity_kbytes_per_s: Option<f64>,
    /// Smallest round trip, ms.
    pub rtt_ms: Option<f64>,
    /// Frames sent since connecting.
    pub frames_sent: u64,
    /// Frames presented since connecting.
    pub frames_presented: u64,
    /// Bytes sent since connecting.
    pub bytes_sent: u64,
    /// What the device reports about itself.
    pub device: Option<DeviceFigures>,
    /// URL of the panel preview image.
    pub preview: String,
}

/// Recent samples of one session (recorded by the session task), for its rolling figures.
#[derive(Debug, Default)]
pub struct Rolling {
    presented: VecDeque<(u64, f64)>,
    sent: VecDeque<(u64, u64)>,
}

const FPS_WINDOW_US: u64 = 2_000_000;
const LATENCY_WINDOW_US: u64 = 5_000_000;

impl Rolling {
    /// A frame was presented at `now_us` with `latency_ms`.
    pub fn presented(&mut self, now_us: u64, latency_ms: f64) {
        self.presented.push_back((now_us, latency_ms));
        while self
            .presented
            .front()
            .is_some_and(|(t, _)| now_us - t > LATENCY_WINDOW_US)
        {
            self.presented.pop_front();
        }
    }

    /// `bytes` were sent at `now_us`.
    pub fn sent(&mut self, now_us: u64, bytes: u64) {
        self.sent.push_back((now_us, bytes));
        while self
            .sent
            .front()
            .is_some_and(|(t, _)| now_us - t > FPS_WINDOW_US)
        {
            self.sent.pop_front();
        }
    }

    /// Writes fps, kB/s and latency percentiles into `s`.
    pub fn fill(&self, now_us: u64, s: &mut DisplayStatus) {
        let recent = |t: &u64| now_us.saturating_sub(*t) <= FPS_WINDOW_US;
        s.fps = self.presented.iter().filter(|(t, _)| recent(t)).count() as f64 / 2.0;
        s.kbytes_per_s = self
            .sent
            .iter()
            .filter(|(t, _)| recent(t))
            .map(|(_, b)| *b)
            .sum::<u64>() as f64
            / 2.0
            / 1000.0;
        let mut l: Vec<f64> = self.presented.iter().map(|(_, l)| *l).collect();
        l.sort_by(f64::total_cmp);
        let pct = |p: f64| (!l.is_empty()).then(|| l[((l.len() - 1) as f64 * p).round() as usize]);
        s.latency_ms_p50 = pct(0.5);
        s.latency_ms_p95 = pct(0.95);
    }
}
