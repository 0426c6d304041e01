//! [`StripePipeline`]: what the capture session runs on its encode thread for each captured frame.
//! It places the watermark, lets the [`Planner`] decide from damage and stripe hashes, encodes the
//! chosen stripes in parallel and returns them top to bottom as [`EncodedStripe`]s.
//!
//! Parallelism is rayon's global pool: on this 2-core machine, dispatching the 17 stripes of a
//! 1080p frame costs a few µs with rayon against tens of µs for spawning a scoped thread per frame
//! (`benches/pipeline.rs`, group `dispatch`), and rayon's work stealing balances stripes of
//! uneven cost. A plan with a single stripe is encoded on the calling thread.

use crate::encode::{Rows, encode_jpeg};
use crate::error::CaptureError;
use crate::planner::{FrameFacts, Planner, StripeJob, hash_rows};
use crate::settings::{CaptureSettings, Chroma, OutputMode};
use crate::stripe::{EncodedStripe, StripeCodec};
use crate::watermark::WatermarkLayer;
use bytes::Bytes;
use pixelwire_core::Rect;
use pixelwire_media::MediaFrame;
#[cfg(test)]
use pixelwire_media::PixelLayout;
use pixelwire_media::jpeg::Subsampling;
use rayon::prelude::*;

/// Counters since the pipeline was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PipelineStats {
    /// Frames processed.
    pub frames: u64,
    /// Frames refused because they carry no packed pixels (a JPEG or I420 frame).
    pub frames_rejected: u64,
    /// Stripes hashed.
    pub stripes_hashed: u64,
    /// Stripes encoded.
    pub stripes_encoded: u64,
    /// Encoded bytes (without stripe headers).
    pub bytes: u64,
    /// Stripes that failed to encode (skipped; the next change retries).
    pub encode_errors: u64,
}

/// Plans and encodes captured frames; see the module docs.
pub struct StripePipeline {
    planner: Planner,
    output: OutputMode,
    subsampling: Subsampling,
    watermark: Option<WatermarkLayer>,
    #[cfg(feature = "h264")]
    h264: Vec<crate::encode::H264Stripe>,
    stats: PipelineStats,
}

impl std::fmt::Debug for StripePipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripePipeline")
            .field("output", &self.output)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// One stripe to encode and the rows it reads.
struct Work<'a, E> {
    job: StripeJob,
    rows: Rows<'a>,
    encoder: E,
}

impl StripePipeline {
    /// Checks the settings and loads the watermark.
    pub fn new(settings: &CaptureSettings) -> Result<Self, CaptureError> {
        if settings.output == OutputMode::H264 {
            if !cfg!(feature = "h264") {
                return Err(CaptureError::Unsupported(
                    "H.264 output (built without the h264 feature)",
                ));
            }
            if settings.h264.full_color {
                return Err(CaptureError::Unsupported(
                    "H.264 4:4:4 (OpenH264 encodes 4:2:0 only)",
                ));
            }
        }
        if settings.stripe_height == 0 {
            return Err(CaptureError::Unsupported("a stripe height of 0 rows"));
        }
        let watermark = settings
            .watermark
            .as_ref()
            .map(WatermarkLayer::load)
            .transpose()?;
        Ok(Self {
            planner: Planner::new(settings),
            output: settings.output,
            subsampling: match settings.jpeg.chroma {
                Chroma::Yuv444 => Subsampling::S444,
                Chroma::Yuv420 => Subsampling::S420,
            },
            watermark,
            #[cfg(feature = "h264")]
            h264: Vec::new(),
            stats: PipelineStats::default(),
        })
    }

    /// Every stripe is sent on the next frame (JPEG at its best quality, H.264 IDRs).
    pub fn request_refresh(&mut self) {
        self.planner.request_refresh();
    }

    /// Counters.
    pub fn stats(&self) -> PipelineStats {
        self.stats
    }

