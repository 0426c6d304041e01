//! The firmware's own screens, in the style of the seed-000 sketch's "BIOS" status page
//! (`seed-protocols.md` §A.4: blue background, grey labels, white values, a header and a footer):
//! device and firmware, panel, WiFi (SSID, state, signal), IP address, server, link state, retry
//! count and the last error. Shown at boot and until the first frame arrives; after that a lost
//! connection only overlays one line at the bottom ([`draw_overlay`]) so the last image stays.
//!
//! Panels under [`COMPACT_BELOW_ROWS`] rows (128x64 and 128x32 OLEDs) get a compact screen
//! without labels, its lines in order of importance.
//!
//! Drawn with `embedded-graphics` in RGB565 through [`Display::paint`]: band by band into one strip
//! buffer on a DCS panel, into the packed framebuffer on a monochrome one, where the dark
//! background goes dark and the light text lit ([`crate::canvas`]).

use crate::display::{Display, Painter};
use core::convert::Infallible;
use core::fmt::Write as _;
use embedded_graphics::mono_font::MonoTextStyle;
use embedded_graphics::mono_font::ascii::FONT_6X10;
use embedded_graphics::pixelcolor::Rgb565;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{Line, PrimitiveStyle, Rectangle};
use embedded_graphics::text::{Baseline, Text};

/// Background of the status screen (seed 000: `TFT_BLUE`).
pub const BACKGROUND: Rgb565 = Rgb565::new(0, 0, 21);
/// Labels (`TFT_LIGHTGREY`).
pub const LABEL: Rgb565 = Rgb565::new(24, 48, 24);
/// Values.
pub const VALUE: Rgb565 = Rgb565::WHITE;
/// Problems.
pub const ALERT: Rgb565 = Rgb565::new(31, 50, 0);
/// Background of the overlay line.
pub const OVERLAY: Rgb565 = Rgb565::new(16, 0, 0);

const CHAR_W: i32 = 6;
const LINE_H: i32 = 13;
const MARGIN: i32 = 4;
const LABEL_CHARS: i32 = 9;

/// Text of at most `N` bytes built with `write!`, cut (at a character boundary) when full.
#[derive(Clone, Copy)]
pub struct TextBuf<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> TextBuf<N> {
    /// Empty text.
    pub const fn new() -> Self {
        Self {
            buf: [0; N],
            len: 0,
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        let b = self.buf.get(..self.len).unwrap_or(&[]);
        // Only whole characters are ever copied in (see `write_str`).
        core::str::from_utf8(b).unwrap_or("")
    }

    /// Forgets the text.
    pub fn clear(&mut self) {
        self.len = 0;
    }
}

impl<const N: usize> Default for TextBuf<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> core::fmt::Debug for TextBuf<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<const N: usize> core::fmt::Write for TextBuf<N> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let room = N - self.len;
        let mut k = s.len().min(room);
        while !s.is_char_boundary(k) {
            k -= 1;
        }
        if let Some(dst) = self.buf.get_mut(self.len..self.len + k) {
            dst.copy_from_slice(&s.as_bytes()[..k]);
            self.len += k;
        }
        Ok(())
    }
}

/// What the status screen shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct StatusInfo<'a> {
    /// Device id sent in HELLO.
    pub device_id: &'a str,
    /// Firmware version.
    pub firmware: &'a str,
    /// Panel description, e.g. `ili9341 320x240 rot 90`.
    pub panel: &'a str,
    /// WiFi network name.
    pub ssid: &'a str,
    /// WiFi state, e.g. `connected`, `connecting`, `failed: auth`.
    pub wifi: &'a str,
    /// Signal, dBm (0 = unknown).
    pub rssi_dbm: i8,
    /// IPv4 address once DHCP gave one.
    pub ip: Option<[u8; 4]>,
    /// Server address as configured.
    pub server: &'a str,
    /// Link state, e.g. `connecting`, `streaming`, `retry in 4 s`.
    pub link: &'a str,
    /// Failed connection attempts in a row.
    pub retries: u32,
    /// Why the last connection ended (empty if none).
    pub last_error: &'a str,
}

