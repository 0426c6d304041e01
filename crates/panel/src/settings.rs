//! Parsing of the firmware's build-time settings (`PANEL`, `ROTATION`, `SERVER`, …; see
//! `docs/firmware.md`, "Configuration"). Everything is a `const fn` so the firmware evaluates it in a
//! `const` item: a bad value fails the build with the message below instead of booting a device that
//! cannot work. The same functions are tested on the host.
//!
//! [`display_config`] is what the firmware asks: a DCS TFT ([`panel_config`]) or an SSD1306-class
//! monochrome OLED ([`MonoConfig`]); [`spi_mhz`] checks the SPI clock against it.

use crate::dcs::{ColorOrder, Controller, PanelConfig, Rotation};

/// The raw values of the panel settings, as `option_env!` gives them (`None` = not set, and an
/// empty string counts as not set).
#[derive(Debug, Clone, Copy, Default)]
pub struct PanelSettings<'a> {
    /// `ili9341`, `st7789`, `st7735` ([`panel_config`]) or `ssd1306` ([`display_config`])
    /// (case-insensitive). Default `ili9341`.
    pub panel: Option<&'a str>,
    /// `0`, `90`, `180` or `270`. Default `90` (landscape); an SSD1306 takes `0` (default) or
    /// `180`.
    pub rotation: Option<&'a str>,
    /// `0`/`1` (or `false`/`true`): INVON. Default: the controller's usual module.
    pub invert: Option<&'a str>,
    /// `0`/`1`: BGR colour order. Default: the controller's usual module.
    pub bgr: Option<&'a str>,
    /// `0`/`1`: the glass is mirrored (ILI9341 modules are). Default: the controller's usual module.
    pub mirror: Option<&'a str>,
    /// Glass width in portrait orientation, pixels (an SSD1306: 128).
    pub width: Option<&'a str>,
    /// Glass height in portrait orientation, pixels (an SSD1306: 64 or 32).
    pub height: Option<&'a str>,
    /// Glass column offset in the GRAM (portrait).
    pub offset_x: Option<&'a str>,
    /// Glass row offset in the GRAM (portrait).
    pub offset_y: Option<&'a str>,
}

const fn set(v: Option<&str>) -> Option<&str> {
    match v {
        Some(s) if !s.is_empty() => Some(s),
        _ => None,
    }
}

const fn eq_ignore_case(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if !a[i].eq_ignore_ascii_case(&b[i]) {
            return false;
        }
        i += 1;
    }
    true
}

/// Parses a decimal `u16` (no sign, no spaces).
pub const fn parse_u16(s: &str) -> Option<u16> {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 5 {
        return None;
    }
    let mut v: u32 = 0;
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            return None;
        }
        v = v * 10 + (b[i] - b'0') as u32;
        i += 1;
    }
    if v > u16::MAX as u32 {
        None
    } else {
        Some(v as u16)
    }
}

const fn parse_bool(s: &str) -> Option<bool> {
    if eq_ignore_case(s, "1") || eq_ignore_case(s, "true") || eq_ignore_case(s, "yes") {
        Some(true)
    } else if eq_ignore_case(s, "0") || eq_ignore_case(s, "false") || eq_ignore_case(s, "no") {
        Some(false)
    } else {
        None
    }
}

