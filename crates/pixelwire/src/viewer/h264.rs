//! One H.264 encoder per stream, shared by all its viewers, running only while someone watches.
//! OpenH264 (built from source with its assembly; BSD-2) in real-time camera mode with low
//! complexity, Constrained Baseline (`avc1.42E01E`-compatible, what every browser decodes), one IDR
//! every 2 s with SPS/PPS inline, and an extra IDR whenever a viewer joins or fell behind (so a new
//! viewer starts at once). Encoded access units go out on a broadcast channel as complete viewer
//! messages: a slow viewer lags, skips to the next keyframe, and never holds anyone else back.

use super::message::{self, KIND_H264};
use crate::bus::Stream;
use bytes::Bytes;
use openh264::OpenH264API;
use openh264::encoder::{
    Complexity, Encoder, EncoderConfig, FrameType, IntraFramePeriod, MatrixCoefficients,
    RateControlMode, UsageType, VuiConfig,
};
use openh264::formats::YUVSlices;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::broadcast;

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
    /// Dropped with the hub: tells the encoder task to stop even if no frame comes.
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl H264Hub {
    /// Receives encoded units from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<EncodedUnit>> {
        self.tx.subscribe()
    }

    /// Asks for an IDR as the next frame.
    pub fn request_keyframe(&self) {
        self.want_keyframe.store(true, Ordering::Relaxed);
    }
}

/// Encoders by stream name.
#[derive(Debug, Default)]
pub struct H264Hubs {
    map: Mutex<HashMap<String, Weak<H264Hub>>>,
}

/// Bitrate for a frame size: about 0.12 bit per pixel at 30 fps (1.1 Mbit/s at 640x480), at
/// least 300 kbit/s.
fn bitrate_for(width: u32, height: u32) -> u32 {
    ((width * height) as f64 * 30.0 * 0.12).max(300_000.0) as u32
}

/// The encoder settings for a `width × height` stream: constrained baseline for browsers, camera
/// real-time mode at low complexity, constant bitrate, an IDR every 2 s, no frame skipping.
pub fn encoder_config(width: u32, height: u32) -> EncoderConfig {
    EncoderConfig::new()
        .usage_type(UsageType::CameraVideoRealTime)
        .complexity(Complexity::Low)
        .rate_control_mode(RateControlMode::Bitrate)
        .bitrate(openh264::encoder::BitRate::from_bps(bitrate_for(
            width, height,
        )))
        .max_frame_rate(openh264::encoder::FrameRate::from_hz(30.0))
        .skip_frames(false)
        .intra_frame_period(IntraFramePeriod::from_num_frames(60))
        // Our I420 is BT.601 full range (the JPEG convention, see `media::yuv`): say so, or
        // browsers assume BT.709 limited range and shift every colour.
        .vui(
            VuiConfig::bt709()
                .matrix_coefficients(MatrixCoefficients::Smpte170M)
                .full_range(true),
        )
}

fn new_encoder(width: u32, height: u32) -> Result<Encoder, openh264::Error> {
    Encoder::with_api_config(OpenH264API::from_source(), encoder_config(width, height))
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
        _stop: stop_tx,
    });
    let weak = Arc::downgrade(&hub);
    let rt = tokio::runtime::Handle::current();
    // The encoder runs on a blocking-pool thread: encoding never stalls the async workers.
    tokio::task::spawn_blocking(move || {
        let mut watch = stream.watch();
        let mut encoder: Option<(u32, u32, Encoder)> = None;
        let mut annexb = Vec::with_capacity(64 * 1024);
        let mut last: Option<Arc<crate::media::MediaFrame>> = None;
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
                None if hub.want_keyframe.load(Ordering::Relaxed) => match &last {
                    Some(f) => f.clone(),
                    None => continue,
                },
                None => continue,
            };
            last = Some(frame.clone());
            let Some(yuv) = frame.i420() else { continue };
            let t0 = std::time::Instant::now();
            if encoder
                .as_ref()
                .is_none_or(|(w, h, _)| (*w, *h) != (yuv.width, yuv.height))
            {
                encoder = new_encoder(yuv.width, yuv.height)
                    .ok()
                    .map(|e| (yuv.width, yuv.height, e));
                hub.want_keyframe.store(true, Ordering::Relaxed);
            }
            let Some((_, _, enc)) = encoder.as_mut() else {
                continue;
            };
            if hub.want_keyframe.swap(false, Ordering::Relaxed) {
                enc.force_intra_frame();
            }
            let w = yuv.width as usize;
            let src = YUVSlices::new(
                (&yuv.y, &yuv.u, &yuv.v),
                (w, yuv.height as usize),
                (w, w / 2, w / 2),
            );
            let Ok(bits) = enc.encode(&src) else { continue };
            let keyframe = matches!(bits.frame_type(), FrameType::IDR | FrameType::I);
            annexb.clear();
            bits.write_vec(&mut annexb);
            metrics.observe_encode(stream.name(), t0.elapsed());
            if !annexb.is_empty() {
                let unit = EncodedUnit {
                    keyframe,
                    message: message::build(
                        KIND_H264,
                        keyframe,
                        yuv.width,
                        yuv.height,
                        frame.capture_time_us,
                        &annexb,
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
