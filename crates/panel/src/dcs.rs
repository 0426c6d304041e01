//! The MIPI DCS controller model shared by ILI9341, ST7789 and ST7735: command codes, per-controller
//! init sequences, and how a panel's rotation, mirroring, colour order and glass geometry become a
//! MADCTL value and address-window offsets. Pure data and `const fn`s, so the firmware can build its
//! configuration at compile time and the host tests can check every combination.
//!
//! References: ILI9341 datasheet v1.11 §8.2 (commands), §8.2.29 (MADCTL); ST7789VW datasheet v1.0
//! §9.1; ST7735S datasheet v1.1 §10.1. Init values follow the vendors' application notes as used by
//! the Adafruit and mipidsi drivers.
//!
//! # Address mapping (MADCTL)
//!
//! The controller's GRAM has a native size (`gram`, portrait: 240x320 for ILI9341 and ST7789,
//! 132x162 for ST7735). The host writes at column address `c` (CASET) and page address `p` (RASET).
//! MADCTL maps them to native GRAM coordinates: `MV` exchanges them first (`c` walks native rows),
//! then `MX` mirrors the native column and `MY` the native row:
//!
//! ```text
//! (nx, ny) = if MV { (p, c) } else { (c, p) }
//! if MX { nx = gram_w - 1 - nx }     if MY { ny = gram_h - 1 - ny }
//! ```
//!
//! The glass (the visible pixels) is a `size` rectangle at `offset` inside the GRAM, both in native
//! coordinates: a 240x240 ST7789 uses GRAM rows 0..240, a 135x240 one sits at (52, 40). The driver
//! derives the CASET/RASET offsets for every rotation from that, so a configuration names its panel
//! once, whatever the rotation (a 240x240 ST7789 needs a row offset of 80 only where `MY` is set).

/// DCS command codes used by the driver.
pub mod cmd {
    /// Software reset.
    pub const SWRESET: u8 = 0x01;
    /// Sleep out.
    pub const SLPOUT: u8 = 0x11;
    /// Normal display mode on.
    pub const NORON: u8 = 0x13;
    /// Display inversion off.
    pub const INVOFF: u8 = 0x20;
    /// Display inversion on.
    pub const INVON: u8 = 0x21;
    /// Display off.
    pub const DISPOFF: u8 = 0x28;
    /// Display on.
    pub const DISPON: u8 = 0x29;
    /// Column address set: XS (u16 BE), XE (u16 BE), inclusive.
    pub const CASET: u8 = 0x2A;
    /// Row (page) address set: YS (u16 BE), YE (u16 BE), inclusive.
    pub const RASET: u8 = 0x2B;
    /// Memory write: pixel data follows, row-major inside the window.
    pub const RAMWR: u8 = 0x2C;
    /// Memory write continue.
    pub const RAMWRC: u8 = 0x3C;
    /// Memory data access control.
    pub const MADCTL: u8 = 0x36;
    /// Interface pixel format.
    pub const COLMOD: u8 = 0x3A;
}

/// MADCTL bits.
pub mod madctl {
    /// Row (page) address order: bottom to top.
    pub const MY: u8 = 0x80;
    /// Column address order: right to left.
    pub const MX: u8 = 0x40;
    /// Row/column exchange.
    pub const MV: u8 = 0x20;
    /// Vertical refresh order (no effect on addressing).
    pub const ML: u8 = 0x10;
    /// BGR colour filter order.
    pub const BGR: u8 = 0x08;
    /// Horizontal refresh order (no effect on addressing).
    pub const MH: u8 = 0x04;
}

/// One step of an init sequence: a command, its parameters, then a pause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitStep {
    /// Command code.
    pub cmd: u8,
    /// Parameter bytes (sent with DC high).
    pub params: &'static [u8],
    /// Pause after the step, ms.
    pub delay_ms: u16,
}

const fn step(cmd: u8, params: &'static [u8], delay_ms: u16) -> InitStep {
    InitStep {
        cmd,
        params,
        delay_ms,
    }
}

