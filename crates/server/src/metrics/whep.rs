//! WebRTC out via WHEP (`crate::whep`): sessions open by stream (`pixelwire_whep_sessions`),
//! how sessions ended (`pixelwire_whep_session_ends_total{reason}`), offers refused
//! (`pixelwire_whep_refused_total{reason}`), units skipped because a session fell behind, the
//! keyframes browsers asked for, the UDP bytes sent and received on the shared port, and the CPU
//! time the WebRTC task spends (what WHEP costs beyond the shared encode).
//! No addresses or session ids in labels.

use super::label::label_values;
use super::stream::StreamLabel;
use super::{Metrics, register};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

label_values! {
    /// Why a WHEP session ended.
    pub enum WhepEnd {
        /// The client sent DELETE.
        Deleted => "deleted",
        /// ICE never connected within `webrtc.connect_timeout_ms`.
        ConnectTimeout => "connect_timeout",
        /// ICE stayed disconnected for `webrtc.disconnect_timeout_ms`.
        Disconnected => "disconnected",
        /// The browser closed DTLS (it closed the peer connection).
        Closed => "closed",
        /// The WebRTC stack failed (logged).
        Error => "error",
        /// The stream went away or the server shuts down.
        Shutdown => "shutdown",
    }
}

label_values! {
    /// Why an offer was refused.
    pub enum WhepRefusal {
        /// Not an SDP offer this server can answer (400).
        BadOffer => "bad_offer",
        /// `webrtc.max_sessions` sessions were open (503).
        Full => "full",
        /// The peer held `webrtc.max_sessions_per_peer` sessions (429).
        PeerFull => "peer_full",
    }
}

/// `{reason}` of an end.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndLabel {
    reason: WhepEnd,
}

/// `{reason}` of a refusal.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabel {
    reason: WhepRefusal,
}

/// The WHEP families.
pub(super) struct WhepFamilies {
    sessions: Family<StreamLabel, Gauge>,
    ends: Family<EndLabel, Counter>,
    refused: Family<RefusalLabel, Counter>,
    skipped: Family<StreamLabel, Counter>,
    keyframe_requests: Family<StreamLabel, Counter>,
    sent_bytes: Counter,
    received_bytes: Counter,
    cpu_seconds: Counter<f64, std::sync::atomic::AtomicU64>,
}

impl WhepFamilies {
    pub(super) fn forget(&self, l: &StreamLabel) {
        self.sessions.remove(l);
        self.skipped.remove(l);
        self.keyframe_requests.remove(l);
    }

    pub(super) fn register(r: &mut Registry) -> Self {
        Self {
            sessions: register(
                r,
                "pixelwire_whep_sessions",
                "WebRTC (WHEP) sessions open, by stream",
                Family::default(),
            ),
            ends: register(
                r,
                "pixelwire_whep_session_ends",
                "WebRTC (WHEP) sessions ended, by reason",
                Family::default(),
            ),
            refused: register(
                r,
                "pixelwire_whep_refused",
                "WHEP offers refused, by reason",
                Family::default(),
            ),
            skipped: register(
                r,
                "pixelwire_whep_units_skipped",
                "Encoded units a WHEP session skipped because it fell behind (it resumes at the next keyframe)",
                Family::default(),
            ),
            keyframe_requests: register(
                r,
                "pixelwire_whep_keyframe_requests",
                "Keyframe requests (RTCP PLI/FIR) from WHEP browsers",
                Family::default(),
            ),
            sent_bytes: register(
                r,
                "pixelwire_whep_udp_sent_bytes",
                "UDP bytes sent on the WebRTC port (ICE, DTLS, SRTP, SRTCP)",
                Counter::default(),
            ),
            received_bytes: register(
                r,
                "pixelwire_whep_udp_received_bytes",
                "UDP bytes received on the WebRTC port",
                Counter::default(),
            ),
            cpu_seconds: register(
                r,
                "pixelwire_whep_cpu_seconds",
                "CPU time the WebRTC task spent on ICE, DTLS, packetising, encrypting and sending (the encode is not in it)",
                Counter::default(),
            ),
        }
    }
}

/// What one WHEP session records; counts as open until dropped.
#[derive(Debug)]
pub struct WhepSessionMetrics {
    open: Gauge,
    skipped: Counter,
    keyframe_requests: Counter,
}

impl WhepSessionMetrics {
    /// `n` units were skipped.
    pub fn skipped(&self, n: u64) {
        self.skipped.inc_by(n);
    }

    /// The browser asked for a keyframe.
    pub fn keyframe_requested(&self) {
        self.keyframe_requests.inc();
    }
}

impl Drop for WhepSessionMetrics {
    fn drop(&mut self) {
        self.open.dec();
    }
}

/// The UDP port's byte counters.
#[derive(Debug, Clone)]
pub struct WhepUdpMetrics {
    sent: Counter,
    received: Counter,
    cpu: Counter<f64, std::sync::atomic::AtomicU64>,
}

impl WhepUdpMetrics {
    /// `n` bytes were sent.
    pub fn sent(&self, n: usize) {
        self.sent.inc_by(n as u64);
    }

    /// `n` bytes were received.
    pub fn received(&self, n: usize) {
        self.received.inc_by(n as u64);
    }

    /// The task spent `d` of CPU time.
    pub fn cpu(&self, d: std::time::Duration) {
        self.cpu.inc_by(d.as_secs_f64());
    }
}

impl Metrics {
    /// A WHEP session on `stream` opened; it counts until the handle drops.
    pub fn whep_session(&self, stream: &str) -> WhepSessionMetrics {
        let f = &self.inner.whep;
        let l = StreamLabel::new(stream);
        let open = f.sessions.get_or_create_owned(&l);
        open.inc();
        WhepSessionMetrics {
            open,
            skipped: f.skipped.get_or_create_owned(&l),
            keyframe_requests: f.keyframe_requests.get_or_create_owned(&l),
        }
    }

    /// A WHEP session ended for `reason`.
    pub fn whep_ended(&self, reason: WhepEnd) {
        self.inner
            .whep
            .ends
            .get_or_create(&EndLabel { reason })
            .inc();
    }

    /// A WHEP offer was refused for `reason`.
    pub fn whep_refused(&self, reason: WhepRefusal) {
        self.inner
            .whep
            .refused
            .get_or_create(&RefusalLabel { reason })
            .inc();
    }

    /// The WebRTC port's byte counters.
    pub fn whep_udp(&self) -> WhepUdpMetrics {
        WhepUdpMetrics {
            sent: self.inner.whep.sent_bytes.clone(),
            received: self.inner.whep.received_bytes.clone(),
            cpu: self.inner.whep.cpu_seconds.clone(),
        }
    }
}
