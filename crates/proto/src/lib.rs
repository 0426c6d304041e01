//! # pixelwire-proto
//!
//! The pixelwire display protocol, version 1: the byte format spoken between the pixelwire server and
//! a display device (ESP32 firmware, `pixelwire display-emu`), and the legacy seed-000 packet format.
//! `docs/protocol.md` is the normative reference; every constant here cites it.
//!
//! `no_std` and allocation-free so the firmware can use it; the `alloc` feature only adds test
//! helpers. The crate does no IO: callers feed bytes to a [`Decoder`] and write bytes that the
//! `encode` functions put into their buffers.
//!
//! Where to start: [`message`] (message layouts), [`Decoder`] (incremental decoding), [`codec`]
//! (pixel codecs), [`legacy`] (seed 000).
#![no_std]
#![warn(missing_docs)]

#[cfg(any(test, feature = "alloc"))]
extern crate alloc;

pub mod codec;
mod decoder;
pub mod device;
mod error;
mod format;
mod framebuffer;
pub mod legacy;
pub mod message;
mod pixel;
mod short_str;
mod wire;

pub use codec::{Codec, CodecSet, EncodeFail, PixelChunk, PixelRun, Pixels};
pub use decoder::{Decoder, Event, Events};
pub use device::{DeviceError, DeviceSession, DoubleBuffer, PixelSink};
pub use error::ProtoError;
pub use format::PixelFormat;
pub use framebuffer::FramebufferWriter;
pub use message::{
    Ack, ErrorCode, ErrorMsg, FrameEnd, Hello, Kind, PROTOCOL_VERSION, Ping, Pong, RectHeader,
    Stats, Welcome,
};
pub use pixel::{PixelOrder, rgb565, rgb565_to_rgb888};
pub use short_str::ShortStr;
