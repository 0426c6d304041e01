//! A synchronous H.264 encoder over OpenH264 (built from source with its assembly; BSD-2): the
//! settings pixelwire streams with, typed errors, forced keyframes and per-frame statistics. The
//! caller owns threading and fan-out: one [`H264Encoder`] per stream, fed I420 frames.
//!
//! Defaults: real-time camera mode at low complexity, Constrained Baseline (`avc1.42E01E`
//! compatible, what every browser decodes), constant bitrate of about 0.12 bit per pixel at 30 fps,
//! an IDR every 60 frames with SPS/PPS inline, no frame skipping, and a VUI saying BT.601 full
//! range (see [`crate::yuv`]).

use crate::yuv::I420;
use openh264::OpenH264API;
use openh264::encoder::{
    BitRate, Complexity, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod,
    MatrixCoefficients, QpRange, RateControlMode, UsageType, VuiConfig,
};
use openh264::formats::YUVSlices;
use std::time::{Duration, Instant};

/// Why a frame was not encoded.
#[derive(Debug, thiserror::Error)]
pub enum H264Error {
    /// OpenH264 refused the settings (for example an unsupported size).
    #[error("cannot start the H.264 encoder at {width}x{height}: {source}")]
    Init {
        /// Frame width.
        width: u32,
        /// Frame height.
        height: u32,
        /// OpenH264's error.
        source: openh264::Error,
    },
    /// OpenH264 failed on a frame.
    #[error("H.264 encoding failed: {0}")]
    Encode(openh264::Error),
    /// The frame's planes do not match its size.
    #[error("I420 planes do not match {width}x{height}")]
    BadFrame {
        /// Frame width.
        width: u32,
        /// Frame height.
        height: u32,
    },
}

/// How the encoder chooses its quantiser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RateMode {
    /// Constant bitrate around [`H264Settings::bitrate_bps`] (camera streams over a link of known
    /// capacity).
    #[default]
    Bitrate,
    /// The quantiser held within `min_qp..=max_qp` (each 1..=51, lower is better), whatever the
    /// bitrate: OpenH264's quality-mode rate control clipped to the range, the nearest it has to
    /// x264's CRF. `min_qp == max_qp` is a constant quantiser; unchanged areas still cost almost
    /// nothing (skipped macroblocks), which is what screen content needs.
    Quantiser {
        /// Best quantiser allowed.
        min_qp: u8,
        /// Worst quantiser allowed.
        max_qp: u8,
    },
}

/// Encoder settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct H264Settings {
    /// Target bitrate, bits per second (with [`RateMode::Quantiser`] only a hint).
    pub bitrate_bps: u32,
    /// The frame rate the rate control plans for.
    pub max_fps: f32,
    /// Frames from one IDR to the next; 0: no periodic IDR (only the first, forced ones and
    /// restarts).
    pub keyframe_interval_frames: u32,
    /// Rate control.
    pub rate: RateMode,
    /// Skip OpenH264's pre-analysis (background detection, scene-change detection, adaptive
    /// quantisation): with a constant quantiser it only costs time — about a fifth of the encode
    /// of a 720p desktop, measured with `perf` — and damage-gated capture already skips still
    /// frames. (Its screen-content usage type was tried too: 26–43 % fewer bytes on the bench
    /// scene, but twice the CPU.)
    pub lean: bool,
}

impl H264Settings {
    /// pixelwire's settings for a `width × height` stream: about 0.12 bit per pixel at 30 fps
    /// (1.1 Mbit/s at 640x480), at least 300 kbit/s; an IDR every 2 s at 30 fps.
    pub fn for_size(width: u32, height: u32) -> Self {
        Self {
            bitrate_bps: ((f64::from(width) * f64::from(height)) * 30.0 * 0.12).max(300_000.0)
                as u32,
            max_fps: 30.0,
            keyframe_interval_frames: 60,
            rate: RateMode::Bitrate,
            lean: false,
        }
    }

    /// Settings for screen stripes: the quantiser held at `qp` (see [`RateMode::Quantiser`]), no
    /// periodic IDR (the caller forces them), the bitrate of [`H264Settings::for_size`] as a hint.
    pub fn constant_qp(width: u32, height: u32, qp: u8) -> Self {
        let qp = qp.clamp(1, 51);
        Self {
            keyframe_interval_frames: 0,
            rate: RateMode::Quantiser {
                min_qp: qp,
                max_qp: qp,
            },
            lean: true,
            ..Self::for_size(width, height)
        }
    }

