//! One H.264 encoder per stream, shared by all its viewers, running only while someone watches:
//! [`pixelwire_media::h264::H264Encoder`] on a blocking-pool thread, one IDR every 2 s with SPS/PPS
//! inline, and an extra IDR whenever a viewer joins or fell behind (so a new viewer starts at once).
//! An encoder error is logged and counted (`pixelwire_stream_h264_encode_errors_total`) and the frame
//! skipped; while the encoder fails (a size OpenH264 refuses: under 16x16, over 3840x2160) the hub's
//! [`H264Hub::failure`] says so, and viewers tell their page. Encoded access units go out on a
//! broadcast channel as complete viewer messages: a slow viewer lags, skips to the next keyframe,
//! and never holds anyone else back. Keyframe requests (viewers joining, falling behind, asking) are
//! rate-limited: at most one forced IDR per [`KEYFRAME_REQUEST_INTERVAL`]; a request within it is
//! kept and served when it ends, so no one waits longer and no one can make every frame an IDR.

use crate::bus::Stream;
use bytes::Bytes;
use pixelwire_media::h264::H264Encoder;
use pixelwire_media::viewer_message::{self, MessageKind};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, watch};

/// Shortest time between two IDRs forced by requests.
pub const KEYFRAME_REQUEST_INTERVAL: Duration = Duration::from_millis(500);

/// One encoded access unit, framed for viewers.
#[derive(Debug, Clone)]
pub struct EncodedUnit {
    /// True for an IDR (with SPS/PPS).
    pub keyframe: bool,
    /// The complete viewer message (header + Annex-B).
    pub message: Bytes,
    /// Capture time of the frame.
    pub capture_time_us: u64,
}

/// The encoder of one stream; see the module docs.
#[derive(Debug)]
pub struct H264Hub {
    tx: broadcast::Sender<Arc<EncodedUnit>>,
    want_keyframe: AtomicBool,
    /// Why the encoder fails on the stream's frames, while it does.
    failure: watch::Sender<Option<Arc<str>>>,
    /// Dropped with the hub: tells the encoder task to stop even if no frame comes.
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl H264Hub {
    /// Receives encoded units from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<EncodedUnit>> {
        self.tx.subscribe()
    }

    /// Asks for an IDR as soon as the rate limit allows ([`KEYFRAME_REQUEST_INTERVAL`]).
    pub fn request_keyframe(&self) {
        self.want_keyframe.store(true, Ordering::Relaxed);
    }

    /// Why the encoder fails on the stream's frames (for its viewers), `None` while it encodes.
    pub fn failure(&self) -> watch::Receiver<Option<Arc<str>>> {
        self.failure.subscribe()
    }
}

/// Encoders by stream name.
#[derive(Debug, Default)]
pub struct H264Hubs {
    map: Mutex<HashMap<String, Weak<H264Hub>>>,
}

impl H264Hubs {
    /// The encoder for `stream`, started if nobody was watching it.
    pub fn get(&self, stream: &Arc<Stream>, metrics: crate::metrics::Metrics) -> Arc<H264Hub> {
        let Ok(mut m) = self.map.lock() else {
            // A poisoned map means a panic elsewhere; an unshared encoder still serves this viewer.
            return start(stream.clone(), metrics);
        };
        if let Some(h) = m.get(stream.name()).and_then(Weak::upgrade) {
            return h;
        }
        let h = start(stream.clone(), metrics);
        m.insert(stream.name().to_string(), Arc::downgrade(&h));
        h
    }
}

fn start(stream: Arc<Stream>, metrics: crate::metrics::Metrics) -> Arc<H264Hub> {
    let (tx, _) = broadcast::channel(8);
    let (stop_tx, mut stop) = tokio::sync::oneshot::channel::<()>();
    let hub = Arc::new(H264Hub {
        tx,
        want_keyframe: AtomicBool::new(true),
        failure: watch::Sender::new(None),
        _stop: stop_tx,
    });
    let weak = Arc::downgrade(&hub);
    let rt = tokio::runtime::Handle::current();
    // The encoder runs on a blocking-pool thread: encoding never stalls the async workers.
    tokio::task::spawn_blocking(move || {
        let mut watch = stream.watch();
        let mut encoder = H264Encoder::new();
        let mut errors = 0u64;
        let recorded = metrics.encoder(stream.name());
        let mut last: Option<Arc<pixelwire_media::MediaFrame>> = None;
        let mut last_forced: Option<Instant> = None;
        // A keyframe request is served once the previous forced IDR is old enough.
        let may_force = |last_forced: Option<Instant>| {
            last_forced.is_none_or(|t| t.elapsed() >= KEYFRAME_REQUEST_INTERVAL)
        };
        tracing::debug!(stream = stream.name(), "h264 encoder started");
        loop {
            // A viewer that joins a stream with no new frames (a still image, a stalled camera)
            // still gets a keyframe: after 100 ms without a frame, the last one is encoded again.
            let next = rt.block_on(async {
                tokio::select! {
                    f = watch.next() => Some(f),
                    _ = tokio::time::sleep(Duration::from_millis(100)) => None,
                    _ = &mut stop => Some(None),
                }
            });
            // Nobody holds the hub any more: stop encoding.
            let Some(hub) = weak.upgrade() else { break };
            let frame = match next {
                Some(Some(f)) => f,
                Some(None) => break,
                None if hub.want_keyframe.load(Ordering::Relaxed) && may_force(last_forced) => {
                    match &last {
                        Some(f) => f.clone(),
                        None => continue,
                    }
                }
                None => continue,
            };
            last = Some(frame.clone());
            // A frame that does not decode was already counted by the ingest's decode hook.
            let Some(yuv) = frame.i420() else { continue };
            if may_force(last_forced) && hub.want_keyframe.swap(false, Ordering::Relaxed) {
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
                    hub.failure.send_if_modified(|f| {
                        let changed = f.as_deref() != Some(why.as_str());
                        *f = Some(why.into());
                        changed
                    });
                    continue;
                }
            };
            hub.failure.send_if_modified(|f| f.take().is_some());
            recorded.encoded(au.stats.encode_time);
            if !au.annexb.is_empty() {
                let keyframe = au.stats.keyframe;
                let unit = EncodedUnit {
                    keyframe,
                    message: viewer_message::build(
                        MessageKind::H264,
                        keyframe,
                        yuv.width,
                        yuv.height,
                        frame.capture_time_us,
                        au.annexb,
                    ),
                    capture_time_us: frame.capture_time_us,
                };
                // No receivers is fine: the last viewer may be leaving right now.
                let _ = hub.tx.send(Arc::new(unit));
            }
        }
        tracing::debug!(stream = stream.name(), "h264 encoder stopped");
    });
    hub
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
        let hubs = H264Hubs::default();
        let hub = hubs.get(&stream, crate::metrics::Metrics::new());
        let mut units = hub.subscribe();
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
    async fn an_unencodable_size_is_published_as_the_hubs_failure() {
        let stream = camera("tiny");
        let hubs = H264Hubs::default();
        let hub = hubs.get(&stream, crate::metrics::Metrics::new());
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
