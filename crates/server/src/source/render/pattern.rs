//! The moving test pattern, after seed 001's `mock_camera.py` (`reference/seed-protocols.md`
//! §B.2): an animated full-frame colour gradient, a moving radially shaded circle, a moving green
//! square outline, a text overlay (frame counter, fps, clock) and a white border.
//!
//! Everything that moves is a pure function of `elapsed_ms`, exposed below so tests (and browser
//! end-to-end checks) can predict a frame: [`background_color`], [`circle_center`] /
//! [`circle_radius`] with [`CIRCLE_CENTER_COLOR`] at the centre, [`square_rect`], [`overlay_rect`].
//! Phases are `(elapsed_ms % period) / period`, so frames stay exact after days of uptime. Draw
//! order: gradient, square, circle, overlay, border; the circle hides the square where they meet
//! and the overlay (top-left) hides both. The gradient stays within 40..=216 per channel, so it is
//! never white like the border and text, nor pure green like the square.

use std::f64::consts::TAU;

use super::canvas::{Canvas, Rgb};
use super::text::{Face, TextStyle};
use crate::source::generator::{Generator, RenderInput};

/// Colour at the exact centre of the circle.
pub const CIRCLE_CENTER_COLOR: Rgb = Rgb::new(255, 220, 64);
/// Colour at the circle's rim.
pub const CIRCLE_EDGE_COLOR: Rgb = Rgb::new(170, 40, 0);
/// The square outline.
pub const SQUARE_COLOR: Rgb = Rgb::new(0, 255, 0);
/// Width of the square outline, px.
pub const SQUARE_LINE_PX: f32 = 3.0;
/// The frame border and overlay text.
pub const BORDER_COLOR: Rgb = Rgb::WHITE;
/// Width of the frame border, px.
pub const BORDER_PX: f32 = 2.0;
/// Distance kept between the moving shapes and the frame edge, px.
pub const MARGIN_PX: f32 = 8.0;
/// One full cycle of the background colours.
pub const BACKGROUND_PERIOD_MS: u64 = 6000;
/// Horizontal and vertical periods of the circle's Lissajous path.
pub const CIRCLE_PERIOD_MS: (u64, u64) = (4000, 3000);
/// Horizontal and vertical periods of the square's bounce.
pub const SQUARE_PERIOD_MS: (u64, u64) = (6000, 4500);

fn phase(elapsed_ms: u64, period_ms: u64) -> f64 {
    (elapsed_ms % period_ms) as f64 / period_ms as f64
}

/// Triangle wave: 0 at phase 0, 1 at phase ½, back to 0 at phase 1.
fn triangle(p: f64) -> f64 {
    1.0 - (2.0 * p - 1.0).abs()
}

/// A gradient channel: `round(128 + 88·sin(2π·p))`, in 40..=216.
fn wave(p: f64) -> u8 {
    (128.0 + 88.0 * (TAU * p).sin()).round() as u8
}

/// Background colour of pixel (`x`, `y`) of a `w` × `h` frame at `elapsed_ms`, with
/// `ph = phase(BACKGROUND_PERIOD_MS)`: red `wave(x/w + ph)`, green `wave(y/h + ph + ⅓)`, blue
/// `wave((x + y)/(w + h) − ph + ⅔)`.
pub fn background_color(w: u32, h: u32, x: u32, y: u32, elapsed_ms: u64) -> Rgb {
    let ph = phase(elapsed_ms, BACKGROUND_PERIOD_MS);
    Rgb::new(
        bg_red(w, x, ph),
        bg_green(h, y, ph),
        bg_blue(w + h, x + y, ph),
    )
}

fn bg_red(w: u32, x: u32, ph: f64) -> u8 {
    wave(f64::from(x) / f64::from(w) + ph)
}

fn bg_green(h: u32, y: u32, ph: f64) -> u8 {
    wave(f64::from(y) / f64::from(h) + ph + 1.0 / 3.0)
}

fn bg_blue(w_plus_h: u32, x_plus_y: u32, ph: f64) -> u8 {
    wave(f64::from(x_plus_y) / f64::from(w_plus_h) - ph + 2.0 / 3.0)
}

/// Circle radius: `min(w, h) / 8` (30 px at 320×240).
pub fn circle_radius(w: u32, h: u32) -> f32 {
    w.min(h) as f32 / 8.0
}

/// Circle centre at `elapsed_ms`: `(w/2 + ax·sin(2π·φx), h/2 + ay·sin(2π·φy))` with
/// `φx, φy` the phases over [`CIRCLE_PERIOD_MS`] and `ax = w/2 − r − MARGIN_PX` (likewise `ay`,
/// at least 0). At 320×240, t = 1500 ms: (246.27, 120.0).
pub fn circle_center(w: u32, h: u32, elapsed_ms: u64) -> (f32, f32) {
    let r = f64::from(circle_radius(w, h));
    let (hw, hh) = (f64::from(w) / 2.0, f64::from(h) / 2.0);
    let ax = (hw - r - f64::from(MARGIN_PX)).max(0.0);
    let ay = (hh - r - f64::from(MARGIN_PX)).max(0.0);
    let sx = (TAU * phase(elapsed_ms, CIRCLE_PERIOD_MS.0)).sin();
    let sy = (TAU * phase(elapsed_ms, CIRCLE_PERIOD_MS.1)).sin();
    ((hw + ax * sx) as f32, (hh + ay * sy) as f32)
}

