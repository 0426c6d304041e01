//! Rate control: how many bytes each frame may carry and at which quality level, from the measured
//! throughput of the link *and* the device (acknowledgements arrive after the device presented).
//! `docs/design/rate-control.md` explains the design and why it settles.
//!
//! * Capacity: each acknowledged frame gives its delivery time, `ack − max(sent + min_rtt,
//!   previous ack)` (time the frame occupied the link and device, without idle gaps or the fixed
//!   round trip). Capacity is Σ bytes / Σ delivery time over the last two seconds, trusted once that
//!   window holds at least 20 ms of delivery.
//! * Budgets: `soft = capacity × utilisation / target_fps` is what a frame may carry to keep the
//!   target rate; `hard = capacity × utilisation / min_fps` caps any single frame (damage beyond it
//!   is deferred, oldest first).
//! * Level: the finest quality level whose predicted size (damaged pixels × that level's bytes per
//!   pixel) fits the soft budget. Coarser steps happen at once; finer steps need the finer level to
//!   be predicted within `headroom × soft` for `hold_frames` consecutive frames. The dead band
//!   between `headroom × soft` and `soft` is what makes the level settle instead of oscillating.
//!   A finer level is predicted from its own measurements once it has been used: its damage
//!   relative to the coarser level's (coarse levels hide small changes) and its bytes per pixel.
//! * Policy ([`Prefer`]): the frame rate the level choice aims at. `Motion` aims at `target_fps`
//!   and coarsens colour to keep it; `Detail` aims at `detail_fps` (lower), so the same rules hold
//!   a finer level and the frame rate drops to what the link carries at that level instead.

use crate::decode_cost::DeviceTime;
use crate::quality::QualityLevel;
use crate::time::Timestamp;
use std::collections::VecDeque;
use std::time::Duration;

/// What the controller gives up first when the link cannot carry the content at full quality and
/// `target_fps`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Prefer {
    /// Keep the frame rate: levels are chosen so frames fit `target_fps` (colour coarsens).
    #[default]
    Motion,
    /// Keep colour precision: levels are chosen so frames fit `detail_fps`; the frame rate falls
    /// towards it before colour coarsens.
    Detail,
}

/// Controller settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateConfig {
    /// Frames per second the controller aims for.
    pub target_fps: f32,
    /// Which of frame rate and colour precision the level choice protects.
    pub prefer: Prefer,
    /// The frame rate levels are chosen for under [`Prefer::Detail`] (capped at `target_fps`).
    pub detail_fps: f32,
    /// No frame may take longer than `1 / min_fps` of link time.
    pub min_fps: f32,
    /// Fraction of the measured capacity the budgets may use.
    pub utilisation: f32,
    /// Coarsest level the controller may choose.
    pub max_level: QualityLevel,
    /// Frames a finer level must look affordable before it is taken.
    pub hold_frames: u32,
    /// A finer level is affordable when predicted within this fraction of the soft budget.
    pub headroom: f32,
}

impl Default for RateConfig {
    fn default() -> Self {
        Self {
            target_fps: 30.0,
            prefer: Prefer::Motion,
            detail_fps: 10.0,
            min_fps: 10.0,
            utilisation: 0.85,
            max_level: QualityLevel::MAX,
            hold_frames: 3,
            headroom: 0.7,
        }
    }
}

/// Byte limits for the next frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budgets {
    /// What a frame may carry to keep the target rate (level choice aims at it).
    pub soft_bytes: usize,
    /// What a frame may carry at most (the encoder stops there).
    pub hard_bytes: usize,
}

#[derive(Debug, Clone, Copy)]
struct Delivery {
    at: Timestamp,
    bytes: u64,
    /// Delivery time without the panel's pixel time (link and device CPU).
    busy: Duration,
    /// Delivery time without the present pass and panel time: the link and the receive pass,
    /// which overlap.
    front: Duration,
    /// Whether the link rather than the receive pass bound `front`.
    link_bound: bool,
    /// Time the device spent after the frame's last byte (present pass or panel, whichever is
    /// longer): the link idles then unless another frame is already on its way.
    tail: Duration,
}

