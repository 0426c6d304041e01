//! # pixelwire-media
//!
//! Pixels as they travel between pixelwire's sources and consumers, usable without the server: no
//! async runtime, no HTTP stack, no storage.
//!
//! * [`MediaFrame`]: a frame as it arrived (packed RGBA or BGRA with a row stride, a camera's JPEG,
//!   I420) with the damage rectangles its source knows, and the other forms consumers ask for (RGBA,
//!   I420, JPEG), each converted once on first use and shared; pixel payloads are never copied to
//!   hand them out.
//! * [`jpeg`] (libjpeg-turbo), [`yuv`] (I420 and RGB conversions), [`png`] (snapshots).
//! * [`h264`] (feature `h264`, on by default): a synchronous OpenH264 encoder with typed errors,
//!   forced keyframes and per-frame statistics.
//! * Wire forms that carry media: [`viewer_message`] (the browser viewer's 16-byte header + access
//!   unit or JPEG) and [`picamera`] (Picamera's padded raw layouts).
//! * [`clock`]: capture timestamps (a monotonic clock anchored to the wall clock).
//! * [`decode_gate`]: at most two large JPEG decodes at once, process-wide.
//!
//! Statistics are plain structs; a program turns them into its own metrics.

pub mod clock;
pub mod decode_gate;
pub mod frame;
#[cfg(feature = "h264")]
pub mod h264;
#[cfg(feature = "h264")]
pub mod h264_asm;
pub mod jpeg;
mod jpeg_yuv;
pub mod picamera;
pub mod png;
pub mod thumbnail;
pub mod viewer_message;
pub mod yuv;

pub use frame::{MediaFrame, PixelLayout};
pub use jpeg::{JpegError, JpegInfo};
pub use yuv::I420;
