//! The BIOS setup screen: a classic text-mode POST/setup page, after seed 000's `bios_drawer.py`
//! (`reference/seed-protocols.md` §A.7) with the same colours, drawn on a monospace character grid
//! in DejaVu Sans Mono with a double-line box-drawing frame.
//!
//! The grid has at least [`MIN_COLS`] × [`MIN_ROWS`] cells. The cell width is a whole number of
//! pixels and the font size is chosen so the glyph advance equals it exactly, so horizontal
//! box-drawing glyphs join without seams (40 × 16 cells of 8 × 15 px at 320×240). Rows:
//! 0 title, 1 menu bar, 2 frame top, then the content rows, frame bottom, footer. Only the
//! `System Time` row depends on the seconds of the clock; the date row on the day and the uptime
//! row on `elapsed_ms`.

use super::canvas::{Canvas, Rgb};
use super::text::{Face, TextStyle};
use crate::source::generator::{ClockTime, Generator, RenderInput};

/// Screen background.
pub const BACKGROUND: Rgb = Rgb::new(0, 0, 170);
/// Menu bar fill.
pub const MENU_BAR: Rgb = Rgb::new(85, 85, 85);
/// Menu bar text.
pub const MENU_TEXT: Rgb = Rgb::new(255, 255, 0);
/// Row labels.
pub const LABEL: Rgb = Rgb::new(170, 170, 170);
/// Values, title, frame and footer.
pub const FOREGROUND: Rgb = Rgb::WHITE;

/// Minimum character columns of the layout.
pub const MIN_COLS: u32 = 40;
/// Minimum character rows of the layout.
pub const MIN_ROWS: u32 = 15;

const MENU: &str = " Main    Advanced    Boot    Exit ";
const FOOTER: &str = "F1:Help  F10:Save  ESC:Exit";
/// Column of the labels; values (": …") start [`LABEL_WIDTH`] columns later.
const LABEL_COL: u32 = 2;
const LABEL_WIDTH: u32 = 13;
/// Grid row of the frame's top line; the content rows follow it.
const FRAME_TOP: u32 = 2;
/// Row of `System Time`, counted from the first row inside the frame.
const ROW_TIME: u32 = 1;

/// What the BIOS screen reports about the host; injected so the renderer never reads the system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BiosInfo {
    /// Processor model, e.g. "AMD EPYC 7B13".
    pub cpu_model: String,
    /// Memory text, e.g. "23.4 GiB".
    pub memory: String,
    /// Host name.
    pub host: String,
    /// The `BIOS Version` value; [`BiosInfo::new`] sets `"pixelwire <crate version>"`.
    pub version: String,
}