/// Estimates link + device capacity and round-trip time from acknowledgements.
///
/// Round trips come only from PING/PONG (a frame's ack time includes its transmission), and the
/// minimum is kept for the whole session: an RTT estimate that is too small only makes the
/// capacity estimate conservative, while one inflated by queueing would overestimate it.
#[derive(Debug, Clone, Default)]
pub struct LinkEstimator {
    deliveries: VecDeque<Delivery>,
    min_rtt: Option<Duration>,
    last_ack: Option<Timestamp>,
}

const CAPACITY_WINDOW: Duration = Duration::from_secs(2);
const MIN_TRUSTED_BUSY: Duration = Duration::from_millis(20);

impl LinkEstimator {
    /// A round-trip sample from PING/PONG.
    pub fn on_rtt(&mut self, _now: Timestamp, rtt: Duration) {
        self.min_rtt = Some(self.min_rtt.map_or(rtt, |m| m.min(rtt)));
    }

    /// Smallest round trip seen.
    pub fn min_rtt(&self) -> Option<Duration> {
        self.min_rtt
    }

    /// A frame of `bytes` carrying `pixels` sent at `sent` was acknowledged at `now`; `device` is
    /// its estimated device time ([`DeviceTime::NONE`] if the device's cost is unknown).
    ///
    /// With the panel's pixel rate known, the time the panel needed for those pixels is not link
    /// time: it is subtracted, and a frame whose delivery was almost all panel time is left out (it
    /// says nothing about the link). For the link-only estimate ([`Self::link_capacity`]) the
    /// present pass (which overlaps the panel) is subtracted too, and a frame whose remaining time
    /// is within 25 % of its receive pass is taken as CPU-bound and not counted as link time.
    pub fn on_ack(
        &mut self,
        now: Timestamp,
        sent: Timestamp,
        bytes: u64,
        pixels: u64,
        panel_px_per_s: Option<f64>,
        device: DeviceTime,
    ) {
        let rtt = self.min_rtt.unwrap_or_default();
        let start = (sent + rtt).max(self.last_ack.unwrap_or(sent));
        let mut busy = now.since(start);
        self.last_ack = Some(now);
        let panel = panel_px_per_s.map_or(0.0, |p| pixels as f64 / p);
        if panel > 0.0 {
            let link = busy.saturating_sub(Duration::from_secs_f64(panel));
            if link < busy / 5 {
                return;
            }
            busy = link;
        }
        let tail = Duration::from_secs_f64(device.present_s.max(panel) - panel);
        let front = busy.saturating_sub(tail);
        let link_bound = front.as_secs_f64() > device.receive_s * 1.25 && front >= busy / 5;
        self.deliveries.push_back(Delivery {
            at: now,
            bytes,
            busy,
            front,
            link_bound,
            tail: Duration::from_secs_f64(device.present_s.max(panel)),
        });
        while self
            .deliveries
            .front()
            .is_some_and(|d| now.since(d.at) > CAPACITY_WINDOW)
        {
            self.deliveries.pop_front();
        }
    }

    /// Forgets the previous ack time (the link was idle, so the next frame starts fresh).
    pub fn on_idle(&mut self) {
        self.last_ack = None;
    }

    /// Measured bytes per second, once enough delivery time has been seen.
    pub fn capacity(&self) -> Option<f64> {
        let busy: Duration = self.deliveries.iter().map(|d| d.busy).sum();
        let bytes: u64 = self.deliveries.iter().map(|d| d.bytes).sum();
        (busy >= MIN_TRUSTED_BUSY).then(|| bytes as f64 / busy.as_secs_f64())
    }

    /// The link's own throughput, bytes per second, for weighing link time against device time:
    /// from the frames whose delivery the link bound (device time taken out); if every recent frame
    /// was bound by the device's receive pass, twice the best rate they showed (they only bound the
    /// link from below; the higher guess lets the encoder try a cheaper-to-decode codec, whose
    /// frames then measure the link); `None` before any frame.
    pub fn link_capacity(&self) -> Option<f64> {
        let (bytes, busy) = self
            .deliveries
            .iter()
            .filter(|d| d.link_bound)
            .fold((0u64, Duration::ZERO), |(n, t), d| {
                (n + d.bytes, t + d.front)
            });
        if busy >= MIN_TRUSTED_BUSY {
            return Some(bytes as f64 / busy.as_secs_f64());
        }
        self.deliveries
            .iter()
            .filter(|d| !d.front.is_zero())
            .map(|d| 2.0 * d.bytes as f64 / d.front.as_secs_f64())
            .max_by(f64::total_cmp)
    }

