//! The per-display sink core shared by both display protocols: turns source frames into the
//! panel's pixel format (resize, colour LUT, dither; RGB565, or grey levels for a grey or monochrome
//! panel, [`crate::gray`]), finds what differs from what the panel shows, picks a quality level and
//! byte budget from the measured link, and encodes the update.
//!
//! For grey formats the images hold grey levels instead of RGB565 values and everything else runs
//! unchanged, with three differences: quality stays exact (the coarser levels drop RGB565 bits,
//! meaningless for grey, and a grey panel's frames are small), tiles are a multiple of 8 pixels wide
//! and every rectangle is widened to whole wire bytes (its `x` a multiple of the pixels per byte,
//! as the protocol requires, and its right edge too unless that is the panel's), and the quality
//! figure scores against the grey source ([`crate::psnr`]).

use crate::color::{ColorCorrection, Dither, Rgb565Converter};
use crate::damage::DamageTracker;
use crate::decode_cost::{CostModel, DecodeCost, DeviceTime};
use crate::encode::{EncodeStats, UpdateBytes, UpdateEncoder, WireFormat};
use crate::frame::Frame;
use crate::gray::GrayConverter;
use crate::image565::Rgb565Image;
use crate::merge::merge_tiles;
use crate::psnr::PanelPsnr;
use crate::quality::QualityLevel;
use crate::rate::{RateConfig, RateController};
use crate::resize::{Filter, Fit, FrameResizer};
use crate::time::{Stopwatch, Timestamp};
use pixelwire_proto::PixelFormat;

/// The conversion from RGBA to the panel's pixel values.
#[derive(Debug, Clone)]
enum PanelConverter {
    Rgb565(Rgb565Converter),
    Gray(GrayConverter),
}

impl PanelConverter {
    fn convert(&self, rgba: &[u8], out: &mut Rgb565Image) {
        match self {
            Self::Rgb565(c) => c.convert(rgba, out),
            Self::Gray(c) => c.convert(rgba, out),
        }
    }

    fn luts(&self) -> Option<&[[u8; 256]; 3]> {
        match self {
            Self::Rgb565(c) => c.luts(),
            Self::Gray(c) => c.luts(),
        }
    }
}

/// Processing settings of a display sink.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SinkConfig {
    /// How other aspect ratios fill the panel.
    pub fit: Fit,
    /// Resampling filter.
    pub filter: Filter,
    /// Gamma and white balance.
    pub correction: ColorCorrection,
    /// RGB565 dithering.
    pub dither: Dither,
    /// Change-detection tile side, pixels.
    pub tile_size: u32,
    /// Frames a tile must be static before it is repainted at exact quality.
    pub paint_over_frames: u32,
    /// Rate control.
    pub rate: RateConfig,
}

impl Default for SinkConfig {
    fn default() -> Self {
        Self {
            fit: Fit::Contain,
            filter: Filter::Lanczos3,
            correction: ColorCorrection::default(),
            dither: Dither::None,
            tile_size: 16,
            paint_over_frames: 15,
            rate: RateConfig::default(),
        }
    }
}

/// Microseconds spent per processing stage on the last frame (metrics only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StageTimes {
    /// Resize (0 when the sizes match).
    pub resize_us: u64,
    /// Colour LUT and RGB565 conversion.
    pub convert_us: u64,
    /// Change detection and merging.
    pub diff_us: u64,
    /// Encoding and chunking.
    pub encode_us: u64,
    /// Delivered-quality figure ([`crate::psnr`]).
    pub quality_us: u64,
}

