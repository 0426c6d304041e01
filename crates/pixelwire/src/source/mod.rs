//! Frame sources: built-in generated screens and (later) device pushes.

pub mod generator;
pub mod render;
