//! What to capture and how to encode it: [`CaptureSettings`], with an equivalent for every field of
//! seed 003's (pixelflux) `CaptureSettings`; `docs/screen.md` maps them field by field.

use std::path::PathBuf;
use std::time::Duration;

/// What part of the screen to capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureTarget {
    /// The whole root window (every monitor).
    Screen,
    /// One monitor as RandR reports it.
    Monitor(MonitorSelector),
    /// A fixed rectangle of the root window (pixelflux's `capture_x/y/width/height`).
    Region(Region),
    /// The first top-level window whose title contains this text (case-sensitive); the capture
    /// follows the window when it moves or resizes.
    Window {
        /// Text the window's title contains.
        title: String,
    },
}

/// Which monitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MonitorSelector {
    /// The primary monitor (the first one if none is primary).
    Primary,
    /// By position in RandR's monitor list, from 0.
    Index(usize),
    /// By RandR output or monitor name (`HDMI-1`, `DP-2`, …).
    Name(String),
}

/// A rectangle in root-window pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// Left column.
    pub x: i32,
    /// Top row.
    pub y: i32,
    /// Width, pixels.
    pub width: u32,
    /// Height, pixels.
    pub height: u32,
}

/// What happens to the mouse pointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CursorMode {
    /// Not drawn.
    #[default]
    Hidden,
    /// Blended into the captured pixels (pixelflux's `capture_cursor = True`).
    Composited,
    /// Reported apart ([`crate::CursorImage`] on the frame when it changes), so pointer motion does
    /// not dirty the video.
    Separate,
}

/// Codec of the encoded stripes (pixelflux's `output_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputMode {
    /// One baseline JFIF per changed stripe.
    #[default]
    Jpeg,
    /// H.264 (OpenH264): one stream per stripe, or one full-frame stream.
    H264,
}

/// Chroma sampling of JPEG stripes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Chroma {
    /// Full colour resolution: sharp coloured text (pixelflux 2.x's choice).
    #[default]
    Yuv444,
    /// Half colour resolution both ways: about a third fewer bytes.
    Yuv420,
}

/// JPEG stripe settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JpegSettings {
    /// Quality of changed stripes, 1..=100 (pixelflux `jpeg_quality`).
    pub quality: u8,
    /// Quality of a stripe re-sent once it stood still (pixelflux `paint_over_jpeg_quality`).
    pub paint_over_quality: u8,
    /// Chroma sampling.
    pub chroma: Chroma,
}

impl Default for JpegSettings {
    fn default() -> Self {
        Self {
            quality: 75,
            paint_over_quality: 90,
            chroma: Chroma::Yuv444,
        }
    }
}

/// H.264 settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct H264StripeSettings {
    /// Quantiser of changed content, 0..=51, lower is better (the equivalent of pixelflux's
    /// `h264_crf`: OpenH264 has no CRF, so this caps the quantiser its rate control may use).
    pub qp: u8,
    /// Quantiser of the paint-over refresh (pixelflux `video_paintover_crf`).
    pub paint_over_qp: u8,
    /// Encode whole frames (one decoder in the browser, unchanged areas cost almost no bits)
    /// instead of one stream per stripe (pixelflux `h264_fullframe`).
    pub full_frame: bool,
    /// 4:4:4 (pixelflux `h264_fullcolor`). OpenH264 encodes 4:2:0 only, so starting a capture
    /// with this set fails with [`crate::CaptureError::Unsupported`].
    pub full_color: bool,
    /// An IDR at least this often (pixelflux `keyframe_interval_s`); `None`: only at start, on
    /// request and for paint-over.
    pub keyframe_interval: Option<Duration>,
}

impl Default for H264StripeSettings {
    fn default() -> Self {
        Self {
            qp: 25,
            paint_over_qp: 18,
            full_frame: false,
            full_color: false,
            keyframe_interval: None,
        }
    }
}