/// The square outline at `elapsed_ms` as (x, y, side): `side = min(w, h) / 5`,
/// `x = MARGIN_PX + (w − side − 2·MARGIN_PX)·tri(φx)`, likewise y, where `tri` rises linearly from
/// 0 to 1 over the first half of the phase over [`SQUARE_PERIOD_MS`] and falls back over the
/// second. The outline is [`SQUARE_LINE_PX`] wide, inside the square.
pub fn square_rect(w: u32, h: u32, elapsed_ms: u64) -> (f32, f32, f32) {
    let side = f64::from(w.min(h)) / 5.0;
    let m = f64::from(MARGIN_PX);
    let rx = (f64::from(w) - side - 2.0 * m).max(0.0);
    let ry = (f64::from(h) - side - 2.0 * m).max(0.0);
    let x = m + rx * triangle(phase(elapsed_ms, SQUARE_PERIOD_MS.0));
    let y = m + ry * triangle(phase(elapsed_ms, SQUARE_PERIOD_MS.1));
    (x as f32, y as f32, side as f32)
}

/// Font size of the overlay: 13 px at 320×240, scaled with the frame, at least 10 px.
fn overlay_px(w: u32, h: u32) -> f32 {
    (13.0 * (w as f32 / 320.0).min(h as f32 / 240.0)).max(10.0)
}

const OVERLAY_CHARS: f32 = 13.0;
const OVERLAY_LINES: f32 = 3.0;

/// The overlay box (x, y, w, h): a translucent black panel in the top-left corner, inside the
/// border, sized for three lines of 13 monospace characters.
pub fn overlay_rect(w: u32, h: u32) -> (f32, f32, f32, f32) {
    let px = overlay_px(w, h);
    let (ascent, descent) = Face::Mono.ascent_descent(px);
    let pad = (px / 4.0).round();
    let width = (Face::Mono.advance('0', px) * OVERLAY_CHARS).ceil() + 2.0 * pad;
    let height = (ascent + descent).ceil() * OVERLAY_LINES + 2.0 * pad;
    (BORDER_PX + 4.0, BORDER_PX + 4.0, width, height)
}

/// The test pattern screen.
pub struct PatternScreen {
    canvas: Canvas,
    /// Per-frame gradient lookup tables (reused).
    reds: Vec<u8>,
    greens: Vec<u8>,
    blues: Vec<u8>,
}

impl PatternScreen {
    /// A test pattern of `width` × `height` px.
    pub fn new(width: u32, height: u32) -> Self {
        Self {
            canvas: Canvas::new(width, height),
            reds: Vec::new(),
            greens: Vec::new(),
            blues: Vec::new(),
        }
    }

    fn draw_background(&mut self, elapsed_ms: u64) {
        let (w, h) = (self.canvas.width(), self.canvas.height());
        let ph = phase(elapsed_ms, BACKGROUND_PERIOD_MS);
        // Red depends only on x, green on y and blue on x + y: three small tables per frame
        // instead of three sines per pixel, with the same values as `background_color`.
        self.reds.clear();
        self.reds.extend((0..w).map(|x| bg_red(w, x, ph)));
        self.greens.clear();
        self.greens.extend((0..h).map(|y| bg_green(h, y, ph)));
        self.blues.clear();
        self.blues.extend((0..w + h).map(|d| bg_blue(w + h, d, ph)));
        let (reds, greens, blues) = (&self.reds, &self.greens, &self.blues);
        let rows = self.canvas.rgba_mut().chunks_exact_mut(w as usize * 4);
        for (y, row) in rows.enumerate() {
            for (x, px) in row.chunks_exact_mut(4).enumerate() {
                px.copy_from_slice(&[reds[x], greens[y], blues[x + y], 255]);
            }
        }
    }

    fn draw(&mut self, input: &RenderInput) {
        let (w, h) = (self.canvas.width(), self.canvas.height());
        let t = input.elapsed_ms;
        self.draw_background(t);

        let (sx, sy, side) = square_rect(w, h, t);
        self.canvas
            .stroke_rect(sx, sy, side, side, SQUARE_LINE_PX, SQUARE_COLOR);

        let r = circle_radius(w, h);
        self.canvas.shaded_circle(
            circle_center(w, h, t),
            r,
            CIRCLE_CENTER_COLOR,
            CIRCLE_EDGE_COLOR,
        );

        let (ox, oy, ow, oh) = overlay_rect(w, h);
        self.canvas.blend_rect(ox, oy, ow, oh, Rgb::BLACK, 150);
        let style = TextStyle::new(Face::Mono, overlay_px(w, h), BORDER_COLOR);
        let (ascent, descent) = style.face.ascent_descent(style.px);
        let line_h = (ascent + descent).ceil();
        let pad = (style.px / 4.0).round();
        let c = input.clock;
        let lines = [
            format!("frame {}", input.frame_index),
            format!("{:.1} fps", input.fps),
            format!(
                "{:02}:{:02}:{:02}.{:03}",
                c.hour, c.minute, c.second, c.millis
            ),
        ];
        for (i, line) in lines.iter().enumerate() {
            let top = oy + pad + i as f32 * line_h;
            self.canvas.text_top(style, ox + pad, top, line);
        }

        self.canvas
            .stroke_rect(0.0, 0.0, w as f32, h as f32, BORDER_PX, BORDER_COLOR);
    }
}

