//! One H.264 encoder per stream, shared by every consumer (WebCodecs viewers, RTSP and WHEP
//! sessions, the recorder), running only while something consumes it:
//! [`pixelwire_media::h264::H264Encoder`] on a blocking-pool thread, one IDR every 2 s with SPS/PPS
//! inline, and an extra IDR when a live consumer asks (a viewer joining or falling behind).
//!
//! Each unit is built once ([`EncodedUnit`]: Annex-B and the viewer message sharing one buffer),
//! kept in the stream's [`GopRing`] and sent on a broadcast channel: a slow consumer lags, skips to
//! the next keyframe, and never holds anyone else back. A consumer subscribes with a [`Start`]:
//! live (the next keyframe, asked for), from the ring's newest keyframe (an instant start), or
//! from a time in the past (a recording's pre-roll); the ring snapshot and the subscription are
//! taken under one lock, so nothing is missed or repeated between them.
//!
//! A frame whose picture did not change (block means within `StillGate`'s threshold of the last
//! encoded frame's; a JPEG's from its DC coefficients) is neither decoded nor encoded, except
//! once a second and when a keyframe is asked for: a fixed camera costs next to nothing
//! (`pixelwire_stream_h264_unchanged_frames_total`), and moving content is never held back.
//!
//! An encoder error is logged and counted (`pixelwire_stream_h264_encode_errors_total`) and the
//! frame skipped; while the encoder fails (a size OpenH264 refuses: under 16x16, over 3840x2160)
//! [`SharedEncoder::failure`] says so. Keyframe requests are rate-limited: at most one forced IDR
//! per [`KEYFRAME_REQUEST_INTERVAL`]; a request within it is kept and served when it ends.
//!
//! A stream relayed from another cluster node (`cluster/`) is not encoded here: after
//! [`SharedEncoders::set_relayed`], its "encoder" is a relay that publishes the units the origin's
//! encoder sent ([`SharedEncoder::relay_unit`]) through the same ring and channel, and hands its
//! consumers' keyframe requests to the cluster ([`SharedEncoder::take_keyframe_request`]).

use super::ring::GopRing;
use super::unit::EncodedUnit;
use crate::bus::Stream;
use crate::metrics::{ConsumerGuard, ConsumerKind, Metrics};
use pixelwire_media::h264::H264Encoder;
use pixelwire_media::thumbnail::{StillGate, Thumbnail};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, watch};

/// Shortest time between two IDRs forced by requests.
pub const KEYFRAME_REQUEST_INTERVAL: Duration = Duration::from_millis(500);

/// Units a consumer may fall behind before it lags (and skips to a keyframe).
const CHANNEL_UNITS: usize = 16;

/// How much of each stream's encoded past is kept in RAM (`[video]` in the config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingLimits {
    /// At least this much is kept (the longest pre-roll a recording can have).
    pub keep: Duration,
    /// Never more than this many bytes per stream.
    pub max_bytes: usize,
}

impl Default for RingLimits {
    fn default() -> Self {
        Self {
            keep: Duration::from_secs(10),
            max_bytes: 32 << 20,
        }
    }
}

/// Where a new consumer starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// At the live edge: the ring's newest keyframe if it was captured within
    /// [`KEYFRAME_REQUEST_INTERVAL`] (so the backlog is short), else the next keyframe, which is
    /// asked for (a browser, an RTSP player).
    Live,
    /// At the ring's newest keyframe, with the units since (an instant picture), or like
    /// [`Start::Live`] if the ring holds none.
    LastKeyframe,
    /// At the newest keyframe captured at or before this time (µs since the epoch), with
    /// everything since: a recording's pre-roll.
    Since(u64),
}

/// A consumer's view of the encoder: the units before now it starts with, then the live ones.
#[derive(Debug)]
pub struct Subscription {
    /// Units from the ring to handle first, starting at a keyframe (may be empty).
    pub backlog: Vec<Arc<EncodedUnit>>,
    /// Units from now on.
    pub units: broadcast::Receiver<Arc<EncodedUnit>>,
    /// The encoder; held, it keeps encoding.
    pub encoder: Arc<SharedEncoder>,
    _counted: ConsumerGuard,
}

