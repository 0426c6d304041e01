//! The shared H.264 encoder of each stream (`crates/server/src/encoded/`): whether it runs, how
//! often it started, which consumers it serves by kind, the frames it skipped because nothing
//! changed and the frames it never took because a newer one replaced them first (newest wins). "One encoder per stream, whoever consumes it" is checkable here:
//! `pixelwire_stream_h264_encoders{stream}` stays at 1 while WebCodecs viewers, RTSP, WHEP and the
//! recorder all read the stream (`pixelwire_stream_encoded_consumers{stream,kind}`).

use super::label::{Name, label_values};
use super::stream::StreamLabel;
use super::{Metrics, register};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

label_values! {
    /// Who reads a stream's encoded units.
    pub enum ConsumerKind {
        /// A browser over the viewer WebSocket (WebCodecs).
        WebCodecs => "webcodecs",
        /// An RTSP session.
        Rtsp => "rtsp",
        /// A WebRTC (WHEP) session.
        Whep => "whep",
        /// The stream's recorder (or its pre-roll ring).
        Recorder => "recorder",
        /// Other cluster nodes (`cluster/`): the units go out over NATS once for all of them.
        Cluster => "cluster",
    }
}

/// `{stream, kind}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConsumerLabel {
    stream: Name,
    kind: ConsumerKind,
}

/// `{assembly}`: which of OpenH264's kernels this build carries.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AssemblyLabel {
    assembly: &'static str,
}

/// The encoder families.
pub(super) struct EncoderFamilies {
    running: Family<StreamLabel, Gauge>,
    starts: Family<StreamLabel, Counter>,
    consumers: Family<ConsumerLabel, Gauge>,
    unchanged: Family<StreamLabel, Counter>,
    superseded: Family<StreamLabel, Counter>,
}

impl EncoderFamilies {
    /// Sets `pixelwire_h264_encoder_info{assembly}` (done once at registration).
    fn build_info(r: &mut Registry) {
        let info: Family<AssemblyLabel, Gauge> = register(
            r,
            "pixelwire_h264_encoder_info",
            "The H.264 encoder this build carries: OpenH264 with the assembly in the label (\"none\" encodes about 2.3x slower)",
            Family::default(),
        );
        info.get_or_create(&AssemblyLabel {
            assembly: pixelwire_media::h264_asm::assembly(),
        })
        .set(1);
    }

    pub(super) fn forget(&self, l: &StreamLabel) {
        self.running.remove(l);
        self.starts.remove(l);
        self.unchanged.remove(l);
        self.superseded.remove(l);
        for &kind in ConsumerKind::ALL {
            self.consumers.remove(&ConsumerLabel {
                stream: l.stream.clone(),
                kind,
            });
        }
    }

    pub(super) fn register(r: &mut Registry) -> Self {
        Self::build_info(r);
        Self {
            running: register(
                r,
                "pixelwire_stream_h264_encoders",
                "H.264 encoders running for the stream (one, shared by every consumer, while any consumes it)",
                Family::default(),
            ),
            starts: register(
                r,
                "pixelwire_stream_h264_encoder_starts",
                "Times the stream's shared H.264 encoder started",
                Family::default(),
            ),
            consumers: register(
                r,
                "pixelwire_stream_encoded_consumers",
                "Consumers of the stream's shared H.264 encoder, by kind",
                Family::default(),
            ),
            unchanged: register(
                r,
                "pixelwire_stream_h264_unchanged_frames",
                "Frames not encoded because their picture had not changed (a still camera)",
                Family::default(),
            ),
            superseded: register(
                r,
                "pixelwire_stream_h264_superseded_frames",
                "Frames published while the encoder ran that it never took because a newer one replaced them first (newest frame wins)",
                Family::default(),
            ),
        }
    }
}

/// What the shared encoder of one stream records while it runs.
#[derive(Debug)]
pub struct EncoderUse {
    running: Gauge,
    unchanged: Counter,
    superseded: Counter,
}

impl EncoderUse {
    /// A frame was not encoded: its picture had not changed.
    pub fn unchanged(&self) {
        self.unchanged.inc();
    }

    /// `n` frames were replaced by newer ones before the encoder took them.
    pub fn superseded(&self, n: u64) {
        if n > 0 {
            self.superseded.inc_by(n);
        }
    }
}

impl Drop for EncoderUse {
    fn drop(&mut self) {
        self.running.dec();
    }
}

/// Counts one consumer of a stream's encoder while it lives.
#[derive(Debug)]
pub struct ConsumerGuard(Gauge);

impl Drop for ConsumerGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl Metrics {
    /// The shared encoder of `stream` started; it counts as running until the handle drops.
    pub fn encoder_started(&self, stream: &str) -> EncoderUse {
        let f = &self.inner.encoder;
        let l = StreamLabel::new(stream);
        f.starts.get_or_create(&l).inc();
        let running = f.running.get_or_create_owned(&l);
        running.inc();
        EncoderUse {
            running,
            unchanged: f.unchanged.get_or_create_owned(&l),
            superseded: f.superseded.get_or_create_owned(&l),
        }
    }

    /// A consumer of `kind` reads `stream`'s encoder until the guard drops.
    pub fn encoded_consumer(&self, stream: &str, kind: ConsumerKind) -> ConsumerGuard {
        let g = self
            .inner
            .encoder
            .consumers
            .get_or_create_owned(&ConsumerLabel {
                stream: stream.into(),
                kind,
            });
        g.inc();
        ConsumerGuard(g)
    }
}
