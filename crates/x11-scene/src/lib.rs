//! # pixelwire-x11-scene
//!
//! The moving picture and the bookkeeping of the side-by-side screen-capture benchmark
//! (`scripts/bench-screen.sh`, issue 10), which runs pixelflux 2.2.1 and pixelwire on the same X11
//! display:
//!
//! * [`scene`]: a deterministic animated scene (scrolling terminal text, bouncing shapes, bar
//!   gauges, a video-like noisy region; or a full-screen scrolling texture). Every picture is a pure
//!   function of its index, so the analysis re-renders exactly the picture a capture saw.
//! * [`marker`]: the picture index stamped into the top-left corner as 32 black/white 8x8 blocks,
//!   readable after JPEG q40 or H.264.
//! * [`record`]: the file both capture runners write, one entry per encoded stripe with its
//!   timestamps.
//! * [`compose`]: stripes painted into a luma canvas per frame, PSNR against the reference.
//!
//! The binary `pixelwire-x11-scene` draws the scene on an X display; `pixelwire-scene-analyze`
//! (feature `analyze`, which brings the JPEG and H.264 decoders) reads a record and prints the
//! figures.

pub mod compose;
pub mod marker;
pub mod record;
pub mod scene;

pub use scene::{Mode, render, render_into};

/// A 64-bit mixing function (splitmix64's finaliser): the scene's only source of "randomness".
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