/// ILI9341 power, VCOM, frame rate and gamma (vendor application note values).
const ILI9341_INIT: &[InitStep] = &[
    step(0xEF, &[0x03, 0x80, 0x02], 0),
    step(0xCF, &[0x00, 0xC1, 0x30], 0),       // power control B
    step(0xED, &[0x64, 0x03, 0x12, 0x81], 0), // power on sequence
    step(0xE8, &[0x85, 0x00, 0x78], 0),       // driver timing A
    step(0xCB, &[0x39, 0x2C, 0x00, 0x34, 0x02], 0), // power control A
    step(0xF7, &[0x20], 0),                   // pump ratio
    step(0xEA, &[0x00, 0x00], 0),             // driver timing B
    step(0xC0, &[0x23], 0),                   // PWCTR1: VRH 4.6 V
    step(0xC1, &[0x10], 0),                   // PWCTR2
    step(0xC5, &[0x3E, 0x28], 0),             // VMCTR1
    step(0xC7, &[0x86], 0),                   // VMCTR2
    step(0x37, &[0x00, 0x00], 0),             // vertical scroll start 0
    step(0xB1, &[0x00, 0x18], 0),             // FRMCTR1: 79 Hz
    step(0xB6, &[0x08, 0x82, 0x27], 0),       // display function control
    step(0xF2, &[0x00], 0),                   // 3-gamma off
    step(0x26, &[0x01], 0),                   // gamma curve 1
    step(
        0xE0,
        &[
            0x0F, 0x31, 0x2B, 0x0C, 0x0E, 0x08, 0x4E, 0xF1, 0x37, 0x07, 0x10, 0x03, 0x0E, 0x09,
            0x00,
        ],
        0,
    ),
    step(
        0xE1,
        &[
            0x00, 0x0E, 0x14, 0x03, 0x11, 0x07, 0x31, 0xC1, 0x48, 0x08, 0x0F, 0x0C, 0x31, 0x36,
            0x0F,
        ],
        0,
    ),
    step(cmd::SLPOUT, &[], 120),
];

/// ST7789: the defaults after reset are good; only sleep-out is needed before the common steps.
const ST7789_INIT: &[InitStep] = &[
    step(cmd::SLPOUT, &[], 120),
    step(0xB2, &[0x0C, 0x0C, 0x00, 0x33, 0x33], 0), // porch control (reset value)
    step(0xB7, &[0x35], 0),                         // gate control
    step(0xBB, &[0x19], 0),                         // VCOM 0.725 V
    step(0xC0, &[0x2C], 0),                         // LCM control
    step(0xC2, &[0x01], 0),                         // VDV/VRH enable
    step(0xC3, &[0x12], 0),                         // VRH
    step(0xC4, &[0x20], 0),                         // VDV
    step(0xC6, &[0x0F], 0),                         // 60 Hz
    step(0xD0, &[0xA4, 0xA1], 0),                   // power control 1
];

/// ST7735R ("green tab" and most current modules): frame rate, power, VCOM and gamma.
const ST7735_INIT: &[InitStep] = &[
    step(cmd::SLPOUT, &[], 120),
    step(0xB1, &[0x01, 0x2C, 0x2D], 0), // FRMCTR1
    step(0xB2, &[0x01, 0x2C, 0x2D], 0), // FRMCTR2
    step(0xB3, &[0x01, 0x2C, 0x2D, 0x01, 0x2C, 0x2D], 0), // FRMCTR3
    step(0xB4, &[0x07], 0),             // INVCTR: no inversion
    step(0xC0, &[0xA2, 0x02, 0x84], 0), // PWCTR1
    step(0xC1, &[0xC5], 0),             // PWCTR2
    step(0xC2, &[0x0A, 0x00], 0),       // PWCTR3
    step(0xC3, &[0x8A, 0x2A], 0),       // PWCTR4
    step(0xC4, &[0x8A, 0xEE], 0),       // PWCTR5
    step(0xC5, &[0x0E], 0),             // VMCTR1
    step(
        0xE0,
        &[
            0x02, 0x1C, 0x07, 0x12, 0x37, 0x32, 0x29, 0x2D, 0x29, 0x25, 0x2B, 0x39, 0x00, 0x01,
            0x03, 0x10,
        ],
        0,
    ),
    step(
        0xE1,
        &[
            0x03, 0x1D, 0x07, 0x06, 0x2E, 0x2C, 0x29, 0x2D, 0x2E, 0x2E, 0x37, 0x3F, 0x00, 0x00,
            0x02, 0x10,
        ],
        0,
    ),
];

/// A supported panel controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Controller {
    /// ILI9341, 240x320 GRAM (2.2"–3.2" modules).
    Ili9341,
    /// ST7789, 240x320 GRAM (240x240, 240x320, 135x240, 172x320 … glass).
    St7789,
    /// ST7735R/S, 132x162 GRAM (128x160, 128x128, 80x160 glass).
    St7735,
}

impl Controller {
    /// Every controller.
    pub const ALL: [Controller; 3] = [Controller::Ili9341, Controller::St7789, Controller::St7735];

