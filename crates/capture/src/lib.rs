//! # pixelwire-capture
//!
//! Screen capture with change detection and striped encoding, usable without the pixelwire server
//! (std threads; no async runtime, no HTTP stack). It does seed 003's (pixelflux) job:
//!
//! * **Capture** (Linux X11): MIT-SHM grabs into a small pool of shared segments, gated by the
//!   Damage extension so that nothing is copied, hashed or encoded while nothing changes; the
//!   pointer hidden, composited or reported apart (XFixes); the whole screen, one RandR monitor, a
//!   region, or a window followed by title. Capture never waits for encoding: the newest frame wins.
//! * **Change detection and encoding**: fixed-height stripes hashed with xxh3 only where damage
//!   says pixels changed, changed stripes encoded in parallel as JPEG (libjpeg-turbo, 4:4:4 by
//!   default) or H.264 (one stream per stripe, or full frame), paint-over of still stripes, damage
//!   throttling, a watermark.
//! * **Delivery**: [`EncodedStripe`]s to a callback ([`ScreenCapture::start`]) or an iterator
//!   ([`ScreenCapture::start_iter`]); or raw frames with their damage rectangles
//!   ([`FrameCapture::start`]) for a program that encodes them itself (the pixelwire server does).
//!
//! [`CaptureSettings`] has an equivalent for every field of pixelflux's `CaptureSettings`;
//! `docs/screen.md` maps them field by field.

pub mod encode;
pub mod error;
pub mod frame_capture;
pub mod pipeline;
pub mod planner;
#[cfg(target_os = "linux")]
pub mod screen_capture;
pub mod settings;
pub mod slot;
pub mod stripe;
pub mod watermark;
#[cfg(target_os = "linux")]
pub mod x11;

pub use error::CaptureError;
pub use frame_capture::FrameCapture;
#[cfg(target_os = "linux")]
pub use frame_capture::{Grab, GrabStats};
pub use pipeline::{PipelineStats, StripePipeline};
pub use planner::{Plan, Planner, QualityClass, StripeJob, StripeSpan};
#[cfg(target_os = "linux")]
pub use screen_capture::{CaptureStats, ScreenCapture, Stripes};
pub use settings::{
    CaptureSettings, CaptureTarget, Chroma, CursorMode, DamageBlock, H264StripeSettings,
    JpegSettings, MonitorSelector, OutputMode, PaintOver, Region, Watermark, WatermarkLocation,
};
pub use stripe::{EncodedStripe, StripeCodec, StripeReason};
#[cfg(target_os = "linux")]
pub use x11::cursor::{CursorImage, CursorUpdate};
#[cfg(target_os = "linux")]
pub use x11::target::{Area, Monitor};
