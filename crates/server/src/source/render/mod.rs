//! Built-in screen renderers: the BIOS setup page, the CPU monitor and the moving test pattern
//! (what seeds 000 and 001 generated, `reference/seed-protocols.md` §A.7 and §B.2), each a
//! [`Generator`](super::generator::Generator).
//!
//! Renderers are pure: clock, elapsed time, frame counter, fps and system facts come in as values,
//! so a frame is a function of its inputs and golden tests render fixed instants byte for byte.
//! Drawing goes through [`canvas::Canvas`] (tiny-skia shapes) and [`text`] (fontdue glyphs over the
//! embedded DejaVu fonts, rasterised once per glyph and size). Fonts are parsed on first use
//! (about 0.1 s); [`text::preload_fonts`] does it ahead of the first frame.

pub mod bios;
pub mod canvas;
pub mod cpu;
pub mod dashboard;
pub mod pattern;
pub mod text;

#[cfg(test)]
pub(crate) mod golden_tests;

pub use bios::{BiosInfo, BiosScreen};
pub use cpu::CpuScreen;
pub use pattern::PatternScreen;
