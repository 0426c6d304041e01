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
    Complexity, Encoder, EncoderConfig, FrameType, IntraFramePeriod, RateControlMode, UsageType,
};
use openh264::formats::YUVSlices;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
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

fn new_encoder(width: u32, height: u32) -> Result<Encoder, openh264::Error> {
    let cfg = EncoderConfig::new()
        .usage_type(UsageType::CameraVideoRealTime)
        .complexity(Complexity::Low)
        .rate_control_mode(RateControlMode::Bitrate)
        .bitrate(openh264::encoder::BitRate::from_bps(bitrate_for(
            width, height,
        )))
        .max_frame_rate(openh264::encoder::FrameRate::from_hz(30.0))
        .skip_frames(false)
        .intra_frame_period(IntraFramePeriod::from_num_frames(60));
    Encoder::with_api_config(OpenH264API::from_source(), cfg)
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
    tokio::spawn(async move {
        let mut watch = stream.watch();
        let mut encoder: Option<(u32, u32, Encoder)> = None;
        let mut annexb = Vec::with_capacity(64 * 1024);
        tracing::debug!(stream = stream.name(), "h264 encoder started");
        loop {
            let frame = tokio::select! {
                f = watch.next() => match f { Some(f) => f, None => break },
                _ = &mut stop => break,
            };
            // Nobody holds the hub any more: stop encoding.
            let Some(hub) = weak.upgrade() else { break };
            let Some(yuv) = frame.i420() else { continue };
            let t0 = std::time::Instant::now();
            let unit = tokio::task::block_in_place(|| {
                if encoder
                    .as_ref()
                    .is_none_or(|(w, h, _)| (*w, *h) != (yuv.width, yuv.height))
                {
                    encoder = new_encoder(yuv.width, yuv.height)
                        .ok()
                        .map(|e| (yuv.width, yuv.height, e));
                    hub.want_keyframe.store(true, Ordering::Relaxed);
                }
                let (_, _, enc) = encoder.as_mut()?;
                if hub.want_keyframe.swap(false, Ordering::Relaxed) {
                    enc.force_intra_frame();
                }
                let w = yuv.width as usize;
                let src = YUVSlices::new(
                    (&yuv.y, &yuv.u, &yuv.v),
                    (w, yuv.height as usize),
                    (w, w / 2, w / 2),
                );
                let bits = enc.encode(&src).ok()?;
                let keyframe = matches!(bits.frame_type(), FrameType::IDR | FrameType::I);
                annexb.clear();
                bits.write_vec(&mut annexb);
                (!annexb.is_empty()).then(|| EncodedUnit {
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
                })
            });
            metrics.observe_encode(stream.name(), t0.elapsed());
            if let Some(u) = unit {
                // No receivers is fine: the last viewer may be leaving right now.
                let _ = hub.tx.send(Arc::new(u));
            }
        }
        tracing::debug!(stream = stream.name(), "h264 encoder stopped");
    });
    hub
}
