//! A connected display as the rest of the server sees it: who it is, the metric series its
//! connection records into, the recent samples behind its rolling figures, and the session's link
//! state. The connection task writes; the registry's readers make a [`DisplayStatus`] from it. The
//! counts in the status are the metric series' own (there is no second copy to keep in step).

use super::status::{DisplayStatus, Rolling};
use crate::metrics::{DisplayMetrics, Protocol};
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

/// Who a display is, fixed when it is identified.
#[derive(Debug, Clone)]
pub struct Identity {
    /// Device id, or `legacy-<ip>-<port>`.
    pub id: String,
    /// How it talks.
    pub protocol: Protocol,
    /// Peer address.
    pub address: SocketAddr,
    /// Stream shown when it connected (a switch changes [`LiveDisplay::set_stream`]).
    pub stream: String,
    /// Panel width and height.
    pub size: (u32, u32),
    /// Firmware version (pixelwire devices).
    pub firmware: Option<String>,
    /// Pixel format the panel declared (`rgb565` for seed-000 sketches).
    pub pixel_format: pixelwire_core::PixelFormat,
}

/// The session's link as of its last event.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Link {
    /// Frames sent and not yet acknowledged (legacy: being written).
    pub frames_in_flight: usize,
    /// Measured link + device capacity, bytes/s.
    pub capacity: Option<f64>,
    /// Smallest round trip.
    pub rtt: Option<Duration>,
}

#[derive(Debug, Default)]
struct Recent {
    rolling: Rolling,
    link: Link,
    /// The stream shown now, when it was switched since connecting.
    switched_to: Option<String>,
}

/// One connected display; see the module docs.
#[derive(Debug)]
pub struct LiveDisplay {
    identity: Identity,
    connected_at_us: u64,
    metrics: DisplayMetrics,
    recent: Mutex<Recent>,
}

impl LiveDisplay {
    /// A display identified as `identity` at `connected_at_us`, recording through `metrics`.
    pub fn new(identity: Identity, connected_at_us: u64, metrics: DisplayMetrics) -> Self {
        Self {
            identity,
            connected_at_us,
            metrics,
            recent: Mutex::new(Recent::default()),
        }
    }

    /// Who it is.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Its metric series.
    pub fn metrics(&self) -> &DisplayMetrics {
        &self.metrics
    }

    /// `bytes` were sent at `now_us`.
    pub fn sent(&self, now_us: u64, bytes: u64) {
        if let Ok(mut r) = self.recent.lock() {
            r.rolling.sent(now_us, bytes);
        }
    }

    /// A frame was presented at `now_us`, `latency` after capture.
    pub fn presented(&self, now_us: u64, latency: Duration) {
        if let Ok(mut r) = self.recent.lock() {
            r.rolling.presented(now_us, latency.as_secs_f64() * 1e3);
        }
    }

    /// The session's link now.
    pub fn set_link(&self, link: Link) {
        if let Ok(mut r) = self.recent.lock() {
            r.link = link;
        }
    }

    /// The display now shows `stream` (switched from the page or the API).
    pub fn set_stream(&self, stream: &str) {
        if let Ok(mut r) = self.recent.lock() {
            r.switched_to = Some(stream.to_string());
        }
    }