/// Lays the status screen out for a `width`-pixel-wide panel and draws what falls into `canvas`.
fn draw_screen<T>(canvas: &mut T, width: u16, height: u16, s: &StatusInfo<'_>)
where
    T: DrawTarget<Color = Rgb565, Error = Infallible>,
{
    let w = i32::from(width);
    let h = i32::from(height);
    let _ = canvas.clear(BACKGROUND);
    let title = MonoTextStyle::new(&FONT_6X10, VALUE);
    let label = MonoTextStyle::new(&FONT_6X10, LABEL);
    let value = MonoTextStyle::new(&FONT_6X10, VALUE);
    let alert = MonoTextStyle::new(&FONT_6X10, ALERT);
    let rule = PrimitiveStyle::with_stroke(LABEL, 1);
    let cols = ((w - MARGIN * 2) / CHAR_W).max(1) as usize;
    let value_x = MARGIN + LABEL_CHARS * CHAR_W;
    let value_cols = ((w - value_x - MARGIN) / CHAR_W).max(1) as usize;

    let mut y = 3;
    let _ = Text::with_baseline(
        cut("pixelwire display - System Overview", cols),
        Point::new(MARGIN, y),
        title,
        Baseline::Top,
    )
    .draw(canvas);
    y += LINE_H;
    let _ = Line::new(Point::new(0, y - 2), Point::new(w - 1, y - 2))
        .into_styled(rule)
        .draw(canvas);
    y += 2;

    let row = |canvas: &mut T, y: &mut i32, name: &str, text: &str, bad: bool| {
        let _ =
            Text::with_baseline(name, Point::new(MARGIN, *y), label, Baseline::Top).draw(canvas);
        let style = if bad { alert } else { value };
        let _ = Text::with_baseline(
            cut(text, value_cols),
            Point::new(value_x, *y),
            style,
            Baseline::Top,
        )
        .draw(canvas);
        *y += LINE_H;
    };

    let mut t: TextBuf<64> = TextBuf::new();
    row(canvas, &mut y, "Device", s.device_id, false);
    row(canvas, &mut y, "Firmware", s.firmware, false);
    row(canvas, &mut y, "Panel", s.panel, false);
    row(canvas, &mut y, "SSID", s.ssid, false);
    t.clear();
    let _ = write!(t, "[{}]", s.wifi);
    if s.rssi_dbm != 0 {
        let _ = write!(t, " {} dBm", s.rssi_dbm);
    }
    row(
        canvas,
        &mut y,
        "WiFi",
        t.as_str(),
        !s.wifi.starts_with("connected"),
    );
    t.clear();
    match s.ip {
        Some([a, b, c, d]) => {
            let _ = write!(t, "[{a}.{b}.{c}.{d}]");
        }
        None => {
            let _ = write!(t, "[-.-.-.-]");
        }
    }
    row(canvas, &mut y, "IP", t.as_str(), s.ip.is_none());
    row(canvas, &mut y, "Server", s.server, false);
    t.clear();
    let _ = write!(t, "[{}]", s.link);
    row(canvas, &mut y, "Link", t.as_str(), s.retries > 0);
    t.clear();
    let _ = write!(t, "{}", s.retries);
    row(canvas, &mut y, "Retries", t.as_str(), s.retries > 0);
    // The last error may need several lines.
    let mut rest = if s.last_error.is_empty() {
        "-"
    } else {
        s.last_error
    };
    let mut first = true;
    while !rest.is_empty() && y + LINE_H < h - LINE_H - 2 {
        let line = cut(rest, value_cols);
        let name = if first { "Error" } else { "" };
        row(canvas, &mut y, name, line, !s.last_error.is_empty());
        rest = rest.get(line.len()..).unwrap_or("");
        first = false;
    }

    let footer_y = h - LINE_H;
    let _ = Line::new(Point::new(0, footer_y - 3), Point::new(w - 1, footer_y - 3))
        .into_styled(rule)
        .draw(canvas);
    let footer = if s.link.starts_with("streaming") {
        "Receiving screen stream..."
    } else {
        "Attempting connection to host..."
    };
    let _ = Text::with_baseline(
        cut(footer, cols),
        Point::new(MARGIN, footer_y),
        label,
        Baseline::Top,
    )
    .draw(canvas);
}

/// Panels lower than this get the compact status screen ([`draw_compact`]): the full one needs
/// about 180 rows for all its lines.
pub const COMPACT_BELOW_ROWS: u16 = 120;

/// Line height of the compact screen (the font's own height: the lines touch, as on a terminal).
const COMPACT_LINE_H: i32 = 10;

/// The status screen for small panels (128x64 and 128x32 OLEDs, 160x80 TFTs): no labels, one
/// value per line in order of importance, as many lines as fit: device id, link state, WiFi (the
/// IP address once there is one), server, then the last error over the lines left (or the
/// firmware and panel when there is none). A 32-row panel shows the first three.
fn draw_compact<T>(canvas: &mut T, width: u16, height: u16, s: &StatusInfo<'_>)
where
    T: DrawTarget<Color = Rgb565, Error = Infallible>,
{
    let _ = canvas.clear(BACKGROUND);
    let value = MonoTextStyle::new(&FONT_6X10, VALUE);
    let alert = MonoTextStyle::new(&FONT_6X10, ALERT);
    let cols = ((i32::from(width) - 2) / CHAR_W).max(1) as usize;
    let lines = (i32::from(height) / COMPACT_LINE_H).max(1);
    let mut y = (i32::from(height) - lines * COMPACT_LINE_H) / 2;
    let mut room = lines;
    // Draws one line if there is room; true while there is room for more.
    let mut line = |canvas: &mut T, text: &str, bad: bool| {
        if room > 0 {
            let style = if bad { alert } else { value };
            let _ = Text::with_baseline(cut(text, cols), Point::new(1, y), style, Baseline::Top)
                .draw(canvas);
            y += COMPACT_LINE_H;
            room -= 1;
        }
        room > 0
    };
    let mut t: TextBuf<64> = TextBuf::new();
    line(canvas, s.device_id, false);
    let _ = write!(t, "[{}]", s.link);
    line(canvas, t.as_str(), s.retries > 0);
    t.clear();
    match s.ip {
        Some([a, b, c, d]) => {
            let _ = write!(t, "{a}.{b}.{c}.{d}");
        }
        None => {
            let _ = write!(t, "WiFi [{}]", s.wifi);
        }
    }
    if s.rssi_dbm != 0 {
        let _ = write!(t, " {}dBm", s.rssi_dbm);
    }
    line(canvas, t.as_str(), !s.wifi.starts_with("connected"));
    t.clear();
    let _ = write!(t, "> {}", s.server);
    line(canvas, t.as_str(), false);
    if s.last_error.is_empty() {
        line(canvas, s.firmware, false);
        line(canvas, s.panel, false);
        return;
    }
    let mut rest = s.last_error;
    while !rest.is_empty() {
        let piece = cut(rest, cols);
        rest = rest.get(piece.len()..).unwrap_or("");
        if !line(canvas, piece, true) {
            break;
        }
    }
}

/// The longest prefix of `s` of at most `chars` characters.
fn cut(s: &str, chars: usize) -> &str {
    match s.char_indices().nth(chars) {
        Some((i, _)) => s.get(..i).unwrap_or(s),
        None => s,
    }
}

/// The status screen as a [`Painter`]: the full layout, or the compact one on a small panel.
struct StatusScreen<'a, 'b> {
    info: &'a StatusInfo<'b>,
    width: u16,
    height: u16,
}

impl Painter for StatusScreen<'_, '_> {
    fn paint<T>(&self, target: &mut T)
    where
        T: DrawTarget<Color = Rgb565, Error = Infallible>,
    {
        if self.height < COMPACT_BELOW_ROWS {
            draw_compact(target, self.width, self.height, self.info);
        } else {
            draw_screen(target, self.width, self.height, self.info);
        }
    }
}

/// Draws the whole status screen on `display` ([`Display::paint`]: band by band through
/// `scratch` on a DCS panel, which must hold at least one row, through the framebuffer on a
/// monochrome one).
pub async fn draw_status<D: Display>(
    display: &mut D,
    scratch: &mut [u8],
    info: &StatusInfo<'_>,
) -> Result<(), D::Error> {
    let (width, height) = (display.width(), display.height());
    let screen = StatusScreen {
        info,
        width,
        height,
    };
    display.paint(0, height, scratch, &screen).await
}

/// Height of the overlay line, pixels.
pub const OVERLAY_ROWS: u16 = 12;

/// The overlay line as a [`Painter`].
struct OverlayLine<'a> {
    text: &'a str,
    width: u16,
    top: u16,
}

impl Painter for OverlayLine<'_> {
    fn paint<T>(&self, target: &mut T)
    where
        T: DrawTarget<Color = Rgb565, Error = Infallible>,
    {
        let area = Rectangle::new(
            Point::new(0, i32::from(self.top)),
            Size::new(u32::from(self.width), u32::from(OVERLAY_ROWS)),
        );
        let _ = target.fill_solid(&area, OVERLAY);
        let cols = ((i32::from(self.width) - 2 * MARGIN) / CHAR_W).max(1) as usize;
        let style = MonoTextStyle::new(&FONT_6X10, VALUE);
        let _ = Text::with_baseline(
            cut(self.text, cols),
            Point::new(MARGIN, i32::from(self.top) + 1),
            style,
            Baseline::Top,
        )
        .draw(target);
    }
}

/// Draws one line of `text` over the bottom of `display`, leaving the rest of the image alone.
pub async fn draw_overlay<D: Display>(
    display: &mut D,
    scratch: &mut [u8],
    text: &str,
) -> Result<(), D::Error> {
    let (width, height) = (display.width(), display.height());
    let top = height - OVERLAY_ROWS.min(height);
    let line = OverlayLine { text, width, top };
    display.paint(top, height, scratch, &line).await
}
