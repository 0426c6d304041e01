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
use std::collections::HashMap;
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
    /// The key it published with (index in `[[api_keys]]`), if any.
    pub owner: Option<usize>,
    metrics: CameraMetrics,
    /// Counts a JPEG that does not decode when first used; shared by all frames of the feed.
    decode_error: DecodeErrorHook,
}

impl CameraFeed {
    /// The feed publishing with the key `owner` (an index in `[[api_keys]]`).
    pub fn with_owner(mut self, owner: Option<usize>) -> Self {
        self.owner = owner;
        self
    }
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

/// Why the hub refused a frame (the text goes back to the device).
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// Not a complete JPEG with a sane header.
    #[error(transparent)]
    Jpeg(#[from] JpegError),
    /// More pixels than `cameras.max_frame_pixels`.
    #[error("a {width}x{height} frame exceeds cameras.max_frame_pixels ({max} pixels)")]
    TooManyPixels {
        /// Width from the header.
        width: u32,
        /// Height from the header.
        height: u32,
        /// The limit.
        max: u64,
    },
    /// A new stream beyond `cameras.max_pushed_streams`.
    #[error("no new stream: pushes created {max} already (cameras.max_pushed_streams)")]
    StreamLimit {
        /// The limit.
        max: usize,
    },
    /// The stream is owned by another key (the first key that published to it).
    #[error("stream {stream:?} belongs to another publisher's key")]
    NotOwner {
        /// The stream.
        stream: String,
    },
    /// A new unregistered device beyond `cameras.max_unregistered_devices`.
    #[error("no new device: {max} unregistered devices already (cameras.max_unregistered_devices)")]
    DeviceLimit {
        /// The limit.
        max: usize,
    },
}

impl Refused {
    /// The drop reason it is counted as.
    pub fn reason(&self) -> DropReason {
        match self {
            Refused::Jpeg(JpegError::NoSoi) => DropReason::NotJpeg,
            Refused::Jpeg(JpegError::NoEoi) => DropReason::Truncated,
            Refused::Jpeg(_) => DropReason::BadHeader,
            Refused::TooManyPixels { .. } => DropReason::TooLarge,
            Refused::StreamLimit { .. } | Refused::DeviceLimit { .. } => DropReason::StreamLimit,
            Refused::NotOwner { .. } => DropReason::Unauthorized,
        }
    }

    /// True for a refusal that every later frame of the connection would get too (the pixel
    /// limit, the stream and device limits, another key's stream), so a camera connection is
    /// closed with the reason rather than kept; a broken JPEG is only dropped.
    pub fn ends_connection(&self) -> bool {
        !matches!(self, Refused::Jpeg(_))
    }

    /// The WebSocket close code a camera connection ends with: 1008 (policy: another key's
    /// stream), 1013 (try again later: a stream or device limit), 1009 (too big).
    pub fn close_code(&self) -> u16 {
        match self {
            Refused::NotOwner { .. } => 1008,
            Refused::StreamLimit { .. } | Refused::DeviceLimit { .. } => 1013,
            Refused::TooManyPixels { .. } | Refused::Jpeg(_) => 1009,
        }
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
    /// Streams created by pushes, with the time of their last frame (ms): what
    /// `max_pushed_streams` counts and `pushed_expiry_s` removes.
    pushed: Mutex<HashMap<String, u64>>,
    /// Streams owned by the key (its index in `[[api_keys]]`) that first published to them.
    owners: Mutex<HashMap<String, usize>>,
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
            pushed: Mutex::new(HashMap::new()),
            owners: Mutex::new(HashMap::new()),
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

    /// The stream `name`, created (and counted against `max_pushed_streams`) if it does not
    /// exist; its last-frame time is noted for expiry.
    fn stream(
        &self,
        name: &str,
        transport: Transport,
        frame: &MediaFrame,
        now_ms: u64,
    ) -> Result<Arc<Stream>, Refused> {
        let mut pushed = self.pushed.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = pushed.get_mut(name) {
            *t = now_ms;
        }
        if let Some(s) = self.bus.get(name) {
            return Ok(s);
        }
        let max = self.settings.max_pushed_streams.get();
        if pushed.len() >= max {
            return Err(Refused::StreamLimit { max });
        }
        pushed.insert(name.to_string(), now_ms);
        Ok(self.bus.get_or_create(name, || StreamDescription {
            kind: crate::bus::StreamKind::Camera,
            source: transport.as_str().to_string(),
            width: frame.width,
            height: frame.height,
            nominal_fps: 0.0,
        }))
    }

    /// Whether a publisher with key `owner` may publish into `stream`, and if so, the stream is
    /// claimed for that key: a stream belongs to the first key that published to it; publishers
    /// without a key may use only unowned streams.
    pub fn claim(&self, stream: &str, owner: Option<usize>) -> Result<(), Refused> {
        let mut owners = self.owners.lock().unwrap_or_else(|p| p.into_inner());
        may_publish(owners.get(stream), owner, stream)?;
        if let Some(k) = owner {
            owners.entry(stream.to_string()).or_insert(k);
        }
        Ok(())
    }

    /// [`CameraHub::claim`] without claiming (at connection time, before any frame).
    pub fn claim_check(&self, stream: &str, owner: Option<usize>) -> Result<(), Refused> {
        let owners = self.owners.lock().unwrap_or_else(|p| p.into_inner());
        may_publish(owners.get(stream), owner, stream)
    }

    /// Removes what pushes created and then left: streams with no frame for
    /// `pushed_expiry_s` and nobody watching (with their metric series), and unregistered
    /// devices silent as long. Declared streams and registered devices stay. Returns the
    /// streams removed.
    pub fn expire(&self, now_ms: u64) -> Vec<String> {
        let expiry_ms = self.settings.pushed_expiry_s.get() * 1000;
        let mut removed = Vec::new();
        {
            let mut pushed = self.pushed.lock().unwrap_or_else(|p| p.into_inner());
            pushed.retain(|name, last| {
                let idle = now_ms.saturating_sub(*last) >= expiry_ms;
                let watched = self.bus.get(name).is_some_and(|s| s.watchers() > 0);
                if idle && !watched {
                    self.bus.remove(name);
                    self.owners
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(name);
                    self.metrics.forget_stream(name);
                    removed.push(name.clone());
                    false
                } else {
                    true
                }
            });
        }
        let devices = self.registry.expire_unregistered(now_ms, expiry_ms);
        if !removed.is_empty() || devices > 0 {
            tracing::info!(streams = ?removed, devices, "expired what pushes created and left");
        }
        removed
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
            owner: None,
            metrics: self.metrics.camera(stream, transport),
            decode_error: Arc::new(move |e| {
                metrics.camera_dropped(transport, DropReason::Decode);
                tracing::debug!(error = %e, "camera JPEG does not decode");
            }),
        }
    }