/// The encoder of one stream; see the module docs.
#[derive(Debug)]
pub struct SharedEncoder {
    stream: String,
    metrics: Metrics,
    /// The ring and the sender, locked together so that a subscription sees each unit once.
    out: Mutex<(GopRing, broadcast::Sender<Arc<EncodedUnit>>)>,
    want_keyframe: AtomicBool,
    failure: watch::Sender<Option<Arc<str>>>,
    /// Dropped with the encoder: tells the encoder task to stop even if no frame comes.
    _stop: tokio::sync::oneshot::Sender<()>,
    /// Fed with another node's units instead of encoding.
    relay: bool,
}

impl SharedEncoder {
    /// Starts consuming the stream's units as `kind`.
    pub fn subscribe(self: &Arc<Self>, kind: ConsumerKind, start: Start) -> Subscription {
        let counted = self.metrics.encoded_consumer(&self.stream, kind);
        let (backlog, units) = match self.out.lock() {
            Ok(out) => {
                let backlog = match start {
                    Start::Live => {
                        let gop = out.0.from_last_keyframe();
                        let fresh_since = crate::clock::now()
                            .as_micros()
                            .saturating_sub(KEYFRAME_REQUEST_INTERVAL.as_micros() as u64);
                        if gop
                            .first()
                            .is_some_and(|k| k.capture_time_us >= fresh_since)
                        {
                            gop
                        } else {
                            Vec::new()
                        }
                    }
                    Start::LastKeyframe => out.0.from_last_keyframe(),
                    Start::Since(t) => out.0.since(t),
                };
                (backlog, out.1.subscribe())
            }
            // A poisoned lock means the encoder thread panicked: nothing will come.
            Err(p) => (Vec::new(), p.get_ref().1.subscribe()),
        };
        if backlog.is_empty() {
            self.request_keyframe();
        }
        Subscription {
            backlog,
            units,
            encoder: self.clone(),
            _counted: counted,
        }
    }

    /// Asks for an IDR as soon as the rate limit allows ([`KEYFRAME_REQUEST_INTERVAL`]).
    pub fn request_keyframe(&self) {
        self.want_keyframe.store(true, Ordering::Relaxed);
    }

    /// Why the encoder fails on the stream's frames (for its viewers), `None` while it encodes.
    pub fn failure(&self) -> watch::Receiver<Option<Arc<str>>> {
        self.failure.subscribe()
    }

    /// The stream's name.
    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// The newest unit encoded, if the ring holds one (its size is the stream's picture size).
    pub fn newest(&self) -> Option<Arc<EncodedUnit>> {
        self.out.lock().ok().and_then(|o| o.0.newest())
    }

    /// True for a relay of another node's encoder (see the module docs).
    pub fn is_relay(&self) -> bool {
        self.relay
    }

    /// A relay publishes a unit received from the stream's origin node, as if encoded here.
    pub fn relay_unit(&self, unit: EncodedUnit) {
        if self.relay {
            self.publish(unit);
        }
    }

    /// Whether a consumer asked for a keyframe since the last call (a relay forwards it to the
    /// origin node).
    pub fn take_keyframe_request(&self) -> bool {
        self.want_keyframe.swap(false, Ordering::Relaxed)
    }

    fn publish(&self, unit: EncodedUnit) {
        let unit = Arc::new(unit);
        if let Ok(mut out) = self.out.lock() {
            out.0.push(unit.clone());
            // No receivers is fine: a ring-only consumer, or the last one leaving.
            let _ = out.1.send(unit);
        }
    }
}

/// The shared encoders, by stream name.
#[derive(Debug)]
pub struct SharedEncoders {
    map: Mutex<HashMap<String, Weak<SharedEncoder>>>,
    ring: RingLimits,
    skip_unchanged: bool,
    /// Streams whose units come from another cluster node.
    relayed: Mutex<std::collections::HashSet<String>>,
}

impl Default for SharedEncoders {
    /// The configuration's defaults (`[video]`).
    fn default() -> Self {
        Self::new(RingLimits::default(), true)
    }
}