/// Paint-over: a stripe that stood still for `trigger_frames` is sent once more at the paint-over
/// quality (JPEG) or refreshed with an IDR at the paint-over quantiser (H.264)
/// (pixelflux `use_paint_over_quality` + `paint_over_trigger_frames`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaintOver {
    /// Still frames before the refresh.
    pub trigger_frames: u32,
}

impl Default for PaintOver {
    fn default() -> Self {
        Self { trigger_frames: 15 }
    }
}

/// Damage throttling for stripes that change every frame (pixelflux `damage_block_threshold` and
/// `damage_block_duration`): after `threshold` consecutive changed frames a stripe counts as in
/// motion and is encoded at a reduced JPEG quality (or the base quantiser) for at least `duration`
/// frames while it keeps changing (`duration = 0` disables throttling). Unlike pixelflux, a stripe
/// that stops changing is not re-sent: every frame's hash still decides (`planner` module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DamageBlock {
    /// Consecutive changed frames before a stripe counts as in motion.
    pub threshold: u32,
    /// Frames a stripe stays in motion quality after entering it.
    pub duration: u32,
}

impl Default for DamageBlock {
    fn default() -> Self {
        Self {
            threshold: 10,
            duration: 30,
        }
    }
}

/// Where the watermark goes (pixelflux `watermark_location_enum` 1..=6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatermarkLocation {
    /// Top left corner.
    TopLeft,
    /// Top right corner.
    TopRight,
    /// Bottom left corner.
    BottomLeft,
    /// Bottom right corner.
    BottomRight,
    /// Centred.
    Middle,
    /// Bouncing around the frame, reflected at the edges.
    Animated,
}

/// A PNG blended over every frame before change detection and encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watermark {
    /// The PNG file (pixelflux `watermark_path`).
    pub path: PathBuf,
    /// Where it goes.
    pub location: WatermarkLocation,
}

/// Everything a capture needs. `Default` captures the whole screen at 30 fps as JPEG stripes.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureSettings {
    /// The X display (`:0`); `None` reads `$DISPLAY`.
    pub display: Option<String>,
    /// What to capture (pixelflux `capture_x/y/width/height`; also a monitor or a window).
    pub target: CaptureTarget,
    /// Frames per second at most (pixelflux `target_fps`); nothing is grabbed while nothing
    /// changes.
    pub target_fps: f64,
    /// The mouse pointer (pixelflux `capture_cursor`).
    pub cursor: CursorMode,
    /// Codec (pixelflux `output_mode`).
    pub output: OutputMode,
    /// JPEG settings.
    pub jpeg: JpegSettings,
    /// H.264 settings.
    pub h264: H264StripeSettings,
    /// Rows per stripe (pixelflux derives it from the core count; here it is fixed so that a
    /// small change re-encodes a small band on any machine). Rounded up to even for H.264.
    pub stripe_height: u32,
    /// Paint-over of still stripes; `None` disables it (pixelflux `use_paint_over_quality`).
    pub paint_over: Option<PaintOver>,
    /// Damage throttling.
    pub damage_block: DamageBlock,
    /// A watermark (pixelflux `watermark_path` + `watermark_location_enum`).
    pub watermark: Option<Watermark>,
}

impl Default for CaptureSettings {
    fn default() -> Self {
        Self {
            display: None,
            target: CaptureTarget::Screen,
            target_fps: 30.0,
            cursor: CursorMode::Hidden,
            output: OutputMode::Jpeg,
            jpeg: JpegSettings::default(),
            h264: H264StripeSettings::default(),
            stripe_height: 64,
            paint_over: Some(PaintOver::default()),
            damage_block: DamageBlock::default(),
            watermark: None,
        }
    }
}

impl CaptureSettings {
    /// Time between frames at `target_fps` (at least 1 ms, at most 10 s).
    pub fn frame_interval(&self) -> Duration {
        let fps = if self.target_fps.is_finite() {
            self.target_fps.clamp(0.1, 1000.0)
        } else {
            30.0
        };
        Duration::from_secs_f64(1.0 / fps)
    }
}
