//! Parsing of the firmware's build-time settings (`PANEL`, `ROTATION`, `SERVER`, …; see
//! `docs/firmware.md`, "Configuration"). Everything is a `const fn` so the firmware evaluates it in a
//! `const` item: a bad value fails the build with the message below instead of booting a device that
//! cannot work. The same functions are tested on the host.

use crate::dcs::{ColorOrder, Controller, PanelConfig, Rotation};

/// The raw values of the panel settings, as `option_env!` gives them (`None` = not set, and an
/// empty string counts as not set).
#[derive(Debug, Clone, Copy, Default)]
pub struct PanelSettings<'a> {
    /// `ili9341`, `st7789` or `st7735` (case-insensitive). Default `ili9341`.
    pub panel: Option<&'a str>,
    /// `0`, `90`, `180` or `270`. Default `90` (landscape).
    pub rotation: Option<&'a str>,
    /// `0`/`1` (or `false`/`true`): INVON. Default: the controller's usual module.
    pub invert: Option<&'a str>,
    /// `0`/`1`: BGR colour order. Default: the controller's usual module.
    pub bgr: Option<&'a str>,
    /// `0`/`1`: the glass is mirrored (ILI9341 modules are). Default: the controller's usual module.
    pub mirror: Option<&'a str>,
    /// Glass width in portrait orientation, pixels.
    pub width: Option<&'a str>,
    /// Glass height in portrait orientation, pixels.
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

/// Builds the panel configuration from the settings.
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
    fn device_ids() {
        assert!(valid_device_id("desk-1"));
        assert!(!valid_device_id(""));
        assert!(!valid_device_id("a b"));
        let id = device_id_from_mac([0x34, 0x85, 0x18, 0x00, 0xAB, 0xCD]);
        assert_eq!(id.as_str(), "pxw-34851800abcd");
        assert!(valid_device_id(id.as_str()));
    }
}
