//! Whether a frame's picture changed, without decoding it: a thumbnail of 8x8-block means (a
//! JPEG's DC coefficients, which libjpeg-turbo's 1/8-scale decode reads without the inverse DCT
//! of the AC coefficients; block means of the planes or pixels for other payloads) compared with
//! the thumbnail of the last frame that was encoded ([`StillGate`], sans-IO).
//!
//! Block means are what make it robust: sensor noise of σ grey levels per pixel averages to σ/8
//! in a block mean, while anything that really moves changes the means of the blocks it crosses
//! by far more. Comparing with the last *encoded* frame, not the previous one, means slow drift
//! (a sunrise) adds up until it is encoded, and a heartbeat encodes at least once per interval
//! anyway, so players and recorders see a live stream.

use crate::frame::MediaFrame;

/// Block means of a frame: `width × height` blocks of 8x8 pixels, three channels each
/// (RGB for JPEG and packed pixels, YUV for I420).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumbnail {
    /// Blocks across.
    pub width: u32,
    /// Blocks down.
    pub height: u32,
    /// Three bytes per block, rows of blocks top to bottom.
    pub means: Vec<u8>,
}

impl Thumbnail {
    /// The thumbnail of `frame`; `None` if it cannot be read (a JPEG that does not decode).
    pub fn of(frame: &MediaFrame) -> Option<Thumbnail> {
        if let Some(jpeg) = frame.jpeg_payload() {
            return of_jpeg(jpeg);
        }
        let yuv = frame.i420()?;
        let (bw, bh) = ((yuv.width / 8).max(1), (yuv.height / 8).max(1));
        let (w, cw) = (yuv.width as usize, yuv.chroma_width() as usize);
        let mut means = Vec::with_capacity((bw * bh * 3) as usize);
        for by in 0..bh as usize {
            for bx in 0..bw as usize {
                let mean = |plane: &[u8], stride: usize, side: usize| -> u8 {
                    let (x0, y0) = (bx * side, by * side);
                    let mut sum = 0u32;
                    let mut n = 0u32;
                    for row in plane.chunks_exact(stride).skip(y0).take(side) {
                        for &p in row.iter().skip(x0).take(side) {
                            sum += u32::from(p);
                            n += 1;
                        }
                    }
                    (sum / n.max(1)) as u8
                };
                means.push(mean(&yuv.y, w, 8));
                means.push(mean(&yuv.u, cw, 4));
                means.push(mean(&yuv.v, cw, 4));
            }
        }
        Some(Thumbnail {
            width: bw,
            height: bh,
            means,
        })
    }
}

/// A JPEG decoded at 1/8 scale: one RGB pixel per 8x8 block, from the DC coefficients.
fn of_jpeg(data: &[u8]) -> Option<Thumbnail> {
    let mut d = turbojpeg::Decompressor::new().ok()?;
    d.set_scaling_factor(turbojpeg::ScalingFactor::ONE_EIGHTH)
        .ok()?;
    let header = d.read_header(data).ok()?;
    let scaled = header.scaled(turbojpeg::ScalingFactor::ONE_EIGHTH);
    let (w, h) = (scaled.width, scaled.height);
    let mut pixels = vec![0u8; w * h * 3];
    let image = turbojpeg::Image {
        pixels: pixels.as_mut_slice(),
        width: w,
        pitch: w * 3,
        height: h,
        format: turbojpeg::PixelFormat::RGB,
    };
    d.decompress(data, image).ok()?;
    Some(Thumbnail {
        width: w as u32,
        height: h as u32,
        means: pixels,
    })
}

/// Decides which frames of a stream are encoded; see the module docs.
#[derive(Debug, Clone)]
pub struct StillGate {
    /// A block mean must move by more than this (0–255) for the picture to count as changed.
    pub threshold: u8,
    /// Encode at least this often, µs of capture time, even when nothing changed.
    pub heartbeat_us: u64,
    reference: Option<Thumbnail>,
    last_encoded_us: Option<u64>,
}

/// [`StillGate::threshold`] unless set: above the block-mean noise of a noisy sensor (σ = 4
/// grey levels per pixel gives about 0.5 per block mean; the largest of thousands of block
/// differences stays under 4), below what a 4x4-pixel object of contrast 64 changes a block by.
pub const STILL_THRESHOLD: u8 = 4;

/// [`StillGate::heartbeat_us`] unless set: one second.
pub const STILL_HEARTBEAT_US: u64 = 1_000_000;

impl Default for StillGate {
    fn default() -> Self {
        Self {
            threshold: STILL_THRESHOLD,
            heartbeat_us: STILL_HEARTBEAT_US,
            reference: None,
            last_encoded_us: None,
        }
    }
}