    /// The status at `now_us`.
    pub fn status(&self, now_us: u64) -> DisplayStatus {
        let i = &self.identity;
        let figures = self.metrics.figures();
        let mut s = DisplayStatus {
            id: i.id.clone(),
            protocol: i.protocol.as_str(),
            address: i.address.to_string(),
            stream: i.stream.clone(),
            stream_origin: None,
            configured_stream: None,
            prefer: None,
            prefer_origin: None,
            width: i.size.0,
            height: i.size.1,
            firmware: i.firmware.clone(),
            pixel_format: i.pixel_format.name(),
            connected_s: now_us.saturating_sub(self.connected_at_us) as f64 / 1e6,
            fps: 0.0,
            kbytes_per_s: 0.0,
            latency_ms_p50: None,
            latency_ms_p95: None,
            frames_in_flight: 0,
            quality_level: figures.quality_level,
            psnr_db: figures.psnr_db,
            psnr_db_mean: figures.psnr_db_mean,
            capacity_kbytes_per_s: None,
            rtt_ms: None,
            frames_sent: figures.frames_sent,
            frames_presented: figures.frames_presented,
            bytes_sent: figures.bytes_sent,
            device: self.metrics.device().figures(),
            preview: format!("/api/displays/{}/preview.png", i.id),
        };
        if let Ok(r) = self.recent.lock() {
            r.rolling.fill(now_us, &mut s);
            s.frames_in_flight = r.link.frames_in_flight;
            s.capacity_kbytes_per_s = r.link.capacity.map(|c| c / 1000.0);
            s.rtt_ms = r.link.rtt.map(|r| r.as_secs_f64() * 1e3);
            if let Some(stream) = &r.switched_to {
                s.stream.clone_from(stream);
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Metrics;

    #[test]
    fn the_status_reads_the_connection_figures() {
        let identity = Identity {
            id: "desk-1".into(),
            protocol: Protocol::Pixelwire,
            address: "192.168.1.20:51234".parse().unwrap(),
            stream: "bios".into(),
            size: (320, 240),
            firmware: Some("display-emu 0.1.0".into()),
            pixel_format: pixelwire_core::PixelFormat::default(),
        };
        let live = LiveDisplay::new(identity, 1_000_000, Metrics::new().display("desk-1"));
        let s = live.status(3_500_000);
        assert_eq!(s.connected_s, 2.5);
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            serde_json::json!({
                "id": "desk-1", "protocol": "pixelwire", "address": "192.168.1.20:51234",
                "stream": "bios", "stream_origin": null, "configured_stream": null,
                "prefer": null, "prefer_origin": null, "width": 320, "height": 240, "firmware": "display-emu 0.1.0",
                "pixel_format": "rgb565",
                "connected_s": 2.5, "fps": 0.0, "kbytes_per_s": 0.0, "latency_ms_p50": null,
                "latency_ms_p95": null, "frames_in_flight": 0, "quality_level": 0,
                "psnr_db": null, "psnr_db_mean": null,
                "capacity_kbytes_per_s": null, "rtt_ms": null, "frames_sent": 0,
                "frames_presented": 0, "bytes_sent": 0, "device": null,
                "preview": "/api/displays/desk-1/preview.png"
            })
        );
        let sent = pixelwire_core::FrameSent {
            seq: 1,
            bytes: 4000,
            rects: 3,
            pixels: 100,
            level: 2,
            complete: true,
            source_seq: 1,
            psnr_db: Some(31.5),
            stages: Default::default(),
        };
        live.metrics().frame_sent(&sent, 0);
        live.sent(3_000_000, sent.bytes);
        live.metrics().frame_presented(Duration::from_millis(12));
        live.presented(3_100_000, Duration::from_millis(12));
        live.set_link(Link {
            frames_in_flight: 1,
            capacity: Some(310_200.0),
            rtt: Some(Duration::from_micros(10_400)),
        });
        let s = live.status(3_500_000);
        assert_eq!(
            (s.frames_sent, s.frames_presented, s.bytes_sent),
            (1, 1, 4000)
        );
        assert_eq!((s.quality_level, s.frames_in_flight), (2, 1));
        assert_eq!((s.psnr_db, s.psnr_db_mean), (Some(31.5), Some(31.5)));
        assert_eq!((s.fps, s.kbytes_per_s), (0.5, 2.0));
        assert_eq!(
            (s.latency_ms_p50, s.latency_ms_p95),
            (Some(12.0), Some(12.0))
        );
        assert_eq!(s.capacity_kbytes_per_s, Some(310.2));
        assert_eq!(s.rtt_ms, Some(10.4));
    }
}