/// One update ready for the wire.
#[derive(Debug, Clone, Default)]
pub struct Update {
    /// Encoded messages (no frame terminator: that is the protocol's business).
    pub bytes: Vec<u8>,
    /// Counters of what was encoded.
    pub stats: EncodeStats,
    /// Level the update was encoded at.
    pub level: QualityLevel,
    /// Pixels of changed content (paint-over excluded) found by change detection.
    pub damaged_pixels: u64,
    /// False when the budget left damage for a later update.
    pub complete: bool,
    /// Capture time of the source frame, µs since the Unix epoch.
    pub capture_time_us: u64,
    /// Sequence number of the source frame.
    pub source_seq: u64,
    /// PSNR of the panel once this update is presented against the source frame before RGB565,
    /// dB ([`crate::psnr`]); `None` before the first frame.
    pub psnr_db: Option<f64>,
    /// Time spent per stage.
    pub stages: StageTimes,
}

/// Per-display processing state; see the module docs.
pub struct DisplaySink {
    cfg: SinkConfig,
    resizer: FrameResizer,
    format: PixelFormat,
    converter: PanelConverter,
    /// The panel-sized RGBA frame the target was converted from: the reference of `psnr`.
    rgba: Vec<u8>,
    target: Rgb565Image,
    psnr: PanelPsnr,
    frame_seq: Option<u64>,
    capture_time_us: u64,
    fresh: bool,
    prepare_times: StageTimes,
    tracker: DamageTracker,
    encoder: UpdateEncoder,
    rate: RateController,
    decode_cost: Option<DecodeCost>,
    stopwatch: Box<dyn Stopwatch>,
}

impl std::fmt::Debug for DisplaySink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DisplaySink")
            .field("cfg", &self.cfg)
            .field("frame_seq", &self.frame_seq)
            .finish()
    }
}

impl DisplaySink {
    /// A sink for a `width × height` RGB565 panel.
    pub fn new(width: u32, height: u32, cfg: SinkConfig, stopwatch: Box<dyn Stopwatch>) -> Self {
        Self::with_format(width, height, PixelFormat::default(), cfg, stopwatch)
    }

    /// A sink for a `width × height` panel in `format` (the device's HELLO `pixel_format`).
    pub fn with_format(
        width: u32,
        height: u32,
        format: PixelFormat,
        mut cfg: SinkConfig,
        stopwatch: Box<dyn Stopwatch>,
    ) -> Self {
        let converter = if format.is_rgb565() {
            PanelConverter::Rgb565(Rgb565Converter::new(cfg.correction, cfg.dither))
        } else {
            cfg.rate.max_level = QualityLevel::EXACT;
            // Tiles of whole bytes for every sub-byte format, so aligned rectangles stay in theirs.
            cfg.tile_size = cfg.tile_size.clamp(8, 256).next_multiple_of(8);
            PanelConverter::Gray(GrayConverter::new(format, cfg.correction, cfg.dither))
        };
        Self {
            cfg,
            resizer: FrameResizer::new(width, height, cfg.fit, cfg.filter),
            format,
            converter,
            rgba: Vec::new(),
            target: Rgb565Image::filled(width, height, 0),
            psnr: PanelPsnr::new(width, height, cfg.tile_size).with_format(format),
            frame_seq: None,
            capture_time_us: 0,
            fresh: false,
            prepare_times: StageTimes::default(),
            tracker: DamageTracker::new(width, height, cfg.tile_size),
            encoder: UpdateEncoder::new(),
            rate: RateController::new(cfg.rate),
            decode_cost: None,
            stopwatch,
        }
    }

    /// The most memory a sink for a `width × height` panel with `cfg` holds, bytes: the budget a
    /// display is admitted under (`[limits] display_memory_bytes` in the server). Per panel pixel:
    /// the target and the shadow (RGB565, 2 + 2), the resized RGBA frame (4) and the resizer's
    /// intermediate (4, taken as panel-sized), the crop of the source for `Cover` (4, taken as
    /// panel-sized; `Contain` letterboxes in place),
    /// and, only if the rate controller may go below exact quality, the previous target for
    /// paint-over and a quantised copy of a rectangle (2 + 2); per tile, its change state and its
    /// squared error for the delivered-quality figure ([`crate::psnr`], 9). Everything
    /// else a sink holds (encoder scratch, one encoded frame) is bounded by the device's packet and
    /// frame sizes, not by the panel; the session adds those.
    pub fn memory_bytes(width: u32, height: u32, cfg: &SinkConfig) -> u64 {
        let pixels = u64::from(width) * u64::from(height);
        let mut per_pixel = 2 + 2 + 4 + 4;
        if cfg.fit == Fit::Cover {
            per_pixel += 4;
        }
        if cfg.rate.max_level > QualityLevel::EXACT {
            per_pixel += 2 + 2;
        }
        let tile = u64::from(cfg.tile_size.clamp(8, 256));
        let tiles = u64::from(width).div_ceil(tile) * u64::from(height).div_ceil(tile);
        pixels * per_pixel
            + tiles * (40 + 9)
            + u64::from(height).div_ceil(tile) * 16
            + u64::from(width).div_ceil(tile) * 8
    }

