//! # pixelwire-core
//!
//! The sans-IO core of pixelwire: frames and pixel formats, colour correction, RGB565 conversion with
//! dithering, change detection against a per-device shadow, rate control, and the per-display session
//! state machines. Nothing here does IO or reads a clock: time is always a parameter.

pub mod frame;

pub use frame::{Frame, Rect};
pub mod color;
pub mod gray;
pub mod image565;
pub mod resize;

pub use color::{ColorCorrection, Dither, Rgb565Converter};
pub use gray::GrayConverter;
pub use image565::Rgb565Image;
pub use pixelwire_proto::PixelFormat;
pub use resize::{Filter, Fit, FrameResizer};
pub mod damage;
pub mod quality;

pub use damage::{DamageTracker, DirtyTile};
pub use quality::QualityLevel;
pub mod decode_cost;
pub use decode_cost::{CostModel, DecodeCost, DeviceTime, LinearCost};
pub mod device_cpu;
pub use device_cpu::DeviceCpu;
pub mod encode;
pub mod merge;

pub use encode::{EncodeStats, RectOutcome, UpdateBytes, UpdateEncoder, WireFormat};
pub use merge::{UpdateRect, merge_tiles};
pub mod rate;
pub mod time;

pub use rate::{Budgets, LinkEstimator, Prefer, RateConfig, RateController};
pub use time::{NoClock, Stopwatch, Timestamp};
pub mod psnr;
pub mod sink;

pub use psnr::{PSNR_CAP_DB, PanelPsnr};
pub use sink::{DisplaySink, SinkConfig, StageTimes, Update};
pub mod session;

pub use session::{
    Admission, CloseReason, DisplaySession, FrameReport, FrameSent, Lease, Refusal, Router,
    SessionConfig, SessionEvent, display_memory_bytes, min_frame_buffer_bytes,
};
pub mod legacy_session;

pub use legacy_session::{LegacyConfig, LegacyEvent, LegacySession};