    /// The OpenH264 configuration.
    pub fn encoder_config(&self) -> EncoderConfig {
        let (mode, qp) = match self.rate {
            RateMode::Bitrate => (RateControlMode::Bitrate, QpRange::default()),
            RateMode::Quantiser { min_qp, max_qp } => {
                // OpenH264 replaces a minimum of 0 with its own range, and QpRange panics
                // outside 0..=51 or when min > max: clamp and order them here.
                let max = max_qp.clamp(1, 51);
                (
                    RateControlMode::Quality,
                    QpRange::new(min_qp.clamp(1, max), max),
                )
            }
        };
        EncoderConfig::new()
            .usage_type(UsageType::CameraVideoRealTime)
            .complexity(Complexity::Low)
            .background_detection(!self.lean)
            .scene_change_detect(!self.lean)
            .adaptive_quantization(!self.lean)
            .rate_control_mode(mode)
            .qp(qp)
            .bitrate(BitRate::from_bps(self.bitrate_bps))
            .max_frame_rate(FrameRate::from_hz(self.max_fps))
            .skip_frames(false)
            .intra_frame_period(IntraFramePeriod::from_num_frames(
                self.keyframe_interval_frames,
            ))
            // Our I420 is BT.601 full range (the JPEG convention, see `crate::yuv`): say so, or
            // browsers assume BT.709 limited range and shift every colour.
            .vui(
                VuiConfig::bt709()
                    .matrix_coefficients(MatrixCoefficients::Smpte170M)
                    .full_range(true),
            )
    }
}

/// The encoder configuration pixelwire streams a `width × height` source with.
pub fn encoder_config(width: u32, height: u32) -> EncoderConfig {
    H264Settings::for_size(width, height).encoder_config()
}

/// What one encoded frame cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EncodeStats {
    /// Wall time inside the encoder.
    pub encode_time: Duration,
    /// Bytes of the access unit (0 if the encoder produced nothing for this frame).
    pub bytes: usize,
    /// True for an IDR or I frame.
    pub keyframe: bool,
}

/// One encoded access unit: Annex-B, SPS/PPS inline before each IDR. Borrowed from the encoder
/// until the next call.
#[derive(Debug)]
pub struct AccessUnit<'a> {
    /// Annex-B bytes (empty if the encoder produced nothing).
    pub annexb: &'a [u8],
    /// Statistics of this frame.
    pub stats: EncodeStats,
}

/// A synchronous H.264 encoder that follows its input's size: a frame of another size restarts
/// it with [`H264Settings::for_size`] (or the settings callback's answer) and starts with an IDR.
pub struct H264Encoder {
    settings: Box<dyn Fn(u32, u32) -> H264Settings + Send>,
    current: Option<(u32, u32, Encoder)>,
    force_keyframe: bool,
    annexb: Vec<u8>,
}

impl std::fmt::Debug for H264Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H264Encoder")
            .field("size", &self.current.as_ref().map(|(w, h, _)| (*w, *h)))
            .field("force_keyframe", &self.force_keyframe)
            .finish()
    }
}

impl Default for H264Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl H264Encoder {
    /// An encoder with pixelwire's settings for each size it sees.
    pub fn new() -> Self {
        Self::with_settings(H264Settings::for_size)
    }

    /// An encoder whose settings for a size come from `settings`.
    pub fn with_settings(settings: impl Fn(u32, u32) -> H264Settings + Send + 'static) -> Self {
        Self {
            settings: Box::new(settings),
            current: None,
            force_keyframe: true,
            annexb: Vec::with_capacity(64 * 1024),
        }
    }

    /// Makes the next frame an IDR.
    pub fn force_keyframe(&mut self) {
        self.force_keyframe = true;
    }