    /// Bytes that may be in flight before another frame would only queue behind them: what the
    /// link carries in two round trips plus the device's mean time after a frame's last byte
    /// (presenting it; the next frame arriving meanwhile keeps the link busy), at least 8 KiB;
    /// unlimited while the capacity is unknown.
    pub fn inflight_limit(&self) -> u64 {
        let Some(c) = self.capacity() else {
            return u64::MAX;
        };
        let n = self.deliveries.len().max(1) as u32;
        let tail = self.deliveries.iter().map(|d| d.tail).sum::<Duration>() / n;
        let rtt = self.min_rtt.unwrap_or_default();
        ((c * (rtt * 2 + tail).as_secs_f64()) as u64).max(8192)
    }
}

/// Prior bytes per pixel of each level relative to level 0 (updated by measurement).
const LEVEL_RATIO: [f32; 4] = [1.0, 0.8, 0.6, 0.45];

/// Frames a level's own measurement of bytes per pixel is trusted over the prior ratio to the level
/// in use (5 s at 30 fps).
const MEASURED_FRAMES: u32 = 150;

/// The controller; see the module docs.
#[derive(Debug, Clone)]
pub struct RateController {
    cfg: RateConfig,
    /// Link and device estimates.
    pub link: LinkEstimator,
    level: QualityLevel,
    streak: u32,
    bpp: [f32; 4],
    /// Frames since each level was last measured (`u32::MAX`: never).
    bpp_age: [u32; 4],
    /// For each level, its damaged pixels relative to the next coarser level's on the same
    /// content, measured on the first frame after a finer step (1 until then).
    finer_damage: [f32; 4],
    /// Level and damaged pixels of the last frame with damage.
    last: Option<(QualityLevel, u64)>,
    panel_px_per_s: Option<f64>,
    /// Per level: how many times `hold_frames` it must look affordable before it is taken again.
    /// Doubles each time a finer step fails (is undone within `PROBE_FRAMES`), up to
    /// `MAX_PROBE_BACKOFF`, and resets once a finer step holds: levels whose cost differs by more
    /// than the prior ratios say (exact next to DCT) are then probed ever more rarely instead of
    /// every `MEASURED_FRAMES`.
    probe_backoff: [u32; 4],
    /// Per level: its size relative to the others, [`LEVEL_RATIO`] until two levels have been
    /// measured close together, then learned (a DCT-capable device's lossy levels cost a fraction
    /// of exact, far below the prior).
    ratio: [f32; 4],
    /// Frames since the last finer step, and the level it went to.
    since_finer: Option<(QualityLevel, u32)>,
}

/// A finer step undone within this many frames failed.
const PROBE_FRAMES: u32 = 30;
/// The largest probe backoff factor.
const MAX_PROBE_BACKOFF: u32 = 32;

impl RateController {
    /// A controller starting at exact quality.
    pub fn new(cfg: RateConfig) -> Self {
        Self {
            cfg,
            link: LinkEstimator::default(),
            level: QualityLevel::EXACT,
            streak: 0,
            bpp: [0.5, 0.4, 0.3, 0.22],
            bpp_age: [u32::MAX; 4],
            finer_damage: [1.0; 4],
            last: None,
            panel_px_per_s: None,
            probe_backoff: [1; 4],
            since_finer: None,
            ratio: LEVEL_RATIO,
        }
    }

    /// The device's panel throughput (from its STATS), pixels per second; `None` or 0 if unknown.
    pub fn set_panel_rate(&mut self, px_per_s: Option<f64>) {
        self.panel_px_per_s = px_per_s.filter(|p| *p > 0.0);
    }

    /// The device's panel throughput, if known.
    pub fn panel_rate(&self) -> Option<f64> {
        self.panel_px_per_s
    }

    /// A frame was acknowledged (see [`LinkEstimator::on_ack`]).
    pub fn on_ack(
        &mut self,
        now: Timestamp,
        sent: Timestamp,
        bytes: u64,
        pixels: u64,
        device: DeviceTime,
    ) {
        self.link
            .on_ack(now, sent, bytes, pixels, self.panel_px_per_s, device);
    }