impl BiosInfo {
    /// Host facts with the version set to this build's.
    pub fn new(
        cpu_model: impl Into<String>,
        memory: impl Into<String>,
        host: impl Into<String>,
    ) -> Self {
        Self {
            cpu_model: cpu_model.into(),
            memory: memory.into(),
            host: host.into(),
            version: concat!("pixelwire ", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

impl Default for BiosInfo {
    fn default() -> Self {
        Self::new("", "", "")
    }
}

/// The monospace cell grid of one screen size.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Grid {
    /// Font size, px; the advance of every glyph at this size is `cell_w`.
    px: f32,
    cell_w: u32,
    cell_h: u32,
    cols: u32,
    rows: u32,
    /// Pixel origin of cell (0, 0): the grid is centred.
    x0: u32,
    y0: u32,
    /// Baseline offset inside a cell, px.
    baseline: f32,
}

impl Grid {
    fn new(width: u32, height: u32) -> Self {
        let adv_per_px = Face::Mono.advance('0', 100.0) / 100.0;
        let (ascent, descent) = Face::Mono.ascent_descent(100.0);
        let line_per_px = (ascent + descent) / 100.0;
        let by_width = width / MIN_COLS;
        let by_height = ((height / MIN_ROWS) as f32 / line_per_px * adv_per_px).floor() as u32;
        let cell_w = by_width.min(by_height).max(3);
        let px = cell_w as f32 / adv_per_px;
        // Floor, so vertical box-drawing glyphs (which span the whole line) overlap, never gap.
        let cell_h = ((px * line_per_px).floor() as u32).max(1);
        let (cols, rows) = ((width / cell_w).max(1), (height / cell_h).max(1));
        Self {
            px,
            cell_w,
            cell_h,
            cols,
            rows,
            x0: (width.saturating_sub(cols * cell_w)) / 2,
            y0: (height.saturating_sub(rows * cell_h)) / 2,
            baseline: (ascent * px / 100.0).round(),
        }
    }

    /// Pixel rectangle (x, y, w, h) of `row`, across the whole screen width.
    fn row_rect(&self, width: u32, row: u32) -> (f32, f32, f32, f32) {
        (
            0.0,
            (self.y0 + row * self.cell_h) as f32,
            width as f32,
            self.cell_h as f32,
        )
    }
}

/// The BIOS setup screen.
pub struct BiosScreen {
    canvas: Canvas,
    grid: Grid,
    info: BiosInfo,
}

impl BiosScreen {
    /// A screen of `width` × `height` px with empty host facts (shown as "Unknown").
    pub fn new(width: u32, height: u32) -> Self {
        let canvas = Canvas::new(width, height);
        let grid = Grid::new(canvas.width(), canvas.height());
        Self {
            canvas,
            grid,
            info: BiosInfo::default(),
        }
    }

    /// Sets the host facts (builder form of [`BiosScreen::set_info`]).
    pub fn with_info(mut self, info: BiosInfo) -> Self {
        self.info = info;
        self
    }

    /// Replaces the host facts shown from the next frame on.
    pub fn set_info(&mut self, info: BiosInfo) {
        self.info = info;
    }

    /// Pixel rectangle (x, y, w, h) of the `System Time` row: the only part of the frame that
    /// changes when only the clock's seconds change.
    pub fn clock_row_rect(&self) -> (f32, f32, f32, f32) {
        self.grid
            .row_rect(self.canvas.width(), FRAME_TOP + 1 + ROW_TIME)
    }

    /// Draws `text` from cell (`col`, `row`), one glyph per cell, clipped at the last column.
    /// Box-drawing glyphs are clipped to their cell, so lines join seamlessly.
    fn put(&mut self, col: u32, row: u32, color: Rgb, text: &str) {
        let g = self.grid;
        let y = g.y0 + row * g.cell_h;
        let baseline = y as f32 + g.baseline;
        for (i, ch) in text.chars().enumerate() {
            let c = col + i as u32;
            if c >= g.cols {
                break;
            }
            let x = g.x0 + c * g.cell_w;
            let mut buf = [0u8; 4];
            let s = ch.encode_utf8(&mut buf);
            let style = TextStyle::new(Face::Mono, g.px, color);
            if ('\u{2500}'..='\u{257F}').contains(&ch) {
                let cell = [x, y, x + g.cell_w, y + g.cell_h].map(|v| v as i32);
                self.canvas.text_clipped(cell, style, x as f32, baseline, s);
            } else {
                self.canvas.text(style, x as f32, baseline, s);
            }
        }
    }

    /// A full-width line `left fill… right` at `row`.
    fn frame_line(&mut self, row: u32, left: char, fill: char, right: char) {
        let cols = self.grid.cols as usize;
        let line: String = std::iter::once(left)
            .chain(std::iter::repeat_n(fill, cols.saturating_sub(2)))
            .chain(std::iter::once(right))
            .collect();
        self.put(0, row, FOREGROUND, &line);
    }

    /// `label` in grey and `: value` in white, the value shortened to stay inside the frame.
    fn field(&mut self, row: u32, label: &str, value: &str) {
        let value_col = LABEL_COL + LABEL_WIDTH;
        let room = self.grid.cols.saturating_sub(value_col + 2 + 2) as usize;
        let value = if value.is_empty() { "Unknown" } else { value };
        let shown: String = if value.chars().count() > room {
            value
                .chars()
                .take(room.saturating_sub(1))
                .chain(['…'])
                .collect()
        } else {
            value.to_owned()
        };
        self.put(LABEL_COL, row, LABEL, label);
        self.put(value_col, row, FOREGROUND, &format!(": {shown}"));
    }

    fn draw(&mut self, input: &RenderInput) {
        let g = self.grid;
        let width = self.canvas.width();
        self.canvas.clear(BACKGROUND);

        let title = "BIOS SETUP";
        let style = TextStyle::new(Face::Mono, g.px, FOREGROUND);
        let title_w = self.canvas.measure(style, title);
        let title_x = ((width as f32 - title_w) / 2.0).round();
        self.canvas
            .text(style, title_x, g.y0 as f32 + g.baseline, title);

        let (x, y, w, h) = g.row_rect(width, 1);
        self.canvas.fill_rect(x, y, w, h, MENU_BAR);
        self.put(0, 1, MENU_TEXT, MENU);

        let (top, bottom) = (FRAME_TOP, g.rows.saturating_sub(2).max(3));
        self.frame_line(top, '╔', '═', '╗');
        for row in top + 1..bottom {
            self.put(0, row, FOREGROUND, "║");
            self.put(g.cols - 1, row, FOREGROUND, "║");
        }
        self.frame_line(bottom, '╚', '═', '╝');

        let c = top + 1;
        // Taken for the duration of the calls below (which borrow `self` mutably), then put back.
        let info = std::mem::take(&mut self.info);
        self.field(
            c + ROW_TIME,
            "System Time",
            &format!("[{}]", hms(&input.clock)),
        );
        self.field(c + 2, "System Date", &format!("[{}]", mdy(&input.clock)));
        self.frame_line(c + 3, '╟', '─', '╢');
        self.field(c + 4, "BIOS Version", &info.version);
        self.field(c + 5, "Processor", &info.cpu_model);
        self.field(c + 6, "Memory", &info.memory);
        self.field(c + 7, "Host", &info.host);
        self.field(c + 8, "Uptime", &uptime(input.elapsed_ms));
        self.info = info;

        self.put(1, bottom + 1, FOREGROUND, FOOTER);
    }
}

impl Generator for BiosScreen {
    fn size(&self) -> (u32, u32) {
        (self.canvas.width(), self.canvas.height())
    }

    fn render(&mut self, input: &RenderInput, rgba: &mut [u8]) {
        self.draw(input);
        self.canvas.copy_to(rgba);
    }
}

/// `HH:MM:SS`.
fn hms(c: &ClockTime) -> String {
    format!("{:02}:{:02}:{:02}", c.hour, c.minute, c.second)
}

/// `MM/DD/YYYY`.
fn mdy(c: &ClockTime) -> String {
    format!("{:02}/{:02}/{:04}", c.month, c.day, c.year)
}

/// `HH:MM:SS`, with a `Nd ` prefix from the first day on.
fn uptime(elapsed_ms: u64) -> String {
    let s = elapsed_ms / 1000;
    let (d, h, m, s) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    if d > 0 {
        format!("{d}d {h:02}:{m:02}:{s:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::render::golden_tests::{fixed_input, render};

    fn screen() -> BiosScreen {
        BiosScreen::new(320, 240).with_info(BiosInfo::new("Test CPU @ 3.0GHz", "8192 MiB", "bench"))
    }

    #[test]
    fn grid_fits_and_aligns() {
        let g = Grid::new(320, 240);
        assert_eq!((g.cell_w, g.cell_h, g.cols, g.rows), (8, 15, 40, 16));
        assert!((Face::Mono.advance('═', g.px) - 8.0).abs() < 1e-3);
        for (w, h) in [(240, 240), (480, 320), (128, 128), (1, 1)] {
            let g = Grid::new(w, h);
            assert!(g.cols * g.cell_w <= w.max(3) && g.rows * g.cell_h <= h.max(g.cell_h));
            assert!(
                w < 120 || (g.cols >= MIN_COLS && g.rows >= MIN_ROWS),
                "{w}x{h}: {g:?}"
            );
        }
        let mut tiny = BiosScreen::new(1, 1);
        let mut out = vec![0; 4];
        tiny.render(&fixed_input(), &mut out); // degenerate sizes draw without panicking
    }

    #[test]
    fn background_and_frame() {
        let mut s = screen();
        let frame = render(&mut s, &fixed_input());
        let at = |x: u32, y: u32| &frame[((y * 320 + x) * 4) as usize..][..4];
        assert_eq!(at(0, 0), &[0, 0, 170, 255]);
        assert_eq!(at(319, 239), &[0, 0, 170, 255]);
        // The menu bar is grey at its right end (row 1 is y 15..30).
        assert_eq!(at(318, 16), &[85, 85, 85, 255]);
        // ╔ (cell 0, row 2) and ╝ (cell 39, row 14): the double lines put ink in their cells.
        let ink = |cx: u32, cy: u32| {
            (cy * 15..cy * 15 + 15)
                .flat_map(|y| (cx * 8..cx * 8 + 8).map(move |x| (x, y)))
                .filter(|&(x, y)| at(x, y)[0] > 100)
                .count()
        };
        assert!(ink(0, 2) >= 8, "╔ rendered");
        assert!(ink(39, 14) >= 8, "╝ rendered");
        assert!(ink(20, 2) >= 8 && ink(0, 8) >= 8, "═ and ║ rendered");
        assert_eq!(
            ink(20, 12),
            0,
            "the unused rows inside the frame stay blank"
        );
    }

    #[test]
    fn only_the_clock_row_changes_with_the_seconds() {
        let mut s = screen();
        let a = fixed_input();
        let mut b = a;
        b.clock.second = 57;
        let (fa, fb) = (render(&mut s, &a), render(&mut s, &b));
        let (_, y, _, h) = s.clock_row_rect();
        let (y0, y1) = (y as usize, (y + h) as usize);
        let row_bytes = 320 * 4;
        assert_ne!(
            fa[y0 * row_bytes..y1 * row_bytes],
            fb[y0 * row_bytes..y1 * row_bytes]
        );
        assert_eq!(fa[..y0 * row_bytes], fb[..y0 * row_bytes]);
        assert_eq!(fa[y1 * row_bytes..], fb[y1 * row_bytes..]);
        // Steady state: the second frame needed glyphs only for the new digit.
        let cached = s.canvas.cached_glyphs();
        render(&mut s, &b);
        assert_eq!(s.canvas.cached_glyphs(), cached);
    }

    #[test]
    fn formats() {
        let c = fixed_input().clock;
        assert_eq!(hms(&c), "12:34:56");
        assert_eq!(mdy(&c), "11/21/2026");
        assert_eq!(uptime(1500), "00:00:01");
        assert_eq!(uptime(90_061_000), "1d 01:01:01");
        assert!(BiosInfo::default().version.starts_with("pixelwire "));
    }
}
