//! The sans-IO stripe planner: one captured frame's size, damage and stripe hashes in, the stripes
//! to encode out (with their quality class, keyframe flag and reason). No clock reads (time is the
//! frame's capture timestamp), no threads, no pixels kept: the caller hashes the rows it is asked
//! to hash. Follows pixelflux's change detection (`reference/pixelflux-notes.md` §3, §5) with
//! three deliberate differences:
//!
//! * **Fixed stripe height** (`stripe_height` rows, the last stripe shorter; even for H.264), so
//!   a small change re-encodes a small band on any machine.
//! * **Damage is trusted**: only stripes that a damage rectangle touches are hashed (all of them
//!   when the frame has no damage list, and every stripe after a reset). A stripe whose pixels
//!   changed outside every damage rectangle is not noticed until damage touches it.
//! * **No damage-block tail**: throttling lowers the quality of a stripe in motion but never sends
//!   a stripe whose hash did not change (pixelflux re-sends blocked stripes unhashed: +32% JPEG
//!   bytes measured, §10.7).
//!
//! Rules, per stripe (per frame in full-frame H.264 mode, where one job covers the frame and is
//! due when any stripe changed):
//!
//! * **Changed** (hash differs): encoded at `Base`, or `Motion` while in motion. A stripe is in
//!   motion for `duration` frames once it changed more than `threshold` frames in a row; the block
//!   is renewed while it keeps changing. A still frame breaks the run (the stripe is not sent) but
//!   not the block, so a stripe that pauses and resumes within the block stays at motion quality.
//!   `duration == 0` disables throttling. Motion JPEG quality is [`motion_jpeg_quality`]; H.264
//!   keeps its base quantiser in motion (a P-frame of moving content is already cheap).
//! * **Paint-over**: a stripe still for `trigger_frames` frames since it was last sent is sent once
//!   more at `PaintOver` (JPEG paint-over quality, H.264 IDR at `paint_over_qp`), only if enabled
//!   and only if that is better than what it was last sent at, so it never fires twice.
//! * **Refresh** ([`Planner::request_refresh`], start, a size change): every stripe is sent on the
//!   next frame as a keyframe, at `PaintOver` if that is what it last showed, else at `Base`.
//! * **Periodic keyframes** (`keyframe_interval`, H.264): a stripe that is encoded anyway becomes an
//!   IDR when its last one is older than the interval (by capture time). Still stripes are not
//!   woken up for it; a late joiner asks for a refresh.

use crate::settings::{CaptureSettings, OutputMode};
use crate::stripe::StripeReason;
use pixelwire_core::Rect;

/// Rows of one stripe of the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StripeSpan {
    /// Position from the top, from 0.
    pub index: usize,
    /// Top row.
    pub y: u32,
    /// Rows.
    pub height: u32,
}

/// How well a stripe is encoded, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum QualityClass {
    /// Reduced quality for a stripe in motion (damage throttling).
    Motion,
    /// The configured quality.
    Base,
    /// The paint-over quality.
    PaintOver,
}

/// One stripe to encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StripeJob {
    /// Its rows.
    pub span: StripeSpan,
    /// At which quality.
    pub class: QualityClass,
    /// Must be a keyframe (H.264 IDR; every JPEG stripe is one anyway).
    pub keyframe: bool,
    /// Why it is encoded.
    pub reason: StripeReason,
}

/// What the planner needs to know about a frame besides its pixels.
#[derive(Debug, Clone, Copy)]
pub struct FrameFacts<'a> {
    /// Width, pixels.
    pub width: u32,
    /// Height, rows.
    pub height: u32,
    /// Capture time, µs (only compared with earlier capture times).
    pub capture_us: u64,
    /// What changed since the previous frame; `None`: anything may have.
    pub damage: Option<&'a [Rect]>,
}

/// The planner's answer for one frame.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// The frame size differs from the previous frame's: all state was reset (H.264 encoders
    /// must restart).
    pub reset: bool,
    /// Stripes hashed for this frame.
    pub hashed: usize,
    /// Stripes to encode, top to bottom.
    pub jobs: Vec<StripeJob>,
}