    /// What a frame changing `pixels` pixels may carry: the link's capacity over the part of the
    /// frame interval the panel leaves (its pixel time counts against the interval), but at least a
    /// quarter of the interval or of the panel time, whichever is longer.
    fn soft_budget(&self, pixels: u64) -> f64 {
        let Some(c) = self.link.capacity() else {
            return f64::INFINITY;
        };
        let interval = 1.0 / f64::from(self.level_fps().max(0.1));
        let panel = self.panel_px_per_s.map_or(0.0, |p| pixels as f64 / p);
        let available = (interval - panel).max(0.25 * interval.max(panel));
        c * f64::from(self.cfg.utilisation) * available
    }

    /// The settings.
    pub fn config(&self) -> &RateConfig {
        &self.cfg
    }

    /// The frame rate the level choice aims at: `target_fps` under [`Prefer::Motion`], `detail_fps`
    /// (at most `target_fps`, at least `min_fps`) under [`Prefer::Detail`].
    pub fn level_fps(&self) -> f32 {
        match self.cfg.prefer {
            Prefer::Motion => self.cfg.target_fps,
            Prefer::Detail => self
                .cfg
                .detail_fps
                .min(self.cfg.target_fps)
                .max(self.cfg.min_fps),
        }
    }

    /// Switches the policy (takes effect from the next frame; the level then moves by the usual
    /// rules, so it settles as after any change of the link).
    pub fn set_prefer(&mut self, prefer: Prefer) {
        self.cfg.prefer = prefer;
        self.streak = 0;
    }

    /// The level for the next frame.
    pub fn level(&self) -> QualityLevel {
        self.level
    }

    /// Bytes per pixel recently observed at the current level (for rectangle merging).
    pub fn bytes_per_pixel(&self) -> f32 {
        self.bpp[self.level.get() as usize]
    }

    /// Budgets for the next frame; unlimited until the capacity is known.
    pub fn budgets(&self) -> Budgets {
        match self.link.capacity() {
            None => Budgets {
                soft_bytes: usize::MAX,
                hard_bytes: usize::MAX,
            },
            Some(c) => {
                let usable = c * f64::from(self.cfg.utilisation);
                Budgets {
                    soft_bytes: (usable / f64::from(self.level_fps().max(0.1))) as usize,
                    hard_bytes: (usable / f64::from(self.cfg.min_fps.max(0.1))) as usize,
                }
            }
        }
    }

    fn predict(&self, level: QualityLevel, pixels: u64) -> f64 {
        pixels as f64 * f64::from(self.bpp[level.get() as usize])
    }