/// Builds the configuration of a DCS panel (ILI9341, ST7789, ST7735) from the settings; any other
/// `PANEL` is refused.
pub const fn panel_config(s: PanelSettings<'_>) -> Result<PanelConfig, &'static str> {
    let controller = match set(s.panel) {
        None => Controller::Ili9341,
        Some(p) if eq_ignore_case(p, "ili9341") => Controller::Ili9341,
        Some(p) if eq_ignore_case(p, "st7789") => Controller::St7789,
        Some(p) if eq_ignore_case(p, "st7735") => Controller::St7735,
        Some(_) => return Err("PANEL must be ili9341, st7789 or st7735"),
    };
    let mut c = PanelConfig::new(controller);
    c.rotation = match set(s.rotation) {
        None => Rotation::Deg90,
        Some(r) => match parse_u16(r) {
            Some(deg) => match Rotation::from_degrees(deg) {
                Some(r) => r,
                None => return Err("ROTATION must be 0, 90, 180 or 270"),
            },
            None => return Err("ROTATION must be 0, 90, 180 or 270"),
        },
    };
    if let Some(v) = set(s.invert) {
        match parse_bool(v) {
            Some(b) => c.invert = b,
            None => return Err("INVERT must be 0 or 1"),
        }
    }
    if let Some(v) = set(s.bgr) {
        match parse_bool(v) {
            Some(b) => c.color_order = if b { ColorOrder::Bgr } else { ColorOrder::Rgb },
            None => return Err("BGR must be 0 or 1"),
        }
    }
    if let Some(v) = set(s.mirror) {
        match parse_bool(v) {
            Some(b) => c.mirrored = b,
            None => return Err("MIRROR must be 0 or 1"),
        }
    }
    let mut size = c.size;
    let mut offset = c.offset;
    match set(s.width) {
        None => {}
        Some(v) => match parse_u16(v) {
            Some(n) => size.0 = n,
            None => return Err("WIDTH must be a number of pixels"),
        },
    }
    match set(s.height) {
        None => {}
        Some(v) => match parse_u16(v) {
            Some(n) => size.1 = n,
            None => return Err("HEIGHT must be a number of pixels"),
        },
    }
    match set(s.offset_x) {
        None => {}
        Some(v) => match parse_u16(v) {
            Some(n) => offset.0 = n,
            None => return Err("OFFSET_X must be a number of pixels"),
        },
    }
    match set(s.offset_y) {
        None => {}
        Some(v) => match parse_u16(v) {
            Some(n) => offset.1 = n,
            None => return Err("OFFSET_Y must be a number of pixels"),
        },
    }
    c = c.with_glass(size, offset);
    match c.validate() {
        Ok(()) => Ok(c),
        Err(e) => Err(e),
    }
}

/// An SSD1306-class monochrome OLED on 4-wire SPI (`PANEL=ssd1306`,
/// [`crate::ssd1306::Ssd1306`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonoConfig {
    /// Width in pixels: 128.
    pub width: u16,
    /// Height in pixels: 64 or 32.
    pub height: u16,
    /// 0°, or 180° for a module mounted upside down.
    pub rotation: Rotation,
}

impl MonoConfig {
    /// The controller's name, as settings and the status screen spell it.
    pub const NAME: &'static str = "ssd1306";
    /// Bytes of the framebuffer of the largest module (128x64, 1 bit a pixel).
    pub const MAX_FRAME_BYTES: usize = 128 * 64 / 8;
    /// The controller's fastest serial write clock (SSD1306 datasheet, 4-wire SPI: a 100 ns
    /// clock cycle).
    pub const MAX_SPI_MHZ: u32 = 10;
}

/// What `PANEL` asks for; see [`display_config`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisplayConfig {
    /// A MIPI DCS TFT, RGB565.
    Dcs(PanelConfig),
    /// An SSD1306-class OLED, `mono1`.
    Mono(MonoConfig),
}

impl DisplayConfig {
    /// The controller's name.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Dcs(c) => c.controller.name(),
            Self::Mono(_) => MonoConfig::NAME,
        }
    }

    /// Width after rotation, as HELLO declares it.
    pub const fn width(&self) -> u16 {
        match self {
            Self::Dcs(c) => c.width(),
            Self::Mono(m) => m.width,
        }
    }

    /// Height after rotation.
    pub const fn height(&self) -> u16 {
        match self {
            Self::Dcs(c) => c.height(),
            Self::Mono(m) => m.height,
        }
    }

    /// Content rotation.
    pub const fn rotation(&self) -> Rotation {
        match self {
            Self::Dcs(c) => c.rotation,
            Self::Mono(m) => m.rotation,
        }
    }

    /// The SPI clock when `SPI_MHZ` is not set: 40 MHz for a DCS panel (2.5 Mpixel/s), the
    /// controller's limit of 10 MHz for an SSD1306 (a whole 128x64 frame in 0.8 ms).
    pub const fn default_spi_mhz(&self) -> u32 {
        match self {
            Self::Dcs(_) => 40,
            Self::Mono(_) => MonoConfig::MAX_SPI_MHZ,
        }
    }
}