/// Quality of JPEG stripes in motion: 15 below `base`, but not below 20, and never above `base`
/// (a base of 20 or less is kept). Text in motion at q60 (base 75) is still readable and costs
/// about 30% fewer bytes; paint-over restores detail once it stops.
pub fn motion_jpeg_quality(base: u8) -> u8 {
    if base <= 20 {
        base
    } else {
        base.saturating_sub(15).max(20)
    }
}

/// Fewest rows of an H.264 stripe: OpenH264 refuses pictures smaller than one 16×16 macroblock.
pub const H264_MIN_ROWS: u32 = 16;

/// The stripes of a frame `height` rows high: `stripe_height` rows each, the last one shorter.
/// With `h264`, the stripe height is rounded up to even and at least [`H264_MIN_ROWS`], and a last
/// stripe shorter than that is merged into the one above it (the encoder drops an odd last row).
pub fn stripe_spans(height: u32, stripe_height: u32, h264: bool) -> Vec<StripeSpan> {
    let mut sh = stripe_height.max(1);
    if h264 {
        sh = (sh.div_ceil(2) * 2).max(H264_MIN_ROWS);
    }
    let mut spans: Vec<StripeSpan> = Vec::with_capacity(height.div_ceil(sh) as usize);
    let mut y = 0;
    while y < height {
        let h = sh.min(height - y);
        match spans.last_mut() {
            Some(last) if h264 && h < H264_MIN_ROWS => last.height += h,
            _ => spans.push(StripeSpan {
                index: spans.len(),
                y,
                height: h,
            }),
        }
        y += h;
    }
    spans
}

/// xxh3_64 of `rows` rows of `width` 4-byte pixels starting at row `y` of `pixels` (row `r` at
/// `r * stride`). Contiguous rows are hashed in one call; padded rows one row at a time.
pub fn hash_rows(pixels: &[u8], stride: usize, width: u32, y: u32, rows: u32) -> u64 {
    let row_len = width as usize * 4;
    let start = y as usize * stride;
    if stride == row_len {
        let end = (start + rows as usize * row_len).min(pixels.len());
        return xxhash_rust::xxh3::xxh3_64(&pixels[start.min(end)..end]);
    }
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for r in 0..rows as usize {
        let s = start + r * stride;
        if let Some(row) = pixels.get(s..s + row_len) {
            h.update(row);
        }
    }
    h.digest()
}

/// The settings the planner follows, taken from [`CaptureSettings`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannerSettings {
    /// JPEG or H.264.
    pub output: OutputMode,
    /// Rows per stripe.
    pub stripe_height: u32,
    /// One job covering the whole frame (H.264 only).
    pub full_frame: bool,
    /// Damage throttling: changed frames in a row before motion.
    pub threshold: u32,
    /// Damage throttling: frames a motion block lasts; 0 disables throttling.
    pub duration: u32,
    /// Still frames before paint-over; `None` disables it.
    pub paint_over_trigger: Option<u32>,
    /// JPEG quality of each class, 1..=100.
    pub jpeg_quality: [u8; 3],
    /// H.264 quantiser of each class, 1..=51.
    pub h264_qp: [u8; 3],
    /// Periodic keyframes, µs.
    pub keyframe_interval_us: Option<u64>,
}

impl PlannerSettings {
    /// From the capture settings.
    pub fn from_capture(s: &CaptureSettings) -> Self {
        let q = s.jpeg.quality.clamp(1, 100);
        let qp = s.h264.qp.clamp(1, 51);
        Self {
            output: s.output,
            stripe_height: s.stripe_height.max(1),
            full_frame: s.output == OutputMode::H264 && s.h264.full_frame,
            threshold: s.damage_block.threshold,
            duration: s.damage_block.duration,
            paint_over_trigger: s.paint_over.map(|p| p.trigger_frames),
            jpeg_quality: [
                motion_jpeg_quality(q),
                q,
                s.jpeg.paint_over_quality.clamp(1, 100),
            ],
            h264_qp: [qp, qp, s.h264.paint_over_qp.clamp(1, 51)],
            keyframe_interval_us: s
                .h264
                .keyframe_interval
                .filter(|_| s.output == OutputMode::H264)
                .map(|d| d.as_micros().min(u128::from(u64::MAX)) as u64),
        }
    }

