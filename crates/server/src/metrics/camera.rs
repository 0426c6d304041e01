//! Camera ingest metrics (`pixelwire_camera_*`): frames and bytes received per stream and
//! transport, and frames dropped by transport and reason. A camera connection records its frames
//! through a [`CameraMetrics`] made once.

use super::label::Name;
use super::label::label_values;
use super::series::Lazy;
use super::stream::StreamLabel;
use super::{Metrics, register};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

label_values! {
    /// How a camera frame arrived (also the name the device registry and the stream list keep).
    pub enum Transport {
        /// JPEG per WebSocket binary message.
        WebSocket => "websocket",
        /// HTTP POST (multipart, raw JPEG or RGB565).
        Http => "http",
        /// u32-LE length + frame over TCP.
        Tcp => "tcp",
    }
}

label_values! {
    /// Why a camera frame was dropped.
    pub enum DropReason {
        /// It does not start with a JPEG SOI.
        NotJpeg => "not_jpeg",
        /// It has no JPEG EOI.
        Truncated => "truncated",
        /// Its JPEG frame header is missing or of no sane size.
        BadHeader => "bad_header",
        /// It did not decode when first used.
        Decode => "decode",
        /// It is over `cameras.max_frame_bytes` or `cameras.max_frame_pixels`.
        TooLarge => "too_large",
        /// The device's API key is missing or does not allow it.
        Unauthorized => "unauthorized",
        /// A TCP frame whose format is not known.
        UnknownFormat => "unknown_format",
        /// Raw pixels whose length does not match the size given.
        BadLength => "bad_length",
        /// A new stream or device beyond `cameras.max_pushed_streams` /
        /// `max_unregistered_devices`.
        StreamLimit => "stream_limit",
    }
}

/// `{stream, transport}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CameraLabel {
    stream: Name,
    transport: Transport,
}

/// `{transport, reason}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DropLabel {
    transport: Transport,
    reason: DropReason,
}

/// The camera families.
pub(super) struct CameraFamilies {
    frames: Family<CameraLabel, Counter>,
    bytes: Family<StreamLabel, Counter>,
    dropped: Family<DropLabel, Counter>,
}

impl CameraFamilies {
    /// Drops the series of a stream that no longer exists.
    pub(super) fn forget(&self, l: &StreamLabel) {
        self.bytes.remove(l);
        for &transport in Transport::ALL {
            self.frames.remove(&CameraLabel {
                stream: l.stream.clone(),
                transport,
            });
        }
    }

    pub(super) fn register(r: &mut Registry) -> Self {
        Self {
            frames: register(
                r,
                "pixelwire_camera_frames",
                "Frames received from cameras",
                Family::default(),
            ),
            bytes: register(
                r,
                "pixelwire_camera_received_bytes",
                "Bytes of frames received from cameras",
                Family::default(),
            ),
            dropped: register(
                r,
                "pixelwire_camera_dropped_frames",
                "Camera frames dropped, by transport and reason",
                Family::default(),
            ),
        }
    }
}

/// What one camera feed (a stream over a transport) records.
#[derive(Debug)]
pub struct CameraMetrics {
    frames: Lazy<CameraLabel, Counter>,
    bytes: Lazy<StreamLabel, Counter>,
}

impl CameraMetrics {
    /// A frame of `bytes` arrived.
    pub fn frame(&self, bytes: u64) {
        self.frames.get().inc();
        self.bytes.get().inc_by(bytes);
    }
}

impl Metrics {
    /// The handle camera frames into `stream` over `transport` are counted through.
    pub fn camera(&self, stream: &str, transport: Transport) -> CameraMetrics {
        let f = &self.inner.camera;
        let stream = StreamLabel::new(stream);
        CameraMetrics {
            frames: Lazy::new(
                &f.frames,
                CameraLabel {
                    stream: stream.stream.clone(),
                    transport,
                },
            ),
            bytes: Lazy::new(&f.bytes, stream),
        }
    }

    /// A camera frame was dropped.
    pub fn camera_dropped(&self, transport: Transport, reason: DropReason) {
        self.inner
            .camera
            .dropped
            .get_or_create(&DropLabel { transport, reason })
            .inc();
    }
}