    /// Lowercase name, as the `PANEL` build setting spells it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Ili9341 => "ili9341",
            Self::St7789 => "st7789",
            Self::St7735 => "st7735",
        }
    }

    /// Native GRAM size (width, height), portrait.
    pub const fn gram_size(self) -> (u16, u16) {
        match self {
            Self::Ili9341 | Self::St7789 => (240, 320),
            Self::St7735 => (132, 162),
        }
    }

    /// Controller-specific steps, sent after SWRESET; they include SLPOUT.
    pub const fn init_steps(self) -> &'static [InitStep] {
        match self {
            Self::Ili9341 => ILI9341_INIT,
            Self::St7789 => ST7789_INIT,
            Self::St7735 => ST7735_INIT,
        }
    }

    /// COLMOD parameter for 16 bits per pixel (RGB565).
    pub const fn colmod_rgb565(self) -> u8 {
        match self {
            Self::Ili9341 | Self::St7789 => 0x55,
            Self::St7735 => 0x05,
        }
    }
}

/// Content rotation, clockwise, relative to the controller's native portrait orientation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Rotation {
    /// Native orientation.
    #[default]
    Deg0,
    /// 90° clockwise (landscape for a portrait panel).
    Deg90,
    /// 180°.
    Deg180,
    /// 270° clockwise.
    Deg270,
}

impl Rotation {
    /// From degrees (0, 90, 180, 270).
    pub const fn from_degrees(deg: u16) -> Option<Self> {
        match deg {
            0 => Some(Self::Deg0),
            90 => Some(Self::Deg90),
            180 => Some(Self::Deg180),
            270 => Some(Self::Deg270),
            _ => None,
        }
    }

    /// In degrees.
    pub const fn degrees(self) -> u16 {
        match self {
            Self::Deg0 => 0,
            Self::Deg90 => 90,
            Self::Deg180 => 180,
            Self::Deg270 => 270,
        }
    }

    /// MADCTL address bits (MY, MX, MV) for this rotation on an unmirrored glass.
    pub const fn madctl_bits(self) -> u8 {
        match self {
            Self::Deg0 => 0,
            Self::Deg90 => madctl::MV | madctl::MX,
            Self::Deg180 => madctl::MX | madctl::MY,
            Self::Deg270 => madctl::MV | madctl::MY,
        }
    }
}

/// Order of the colour filters on the glass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ColorOrder {
    /// Red in the high bits of RGB565.
    #[default]
    Rgb,
    /// Blue and red swapped (MADCTL.BGR set).
    Bgr,
}

/// Everything the driver needs to know about one panel; see the module docs for the geometry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PanelConfig {
    /// The controller.
    pub controller: Controller,
    /// Content rotation.
    pub rotation: Rotation,
    /// The glass shows native columns right to left (most ILI9341 modules): toggles MADCTL.MX in
    /// every rotation, so rotations stay rotations.
    pub mirrored: bool,
    /// Colour filter order.
    pub color_order: ColorOrder,
    /// Send INVON (IPS panels, most ST7789 modules, need it for true colours).
    pub invert: bool,
    /// Glass size in native (portrait) orientation, (width, height).
    pub size: (u16, u16),
    /// Glass position inside the GRAM, native coordinates, (column, row).
    pub offset: (u16, u16),
}

impl PanelConfig {
    /// The usual module for `controller`: ILI9341 240x320 mirrored BGR; ST7789 240x320 RGB
    /// inverted; ST7735 128x160 "green tab" at (2, 1), BGR.
    pub const fn new(controller: Controller) -> Self {
        match controller {
            Controller::Ili9341 => Self {
                controller,
                rotation: Rotation::Deg0,
                mirrored: true,
                color_order: ColorOrder::Bgr,
                invert: false,
                size: (240, 320),
                offset: (0, 0),
            },
            Controller::St7789 => Self {
                controller,
                rotation: Rotation::Deg0,
                mirrored: false,
                color_order: ColorOrder::Rgb,
                invert: true,
                size: (240, 320),
                offset: (0, 0),
            },
            Controller::St7735 => Self {
                controller,
                rotation: Rotation::Deg0,
                mirrored: false,
                color_order: ColorOrder::Bgr,
                invert: false,
                size: (128, 160),
                offset: (2, 1),
            },
        }
    }

    /// This configuration with another rotation.
    #[must_use]
    pub const fn with_rotation(mut self, rotation: Rotation) -> Self {
        self.rotation = rotation;
        self
    }

    /// This configuration with another glass size and offset (native coordinates).
    #[must_use]
    pub const fn with_glass(mut self, size: (u16, u16), offset: (u16, u16)) -> Self {
        self.size = size;
        self.offset = offset;
        self
    }

    /// True when rows and columns are exchanged (90° and 270°).
    pub const fn swaps_axes(&self) -> bool {
        matches!(self.rotation, Rotation::Deg90 | Rotation::Deg270)
    }