    /// JPEG quality of a class.
    pub fn jpeg_quality(&self, class: QualityClass) -> u8 {
        self.jpeg_quality[class as usize]
    }

    /// H.264 quantiser of a class.
    pub fn h264_qp(&self, class: QualityClass) -> u8 {
        self.h264_qp[class as usize]
    }

    /// How good a class looks in this codec (higher is better).
    fn level(&self, class: QualityClass) -> i32 {
        match self.output {
            OutputMode::Jpeg => i32::from(self.jpeg_quality(class)),
            OutputMode::H264 => -i32::from(self.h264_qp(class)),
        }
    }
}

/// Throttling and paint-over bookkeeping of one stripe (or of the full frame).
#[derive(Debug, Clone, Copy, Default)]
struct Track {
    /// Changed frames in a row.
    changed_run: u32,
    /// Frames left in the motion block, including the current one.
    motion_left: u32,
    /// Frames since it was last sent.
    still: u32,
    /// Class it was last sent at; `None`: never sent.
    last_sent: Option<QualityClass>,
    /// Capture time of its last keyframe.
    last_key_us: Option<u64>,
}

impl Track {
    fn step(
        &mut self,
        cfg: &PlannerSettings,
        changed: bool,
        refresh: bool,
        now_us: u64,
    ) -> Option<(QualityClass, bool, StripeReason)> {
        let in_block = self.motion_left > 0;
        self.motion_left = self.motion_left.saturating_sub(1);
        let (class, reason) = if changed {
            self.changed_run = self.changed_run.saturating_add(1);
            let enters = !in_block && cfg.duration > 0 && self.changed_run > cfg.threshold;
            if enters {
                self.motion_left = cfg.duration - 1;
            }
            let class = if in_block || enters {
                QualityClass::Motion
            } else {
                QualityClass::Base
            };
            let reason = if refresh {
                StripeReason::Refresh
            } else {
                StripeReason::Changed
            };
            (class, reason)
        } else {
            self.changed_run = 0;
            self.still = self.still.saturating_add(1);
            if refresh {
                let class = match self.last_sent {
                    Some(QualityClass::PaintOver) => QualityClass::PaintOver,
                    _ => QualityClass::Base,
                };
                (class, StripeReason::Refresh)
            } else {
                let trigger = cfg.paint_over_trigger?;
                let last = self.last_sent?;
                if self.still < trigger || cfg.level(QualityClass::PaintOver) <= cfg.level(last) {
                    return None;
                }
                (QualityClass::PaintOver, StripeReason::PaintOver)
            }
        };
        let key_due = cfg.keyframe_interval_us.is_some_and(|iv| {
            self.last_key_us
                .is_none_or(|t| now_us.saturating_sub(t) >= iv)
        });
        let keyframe =
            refresh || self.last_sent.is_none() || class == QualityClass::PaintOver || key_due;
        if keyframe {
            self.last_key_us = Some(now_us);
        }
        self.last_sent = Some(class);
        self.still = 0;
        Some((class, keyframe, reason))
    }
}

/// The planner; see the module docs.
#[derive(Debug, Clone)]
pub struct Planner {
    cfg: PlannerSettings,
    size: Option<(u32, u32)>,
    spans: Vec<StripeSpan>,
    hashes: Vec<Option<u64>>,
    tracks: Vec<Track>,
    frame_track: Track,
    refresh: bool,
}

impl Planner {
    /// A planner that has seen no frame yet (its first frame is a full refresh).
    pub fn new(settings: &CaptureSettings) -> Self {
        Self::with_settings(PlannerSettings::from_capture(settings))
    }

    /// A planner following `cfg`.
    pub fn with_settings(cfg: PlannerSettings) -> Self {
        Self {
            cfg,
            size: None,
            spans: Vec::new(),
            hashes: Vec::new(),
            tracks: Vec::new(),
            frame_track: Track::default(),
            refresh: true,
        }
    }

    /// The settings it follows.
    pub fn settings(&self) -> &PlannerSettings {
        &self.cfg
    }

    /// The stripes of the current frame size (empty before the first frame).
    pub fn spans(&self) -> &[StripeSpan] {
        &self.spans
    }