    /// Publishes a JPEG from `feed`; refuses it (counted, logged at debug) if it is not a
    /// complete JPEG, has more pixels than allowed, or needs a stream or device beyond the limits.
    pub fn publish_jpeg(&self, feed: &CameraFeed, data: Bytes) -> Result<(), Refused> {
        let len = data.len() as u64;
        // Numbered by `publish` once it is on the stream.
        let checked = MediaFrame::from_jpeg(data, 0, crate::clock::now().as_micros())
            .map_err(Refused::from)
            .and_then(|f| {
                let max = self.settings.max_frame_pixels.get();
                if u64::from(f.width) * u64::from(f.height) > max {
                    return Err(Refused::TooManyPixels {
                        width: f.width,
                        height: f.height,
                        max,
                    });
                }
                Ok(f)
            });
        let frame = match checked {
            Ok(f) => f.with_decode_error_hook(feed.decode_error.clone()),
            Err(e) => return Err(self.refuse(feed, e)),
        };
        self.publish(feed, frame, len)
    }

    fn refuse(&self, feed: &CameraFeed, e: Refused) -> Refused {
        self.dropped(feed.transport, e.reason());
        tracing::debug!(device = ?feed.device, error = %e, "dropping camera frame");
        e
    }

    /// Publishes a decoded frame from `feed` (`bytes` arrived on the wire); refused only by the
    /// stream and device limits. The frame is numbered here, so a stream's sequence numbers count
    /// only frames it published: a gap a consumer sees is frames superseded, never refused ones.
    pub fn publish(
        &self,
        feed: &CameraFeed,
        mut frame: MediaFrame,
        bytes: u64,
    ) -> Result<(), Refused> {
        let now_ms = crate::clock::now().as_micros() / 1000;
        let max_devices = self.settings.max_unregistered_devices.get();
        if !self.registry.admits(&feed.device, max_devices) {
            return Err(self.refuse(feed, Refused::DeviceLimit { max: max_devices }));
        }
        if let Err(e) = self.claim(&feed.stream, feed.owner) {
            return Err(self.refuse(feed, e));
        }
        let s = match self.stream(&feed.stream, feed.transport, &frame, now_ms) {
            Ok(s) => s,
            Err(e) => return Err(self.refuse(feed, e)),
        };
        self.registry.frame(
            &feed.device,
            feed.transport.as_str(),
            &feed.stream,
            &feed.address,
            bytes,
            now_ms,
        );
        feed.metrics.frame(bytes);
        if let Ok(mut l) = self.last_active.lock()
            && l.as_deref() != Some(feed.stream.as_str())
        {
            *l = Some(feed.stream.clone());
        }
        frame.seq = s.next_seq();
        s.publish(frame);
        Ok(())
    }
}

/// Says at start-up who may publish (issue 13: "the server's start-up log says what is open").
pub fn log_exposure(settings: &CameraSettings) {
    if settings.require_keys {
        tracing::info!(
            "WebSocket cameras must present a key of [[api_keys]] (cameras.require_keys)"
        );
    } else {
        tracing::warn!(
            "WebSocket cameras publish without a key (seed 001 cameras send none): anyone who reaches the camera ports can publish to a stream no key owns; set cameras.require_keys to close this"
        );
    }
    if settings.tcp_allow.is_empty() {
        if !settings.tcp_listen.is_empty() {
            tracing::warn!(
                "Picamera TCP accepts frames from any address; list the cameras in cameras.tcp_allow to close this"
            );
        }
    } else {
        let nets: Vec<String> = settings.tcp_allow.iter().map(|n| n.0.to_string()).collect();
        tracing::info!(allowed = ?nets, "Picamera TCP accepts frames only from cameras.tcp_allow");
    }
}

/// A stream owned by `current` takes frames only from that key; an unowned one from anyone.
fn may_publish(current: Option<&usize>, owner: Option<usize>, stream: &str) -> Result<(), Refused> {
    match (current, owner) {
        (Some(o), Some(k)) if *o == k => Ok(()),
        (Some(_), _) => Err(Refused::NotOwner {
            stream: stream.to_string(),
        }),
        (None, _) => Ok(()),
    }
}

/// How often [`run_expiry`] looks for what pushes created and left.
const EXPIRY_CHECK: std::time::Duration = std::time::Duration::from_secs(60);

/// Runs [`CameraHub::expire`] every minute until shutdown.
pub async fn run_expiry(hub: Arc<CameraHub>, mut shutdown: crate::shutdown::ShutdownSignal) {
    let mut tick = tokio::time::interval(EXPIRY_CHECK);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                hub.expire(crate::clock::now().as_micros() / 1000);
            }
            _ = shutdown.wait() => return,
        }
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
