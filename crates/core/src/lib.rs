//! # pixelwire-core
//!
//! The sans-IO core of pixelwire: frames and pixel formats, colour correction, RGB565 conversion with
//! dithering, change detection against a per-device shadow, rate control, and the per-display session
//! state machines. Nothing here does IO or reads a clock: time is always a parameter.

pub mod frame;

pub use frame::{Frame, Rect};