/// Builds the display configuration from the settings: `PANEL=ssd1306` is a [`MonoConfig`]
/// (128x64 unless `HEIGHT=32`, `ROTATION` 0 or 180, no colour, mirroring or offset settings);
/// anything else goes to [`panel_config`].
pub const fn display_config(s: PanelSettings<'_>) -> Result<DisplayConfig, &'static str> {
    match set(s.panel) {
        Some(p) if eq_ignore_case(p, MonoConfig::NAME) => match mono_config(s) {
            Ok(m) => Ok(DisplayConfig::Mono(m)),
            Err(e) => Err(e),
        },
        Some(p)
            if !eq_ignore_case(p, "ili9341")
                && !eq_ignore_case(p, "st7789")
                && !eq_ignore_case(p, "st7735") =>
        {
            Err("PANEL must be ili9341, st7789, st7735 or ssd1306")
        }
        _ => match panel_config(s) {
            Ok(c) => Ok(DisplayConfig::Dcs(c)),
            Err(e) => Err(e),
        },
    }
}

const fn mono_config(s: PanelSettings<'_>) -> Result<MonoConfig, &'static str> {
    const SIZE: &str = "WIDTH x HEIGHT must be 128x64 or 128x32 for ssd1306";
    let rotation = match set(s.rotation) {
        None => Rotation::Deg0,
        Some(r) => match parse_u16(r) {
            Some(0) => Rotation::Deg0,
            Some(180) => Rotation::Deg180,
            _ => {
                return Err(
                    "ROTATION must be 0 or 180 for ssd1306 (180 for a module mounted upside down)",
                );
            }
        },
    };
    if set(s.invert).is_some() {
        return Err("INVERT does not apply to ssd1306: leave it empty");
    }
    if set(s.bgr).is_some() {
        return Err("BGR does not apply to ssd1306 (monochrome): leave it empty");
    }
    if set(s.mirror).is_some() {
        return Err("MIRROR does not apply to ssd1306: leave it empty (ROTATION=180 turns it)");
    }
    if set(s.offset_x).is_some() || set(s.offset_y).is_some() {
        return Err("OFFSET_X and OFFSET_Y do not apply to ssd1306: leave them empty");
    }
    let width = match set(s.width) {
        None => 128,
        Some(v) => match parse_u16(v) {
            Some(128) => 128,
            _ => return Err(SIZE),
        },
    };
    let height = match set(s.height) {
        None => 64,
        Some(v) => match parse_u16(v) {
            Some(h) if h == 64 || h == 32 => h,
            _ => return Err(SIZE),
        },
    };
    Ok(MonoConfig {
        width,
        height,
        rotation,
    })
}

/// The SPI clock in MHz from `SPI_MHZ` (empty: the display's
/// [`DisplayConfig::default_spi_mhz`]): 80 divided by an integer (the ESP32-C3's SPI clock
/// dividers; 26 stands for 80/3), and at most 10 for an SSD1306.
pub const fn spi_mhz(setting: Option<&str>, display: &DisplayConfig) -> Result<u32, &'static str> {
    let mhz = match set(setting) {
        None => return Ok(display.default_spi_mhz()),
        Some(s) => match parse_u16(s) {
            Some(m) if m >= 1 && m <= 80 && 80 % m == 0 => m as u32,
            Some(26) => 26,
            _ => {
                return Err(
                    "SPI_MHZ must be 80 divided by an integer: 80, 40, 26, 20, 16, 10, 8, 5, ...",
                );
            }
        },
    };
    match display {
        DisplayConfig::Mono(_) if mhz > MonoConfig::MAX_SPI_MHZ => Err(
            "SPI_MHZ must be at most 10 for ssd1306 (its datasheet write clock limit): 10, 8, 5, 4, ...",
        ),
        _ => Ok(mhz),
    }
}

/// A server address: IPv4 and TCP port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerAddr {
    /// IPv4 address octets.
    pub ip: [u8; 4],
    /// TCP port (the server's display port, 8888 by default).
    pub port: u16,
}

/// Parses `a.b.c.d` or `a.b.c.d:port` (port 8888 when absent). Host names are not resolved.
pub const fn parse_server(s: &str) -> Result<ServerAddr, &'static str> {
    const ERR: &str =
        "SERVER must be an IPv4 address with an optional port, e.g. 192.168.1.10:8888";
    let b = s.as_bytes();
    let mut ip = [0u8; 4];
    let mut part = 0usize;
    let mut value: u32 = 0;
    let mut digits = 0;
    let mut i = 0;
    let mut port: u32 = 8888;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() {
            value = value * 10 + (c - b'0') as u32;
            digits += 1;
            if digits > 3 || value > 255 {
                return Err(ERR);
            }
        } else if c == b'.' || c == b':' {
            if digits == 0 || part > 3 {
                return Err(ERR);
            }
            ip[part] = value as u8;
            part += 1;
            value = 0;
            digits = 0;
            if c == b':' {
                if part != 4 {
                    return Err(ERR);
                }
                // The rest is the port.
                let (_, rest) = b.split_at(i + 1);
                let mut p: u32 = 0;
                let mut j = 0;
                if rest.is_empty() || rest.len() > 5 {
                    return Err(ERR);
                }
                while j < rest.len() {
                    if !rest[j].is_ascii_digit() {
                        return Err(ERR);
                    }
                    p = p * 10 + (rest[j] - b'0') as u32;
                    j += 1;
                }
                if p == 0 || p > 65535 {
                    return Err(ERR);
                }
                port = p;
                return Ok(ServerAddr {
                    ip,
                    port: port as u16,
                });
            }
        } else {
            return Err(ERR);
        }
        i += 1;
    }
    if part != 3 || digits == 0 {
        return Err(ERR);
    }
    ip[3] = value as u8;
    Ok(ServerAddr {
        ip,
        port: port as u16,
    })
}