    /// Takes a new source frame (resize + convert). Returns false if it is the frame already held.
    pub fn set_frame(&mut self, frame: &Frame) -> bool {
        if self.frame_seq == Some(frame.seq) && self.capture_time_us == frame.capture_time_us {
            return false;
        }
        let t0 = self.stopwatch.now_us();
        let same_size = (frame.width, frame.height) == (self.target.width, self.target.height);
        let converted = if same_size && frame.rgba.len() == self.target.px.len() * 4 {
            let t1 = self.stopwatch.now_us();
            self.converter.convert(&frame.rgba, &mut self.target);
            // Kept as the quality reference (the buffer the resize path fills anyway).
            self.rgba.clear();
            self.rgba.extend_from_slice(&frame.rgba);
            self.prepare_times.resize_us = 0;
            self.prepare_times.convert_us = self.stopwatch.now_us() - t1;
            true
        } else {
            let ok = self.resizer.resize(frame, &mut self.rgba);
            let t1 = self.stopwatch.now_us();
            self.converter.convert(&self.rgba, &mut self.target);
            self.prepare_times.resize_us = t1 - t0;
            self.prepare_times.convert_us = self.stopwatch.now_us() - t1;
            ok
        };
        self.frame_seq = Some(frame.seq);
        self.capture_time_us = frame.capture_time_us;
        self.fresh = true;
        self.psnr.mark_all();
        converted
    }

    /// True once a frame was set.
    pub fn has_frame(&self) -> bool {
        self.frame_seq.is_some()
    }

    /// True if a frame arrived since the last update was built.
    pub fn has_fresh_frame(&self) -> bool {
        self.fresh
    }

    /// Builds the next update for `format` within the rate budget, its RECT payloads limited to
    /// `frame_cap` bytes (the device's `frame_buffer_bytes`; `usize::MAX` for none), which no frame
    /// ever exceeds.
    pub fn build_update(&mut self, format: &WireFormat, frame_cap: usize) -> Update {
        self.fresh = false;
        let level = self.rate.level();
        let budgets = self.rate.budgets();
        let t0 = self.stopwatch.now_us();
        let dirty = self
            .tracker
            .analyse(&self.target, level, self.cfg.paint_over_frames);
        let damaged_pixels = dirty
            .iter()
            .filter(|d| !d.paint_over)
            .map(|d| d.rect.area())
            .sum();
        let mut rects = merge_tiles(
            &dirty,
            self.tracker.tile_size(),
            self.tracker.tiles_x(),
            self.rate.bytes_per_pixel(),
        );
        let align = u32::from(self.format.x_align());
        if align > 1 {
            let width = self.target.width;
            for r in &mut rects {
                let x0 = r.rect.x - r.rect.x % align;
                let x1 = r.rect.right().next_multiple_of(align).min(width);
                r.rect = crate::frame::Rect::new(x0, r.rect.y, x1 - x0, r.rect.h);
            }
        }
        let t1 = self.stopwatch.now_us();
        self.encoder
            .set_cost_model(self.decode_cost.and_then(|decode| {
                Some(CostModel {
                    decode,
                    link_bytes_per_s: self.rate.link.link_capacity()?,
                    panel_px_per_s: self.rate.panel_rate(),
                })
            }));
        let mut bytes = UpdateBytes::with_limits(budgets.hard_bytes, frame_cap);
        let mut complete = true;
        for r in &rects {
            let outcome =
                self.encoder
                    .encode_rect(format, &self.target, r.rect, r.level, &mut bytes);
            if outcome.complete {
                self.tracker.commit(&self.target, r.rect, r.level, &r.tiles);
                self.psnr.mark(r.rect);
            } else {
                for &part in &outcome.sent {
                    self.tracker.commit(&self.target, part, r.level, &[]);
                    self.psnr.mark(part);
                }
            }
            for (part, px) in &outcome.shown {
                self.tracker.set_shown(*part, px);
            }
            if !outcome.complete {
                complete = false;
                break;
            }
        }
        let t2 = self.stopwatch.now_us();
        let psnr_db = if self.frame_seq.is_some() {
            self.psnr
                .update(&self.rgba, self.converter.luts(), self.tracker.shadow())
        } else {
            None
        };
        let t3 = self.stopwatch.now_us();
        self.rate
            .after_frame(level, damaged_pixels, bytes.stats.pixels, bytes.stats.bytes);
        Update {
            bytes: bytes.bytes,
            stats: bytes.stats,
            level,
            damaged_pixels,
            complete,
            capture_time_us: self.capture_time_us,
            source_seq: self.frame_seq.unwrap_or(0),
            psnr_db,
            stages: StageTimes {
                diff_us: t1 - t0,
                encode_us: t2 - t1,
                quality_us: t3 - t2,
                ..self.prepare_times
            },
        }
    }