    /// Width of the content as the server sees it (after rotation).
    pub const fn width(&self) -> u16 {
        if self.swaps_axes() {
            self.size.1
        } else {
            self.size.0
        }
    }

    /// Height of the content as the server sees it (after rotation).
    pub const fn height(&self) -> u16 {
        if self.swaps_axes() {
            self.size.0
        } else {
            self.size.1
        }
    }

    /// The MADCTL value: rotation bits, MX toggled for a mirrored glass, BGR.
    pub const fn madctl(&self) -> u8 {
        let mut v = self.rotation.madctl_bits();
        if self.mirrored {
            v ^= madctl::MX;
        }
        if matches!(self.color_order, ColorOrder::Bgr) {
            v |= madctl::BGR;
        }
        v
    }

    /// Offsets added to logical (column, row) to get CASET/RASET addresses, so that logical (0, 0)
    /// is the glass corner the rotation shows top left.
    pub const fn address_offset(&self) -> (u16, u16) {
        let (gram_w, gram_h) = self.controller.gram_size();
        let m = self.madctl();
        // Address offset along the native x axis, then the native y axis.
        let nx = if m & madctl::MX != 0 {
            gram_w
                .saturating_sub(self.offset.0)
                .saturating_sub(self.size.0)
        } else {
            self.offset.0
        };
        let ny = if m & madctl::MY != 0 {
            gram_h
                .saturating_sub(self.offset.1)
                .saturating_sub(self.size.1)
        } else {
            self.offset.1
        };
        if m & madctl::MV != 0 {
            (ny, nx)
        } else {
            (nx, ny)
        }
    }

    /// Checks that the glass lies inside the controller's GRAM and is not empty.
    pub const fn validate(&self) -> Result<(), &'static str> {
        let (gram_w, gram_h) = self.controller.gram_size();
        if self.size.0 == 0 || self.size.1 == 0 {
            return Err("panel WIDTH and HEIGHT must be at least 1");
        }
        if self.offset.0 as u32 + self.size.0 as u32 > gram_w as u32
            || self.offset.1 as u32 + self.size.1 as u32 > gram_h as u32
        {
            return Err(
                "panel WIDTH/HEIGHT plus OFFSET_X/OFFSET_Y exceed the controller's GRAM \
                 (ILI9341/ST7789 240x320, ST7735 132x162; give them in portrait orientation)",
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ili9341_madctl_matches_the_vendor_rotation_table() {
        // Adafruit_ILI9341::setRotation 0..3: MX|BGR, MV|BGR, MY|BGR, MX|MY|MV|BGR.
        let c = PanelConfig::new(Controller::Ili9341);
        let got: [u8; 4] = [
            c.with_rotation(Rotation::Deg0).madctl(),
            c.with_rotation(Rotation::Deg90).madctl(),
            c.with_rotation(Rotation::Deg180).madctl(),
            c.with_rotation(Rotation::Deg270).madctl(),
        ];
        assert_eq!(got, [0x48, 0x28, 0x88, 0xE8]);
    }

    #[test]
    fn st7789_240x240_offsets_follow_the_mirrored_axis() {
        let c = PanelConfig::new(Controller::St7789).with_glass((240, 240), (0, 0));
        let off = |r| c.with_rotation(r).address_offset();
        assert_eq!(off(Rotation::Deg0), (0, 0));
        assert_eq!(off(Rotation::Deg90), (0, 0));
        assert_eq!(off(Rotation::Deg180), (0, 80));
        assert_eq!(off(Rotation::Deg270), (80, 0));
    }

    #[test]
    fn st7789_135x240_uses_52_and_53() {
        // TTGO T-Display: the glass sits at (52, 40); the mirrored axis needs 240-52-135 = 53.
        let c = PanelConfig::new(Controller::St7789).with_glass((135, 240), (52, 40));
        assert_eq!(c.with_rotation(Rotation::Deg0).address_offset(), (52, 40));
        assert_eq!(c.with_rotation(Rotation::Deg90).address_offset(), (40, 53));
        assert_eq!(c.with_rotation(Rotation::Deg180).address_offset(), (53, 40));
        assert_eq!((c.width(), c.height()), (135, 240));
        let l = c.with_rotation(Rotation::Deg270);
        assert_eq!((l.width(), l.height()), (240, 135));
    }

    #[test]
    fn bad_glass_is_rejected() {
        let c = PanelConfig::new(Controller::St7735).with_glass((128, 160), (5, 3));
        assert!(c.validate().is_err());
        assert!(PanelConfig::new(Controller::St7735).validate().is_ok());
        assert!(
            PanelConfig::new(Controller::Ili9341)
                .with_glass((0, 10), (0, 0))
                .validate()
                .is_err()
        );
    }
}