impl SharedEncoders {
    /// Encoders whose rings keep `ring`, skipping frames whose picture did not change if
    /// `skip_unchanged` (`video.skip_unchanged`, [`pixelwire_media::thumbnail`]).
    pub fn new(ring: RingLimits, skip_unchanged: bool) -> Self {
        Self {
            map: Mutex::default(),
            ring,
            skip_unchanged,
            relayed: Mutex::default(),
        }
    }

    /// Marks `stream` as relayed from another cluster node: from the next [`SharedEncoders::get`]
    /// on, its encoder is a relay fed by the cluster (see the module docs).
    pub fn set_relayed(&self, stream: &str, relayed: bool) {
        if let Ok(mut r) = self.relayed.lock() {
            if relayed {
                r.insert(stream.to_string());
            } else {
                r.remove(stream);
            }
        }
    }

    fn is_relayed(&self, stream: &str) -> bool {
        self.relayed.lock().is_ok_and(|r| r.contains(stream))
    }

    /// The encoder for `stream`, started if nothing was consuming it.
    pub fn get(&self, stream: &Arc<Stream>, metrics: &Metrics) -> Arc<SharedEncoder> {
        let Ok(mut m) = self.map.lock() else {
            // A poisoned map means a panic elsewhere; an unshared encoder still serves this one.
            return start(
                stream.clone(),
                metrics.clone(),
                self.ring,
                self.skip_unchanged,
            );
        };
        if let Some(h) = m.get(stream.name()).and_then(Weak::upgrade) {
            return h;
        }
        m.retain(|_, w| w.strong_count() > 0);
        let h = if self.is_relayed(stream.name()) {
            relay(stream.name(), metrics.clone(), self.ring)
        } else {
            start(
                stream.clone(),
                metrics.clone(),
                self.ring,
                self.skip_unchanged,
            )
        };
        m.insert(stream.name().to_string(), Arc::downgrade(&h));
        h
    }

    /// The running encoder of `stream`, if something consumes it.
    pub fn running(&self, stream: &str) -> Option<Arc<SharedEncoder>> {
        self.map.lock().ok()?.get(stream).and_then(Weak::upgrade)
    }
}

/// A relay for a stream encoded on another node: no encoder thread, units come from
/// [`SharedEncoder::relay_unit`]. It wants a keyframe from the start, like an encoder.
fn relay(stream: &str, metrics: Metrics, ring: RingLimits) -> Arc<SharedEncoder> {
    let (tx, _) = broadcast::channel(CHANNEL_UNITS);
    let (stop_tx, _) = tokio::sync::oneshot::channel::<()>();
    let keep_us = u64::try_from(ring.keep.as_micros()).unwrap_or(u64::MAX);
    Arc::new(SharedEncoder {
        stream: stream.to_string(),
        metrics,
        out: Mutex::new((GopRing::new(keep_us, ring.max_bytes), tx)),
        want_keyframe: AtomicBool::new(true),
        failure: watch::Sender::new(None),
        _stop: stop_tx,
        relay: true,
    })
}