    /// Learns from the frame just built and picks the level for the next one. `damaged` is the
    /// number of pixels that changed in content (paint-over excluded); `sent_pixels`/`sent_bytes`
    /// what was encoded at `level`.
    pub fn after_frame(
        &mut self,
        level: QualityLevel,
        damaged: u64,
        sent_pixels: u64,
        sent_bytes: u64,
    ) {
        if sent_pixels >= 256 {
            let l = level.get() as usize;
            let observed = sent_bytes as f32 / sent_pixels as f32;
            // A level not measured recently takes its first measurement as it is; the prior can
            // be far off (on smooth content level 2 costs about what level 3 does per pixel, not
            // 0.6 / 0.45 of it, since level 3's damage is the sparser).
            self.bpp[l] = if self.bpp_age[l] >= MEASURED_FRAMES {
                observed
            } else {
                0.7 * self.bpp[l] + 0.3 * observed
            };
            // Keep the other levels' estimates in proportion to the one just measured, unless they
            // were measured themselves within `MEASURED_FRAMES`.
            let measured = self.bpp[l];
            // Learn this level's ratio from the most recently measured other level, if fresh.
            if let Some(k) = (0..4)
                .filter(|&k| k != l && self.bpp_age[k] < MEASURED_FRAMES)
                .min_by_key(|&k| self.bpp_age[k])
                && self.bpp[k] > 0.0
            {
                self.ratio[l] = (self.ratio[k] * measured / self.bpp[k]).max(1e-3);
            }
            let ratio = self.ratio;
            for (i, b) in self.bpp.iter_mut().enumerate() {
                if i != l && self.bpp_age[i] >= MEASURED_FRAMES {
                    *b = 0.9 * *b + 0.1 * (measured * ratio[i] / ratio[l]);
                }
            }
            for (i, age) in self.bpp_age.iter_mut().enumerate() {
                *age = if i == l { 0 } else { age.saturating_add(1) };
            }
        }
        // Damage is found against what the panel shows at the current level, so a coarse level
        // sees fewer changed pixels (small changes vanish in the quantisation). A finer level's
        // size is therefore predicted with the ratio measured the last time it was taken; without
        // it the level stepped finer, found twice the damage, stepped back, and repeated every
        // `hold_frames` on the moving pattern.
        if damaged >= 256 {
            if let Some((prev, prev_damaged)) = self.last
                && prev.finer() == Some(level)
            {
                let ratio = damaged as f32 / prev_damaged as f32;
                self.finer_damage[level.get() as usize] = ratio.clamp(1.0, 16.0);
            }
            self.last = Some((level, damaged));
        }
        let soft = self.soft_budget(damaged);
        if self.predict(self.level, damaged) > soft {
            // Too big for the target rate: the finest level that fits, at once.
            let mut l = self.level;
            while self.predict(l, damaged) > soft {
                match l.coarser() {
                    Some(c) if c <= self.cfg.max_level => l = c,
                    _ => break,
                }
            }
            if let Some((tried, frames)) = self.since_finer.take()
                && l > tried
                && frames < PROBE_FRAMES
            {
                let b = &mut self.probe_backoff[tried.get() as usize];
                *b = (*b * 2).min(MAX_PROBE_BACKOFF);
            }
            self.level = l;
            self.streak = 0;
        } else if let Some(finer) = self.level.finer() {
            let finer_damaged = damaged as f64 * f64::from(self.finer_damage[finer.get() as usize]);
            if self.predict(finer, finer_damaged as u64) <= soft * f64::from(self.cfg.headroom) {
                self.streak += 1;
                let hold = self.cfg.hold_frames * self.probe_backoff[finer.get() as usize];
                if self.streak >= hold {
                    self.level = finer;
                    self.streak = 0;
                    self.since_finer = Some((finer, 0));
                }
            } else {
                self.streak = 0;
            }
        }
        if let Some((tried, frames)) = &mut self.since_finer {
            *frames += 1;
            if *frames >= PROBE_FRAMES {
                // The finer step held: it is probed at the normal pace again.
                self.probe_backoff[tried.get() as usize] = 1;
                self.since_finer = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(ms: u64) -> Timestamp {
        Timestamp::from_micros(ms * 1000)
    }

    #[test]
    fn capacity_from_back_to_back_frames() {
        // 10 kB frames, each acked 50 ms after the previous: 200 kB/s
        let mut l = LinkEstimator::default();
        l.on_rtt(ts(0), Duration::from_millis(10));
        for i in 0..10 {
            l.on_ack(ts(60 + 50 * i), ts(0), 10_000, 0, None, DeviceTime::NONE);
        }
        let c = l.capacity().unwrap();
        assert!((c - 200_000.0).abs() < 30_000.0, "{c}");
    }

    #[test]
    fn idle_gaps_and_rtt_are_not_counted_as_busy() {
        // 3 kB frames sent every 100 ms over a 10 ms RTT link at 300 kB/s: each acked 20 ms after
        // sending (10 ms RTT + 10 ms transmission).
        let mut l = LinkEstimator::default();
        for i in 0..20 {
            let sent = ts(100 * i);
            l.on_rtt(sent, Duration::from_millis(10));
            l.on_ack(ts(100 * i + 20), sent, 3000, 0, None, DeviceTime::NONE);
        }
        let c = l.capacity().unwrap();
        assert!((c - 300_000.0).abs() < 1.0, "{c}");
    }

    #[test]
    fn unknown_capacity_means_unlimited_budget() {
        let r = RateController::new(RateConfig::default());
        assert_eq!(r.budgets().soft_bytes, usize::MAX);
    }

    fn controller_at(capacity_bps: u64) -> RateController {
        let mut r = RateController::new(RateConfig::default());
        r.link.on_rtt(ts(0), Duration::from_millis(5));
        let per = capacity_bps / 20;
        for i in 0..40 {
            r.on_ack(ts(50 * (i + 1)), ts(50 * i), per, 0, DeviceTime::NONE);
        }
        r
    }

    #[test]
    fn coarsens_at_once_then_settles() {
        // 15 kB per 50 ms, each frame sent at the previous ack over a 5 ms RTT: 45 ms of delivery
        // per frame, 333 kB/s; at 30 fps and 0.85 utilisation the soft budget is 9444 bytes.
        let mut r = controller_at(300_000);
        let soft = r.budgets().soft_bytes;
        assert!((9400..9500).contains(&soft), "{soft}");
        // Content whose real size is 0.18 B/px at level 0, scaled by LEVEL_RATIO per level:
        // 13.8 kB, 11.1 kB, 8.3 kB, 6.2 kB for 76800 changed pixels.
        let real = |l: QualityLevel| (76_800.0 * 0.18 * LEVEL_RATIO[l.get() as usize]) as u64;
        let mut levels = Vec::new();
        for _ in 0..200 {
            let l = r.level();
            r.after_frame(l, 76_800, 76_800, real(l));
            levels.push(r.level());
        }
        // Settled: the level never changes over the last 100 frames...
        let settled = levels[100];
        assert!(levels[100..].iter().all(|&l| l == settled), "{levels:?}");
        // ...its frames fit the soft budget...
        assert!(real(settled) as usize <= soft, "{settled:?}");
        // ...and the next finer level would not pass the up-step test.
        if let Some(finer) = settled.finer() {
            assert!(real(finer) as f64 > soft as f64 * f64::from(r.config().headroom));
        }
    }

    /// Runs `r` for 200 frames of 76800 changed pixels whose real size is 0.18 B/px at level 0,
    /// scaled by `LEVEL_RATIO`, and returns the levels chosen.
    fn levels_for(r: &mut RateController) -> Vec<QualityLevel> {
        let real = |l: QualityLevel| (76_800.0 * 0.18 * LEVEL_RATIO[l.get() as usize]) as u64;
        (0..200)
            .map(|_| {
                let l = r.level();
                r.after_frame(l, 76_800, 76_800, real(l));
                r.level()
            })
            .collect()
    }

    #[test]
    fn detail_holds_a_finer_level_than_motion() {
        // The link of `coarsens_at_once_then_settles`: 333 kB/s; the first frame is exact (13.8
        // kB). Motion aims at 30 fps (9.4 kB per frame): it coarsens to level 3 (6.2 kB) at once
        // and stays there, since level 2 (8.3 kB) is not within the headroom of 6.6 kB. Detail
        // aims at 10 fps (28.3 kB) and keeps level 0 (about 24 fps on that link).
        let mut motion = controller_at(300_000);
        let m = levels_for(&mut motion);
        let mut r = controller_at(300_000);
        r.set_prefer(Prefer::Detail);
        assert_eq!(r.level_fps(), 10.0);
        assert!((28_200..28_400).contains(&r.budgets().soft_bytes));
        let d = levels_for(&mut r);
        assert!(m[100..].iter().all(|&l| l == QualityLevel::MAX), "{m:?}");
        assert!(d.iter().all(|&l| l == QualityLevel::EXACT), "{d:?}");
        // A link too slow even for detail's rate coarsens under detail too, and settles.
        let mut r = controller_at(120_000);
        r.set_prefer(Prefer::Detail);
        let d = levels_for(&mut r);
        assert!(d[0] > QualityLevel::EXACT, "{d:?}");
        assert!(d[100..].iter().all(|&l| l == d[100]), "{d:?}");
    }

    #[test]
    fn detail_fps_stays_between_min_fps_and_target_fps() {
        let cfg = |detail_fps| RateConfig {
            prefer: Prefer::Detail,
            detail_fps,
            ..RateConfig::default()
        };
        assert_eq!(RateController::new(cfg(50.0)).level_fps(), 30.0);
        assert_eq!(RateController::new(cfg(2.0)).level_fps(), 10.0);
        assert_eq!(RateController::new(RateConfig::default()).level_fps(), 30.0);
    }

    #[test]
    fn panel_time_is_not_counted_as_link_time() {
        // 10 kB frames acknowledged 25 ms apart, each sent at the previous ack over a 1 ms RTT,
        // to a panel that needs 15 ms for their 37500 pixels at 2.5 Mpx/s: 9 ms of link time per
        // frame, a 1.11 MB/s link.
        let mut l = LinkEstimator::default();
        l.on_rtt(ts(0), Duration::from_millis(1));
        for i in 0..40 {
            l.on_ack(
                ts(25 * (i + 1)),
                ts(25 * i),
                10_000,
                37_500,
                Some(2_500_000.0),
                DeviceTime::NONE,
            );
        }
        let c = l.capacity().unwrap();
        assert!((c - 1_111_111.0).abs() < 20_000.0, "{c}");
        // Without the panel figure the same acks look like a 400 kB/s link.
        let mut l = LinkEstimator::default();
        l.on_rtt(ts(0), Duration::from_millis(1));
        for i in 0..40 {
            l.on_ack(
                ts(25 * (i + 1)),
                ts(25 * i),
                10_000,
                37_500,
                None,
                DeviceTime::NONE,
            );
        }
        assert!(l.capacity().unwrap() < 450_000.0);
    }

    #[test]
    fn panel_bound_frames_do_not_lower_the_capacity_estimate() {
        let mut l = LinkEstimator::default();
        l.on_rtt(ts(0), Duration::from_millis(2));
        // 1 kB frames that each take 30 ms because of 76800 pixels at 2.5 Mpx/s
        for i in 0..20 {
            l.on_ack(
                ts(30 * (i + 1)),
                ts(30 * i),
                1000,
                76_800,
                Some(2_500_000.0),
                DeviceTime::NONE,
            );
        }
        assert_eq!(l.capacity(), None, "no sample says anything about the link");
        // With no capacity known the budget is unlimited, so the level returns to exact.
        let mut r = RateController::new(RateConfig::default());
        r.set_panel_rate(Some(2_500_000.0));
        for i in 0..20 {
            r.on_ack(ts(30 * (i + 1)), ts(30 * i), 1000, 76_800, DeviceTime::NONE);
            r.after_frame(r.level(), 76_800, 76_800, 1000);
        }
        assert_eq!(r.level(), QualityLevel::EXACT);
    }

    /// Acks of full 320x240 frames over a link of `link_bps` to a device whose receive and present
    /// passes take `device` (SPI at 2.5 Mpx/s), each frame sent at the previous ack, 1 ms RTT.
    fn link_estimate(link_bps: f64, bytes: u64, device: DeviceTime) -> Option<f64> {
        let mut l = LinkEstimator::default();
        l.on_rtt(ts(0), Duration::from_millis(1));
        let panel = 76_800.0 / 2_500_000.0;
        let frame = (bytes as f64 / link_bps).max(device.receive_s) + device.present_s.max(panel);
        let mut t = 0.0;
        for _ in 0..20 {
            let sent = Timestamp::from_micros((t * 1e6) as u64);
            t += frame + 0.001;
            let now = Timestamp::from_micros((t * 1e6) as u64);
            l.on_ack(now, sent, bytes, 76_800, Some(2_500_000.0), device);
        }
        l.link_capacity()
    }

    #[test]
    fn link_capacity_takes_out_device_time() {
        // RLE-heavy frames of 50 kB on a 300 kB/s link: 167 ms of link hides the 60 ms receive
        // pass, the 79 ms present pass outlasts the 31 ms SPI. The link is seen as it is.
        let rle = DeviceTime {
            receive_s: 0.060,
            present_s: 0.079,
        };
        let c = link_estimate(300_000.0, 50_000, rle).unwrap();
        assert!((c - 300_000.0).abs() < 10_000.0, "{c}");
        // The same frames on a 2.5 MB/s link are bound by the receive pass (20 ms of link under
        // 60 ms of CPU): the estimate is a guess above what the CPU allowed (2 × 50 kB / 60 ms).
        let c = link_estimate(2_500_000.0, 50_000, rle).unwrap();
        assert!((c - 1_666_000.0).abs() < 50_000.0, "{c}");
        // RAW frames (cheap to decode) on that link measure it.
        let raw = DeviceTime {
            receive_s: 0.0027,
            present_s: 0.0036,
        };
        let c = link_estimate(2_500_000.0, 153_600, raw).unwrap();
        assert!((c - 2_500_000.0).abs() < 80_000.0, "{c}");
    }

    #[test]
    fn static_content_returns_to_exact() {
        let mut r = controller_at(300_000);
        r.after_frame(QualityLevel::EXACT, 10_000_000, 76_800, 76_800);
        assert_eq!(r.level(), QualityLevel::MAX);
        for _ in 0..3 * 3 {
            r.after_frame(r.level(), 0, 0, 0);
        }
        assert_eq!(r.level(), QualityLevel::EXACT);
    }
}