    /// Plans and encodes one captured frame (packed BGRA or RGBA); changed stripes are encoded in
    /// parallel. Stripes come back top to bottom.
    pub fn process(&mut self, frame: &MediaFrame) -> Vec<EncodedStripe> {
        let Some(packed) = frame.packed() else {
            self.stats.frames_rejected += 1;
            return Vec::new();
        };
        self.stats.frames += 1;
        let (width, height) = (frame.width, frame.height);
        let (data, stride, layout) = (&packed.data[..], packed.stride, packed.layout);
        let placement = self.watermark.as_mut().map(|wm| wm.advance(width, height));
        let wm_rect = placement.as_ref().and_then(|p| p.rect);
        let damage: Option<Vec<Rect>> = frame.damage().map(|d| {
            let mut d = d.to_vec();
            d.extend(placement.iter().flat_map(|p| p.dirty.iter().copied()));
            d
        });
        let facts = FrameFacts {
            width,
            height,
            capture_us: frame.capture_time_us,
            damage: damage.as_deref(),
        };
        let wm = self.watermark.as_ref();
        // Copies of the stripes the watermark overlaps, blended, keyed by (y, rows).
        let mut overlays: Vec<(u32, u32, Vec<u8>)> = Vec::new();
        let overlay = |y: u32, rows: u32| -> Option<Vec<u8>> {
            let (wm, r) = (wm?, wm_rect?);
            if r.y >= y + rows || y >= r.y + r.h {
                return None;
            }
            let row_len = width as usize * 4;
            let mut copy = Vec::with_capacity(row_len * rows as usize);
            for i in 0..rows as usize {
                let s = (y as usize + i) * stride;
                copy.extend_from_slice(&data[s..s + row_len]);
            }
            wm.blend(r, &mut copy, row_len, y, rows, layout);
            Some(copy)
        };
        let plan = self
            .planner
            .plan(&facts, |span| match overlay(span.y, span.height) {
                Some(copy) => {
                    let h = hash_rows(&copy, width as usize * 4, width, 0, span.height);
                    overlays.push((span.y, span.height, copy));
                    h
                }
                None => hash_rows(data, stride, width, span.y, span.height),
            });
        self.stats.stripes_hashed += plan.hashed as u64;
        for job in &plan.jobs {
            let (y, rows) = (job.span.y, job.span.height);
            if !overlays.iter().any(|o| (o.0, o.1) == (y, rows))
                && let Some(copy) = overlay(y, rows)
            {
                overlays.push((y, rows, copy));
            }
        }
        let rows_of = |job: &StripeJob| -> Rows<'_> {
            let (y, h) = (job.span.y, job.span.height);
            match overlays.iter().find(|o| (o.0, o.1) == (y, h)) {
                Some(o) => Rows {
                    pixels: &o.2,
                    width,
                    height: h,
                    stride: width as usize * 4,
                    layout,
                },
                None => Rows {
                    pixels: &data[(y as usize * stride).min(data.len())..],
                    width,
                    height: h,
                    stride,
                    layout,
                },
            }
        };
        let meta = (frame.seq, frame.capture_time_us);
        let results: Vec<Option<EncodedStripe>> = match self.output {
            OutputMode::Jpeg => {
                let cfg = *self.planner.settings();
                let subsampling = self.subsampling;
                let work: Vec<Work<'_, ()>> = plan
                    .jobs
                    .iter()
                    .map(|job| Work {
                        job: *job,
                        rows: rows_of(job),
                        encoder: (),
                    })
                    .collect();
                run(work, |w| {
                    let start = now_us();
                    let data =
                        encode_jpeg(w.rows, cfg.jpeg_quality(w.job.class), subsampling).ok()?;
                    Some(stripe(
                        StripeCodec::Jpeg,
                        true,
                        &w.job,
                        meta,
                        w.rows.width,
                        w.rows.height,
                        data,
                        start,
                    ))
                })
            }
            #[cfg(feature = "h264")]
            OutputMode::H264 => {
                if plan.reset || self.h264.len() != self.planner.spans().len() {
                    self.h264.clear();
                    self.h264
                        .resize_with(self.planner.spans().len(), Default::default);
                }
                let cfg = *self.planner.settings();
                let mut jobs = plan.jobs.iter().peekable();
                let mut work = Vec::with_capacity(plan.jobs.len());
                for (i, enc) in self.h264.iter_mut().enumerate() {
                    if let Some(job) = jobs.next_if(|j| j.span.index == i) {
                        work.push(Work {
                            job: *job,
                            rows: rows_of(job),
                            encoder: enc,
                        });
                    }
                }
                run(work, |w| {
                    let start = now_us();
                    let unit = w
                        .encoder
                        .encode(w.rows, cfg.h264_qp(w.job.class), w.job.keyframe)
                        .ok()?;
                    Some(stripe(
                        StripeCodec::H264,
                        unit.keyframe,
                        &w.job,
                        meta,
                        unit.width,
                        unit.height,
                        unit.annexb,
                        start,
                    ))
                })
            }
            #[cfg(not(feature = "h264"))]
            OutputMode::H264 => plan.jobs.iter().map(|_| None).collect(),
        };
        let mut out = Vec::with_capacity(results.len());
        for r in results {
            match r {
                Some(s) => {
                    self.stats.stripes_encoded += 1;
                    self.stats.bytes += s.data.len() as u64;
                    out.push(s);
                }
                None => self.stats.encode_errors += 1,
            }
        }
        out
    }
}