fn start(
    stream: Arc<Stream>,
    metrics: Metrics,
    ring: RingLimits,
    skip_unchanged: bool,
) -> Arc<SharedEncoder> {
    let (tx, _) = broadcast::channel(CHANNEL_UNITS);
    let (stop_tx, mut stop) = tokio::sync::oneshot::channel::<()>();
    let keep_us = u64::try_from(ring.keep.as_micros()).unwrap_or(u64::MAX);
    let enc = Arc::new(SharedEncoder {
        stream: stream.name().to_string(),
        metrics: metrics.clone(),
        out: Mutex::new((GopRing::new(keep_us, ring.max_bytes), tx)),
        want_keyframe: AtomicBool::new(true),
        failure: watch::Sender::new(None),
        _stop: stop_tx,
        relay: false,
    });
    let weak = Arc::downgrade(&enc);
    let rt = tokio::runtime::Handle::current();
    // The encoder runs on a blocking-pool thread: encoding never stalls the async workers.
    tokio::task::spawn_blocking(move || {
        let running = metrics.encoder_started(stream.name());
        let mut still = StillGate::default();
        let mut watch = stream.watch();
        let mut encoder = H264Encoder::new();
        let mut errors = 0u64;
        let mut seq = 0u64;
        let recorded = metrics.encoder(stream.name());
        let mut last: Option<Arc<pixelwire_media::MediaFrame>> = None;
        let mut superseded = super::superseded::SupersededCounter::default();
        let mut last_forced: Option<Instant> = None;
        // A keyframe request is served once the previous forced IDR is old enough.
        let may_force = |last_forced: Option<Instant>| {
            last_forced.is_none_or(|t| t.elapsed() >= KEYFRAME_REQUEST_INTERVAL)
        };
        tracing::debug!(stream = stream.name(), "h264 encoder started");
        loop {
            // A consumer that joins a stream with no new frames (a still image, a stalled camera)
            // still gets a keyframe: after 100 ms without a frame, the last one is encoded again.
            let next = rt.block_on(async {
                tokio::select! {
                    f = watch.next() => Some(f),
                    _ = tokio::time::sleep(Duration::from_millis(100)) => None,
                    _ = &mut stop => Some(None),
                }
            });
            // Nothing holds the encoder any more: stop.
            let Some(enc) = weak.upgrade() else { break };
            let frame = match next {
                Some(Some(f)) => f,
                Some(None) => break,
                None if enc.want_keyframe.load(Ordering::Relaxed) && may_force(last_forced) => {
                    match &last {
                        Some(f) => f.clone(),
                        None => continue,
                    }
                }
                None => continue,
            };
            running.superseded(superseded.took(frame.seq));
            last = Some(frame.clone());
            let force = may_force(last_forced) && enc.want_keyframe.swap(false, Ordering::Relaxed);
            if force {
                still.reset();
            }
            // A picture that did not change is neither decoded nor encoded (a fixed camera);
            // its thumbnail comes from the JPEG's DC coefficients.
            if skip_unchanged && !still.should_encode(Thumbnail::of(&frame), frame.capture_time_us)
            {
                running.unchanged();
                continue;
            }
            // A frame that does not decode was already counted by the ingest's decode hook.
            let Some(yuv) = frame.i420() else { continue };
            if force {
                encoder.force_keyframe();
                last_forced = Some(Instant::now());
            }
            let au = match encoder.encode(&yuv) {
                Ok(au) => au,
                Err(e) => {
                    recorded.failed();
                    errors += 1;
                    // A size OpenH264 refuses fails every frame: log the 1st, 2nd, 4th, 8th, ...
                    if errors.is_power_of_two() {
                        tracing::warn!(stream = stream.name(), width = yuv.width, height = yuv.height, error = %e, errors, "h264 encoding failed");
                    }
                    let why = unencodable(yuv.width, yuv.height);
                    enc.failure.send_if_modified(|f| {
                        let changed = f.as_deref() != Some(why.as_str());
                        *f = Some(why.into());
                        changed
                    });
                    continue;
                }
            };
            enc.failure.send_if_modified(|f| f.take().is_some());
            recorded.encoded(au.stats.encode_time);
            if !au.annexb.is_empty() {
                enc.publish(EncodedUnit::new(
                    seq,
                    au.stats.keyframe,
                    yuv.width,
                    yuv.height,
                    frame.capture_time_us,
                    au.annexb,
                ));
                seq += 1;
            }
        }
        tracing::debug!(stream = stream.name(), "h264 encoder stopped");
    });
    enc
}