    /// A frame of `bytes` with `pixels` sent at `sent` was presented (acknowledged, or written for
    /// legacy peers); `device` is its estimated device time ([`crate::EncodeStats::device_time`]).
    pub fn on_delivered(
        &mut self,
        now: Timestamp,
        sent: Timestamp,
        bytes: u64,
        pixels: u64,
        device: DeviceTime,
    ) {
        self.rate.on_ack(now, sent, bytes, pixels, device);
    }

    /// Sets the device's decode cost: codec choice then weighs device time against link time
    /// (`None`: the smallest encoding wins).
    pub fn set_decode_cost(&mut self, cost: Option<DecodeCost>) {
        self.decode_cost = cost;
    }

    /// The device's decode cost, if known.
    pub fn decode_cost(&self) -> Option<&DecodeCost> {
        self.decode_cost.as_ref()
    }

    /// The device's panel throughput, pixels per second (from its STATS).
    pub fn set_panel_rate(&mut self, px_per_s: Option<f64>) {
        self.rate.set_panel_rate(px_per_s);
    }

    /// A round-trip sample.
    pub fn on_rtt(&mut self, now: Timestamp, rtt: std::time::Duration) {
        self.rate.link.on_rtt(now, rtt);
    }

    /// The link went idle (nothing in flight).
    pub fn on_idle(&mut self) {
        self.rate.link.on_idle();
    }

    /// The panel content is unknown (new connection): the next updates repaint everything.
    pub fn invalidate(&mut self) {
        self.tracker.invalidate();
    }

    /// The panel's pixel format: what the target and the shadow hold.
    pub fn format(&self) -> PixelFormat {
        self.format
    }

    /// What the panel shows, as far as the server knows (RGB565 values, or grey levels for a grey
    /// [`DisplaySink::format`]).
    pub fn shadow(&self) -> &Rgb565Image {
        self.tracker.shadow()
    }

    /// The latest frame converted to the panel's RGB565 (or grey levels).
    pub fn target(&self) -> &Rgb565Image {
        &self.target
    }

    /// Switches the rate controller's policy ([`crate::rate::Prefer`]) from the next update.
    pub fn set_prefer(&mut self, prefer: crate::rate::Prefer) {
        self.cfg.rate.prefer = prefer;
        self.rate.set_prefer(prefer);
    }

    /// The rate controller (for status and metrics).
    pub fn rate(&self) -> &RateController {
        &self.rate
    }
}
