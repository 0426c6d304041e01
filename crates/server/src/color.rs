//! The opaque sRGB colour shared by the renderers (`source/render/`) and the config that names
//! colours (`[[streams.dashboard.panels]]`). A leaf module: it depends on nothing in the crate, so
//! the config can parse colours without importing the renderers. Drawing with a colour lives with
//! the canvas (`source/render/canvas.rs`), parsing `"#rrggbb"` with the config.

/// An opaque sRGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rgb {
    /// Red.
    pub r: u8,
    /// Green.
    pub g: u8,
    /// Blue.
    pub b: u8,
}

impl Rgb {
    /// White.
    pub const WHITE: Rgb = Rgb::new(255, 255, 255);
    /// Black.
    pub const BLACK: Rgb = Rgb::new(0, 0, 0);

    /// A colour from its components.
    pub const fn new(r: u8, g: u8, b: u8) -> Self {
        Self { r, g, b }
    }
}