/// What an H.264 viewer is told when the encoder refuses the stream's `width × height` frames.
fn unencodable(width: u32, height: u32) -> String {
    format!(
        "H.264 cannot encode this stream's {width}x{height} frames (too small, or over the encoder's 3840x2160 or 2160x3840); open it with ?codec=jpeg"
    )
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::{StreamDescription, StreamKind};
    use pixelwire_media::MediaFrame;

    fn camera(name: &str) -> Arc<Stream> {
        Stream::new(
            name,
            StreamDescription {
                kind: StreamKind::Camera,
                source: "test".into(),
                width: 64,
                height: 48,
                nominal_fps: 50.0,
            },
        )
    }

    /// Publishes a 64x48 frame every 20 ms for `d`, asking for a keyframe before each one, and
    /// counts the keyframes the viewer receives.
    async fn keyframes_while_asking(d: Duration) -> usize {
        let stream = camera("cam");
        let hubs = SharedEncoders::default();
        let hub = hubs.get(&stream, &crate::metrics::Metrics::new());
        let mut sub = hub.subscribe(ConsumerKind::WebCodecs, Start::Live);
        let units = &mut sub.units;
        let publisher = {
            let (stream, hub) = (stream.clone(), hub.clone());
            tokio::spawn(async move {
                for seq in 0u64.. {
                    let grey = (seq % 200) as u8;
                    hub.request_keyframe();
                    stream.publish(MediaFrame::from_rgba(
                        64,
                        48,
                        vec![grey; 64 * 48 * 4],
                        seq,
                        seq,
                    ));
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        };
        let mut keyframes = 0;
        let _ = tokio::time::timeout(d, async {
            while let Ok(u) = units.recv().await {
                keyframes += usize::from(u.keyframe);
            }
        })
        .await;
        publisher.abort();
        keyframes
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn keyframe_requests_are_rate_limited() {
        // A viewer asking for a keyframe before every frame (a hostile page, or many viewers
        // falling behind) gets one per KEYFRAME_REQUEST_INTERVAL, not one per frame: 1.2 s of
        // 50 fps is 60 frames, and at most 3 forced IDRs (at 0, 0.5 and 1.0 s).
        let n = keyframes_while_asking(Duration::from_millis(1200)).await;
        assert!((1..=3).contains(&n), "{n} keyframes");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_still_camera_costs_no_encodes_and_motion_is_never_held_back() {
        let stream = camera("cam");
        let metrics = crate::metrics::Metrics::new();
        let hubs = SharedEncoders::default();
        let hub = hubs.get(&stream, &metrics);
        let mut sub = hub.subscribe(ConsumerKind::WebCodecs, Start::Live);
        let jpeg = |shift: u32| {
            let rgba: Vec<u8> = (0..64 * 48u32)
                .flat_map(|i| {
                    let (x, y) = (i % 64, i / 64);
                    let v = if (shift..shift + 8).contains(&x) && (20..28).contains(&y) {
                        240
                    } else {
                        (x + y) as u8
                    };
                    [v, v, 128, 255]
                })
                .collect();
            bytes::Bytes::from(pixelwire_media::jpeg::encode_rgba(&rgba, 64, 48, 90).unwrap())
        };
        let still = jpeg(0);
        let t0 = crate::clock::now().as_micros();
        // 40 copies of one picture over 0.8 s of capture time: the first is encoded (a keyframe
        // was asked for), the rest are not.
        for i in 0..40u64 {
            stream.publish(MediaFrame::from_jpeg(still.clone(), i, t0 + i * 20_000).unwrap());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut units = 0;
        while let Ok(u) = sub.units.try_recv() {
            units += 1;
            assert!(u.keyframe || units > 1);
        }
        assert_eq!(units, 1, "a still picture is encoded once");
        // A moving square: every frame the encoder sees is encoded.
        let mut moving = 0;
        for i in 40..60u64 {
            let f =
                MediaFrame::from_jpeg(jpeg((i as u32 - 40) * 2 + 1), i, t0 + i * 20_000).unwrap();
            stream.publish(f);
            tokio::time::sleep(Duration::from_millis(20)).await;
            while let Ok(u) = sub.units.try_recv() {
                moving += 1;
                assert!(u.seq >= 1);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        while sub.units.try_recv().is_ok() {
            moving += 1;
        }
        assert!(moving >= 15, "{moving} of 20 moving frames encoded");
        let m = metrics.encode(&[]);
        assert!(
            m.contains("pixelwire_stream_h264_unchanged_frames_total{stream=\"cam\"} 39\n"),
            "{m}"
        );
    }

    /// The value of the first metric line starting with `prefix`, 0 if there is none.
    fn metric(text: &str, prefix: &str) -> u64 {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(0, |v| v as u64)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_frame_published_is_encoded_unchanged_or_superseded() {
        // Issue 12's soak: "nothing accepted lost". A burst of frames faster than the encoder
        // takes them: each one is accounted for, as encoded, unchanged or superseded.
        let stream = camera("cam");
        let metrics = crate::metrics::Metrics::new();
        let hubs = SharedEncoders::default();
        let hub = hubs.get(&stream, &metrics);
        let mut sub = hub.subscribe(ConsumerKind::WebCodecs, Start::Live);
        let frame = |seq: u64| {
            let grey = (seq * 37 % 256) as u8;
            MediaFrame::from_rgba(64, 48, vec![grey; 64 * 48 * 4], seq, 1_000 + seq)
        };
        // The encoder has taken frame 0 once its unit arrives: from then on it sees every frame.
        stream.publish(frame(0));
        let first = sub.units.recv().await.unwrap();
        assert_eq!(first.capture_time_us, 1_000);
        const N: u64 = 300;
        for seq in 1..N {
            stream.publish(frame(seq));
        }
        let accounted = |m: &str| {
            metric(
                m,
                "pixelwire_stream_h264_encode_seconds_count{stream=\"cam\"}",
            ) + metric(
                m,
                "pixelwire_stream_h264_unchanged_frames_total{stream=\"cam\"}",
            ) + metric(
                m,
                "pixelwire_stream_h264_superseded_frames_total{stream=\"cam\"}",
            )
        };
        // Wait (bounded only against a hang) until the encoder took the last frame.
        let mut m = metrics.encode(&[]);
        for _ in 0..500 {
            if accounted(&m) >= N {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            m = metrics.encode(&[]);
        }
        assert_eq!(accounted(&m), N, "{m}");
        assert_eq!(
            stream.latest().map(|f| f.seq),
            Some(N - 1),
            "the newest frame is the last one published"
        );
    }

    #[tokio::test]
    async fn a_relayed_stream_publishes_received_units_and_never_encodes() {
        let stream = camera("remote");
        let metrics = crate::metrics::Metrics::new();
        let hubs = SharedEncoders::default();
        hubs.set_relayed("remote", true);
        let relay = hubs.get(&stream, &metrics);
        assert!(relay.is_relay());
        // Like an encoder, it wants a keyframe from the start; the cluster forwards that.
        assert!(relay.take_keyframe_request());
        let mut sub = relay.subscribe(ConsumerKind::WebCodecs, Start::Live);
        assert!(relay.take_keyframe_request(), "a live joiner asks");
        // Frames published on the stream are not encoded here.
        stream.publish(MediaFrame::from_rgba(64, 48, vec![9; 64 * 48 * 4], 0, 0));
        let unit = EncodedUnit::new(5, true, 64, 48, 1, &[0, 0, 0, 1, 0x65, 1]);
        relay.relay_unit(unit);
        let got = sub.units.recv().await.unwrap();
        assert_eq!((got.seq, got.keyframe), (5, true));
        assert_eq!(relay.newest().map(|u| u.seq), Some(5));
        let m = metrics.encode(&[]);
        assert!(
            !m.contains("pixelwire_stream_h264_encoder_starts_total{stream=\"remote\"}"),
            "{m}"
        );
        // Back to local: the next encoder started is a real one.
        drop((sub, relay));
        hubs.set_relayed("remote", false);
        assert!(!hubs.get(&stream, &metrics).is_relay());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unencodable_size_is_published_as_the_hubs_failure() {
        let stream = camera("tiny");
        let hubs = SharedEncoders::default();
        let hub = hubs.get(&stream, &crate::metrics::Metrics::new());
        let mut failure = hub.failure();
        stream.publish(MediaFrame::from_rgba(8, 8, vec![9; 8 * 8 * 4], 0, 0));
        tokio::time::timeout(Duration::from_secs(5), failure.changed())
            .await
            .expect("a failure in time")
            .expect("the hub lives");
        let why = failure.borrow().clone().expect("a reason");
        assert!(why.contains("8x8") && why.contains("?codec=jpeg"), "{why}");
        // A size the encoder takes clears it.
        stream.publish(MediaFrame::from_rgba(64, 48, vec![9; 64 * 48 * 4], 1, 1));
        tokio::time::timeout(Duration::from_secs(5), failure.changed())
            .await
            .expect("cleared in time")
            .expect("the hub lives");
        assert!(failure.borrow().is_none());
    }
}
