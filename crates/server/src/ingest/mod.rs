//! Frames pushed by devices: WebSocket cameras (seed 001), HTTP devices (seed 002), Picamera raw
//! TCP clients (seed 004). Every transport hands frames to the [`CameraHub`], which names and
//! creates the device's stream, keeps the device registry, counts what arrives and what is
//! dropped, and publishes to the bus (newest frame wins).

pub mod auth;
pub mod device_fields;
pub mod http_device;
pub mod registry;
pub mod tcp;
pub mod ws;

use crate::bus::{Bus, Stream, StreamDescription};
use crate::config::CameraSettings;
use crate::metrics::{CameraMetrics, DropReason, Metrics};
use bytes::Bytes;
use pixelwire_media::MediaFrame;
use pixelwire_media::frame::DecodeErrorHook;
use pixelwire_media::jpeg::JpegError;
use registry::DeviceRegistry;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// How a frame arrived; also the label of the camera metrics.
pub use crate::metrics::Transport;

/// What camera ingest handlers share; cheap to clone.
#[derive(Debug, Clone)]
pub struct IngestContext {
    /// The hub every transport publishes into.
    pub cameras: Arc<CameraHub>,
    /// Keys HTTP devices must present.
    pub api_keys: Arc<auth::ApiKeys>,
    /// Streams (to tell apart a camera's stream from a generated one).
    pub bus: Arc<Bus>,
    /// Shutdown signal.
    pub shutdown: crate::shutdown::ShutdownSignal,
}

/// A stream name from a device id or URL path: lowercase `[a-z0-9_-]`, at most 32 characters.
pub fn stream_name(raw: &str) -> String {
    let mut s: String = raw
        .trim_matches('/')
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '_' | '-') => c,
            _ => '-',
        })
        .take(32)
        .collect();
    if s.trim_matches('-').is_empty() {
        s = "camera".to_string();
    }
    s
}

/// The default name of a device that does not name itself: stable across reconnects (its address).
pub fn name_for_address(prefix: &str, ip: std::net::IpAddr) -> String {
    stream_name(&format!("{prefix}-{ip}"))
}

/// One device's frames into one stream over one transport, settled once per connection (per
/// request for HTTP): who sends, where to, and the metric series its frames are counted in.
pub struct CameraFeed {
    /// Device id (for the registry).
    pub device: String,
    /// Stream the frames go to.
    pub stream: String,
    /// How they arrive.
    pub transport: Transport,
    /// Peer address (for the registry).
    pub address: String,
    metrics: CameraMetrics,
    /// Counts a JPEG that does not decode when first used; shared by all frames of the feed.
    decode_error: DecodeErrorHook,
}

impl std::fmt::Debug for CameraFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CameraFeed")
            .field("device", &self.device)
            .field("stream", &self.stream)
            .field("transport", &self.transport)
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

/// Where device frames go; see the module docs.
#[derive(Debug)]
pub struct CameraHub {
    bus: Arc<Bus>,
    metrics: Metrics,
    /// Known devices.
    pub registry: DeviceRegistry,
    /// Settings.
    pub settings: CameraSettings,
    last_active: Mutex<Option<String>>,
    cameras: AtomicUsize,
    viewers: AtomicUsize,
}

/// Counts a connection while it lives.
#[derive(Debug)]
pub struct ConnectionGuard<'a> {
    counter: &'a AtomicUsize,
}

impl Drop for ConnectionGuard<'_> {
    fn drop(&mut self) {
        self.counter.fetch_sub(1, Ordering::Relaxed);
    }
}

impl CameraHub {
    /// A hub over `bus`.
    pub fn new(
        bus: Arc<Bus>,
        metrics: Metrics,
        registry: DeviceRegistry,
        settings: CameraSettings,
    ) -> Self {
        Self {
            bus,
            metrics,
            registry,
            settings,
            last_active: Mutex::new(None),
            cameras: AtomicUsize::new(0),
            viewers: AtomicUsize::new(0),
        }
    }