impl StillGate {
    /// True if the frame with `thumbnail` (`None`: unknown, so encode) captured at `capture_us`
    /// should be encoded; the gate then takes it as its reference.
    pub fn should_encode(&mut self, thumbnail: Option<Thumbnail>, capture_us: u64) -> bool {
        let changed = match (&self.reference, &thumbnail) {
            (Some(r), Some(t)) if (r.width, r.height) == (t.width, t.height) => r
                .means
                .iter()
                .zip(&t.means)
                .any(|(a, b)| a.abs_diff(*b) > self.threshold),
            _ => true,
        };
        let due = self
            .last_encoded_us
            .is_none_or(|t| capture_us.saturating_sub(t) >= self.heartbeat_us);
        if changed || due {
            self.reference = thumbnail;
            self.last_encoded_us = Some(capture_us);
            true
        } else {
            false
        }
    }

    /// The next frame is encoded whatever it shows (a keyframe was asked for).
    pub fn reset(&mut self) {
        self.reference = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 160x120 scene: a gradient, per-pixel noise of about `noise` levels from `seed`, and a
    /// `size`-pixel square of contrast `contrast` at `x`.
    fn scene(seed: u32, noise: i32, x: Option<(u32, u32, i32)>) -> Vec<u8> {
        let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        let mut rgba = Vec::with_capacity(160 * 120 * 4);
        for y in 0..120u32 {
            for px in 0..160u32 {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                // Roughly uniform in ±noise·√3 (σ ≈ noise).
                let n = if noise == 0 {
                    0
                } else {
                    (state % (2 * noise as u32 * 17 / 10 + 1)) as i32 - noise * 17 / 10
                };
                let mut v = 60 + (px as i32) / 2 + (y as i32) / 3 + n;
                if let Some((sx, size, contrast)) = x
                    && (sx..sx + size).contains(&px)
                    && (50..50 + size).contains(&y)
                {
                    v += contrast;
                }
                let v = v.clamp(0, 255) as u8;
                rgba.extend_from_slice(&[v, v, v, 255]);
            }
        }
        rgba
    }

    fn jpeg_frame(rgba: &[u8], seq: u64) -> MediaFrame {
        let jpeg = crate::jpeg::encode_rgba(rgba, 160, 120, 85).unwrap();
        MediaFrame::from_jpeg(bytes::Bytes::from(jpeg), seq, seq * 33_333).unwrap()
    }

    #[test]
    fn sensor_noise_is_still_and_a_small_object_is_motion() {
        let mut gate = StillGate::default();
        assert!(gate.should_encode(Thumbnail::of(&jpeg_frame(&scene(0, 4, None), 0)), 0));
        // 30 noisy frames of the same scene within the heartbeat: none encoded.
        for i in 1..30 {
            let f = jpeg_frame(&scene(i, 4, None), u64::from(i));
            assert!(
                !gate.should_encode(Thumbnail::of(&f), u64::from(i) * 33_333),
                "noise frame {i} counted as motion"
            );
        }
        // A 6x6 object of contrast 64 appears: encoded.
        let f = jpeg_frame(&scene(31, 4, Some((70, 6, 64))), 31);
        assert!(gate.should_encode(Thumbnail::of(&f), 31 * 33_333));
        // It moves by 8 pixels: encoded again.
        let f = jpeg_frame(&scene(32, 4, Some((78, 6, 64))), 32);
        assert!(gate.should_encode(Thumbnail::of(&f), 32 * 33_333));
    }

    #[test]
    fn the_heartbeat_encodes_a_still_picture_once_a_second() {
        let mut gate = StillGate::default();
        let still = scene(0, 0, None);
        let encoded: Vec<u64> = (0..91u64)
            .filter(|&i| gate.should_encode(Thumbnail::of(&jpeg_frame(&still, i)), i * 40_000))
            .collect();
        // 25 fps: every 25th frame is a second later.
        assert_eq!(encoded, vec![0, 25, 50, 75]);
    }

    #[test]
    fn raw_frames_and_size_changes_are_compared_too() {
        let mut gate = StillGate::default();
        let a = MediaFrame::from_rgba(160, 120, scene(0, 0, None), 0, 0);
        let b = MediaFrame::from_rgba(160, 120, scene(0, 0, None), 1, 33_333);
        let c = MediaFrame::from_rgba(160, 120, scene(0, 0, Some((20, 16, 80))), 2, 66_666);
        assert!(gate.should_encode(Thumbnail::of(&a), 0));
        assert!(!gate.should_encode(Thumbnail::of(&b), 33_333));
        assert!(gate.should_encode(Thumbnail::of(&c), 66_666));
        let small = MediaFrame::from_rgba(80, 60, vec![9; 80 * 60 * 4], 3, 99_999);
        assert!(gate.should_encode(Thumbnail::of(&small), 99_999));
        gate.reset();
        let small2 = MediaFrame::from_rgba(80, 60, vec![9; 80 * 60 * 4], 4, 133_332);
        assert!(
            gate.should_encode(Thumbnail::of(&small2), 133_332),
            "after reset"
        );
        // A JPEG that does not decode has no thumbnail: encode (and let the encoder drop it).
        assert_eq!(of_jpeg(b"\xFF\xD8garbage\xFF\xD9"), None);
    }
}