impl Generator for PatternScreen {
    fn size(&self) -> (u32, u32) {
        (self.canvas.width(), self.canvas.height())
    }

    fn render(&mut self, input: &RenderInput, rgba: &mut [u8]) {
        self.draw(input);
        self.canvas.copy_to(rgba);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::render::golden_tests::{fixed_input, pixel, render};

    fn near(a: Rgb, b: Rgb, tol: u8) -> bool {
        a.r.abs_diff(b.r) <= tol && a.g.abs_diff(b.g) <= tol && a.b.abs_diff(b.b) <= tol
    }

    #[test]
    fn documented_positions() {
        let (cx, cy) = circle_center(320, 240, 1500);
        assert!(
            (cx - 246.27).abs() < 0.01 && (cy - 120.0).abs() < 0.01,
            "{cx} {cy}"
        );
        assert_eq!(circle_center(320, 240, 0), (160.0, 120.0));
        assert_eq!(circle_center(320, 240, 0), circle_center(320, 240, 12_000));
        assert_eq!(square_rect(320, 240, 0), (8.0, 8.0, 48.0));
        assert_eq!(
            square_rect(320, 240, 3000),
            (264.0, 8.0 + 176.0 * (2.0 / 3.0), 48.0)
        );
        // Days of uptime keep full precision.
        let day = 24 * 3600 * 1000 * 365;
        assert_eq!(
            circle_center(320, 240, day + 1500),
            circle_center(320, 240, 1500)
        );
    }

    #[test]
    fn circle_is_where_documented_and_moves() {
        let mut s = PatternScreen::new(320, 240);
        let mut input = fixed_input();
        let (ox, oy, ow, oh) = overlay_rect(320, 240);
        let r = circle_radius(320, 240);
        let mut centers = Vec::new();
        for t in [0, 1000, 1500, 3700, 86_400_000 + 900] {
            input.elapsed_ms = t;
            let frame = render(&mut s, &input);
            let (cx, cy) = circle_center(320, 240, t);
            // The overlay is drawn on top: these instants keep the circle clear of it.
            assert!(
                cx - r > ox + ow || cy - r > oy + oh,
                "t={t}: under the overlay"
            );
            let center = pixel(&frame, 320, cx as u32, cy as u32);
            assert!(near(center, CIRCLE_CENTER_COLOR, 8), "t={t}: {center:?}");
            let rim = pixel(&frame, 320, cx as u32, (cy + r - 2.0) as u32);
            assert!(near(rim, CIRCLE_EDGE_COLOR, 16), "t={t}: rim {rim:?}");
            centers.push((cx, cy));
        }
        centers.dedup();
        assert_eq!(centers.len(), 5, "the circle moves: {centers:?}");
    }

    #[test]
    fn background_border_square_overlay() {
        let mut s = PatternScreen::new(320, 240);
        let input = fixed_input();
        let frame = render(&mut s, &input);
        let t = input.elapsed_ms;
        for (x, y) in [(0, 0), (319, 0), (0, 239), (319, 239), (1, 120), (160, 238)] {
            assert_eq!(pixel(&frame, 320, x, y), BORDER_COLOR, "border at {x},{y}");
        }
        // A background pixel away from every shape matches the documented formula.
        for (x, y) in [(100, 200), (300, 30)] {
            assert_eq!(
                pixel(&frame, 320, x, y),
                background_color(320, 240, x, y, t)
            );
        }
        let (sx, sy, side) = square_rect(320, 240, t);
        let (sx, sy) = (sx.round() as u32, sy.round() as u32);
        assert_eq!(
            pixel(&frame, 320, sx + 1, sy + (side / 2.0) as u32),
            SQUARE_COLOR
        );
        assert_ne!(pixel(&frame, 320, sx + 10, sy + 10), SQUARE_COLOR);
        let (ox, oy, _, _) = overlay_rect(320, 240);
        let overlay = (oy as u32..oy as u32 + 14)
            .flat_map(|y| (ox as u32..ox as u32 + 60).map(move |x| (x, y)));
        assert!(
            overlay
                .filter(|&(x, y)| pixel(&frame, 320, x, y).g > 200)
                .count()
                > 20
        );
        // The gradient itself changes with time.
        assert_ne!(
            background_color(320, 240, 100, 200, t),
            background_color(320, 240, 100, 200, t + 500)
        );
    }
}