    /// Notes a connected camera until the guard drops.
    pub fn camera_connected(&self) -> ConnectionGuard<'_> {
        self.cameras.fetch_add(1, Ordering::Relaxed);
        ConnectionGuard {
            counter: &self.cameras,
        }
    }

    /// Notes a connected viewer until the guard drops.
    pub fn viewer_connected(&self) -> ConnectionGuard<'_> {
        self.viewers.fetch_add(1, Ordering::Relaxed);
        ConnectionGuard {
            counter: &self.viewers,
        }
    }

    /// (cameras, viewers) connected now (seed 001's `/status`).
    pub fn counts(&self) -> (usize, usize) {
        (
            self.cameras.load(Ordering::Relaxed),
            self.viewers.load(Ordering::Relaxed),
        )
    }

    /// The stream that most recently received a camera frame (what seed 001's single-camera
    /// endpoints show).
    pub fn last_active(&self) -> Option<Arc<Stream>> {
        let name = self.last_active.lock().ok()?.clone()?;
        self.bus.get(&name)
    }

    fn stream(&self, name: &str, transport: Transport, frame: &MediaFrame) -> Arc<Stream> {
        self.bus.get_or_create(name, || StreamDescription {
            kind: crate::bus::StreamKind::Camera,
            source: transport.as_str().to_string(),
            width: frame.width,
            height: frame.height,
            nominal_fps: 0.0,
        })
    }

    /// Counts a dropped frame.
    pub fn dropped(&self, transport: Transport, reason: DropReason) {
        self.metrics.camera_dropped(transport, reason);
    }

    /// The feed of `device` into `stream` over `transport` from `address`.
    pub fn feed(
        &self,
        device: &str,
        stream: &str,
        transport: Transport,
        address: &str,
    ) -> CameraFeed {
        let metrics = self.metrics.clone();
        CameraFeed {
            device: device.to_string(),
            stream: stream.to_string(),
            transport,
            address: address.to_string(),
            metrics: self.metrics.camera(stream, transport),
            decode_error: Arc::new(move |e| {
                metrics.camera_dropped(transport, DropReason::Decode);
                tracing::debug!(error = %e, "camera JPEG does not decode");
            }),
        }
    }

    /// Publishes a JPEG from `feed`; rejects it (counted) if it is not a complete JPEG.
    pub fn publish_jpeg(&self, feed: &CameraFeed, data: Bytes) -> Result<(), JpegError> {
        let len = data.len() as u64;
        let seq = self.bus.get(&feed.stream).map_or(0, |s| s.next_seq());
        let frame = match MediaFrame::from_jpeg(data, seq, crate::clock::now().as_micros()) {
            Ok(f) => f,
            Err(e) => {
                let reason = match e {
                    JpegError::NoSoi => DropReason::NotJpeg,
                    JpegError::NoEoi => DropReason::Truncated,
                    _ => DropReason::BadHeader,
                };
                self.dropped(feed.transport, reason);
                tracing::debug!(device = ?feed.device, error = %e, "dropping camera frame");
                return Err(e);
            }
        };
        let frame = frame.with_decode_error_hook(feed.decode_error.clone());
        self.publish(feed, frame, len);
        Ok(())
    }

    /// Publishes a decoded frame from `feed` (`bytes` arrived on the wire).
    pub fn publish(&self, feed: &CameraFeed, frame: MediaFrame, bytes: u64) {
        let s = self.stream(&feed.stream, feed.transport, &frame);
        self.registry.frame(
            &feed.device,
            feed.transport.as_str(),
            &feed.stream,
            &feed.address,
            bytes,
            crate::clock::now().as_micros() / 1000,
        );
        feed.metrics.frame(bytes);
        if let Ok(mut l) = self.last_active.lock()
            && l.as_deref() != Some(feed.stream.as_str())
        {
            *l = Some(feed.stream.clone());
        }
        s.publish(frame);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_names_are_sanitised() {
        assert_eq!(stream_name("ESP32-CAM-001"), "esp32-cam-001");
        assert_eq!(stream_name("/ws/camera"), "ws-camera");
        assert_eq!(stream_name("my cam/2"), "my-cam-2");
        assert_eq!(stream_name(""), "camera");
        assert_eq!(stream_name("//"), "camera");
        assert_eq!(stream_name(&"x".repeat(40)).len(), 32);
        assert_eq!(
            name_for_address("ws", "10.0.0.5".parse().unwrap()),
            "ws-10-0-0-5"
        );
    }
}