/// Checks a device id the way the server does (`docs/protocol.md`, HELLO): 1..=32 bytes of
/// `[A-Za-z0-9._-]`.
pub const fn valid_device_id(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 32 {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if !(c.is_ascii_alphanumeric() || c == b'.' || c == b'_' || c == b'-') {
            return false;
        }
        i += 1;
    }
    true
}

/// The device id used when `DEVICE_ID` is not set: `pxw-` and the WiFi MAC in hex, stable across
/// reboots and unique per board.
pub fn device_id_from_mac(mac: [u8; 6]) -> pixelwire_proto::ShortStr<32> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 16];
    buf[..4].copy_from_slice(b"pxw-");
    for (i, b) in mac.iter().enumerate() {
        buf[4 + 2 * i] = HEX[usize::from(b >> 4)];
        buf[5 + 2 * i] = HEX[usize::from(b & 0x0F)];
    }
    // Only ASCII was written, so this is valid UTF-8.
    pixelwire_proto::ShortStr::truncating(core::str::from_utf8(&buf).unwrap_or("pxw-device"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers() {
        assert_eq!(
            parse_server("192.168.1.10:8888"),
            Ok(ServerAddr {
                ip: [192, 168, 1, 10],
                port: 8888
            })
        );
        assert_eq!(parse_server("10.0.0.2").map(|s| s.port), Ok(8888));
        assert_eq!(parse_server("10.0.0.2:1").map(|s| s.port), Ok(1));
        for bad in [
            "",
            "10.0.0",
            "10.0.0.256",
            "10.0.0.1:",
            "10.0.0.1:70000",
            "10.0.0.1:0",
            "host:8888",
            "1.2.3.4.5",
            "1..2.3",
            "1.2.3.4:88a",
        ] {
            assert!(parse_server(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn panels() {
        let c = panel_config(PanelSettings::default()).unwrap();
        assert_eq!(c.controller, Controller::Ili9341);
        assert_eq!((c.width(), c.height()), (320, 240));
        let s = PanelSettings {
            panel: Some("ST7789"),
            rotation: Some("0"),
            width: Some("240"),
            height: Some("240"),
            invert: Some("1"),
            bgr: Some("0"),
            ..Default::default()
        };
        let c = panel_config(s).unwrap();
        assert_eq!(
            (c.controller, c.size, c.invert),
            (Controller::St7789, (240, 240), true)
        );
        assert_eq!(c.color_order, ColorOrder::Rgb);
        for bad in [
            PanelSettings {
                panel: Some("ssd1306"),
                ..Default::default()
            },
            PanelSettings {
                rotation: Some("45"),
                ..Default::default()
            },
            PanelSettings {
                invert: Some("maybe"),
                ..Default::default()
            },
            PanelSettings {
                width: Some("300"),
                ..Default::default()
            },
        ] {
            assert!(panel_config(bad).is_err());
        }
        // Empty strings (an unset `[env]` entry) mean "default".
        let c = panel_config(PanelSettings {
            panel: Some(""),
            rotation: Some(""),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.rotation, Rotation::Deg90);
    }

    #[test]
    fn mono_panels() {
        let mono = |s: PanelSettings<'static>| {
            display_config(PanelSettings {
                panel: Some("SSD1306"),
                ..s
            })
        };
        let m = |width, height, rotation| {
            Ok(DisplayConfig::Mono(MonoConfig {
                width,
                height,
                rotation,
            }))
        };
        assert_eq!(mono(PanelSettings::default()), m(128, 64, Rotation::Deg0));
        // Empty strings (the `[env]` placeholders) mean "default".
        let empty = PanelSettings {
            rotation: Some(""),
            width: Some(""),
            height: Some(""),
            invert: Some(""),
            bgr: Some(""),
            mirror: Some(""),
            offset_x: Some(""),
            offset_y: Some(""),
            ..Default::default()
        };
        assert_eq!(mono(empty), m(128, 64, Rotation::Deg0));
        let s = PanelSettings {
            rotation: Some("180"),
            width: Some("128"),
            height: Some("32"),
            ..Default::default()
        };
        assert_eq!(mono(s), m(128, 32, Rotation::Deg180));
        let c = mono(s).unwrap();
        assert_eq!(
            (c.name(), c.width(), c.height(), c.rotation()),
            ("ssd1306", 128, 32, Rotation::Deg180)
        );
        for (bad, why) in [
            (
                PanelSettings {
                    width: Some("320"),
                    height: Some("240"),
                    ..Default::default()
                },
                "WIDTH x HEIGHT must be 128x64 or 128x32 for ssd1306",
            ),
            (
                PanelSettings {
                    height: Some("48"),
                    ..Default::default()
                },
                "WIDTH x HEIGHT must be 128x64 or 128x32 for ssd1306",
            ),
            (
                PanelSettings {
                    width: Some("64"),
                    ..Default::default()
                },
                "WIDTH x HEIGHT must be 128x64 or 128x32 for ssd1306",
            ),
            (
                PanelSettings {
                    rotation: Some("90"),
                    ..Default::default()
                },
                "ROTATION must be 0 or 180 for ssd1306 (180 for a module mounted upside down)",
            ),
            (
                PanelSettings {
                    bgr: Some("1"),
                    ..Default::default()
                },
                "BGR does not apply to ssd1306 (monochrome): leave it empty",
            ),
            (
                PanelSettings {
                    invert: Some("1"),
                    ..Default::default()
                },
                "INVERT does not apply to ssd1306: leave it empty",
            ),
            (
                PanelSettings {
                    mirror: Some("0"),
                    ..Default::default()
                },
                "MIRROR does not apply to ssd1306: leave it empty (ROTATION=180 turns it)",
            ),
            (
                PanelSettings {
                    offset_y: Some("2"),
                    ..Default::default()
                },
                "OFFSET_X and OFFSET_Y do not apply to ssd1306: leave them empty",
            ),
        ] {
            assert_eq!(mono(bad), Err(why), "{bad:?}");
        }
        // The DCS panels pass through; an unknown one names all four.
        assert_eq!(
            display_config(PanelSettings::default()),
            Ok(DisplayConfig::Dcs(
                panel_config(PanelSettings::default()).unwrap()
            ))
        );
        let c = display_config(PanelSettings::default()).unwrap();
        assert_eq!(
            (c.name(), c.width(), c.height(), c.rotation()),
            ("ili9341", 320, 240, Rotation::Deg90)
        );
        assert_eq!(
            display_config(PanelSettings {
                panel: Some("sh1106"),
                ..Default::default()
            }),
            Err("PANEL must be ili9341, st7789, st7735 or ssd1306")
        );
        assert_eq!(
            display_config(PanelSettings {
                panel: Some("st7789"),
                rotation: Some("45"),
                ..Default::default()
            }),
            Err("ROTATION must be 0, 90, 180 or 270")
        );
    }

    #[test]
    fn spi_clocks() {
        let dcs = display_config(PanelSettings::default()).unwrap();
        let mono = display_config(PanelSettings {
            panel: Some("ssd1306"),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(spi_mhz(None, &dcs), Ok(40));
        assert_eq!(spi_mhz(Some(""), &dcs), Ok(40));
        assert_eq!(spi_mhz(Some(""), &mono), Ok(10));
        for (s, want) in [("80", 80), ("26", 26), ("20", 20), ("10", 10), ("1", 1)] {
            assert_eq!(spi_mhz(Some(s), &dcs), Ok(want), "{s}");
        }
        for s in ["10", "8", "5", "1"] {
            assert!(spi_mhz(Some(s), &mono).is_ok(), "{s}");
        }
        for s in ["0", "30", "81", "fast", "-1"] {
            assert!(spi_mhz(Some(s), &dcs).is_err(), "{s}");
        }
        for s in ["40", "20", "16", "26"] {
            assert_eq!(
                spi_mhz(Some(s), &mono),
                Err(
                    "SPI_MHZ must be at most 10 for ssd1306 (its datasheet write clock limit): \
                     10, 8, 5, 4, ..."
                ),
                "{s}"
            );
        }
    }

    #[test]
    fn device_ids() {
        assert!(valid_device_id("desk-1"));
        assert!(!valid_device_id(""));
        assert!(!valid_device_id("a b"));
        let id = device_id_from_mac([0x34, 0x85, 0x18, 0x00, 0xAB, 0xCD]);
        assert_eq!(id.as_str(), "pxw-34851800abcd");
        assert!(valid_device_id(id.as_str()));
    }
}