    /// Encodes one frame.
    pub fn encode(&mut self, yuv: &I420) -> Result<AccessUnit<'_>, H264Error> {
        let (w, h) = (yuv.width, yuv.height);
        let (wu, hu) = (w as usize, h as usize);
        if w == 0
            || h == 0
            || w % 2 != 0
            || h % 2 != 0
            || yuv.y.len() < wu * hu
            || yuv.u.len() < wu / 2 * hu / 2
            || yuv.v.len() < wu / 2 * hu / 2
        {
            return Err(H264Error::BadFrame {
                width: w,
                height: h,
            });
        }
        let t0 = Instant::now();
        let enc = match self.current.take() {
            Some(cur) if (cur.0, cur.1) == (w, h) => &mut self.current.insert(cur).2,
            _ => {
                let config = (self.settings)(w, h).encoder_config();
                let enc = Encoder::with_api_config(OpenH264API::from_source(), config).map_err(
                    |source| H264Error::Init {
                        width: w,
                        height: h,
                        source,
                    },
                )?;
                self.force_keyframe = true;
                &mut self.current.insert((w, h, enc)).2
            }
        };
        if std::mem::take(&mut self.force_keyframe) {
            enc.force_intra_frame();
        }
        let src = YUVSlices::new((&yuv.y, &yuv.u, &yuv.v), (wu, hu), (wu, wu / 2, wu / 2));
        let bits = match enc.encode(&src) {
            Ok(b) => b,
            Err(e) => {
                // The next frame starts clean.
                self.force_keyframe = true;
                return Err(H264Error::Encode(e));
            }
        };
        let keyframe = matches!(bits.frame_type(), FrameType::IDR | FrameType::I);
        self.annexb.clear();
        bits.write_vec(&mut self.annexb);
        Ok(AccessUnit {
            annexb: &self.annexb,
            stats: EncodeStats {
                encode_time: t0.elapsed(),
                bytes: self.annexb.len(),
                keyframe,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gray(w: u32, h: u32, luma: u8) -> I420 {
        I420 {
            width: w,
            height: h,
            y: vec![luma; (w * h) as usize],
            u: vec![128; (w * h / 4) as usize],
            v: vec![128; (w * h / 4) as usize],
        }
    }

    #[test]
    fn first_frame_and_forced_frames_are_idr_with_parameter_sets() {
        let mut enc = H264Encoder::new();
        let au = enc.encode(&gray(64, 48, 100)).unwrap();
        assert!(au.stats.keyframe);
        assert_eq!(au.stats.bytes, au.annexb.len());
        // Annex-B start code, then an SPS (NAL type 7) first
        assert_eq!(&au.annexb[..4], &[0, 0, 0, 1]);
        assert_eq!(au.annexb[4] & 0x1F, 7);
        let au = enc.encode(&gray(64, 48, 101)).unwrap();
        assert!(!au.stats.keyframe);
        enc.force_keyframe();
        assert!(enc.encode(&gray(64, 48, 102)).unwrap().stats.keyframe);
        // a new size restarts the encoder with an IDR
        assert!(enc.encode(&gray(32, 32, 102)).unwrap().stats.keyframe);
    }

    /// Luma PSNR (dB) of `decoded` (with its stride) against `source`.
    fn luma_psnr(source: &[u8], decoded: &[u8], stride: usize, w: usize, h: usize) -> f64 {
        let mut se = 0f64;
        for y in 0..h {
            for x in 0..w {
                let d = f64::from(source[y * w + x]) - f64::from(decoded[y * stride + x]);
                se += d * d;
            }
        }
        let mse = se / (w * h) as f64;
        if mse == 0.0 {
            99.0
        } else {
            10.0 * (255.0 * 255.0 / mse).log10()
        }
    }

    #[test]
    fn a_moving_picture_decodes_back_close_to_the_source() {
        use openh264::decoder::Decoder;
        use openh264::formats::YUVSource;
        let (w, h) = (160u32, 120u32);
        let mut enc = H264Encoder::new();
        let mut dec = Decoder::new().unwrap();
        let mut decoded_frames = 0;
        for i in 0..12u32 {
            // a diagonal gradient sliding 3 pixels per frame, with a bright square
            let mut img = gray(w, h, 0);
            for y in 0..h {
                for x in 0..w {
                    let mut v = ((x + y + 3 * i) % 200 + 20) as u8;
                    if (40..72).contains(&x) && (30..62).contains(&y) {
                        v = 235;
                    }
                    img.y[(y * w + x) as usize] = v;
                }
            }
            let au = enc.encode(&img).unwrap();
            assert!(!au.annexb.is_empty());
            let annexb = au.annexb.to_vec();
            if let Some(yuv) = dec.decode(&annexb).unwrap() {
                let (dw, dh) = yuv.dimensions();
                assert_eq!((dw, dh), (w as usize, h as usize));
                let psnr = luma_psnr(&img.y, yuv.y(), yuv.strides().0, dw, dh);
                assert!(psnr > 32.0, "frame {i}: luma PSNR {psnr:.1} dB");
                decoded_frames += 1;
            }
        }
        assert!(decoded_frames >= 11, "{decoded_frames} frames decoded");
    }

    #[test]
    fn a_constant_quantiser_follows_the_qp_and_keeps_still_frames_tiny() {
        let (w, h) = (128u32, 64u32);
        let img = |shift: u32| {
            let mut img = gray(w, h, 0);
            for (i, p) in img.y.iter_mut().enumerate() {
                let (x, y) = (i as u32 % w, i as u32 / w);
                *p = ((x * 7 + y * 13 + shift) % 251) as u8;
            }
            img
        };
        let mut sizes = Vec::new();
        for qp in [18u8, 40] {
            let mut enc =
                H264Encoder::with_settings(move |w, h| H264Settings::constant_qp(w, h, qp));
            let idr = enc.encode(&img(0)).unwrap();
            assert!(idr.stats.keyframe);
            sizes.push(idr.stats.bytes);
            let still = enc.encode(&img(0)).unwrap();
            assert!(!still.stats.keyframe);
            assert!(
                still.stats.bytes < 64,
                "still P frame: {} bytes",
                still.stats.bytes
            );
        }
        assert!(sizes[0] > 2 * sizes[1], "qp 18 vs 40: {sizes:?}");
    }

    #[test]
    fn planes_that_do_not_match_the_size_are_refused() {
        let mut enc = H264Encoder::new();
        let mut bad = gray(64, 48, 1);
        bad.y.truncate(10);
        assert!(matches!(enc.encode(&bad), Err(H264Error::BadFrame { .. })));
        assert!(matches!(
            enc.encode(&gray(63, 48, 1)),
            Err(H264Error::BadFrame { .. })
        ));
    }
}