    /// Every stripe is sent on the next frame (a late joiner).
    pub fn request_refresh(&mut self) {
        self.refresh = true;
    }

    /// Plans one frame. `hash` is called for each stripe that must be hashed (those the damage
    /// touches) and returns the hash of its rows as they will be encoded.
    pub fn plan(
        &mut self,
        facts: &FrameFacts<'_>,
        mut hash: impl FnMut(StripeSpan) -> u64,
    ) -> Plan {
        let size = (facts.width, facts.height);
        let reset = self.size != Some(size);
        if reset {
            let even = self.cfg.output == OutputMode::H264;
            self.spans = stripe_spans(facts.height, self.cfg.stripe_height, even);
            self.hashes = vec![None; self.spans.len()];
            self.tracks = vec![Track::default(); self.spans.len()];
            self.frame_track = Track::default();
            self.size = Some(size);
            self.refresh = true;
        }
        let refresh = std::mem::take(&mut self.refresh);
        let mut plan = Plan {
            reset,
            ..Plan::default()
        };
        let mut any_changed = false;
        for (i, span) in self.spans.iter().enumerate() {
            let touched = self.hashes[i].is_none()
                || facts.damage.is_none_or(|rects| {
                    rects.iter().any(|r| {
                        r.h > 0 && r.w > 0 && r.y < span.y + span.height && span.y < r.y + r.h
                    })
                });
            let changed = touched && {
                plan.hashed += 1;
                let h = hash(*span);
                self.hashes[i].replace(h) != Some(h)
            };
            any_changed |= changed;
            if self.cfg.full_frame {
                continue;
            }
            if let Some((class, keyframe, reason)) =
                self.tracks[i].step(&self.cfg, changed, refresh, facts.capture_us)
            {
                plan.jobs.push(StripeJob {
                    span: *span,
                    class,
                    keyframe,
                    reason,
                });
            }
        }
        if self.cfg.full_frame
            && let Some((class, keyframe, reason)) =
                self.frame_track
                    .step(&self.cfg, any_changed, refresh, facts.capture_us)
        {
            plan.jobs.push(StripeJob {
                span: StripeSpan {
                    index: 0,
                    y: 0,
                    height: facts.height,
                },
                class,
                keyframe,
                reason,
            });
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{DamageBlock, PaintOver};

    const W: u32 = 16;

    /// A frame of `h` rows of `W` BGRA pixels and a planner over it.
    struct Rig {
        pixels: Vec<u8>,
        h: u32,
        planner: Planner,
        t: u64,
    }

    impl Rig {
        fn new(settings: &CaptureSettings, h: u32) -> Self {
            Self {
                pixels: vec![0x40; (W * h * 4) as usize],
                h,
                planner: Planner::new(settings),
                t: 0,
            }
        }

        fn poke(&mut self, y: u32) {
            let i = (y * W * 4) as usize;
            self.pixels[i] = self.pixels[i].wrapping_add(1);
        }

        fn frame(&mut self, damage: Option<&[Rect]>) -> Plan {
            self.t += 16_666;
            let facts = FrameFacts {
                width: W,
                height: self.h,
                capture_us: self.t,
                damage,
            };
            let px = &self.pixels;
            self.planner
                .plan(&facts, |s| hash_rows(px, W as usize * 4, W, s.y, s.height))
        }

        fn ys(&mut self, damage: Option<&[Rect]>) -> Vec<(u32, QualityClass, StripeReason)> {
            self.frame(damage)
                .jobs
                .iter()
                .map(|j| (j.span.y, j.class, j.reason))
                .collect()
        }
    }

    fn jpeg(paint_over: Option<u32>) -> CaptureSettings {
        CaptureSettings {
            stripe_height: 8,
            paint_over: paint_over.map(|trigger_frames| PaintOver { trigger_frames }),
            damage_block: DamageBlock {
                threshold: 3,
                duration: 5,
            },
            ..CaptureSettings::default()
        }
    }

    fn row(y: u32) -> Rect {
        Rect {
            x: 0,
            y,
            w: W,
            h: 1,
        }
    }

    #[test]
    fn geometry_is_fixed_height_and_even_for_h264() {
        let hs = |v: Vec<StripeSpan>| v.iter().map(|s| (s.y, s.height)).collect::<Vec<_>>();
        assert_eq!(hs(stripe_spans(20, 8, false)), [(0, 8), (8, 8), (16, 4)]);
        assert_eq!(hs(stripe_spans(17, 7, true)), [(0, 17)]);
        assert_eq!(hs(stripe_spans(40, 7, true)), [(0, 16), (16, 24)]);
        assert_eq!(
            hs(stripe_spans(200, 63, true)),
            [(0, 64), (64, 64), (128, 72)]
        );
        assert_eq!(hs(stripe_spans(1, 64, true)), [(0, 1)]);
    }

    #[test]
    fn first_frame_sends_everything_then_still_frames_send_nothing() {
        let mut rig = Rig::new(&jpeg(None), 20);
        let first = rig.frame(None);
        assert!(first.reset);
        assert_eq!(first.jobs.len(), 3);
        assert!(
            first
                .jobs
                .iter()
                .all(|j| j.reason == StripeReason::Refresh && j.keyframe)
        );
        for _ in 0..50 {
            let p = rig.frame(None);
            assert!(p.jobs.is_empty());
            assert_eq!(p.hashed, 3);
        }
        // empty damage: nothing is even hashed
        assert_eq!(rig.frame(Some(&[])).hashed, 0);
    }

    #[test]
    fn a_one_pixel_change_re_encodes_exactly_its_stripe() {
        let mut rig = Rig::new(&jpeg(None), 20);
        rig.frame(None);
        rig.poke(9);
        let jobs = rig.ys(None);
        assert_eq!(jobs, [(8, QualityClass::Base, StripeReason::Changed)]);
        rig.poke(17);
        let p = rig.frame(Some(&[row(17)]));
        assert_eq!(p.hashed, 1);
        assert_eq!(p.jobs.len(), 1);
        assert_eq!(p.jobs[0].span.y, 16);
    }

    /// Damage is trusted: a change outside every damage rectangle is not hashed, so not sent,
    /// until damage touches its stripe.
    #[test]
    fn a_change_that_damage_misses_is_not_hashed() {
        let mut rig = Rig::new(&jpeg(None), 20);
        rig.frame(None);
        rig.poke(2);
        let p = rig.frame(Some(&[row(12)]));
        assert_eq!((p.hashed, p.jobs.len()), (1, 0));
        assert_eq!(rig.ys(Some(&[row(0)])).len(), 1);
    }

    #[test]
    fn throttling_starts_after_the_threshold_and_a_still_stripe_is_not_sent() {
        use QualityClass::{Base, Motion};
        // threshold 3, duration 5; the first frame counts as the stripe's first change
        let mut rig = Rig::new(&jpeg(None), 8);
        rig.frame(None);
        let mut classes = Vec::new();
        for _ in 0..12 {
            rig.poke(0);
            let jobs = rig.ys(None);
            assert_eq!(jobs.len(), 1);
            classes.push(jobs[0].1);
        }
        // 3 changes at base, then motion for good (the block renews while it changes)
        assert_eq!(&classes[..3], [Base, Base, Motion]);
        assert!(classes[2..].iter().all(|c| *c == Motion));
        // the first frame it stops changing, nothing is sent (no damage-block tail)
        assert!(rig.ys(None).is_empty());
        assert!(rig.ys(None).is_empty());

        // a pause within the block keeps motion quality; after the block, base again
        let mut rig = Rig::new(&jpeg(None), 8);
        rig.frame(None);
        for _ in 0..3 {
            rig.poke(0);
            rig.frame(None);
        }
        assert!(rig.ys(None).is_empty());
        rig.poke(0);
        assert_eq!(rig.ys(None)[0].1, Motion);
        for _ in 0..6 {
            assert!(rig.ys(None).is_empty());
        }
        rig.poke(0);
        assert_eq!(rig.ys(None)[0].1, Base);
    }

    #[test]
    fn paint_over_fires_once_after_n_still_frames_only_when_it_improves() {
        let mut rig = Rig::new(&jpeg(Some(4)), 16);
        rig.frame(None);
        rig.poke(0);
        assert_eq!(rig.ys(None).len(), 1);
        let mut fired = Vec::new();
        for i in 1..=20 {
            for j in rig.frame(None).jobs {
                fired.push((i, j.span.y, j.class, j.reason, j.keyframe));
            }
        }
        let po = (QualityClass::PaintOver, StripeReason::PaintOver, true);
        // both stripes were last sent at base (stripe 1 by the first frame's refresh)
        assert_eq!(fired, [(3, 8, po.0, po.1, po.2), (4, 0, po.0, po.1, po.2)]);
        // a refresh of a painted-over stripe keeps the paint-over quality
        rig.planner.request_refresh();
        let jobs = rig.ys(None);
        assert_eq!(jobs.len(), 2);
        assert!(jobs.iter().all(|j| j.1 == QualityClass::PaintOver));
        // disabled: never
        let mut rig = Rig::new(&jpeg(None), 16);
        rig.frame(None);
        assert!((0..30).all(|_| rig.frame(None).jobs.is_empty()));
        // not an improvement (paint-over quality below base): never
        let mut s = jpeg(Some(2));
        s.jpeg.paint_over_quality = 50;
        let mut rig = Rig::new(&s, 16);
        rig.frame(None);
        assert!((0..30).all(|_| rig.frame(None).jobs.is_empty()));
    }

    #[test]
    fn refresh_sends_every_stripe_once_as_keyframes() {
        let mut rig = Rig::new(&jpeg(None), 20);
        rig.frame(None);
        rig.planner.request_refresh();
        rig.poke(0);
        let p = rig.frame(Some(&[]));
        assert_eq!(p.jobs.len(), 3);
        assert!(p.jobs.iter().all(|j| j.keyframe
            && j.class == QualityClass::Base
            && j.reason == StripeReason::Refresh));
        assert!(
            rig.frame(None).jobs.len() == 1,
            "the poke is still seen once hashed"
        );
        assert!(rig.frame(None).jobs.is_empty());
    }

    #[test]
    fn a_new_size_resets_everything() {
        let mut rig = Rig::new(&jpeg(None), 20);
        rig.frame(None);
        rig.frame(None);
        rig.h = 16;
        rig.pixels.truncate((W * 16 * 4) as usize);
        let p = rig.frame(Some(&[]));
        assert!(p.reset);
        assert_eq!(p.hashed, 2);
        assert_eq!(p.jobs.len(), 2);
        assert!(rig.frame(None).jobs.is_empty());
    }

    #[test]
    fn full_frame_h264_is_one_job_when_any_stripe_changed() {
        let mut s = jpeg(Some(3));
        s.output = OutputMode::H264;
        s.h264.full_frame = true;
        let mut rig = Rig::new(&s, 20);
        let first = rig.frame(None);
        assert_eq!(first.jobs.len(), 1);
        assert_eq!((first.jobs[0].span.y, first.jobs[0].span.height), (0, 20));
        assert!(rig.frame(None).jobs.is_empty());
        rig.poke(19);
        let jobs = rig.ys(None);
        assert_eq!(jobs, [(0, QualityClass::Base, StripeReason::Changed)]);
        let later: Vec<_> = (0..5).flat_map(|_| rig.frame(None).jobs).collect();
        assert_eq!(later.len(), 1);
        assert_eq!(
            (later[0].class, later[0].keyframe),
            (QualityClass::PaintOver, true)
        );
        assert_eq!(rig.planner.settings().h264_qp(later[0].class), 18);
    }

    #[test]
    fn h264_keyframes_follow_the_interval_by_capture_time() {
        let mut s = jpeg(None);
        s.output = OutputMode::H264;
        s.h264.keyframe_interval = Some(std::time::Duration::from_millis(40));
        let mut rig = Rig::new(&s, 8);
        rig.frame(None);
        let keys: Vec<bool> = (0..7)
            .map(|_| {
                rig.poke(0);
                rig.frame(None).jobs[0].keyframe
            })
            .collect();
        // frames 16.7 ms apart, an interval of 40 ms: an IDR every third frame
        assert_eq!(keys, [false, false, true, false, false, true, false]);
    }
}