fn now_us() -> u64 {
    pixelwire_media::clock::now().as_micros()
}

/// Runs `f` over `work` in order: in parallel on rayon's pool, or inline for a single stripe
/// (no wake-up of the pool).
fn run<W: Send, R: Send>(work: Vec<W>, f: impl Fn(W) -> R + Sync + Send) -> Vec<R> {
    if work.len() <= 1 {
        work.into_iter().map(f).collect()
    } else {
        work.into_par_iter().map(f).collect()
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "a plain constructor of the stripe's fields"
)]
fn stripe(
    codec: StripeCodec,
    keyframe: bool,
    job: &StripeJob,
    (frame_id, capture_us): (u64, u64),
    width: u32,
    height: u32,
    data: Vec<u8>,
    encode_start_us: u64,
) -> EncodedStripe {
    EncodedStripe {
        codec,
        keyframe,
        reason: job.reason,
        frame_id,
        y: job.span.y,
        width,
        height,
        data: Bytes::from(data),
        capture_us,
        encode_start_us,
        encode_end_us: now_us(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{Watermark, WatermarkLocation};
    use crate::stripe::StripeReason;
    use pixelwire_media::frame::PackedPixels;

    const W: u32 = 256;
    const H: u32 = 200;

    /// A BGRA frame with a gradient and some text-like bars, its stride padded by 16 bytes.
    fn pixels(seed: u8) -> (Vec<u8>, usize) {
        let stride = W as usize * 4 + 16;
        let mut v = vec![0u8; stride * H as usize];
        for y in 0..H as usize {
            for x in 0..W as usize {
                let bar = if (x / 8 + y / 8) % 5 == 0 { 90 } else { 0 };
                let p = &mut v[y * stride + x * 4..][..4];
                p.copy_from_slice(&[(x / 2) as u8 + bar, (y + usize::from(seed)) as u8, 128, 255]);
            }
        }
        (v, stride)
    }

    fn frame(v: &[u8], stride: usize, seq: u64) -> MediaFrame {
        let packed = PackedPixels {
            data: Bytes::copy_from_slice(v),
            stride,
            layout: PixelLayout::Bgra,
        };
        MediaFrame::from_packed(W, H, packed, seq, 1_000 + seq).unwrap()
    }

    /// PSNR (dB) of decoded RGBA stripe rows against the BGRA source rows.
    fn psnr(rgba: &[u8], src: &[u8], stride: usize, y0: u32, rows: u32) -> f64 {
        let mut se = 0f64;
        for y in 0..rows as usize {
            for x in 0..W as usize {
                let s = &src[(y0 as usize + y) * stride + x * 4..][..4];
                let d = &rgba[(y * W as usize + x) * 4..][..4];
                for (a, b) in [(d[0], s[2]), (d[1], s[1]), (d[2], s[0])] {
                    se += (f64::from(a) - f64::from(b)).powi(2);
                }
            }
        }
        let mse = se / (f64::from(W * rows) * 3.0);
        10.0 * (255.0 * 255.0 / mse.max(1e-9)).log10()
    }

    fn sof0_sampling(jpeg: &[u8]) -> Vec<u8> {
        let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        (0..usize::from(jpeg[sof + 9]))
            .map(|c| jpeg[sof + 11 + 3 * c])
            .collect()
    }

    #[test]
    fn jpeg_stripes_decode_to_their_rows_and_only_changed_ones_are_sent() {
        let mut p = StripePipeline::new(&CaptureSettings::default()).unwrap();
        let (mut v, stride) = pixels(0);
        let out = p.process(&frame(&v, stride, 7));
        let spans: Vec<_> = out.iter().map(|s| (s.y, s.height)).collect();
        assert_eq!(spans, [(0, 64), (64, 64), (128, 64), (192, 8)]);
        for s in &out {
            assert_eq!(
                (s.frame_id, s.capture_us, s.codec),
                (7, 1_007, StripeCodec::Jpeg)
            );
            assert!(s.encode_start_us <= s.encode_end_us);
            assert_eq!(sof0_sampling(&s.data), [0x11, 0x11, 0x11], "4:4:4");
            let (dw, dh, rgba) = pixelwire_media::jpeg::decode_rgba(&s.data).unwrap();
            assert_eq!((dw, dh), (W, s.height));
            let q = psnr(&rgba, &v, stride, s.y, s.height);
            assert!(q > 30.0, "stripe at {}: {q:.1} dB", s.y);
        }
        assert!(p.process(&frame(&v, stride, 8)).is_empty());
        v[100 * stride + 40] ^= 0xFF;
        let out = p.process(&frame(&v, stride, 9));
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].y, out[0].reason), (64, StripeReason::Changed));
        let st = p.stats();
        assert_eq!(
            (st.frames, st.stripes_hashed, st.stripes_encoded),
            (3, 12, 5)
        );
        assert_eq!(st.encode_errors, 0);
        assert!(st.bytes > 0);
        p.request_refresh();
        assert_eq!(
            p.process(&frame(&v, stride, 10).with_damage(vec![])).len(),
            4
        );
    }

    #[test]
    fn yuv420_jpeg_stripes_are_420() {
        let mut s = CaptureSettings::default();
        s.jpeg.chroma = Chroma::Yuv420;
        let (v, stride) = pixels(0);
        let out = StripePipeline::new(&s)
            .unwrap()
            .process(&frame(&v, stride, 0));
        assert_eq!(sof0_sampling(&out[0].data), [0x22, 0x11, 0x11]);
    }

    #[cfg(feature = "h264")]
    #[test]
    fn h264_stripes_start_with_sps_idrs_then_send_changes_as_p_frames() {
        let mut s = CaptureSettings {
            output: OutputMode::H264,
            stripe_height: 63,
            ..CaptureSettings::default()
        };
        let mut p = StripePipeline::new(&s).unwrap();
        let (mut v, stride) = pixels(0);
        let out = p.process(&frame(&v, stride, 0));
        let spans: Vec<_> = out.iter().map(|s| (s.y, s.width, s.height)).collect();
        // the 8-row remainder joins the last stripe (OpenH264 needs 16 rows)
        assert_eq!(spans, [(0, W, 64), (64, W, 64), (128, W, 72)]);
        for s in &out {
            assert!(s.keyframe);
            assert_eq!(&s.data[..5], [0, 0, 0, 1, 0x67], "SPS first");
        }
        v[130 * stride] ^= 0xFF;
        let out = p.process(&frame(&v, stride, 1));
        assert_eq!(out.len(), 1);
        assert!(!out[0].keyframe && out[0].y == 128);
        p.request_refresh();
        assert!(p.process(&frame(&v, stride, 2)).iter().all(|s| s.keyframe));
        s.h264.full_frame = true;
        let out = StripePipeline::new(&s)
            .unwrap()
            .process(&frame(&v, stride, 0));
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].y, out[0].width, out[0].height), (0, W, H));
        s.h264.full_color = true;
        assert!(matches!(
            StripePipeline::new(&s),
            Err(CaptureError::Unsupported(_))
        ));
    }

    #[test]
    fn the_watermark_is_blended_into_copies_of_the_stripes_it_covers() {
        let dir = std::env::temp_dir().join(format!("pw-wm-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("wm.png");
        let mark = pixelwire_core::Frame {
            width: 8,
            height: 8,
            rgba: [250, 10, 10, 255].repeat(64),
            seq: 0,
            capture_time_us: 0,
        };
        std::fs::write(&path, pixelwire_media::png::frame_png(&mark).unwrap()).unwrap();
        let s = CaptureSettings {
            watermark: Some(Watermark {
                path: path.clone(),
                location: WatermarkLocation::BottomRight,
            }),
            ..CaptureSettings::default()
        };
        let mut p = StripePipeline::new(&s).unwrap();
        let (v, stride) = pixels(0);
        let f = frame(&v, stride, 0);
        let out = p.process(&f);
        let last = out.last().unwrap();
        assert_eq!(last.y, 192);
        let (_, _, rgba) = pixelwire_media::jpeg::decode_rgba(&last.data).unwrap();
        let px = &rgba[(4 * W as usize + W as usize - 4) * 4..][..3];
        assert!(
            px[0] > 220 && px[1] < 40 && px[2] < 40,
            "watermark pixel {px:?}"
        );
        assert_eq!(
            &f.packed().unwrap().data[..],
            &v[..],
            "the frame is not written"
        );
        // still frames: the blended stripe hashes the same
        assert!(p.process(&frame(&v, stride, 1)).is_empty());
        let missing = Watermark {
            path: dir.join("none.png"),
            location: WatermarkLocation::Middle,
        };
        let s = CaptureSettings {
            watermark: Some(missing),
            ..CaptureSettings::default()
        };
        assert!(matches!(
            StripePipeline::new(&s),
            Err(CaptureError::Watermark { .. })
        ));
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn an_animated_watermark_sends_the_stripes_it_moves_through() {
        let mark =
            WatermarkLayer::from_rgba(8, 8, [0, 0, 0, 255].repeat(64), WatermarkLocation::Animated);
        let mut p = StripePipeline::new(&CaptureSettings::default()).unwrap();
        p.watermark = Some(mark);
        let (v, stride) = pixels(0);
        assert_eq!(
            p.process(&frame(&v, stride, 0).with_damage(vec![])).len(),
            4
        );
        let out = p.process(&frame(&v, stride, 1).with_damage(vec![]));
        assert_eq!(out.iter().map(|s| s.y).collect::<Vec<_>>(), [0]);
    }

    #[test]
    fn frames_without_packed_pixels_are_counted_not_encoded() {
        let mut p = StripePipeline::new(&CaptureSettings::default()).unwrap();
        let i420 = pixelwire_media::I420::from_rgba(&[0; 16 * 4], 4, 4).unwrap();
        assert!(p.process(&MediaFrame::from_i420(i420, 0, 0)).is_empty());
        assert_eq!(p.stats().frames_rejected, 1);
    }
}
