//! A small opaque drawing surface for the built-in screens, over a `tiny-skia` [`Pixmap`]:
//! crisp rectangles, anti-aliased lines and polylines, radially shaded circles and text (through
//! [`GlyphCache`]), copied out to the caller's RGBA buffer.
//!
//! tiny-skia stores premultiplied RGBA. Every screen starts a frame by filling the whole surface
//! with an opaque colour and only ever blends onto it, so every pixel stays opaque and the
//! premultiplied bytes equal straight RGBA; [`Canvas::copy_to`] still forces alpha to 255.

use tiny_skia::{
    Color, FillRule, GradientStop, LineCap, LineJoin, Paint, PathBuilder, Pixmap, Point,
    RadialGradient, Shader, SpreadMode, Stroke, Transform,
};

use super::text::{GlyphCache, TextStyle};

/// Largest accepted width or height; larger requests are clamped. Keeps `w * h * 4` far inside
/// tiny-skia's limits, so allocating the pixmap cannot fail.
pub const MAX_SIDE_PX: u32 = 4096;

pub use crate::color::Rgb;

impl Rgb {
    fn skia(self, alpha: u8) -> Color {
        Color::from_rgba8(self.r, self.g, self.b, alpha)
    }
}

/// The drawing surface of one screen. Owns its glyph cache, so a screen that keeps its canvas
/// between frames never rasterises the same glyph twice.
pub struct Canvas {
    pixmap: Pixmap,
    glyphs: GlyphCache,
}

impl Canvas {
    /// A black canvas; each side is clamped to `1..=MAX_SIDE_PX`.
    pub fn new(width: u32, height: u32) -> Self {
        let (w, h) = (width.clamp(1, MAX_SIDE_PX), height.clamp(1, MAX_SIDE_PX));
        // Holds: both sides are non-zero and w * h * 4 <= 64 MiB, inside tiny-skia's limits.
        let mut pixmap = Pixmap::new(w, h).expect("clamped canvas size is valid");
        pixmap.fill(Color::BLACK);
        Self {
            pixmap,
            glyphs: GlyphCache::new(),
        }
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.pixmap.width()
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.pixmap.height()
    }

    /// Fills the whole canvas.
    pub fn clear(&mut self, color: Rgb) {
        self.pixmap.fill(color.skia(255));
    }

    /// Raw opaque RGBA bytes, row-major, for screens that compute pixels themselves. Callers must
    /// keep alpha at 255.
    pub fn rgba_mut(&mut self) -> &mut [u8] {
        self.pixmap.data_mut()
    }

    /// The colour at (`x`, `y`), or `None` outside the canvas.
    pub fn pixel(&self, x: u32, y: u32) -> Option<Rgb> {
        if x >= self.width() || y >= self.height() {
            return None; // tiny-skia only checks the flat index, so x past the row would wrap
        }
        let p = self.pixmap.pixel(x, y)?;
        Some(Rgb::new(p.red(), p.green(), p.blue()))
    }

    /// Fills the rectangle, snapped to whole pixels (no anti-aliasing).
    pub fn fill_rect(&mut self, x: f32, y: f32, w: f32, h: f32, color: Rgb) {
        self.blend_rect(x, y, w, h, color, 255);
    }

    /// Blends `color` at opacity `alpha` over the rectangle, snapped to whole pixels and clipped
    /// to the canvas. Written directly (no tiny-skia pipeline): these are most of the calls per
    /// frame and each pipeline setup costs more than filling a grid line.
    pub fn blend_rect(&mut self, x: f32, y: f32, w: f32, h: f32, color: Rgb, alpha: u8) {
        let (cw, ch) = (self.width() as f32, self.height() as f32);
        let (x0, y0) = (x.round().max(0.0), y.round().max(0.0));
        let (x1, y1) = ((x + w).round().min(cw), (y + h).round().min(ch));
        // Also rejects NaN: every comparison with NaN is false.
        if !(x1 > x0 && y1 > y0) {
            return;
        }
        let (x0, y0, x1, y1) = (x0 as usize, y0 as usize, x1 as usize, y1 as usize);
        let stride = self.width() as usize * 4;
        let src = [color.r, color.g, color.b, 255];
        let a = u32::from(alpha);
        for row in self.pixmap.data_mut()[y0 * stride..y1 * stride].chunks_exact_mut(stride) {
            for px in row[x0 * 4..x1 * 4].chunks_exact_mut(4) {
                if a == 255 {
                    px.copy_from_slice(&src);
                } else {
                    for (d, s) in px[..3].iter_mut().zip(src) {
                        *d = ((u32::from(s) * a + u32::from(*d) * (255 - a) + 127) / 255) as u8;
                    }
                }
            }
        }
    }

    /// Outlines the rectangle with a border `thickness` px wide drawn inside it, snapped to whole
    /// pixels.
    pub fn stroke_rect(&mut self, x: f32, y: f32, w: f32, h: f32, thickness: f32, color: Rgb) {
        let t = thickness.min(w / 2.0).min(h / 2.0);
        self.fill_rect(x, y, w, t, color);
        self.fill_rect(x, y + h - t, w, t, color);
        self.fill_rect(x, y + t, t, h - 2.0 * t, color);
        self.fill_rect(x + w - t, y + t, t, h - 2.0 * t, color);
    }

    /// An anti-aliased line `width` px wide with butt ends.
    pub fn line(&mut self, from: (f32, f32), to: (f32, f32), width: f32, color: Rgb) {
        self.polyline(&[from, to], width, color);
    }

    /// An anti-aliased open polyline `width` px wide with round joins. Fewer than two points draw
    /// nothing.
    pub fn polyline(&mut self, points: &[(f32, f32)], width: f32, color: Rgb) {
        let [first, rest @ ..] = points else {
            return;
        };
        if rest.is_empty() {
            return;
        }
        let mut pb = PathBuilder::with_capacity(points.len(), points.len());
        pb.move_to(first.0, first.1);
        for p in rest {
            pb.line_to(p.0, p.1);
        }
        let Some(path) = pb.finish() else {
            return; // non-finite coordinates
        };
        let stroke = Stroke {
            width,
            line_cap: LineCap::Butt,
            line_join: LineJoin::Round,
            ..Stroke::default()
        };
        let paint = solid(color, 255, true);
        self.pixmap
            .stroke_path(&path, &paint, &stroke, Transform::identity(), None);
    }

    /// Blends an anti-aliased closed polygon filled with `color` at opacity `alpha`. Fewer than
    /// three points draw nothing.
    pub fn fill_polygon(&mut self, points: &[(f32, f32)], color: Rgb, alpha: u8) {
        let [first, rest @ ..] = points else {
            return;
        };
        if rest.len() < 2 {
            return;
        }
        let mut pb = PathBuilder::with_capacity(points.len() + 1, points.len() + 1);
        pb.move_to(first.0, first.1);
        for p in rest {
            pb.line_to(p.0, p.1);
        }
        pb.close();
        let Some(path) = pb.finish() else {
            return; // non-finite coordinates
        };
        let paint = solid(color, alpha, true);
        self.pixmap.fill_path(
            &path,
            &paint,
            FillRule::Winding,
            Transform::identity(),
            None,
        );
    }

    /// An anti-aliased disc shaded by a radial gradient from `center_color` at its centre to
    /// `edge_color` at its rim.
    pub fn shaded_circle(
        &mut self,
        center: (f32, f32),
        radius: f32,
        center_color: Rgb,
        edge_color: Rgb,
    ) {
        let Some(path) = PathBuilder::from_circle(center.0, center.1, radius) else {
            return; // zero or non-finite radius
        };
        let c = Point::from_xy(center.0, center.1);
        let stops = vec![
            GradientStop::new(0.0, center_color.skia(255)),
            GradientStop::new(1.0, edge_color.skia(255)),
        ];
        let shader = RadialGradient::new(
            c,
            0.0,
            c,
            radius,
            stops,
            SpreadMode::Pad,
            Transform::identity(),
        )
        .unwrap_or(Shader::SolidColor(center_color.skia(255)));
        let paint = Paint {
            shader,
            anti_alias: true,
            ..Paint::default()
        };
        self.pixmap.fill_path(
            &path,
            &paint,
            FillRule::Winding,
            Transform::identity(),
            None,
        );
    }

    /// Draws `text` with the pen at `x` on the baseline `baseline_y`; returns the pen position
    /// after it.
    pub fn text(&mut self, style: TextStyle, x: f32, baseline_y: f32, text: &str) -> f32 {
        let (w, h) = (self.pixmap.width(), self.pixmap.height());
        let all = [0, 0, w as i32, h as i32];
        let data = self.pixmap.data_mut();
        self.glyphs
            .draw(data, (w, h), all, style, (x, baseline_y), text)
    }

    /// [`Canvas::text`] that only changes pixels inside `clip` (x0, y0, x1, y1; end-exclusive).
    /// Box-drawing glyphs overhang their cell slightly; clipped to it, neighbours join without
    /// doubly blended seams.
    pub fn text_clipped(
        &mut self,
        clip: [i32; 4],
        style: TextStyle,
        x: f32,
        baseline_y: f32,
        text: &str,
    ) -> f32 {
        let (w, h) = (self.pixmap.width(), self.pixmap.height());
        let data = self.pixmap.data_mut();
        self.glyphs
            .draw(data, (w, h), clip, style, (x, baseline_y), text)
    }

    /// Draws `text` with its line's ascent touching `top` (Pillow's "la" anchor); returns the pen
    /// position after it.
    pub fn text_top(&mut self, style: TextStyle, x: f32, top: f32, text: &str) -> f32 {
        let (ascent, _) = style.face.ascent_descent(style.px);
        self.text(style, x, top + ascent, text)
    }

    /// Width of `text` as [`Canvas::text`] lays it out.
    pub fn measure(&mut self, style: TextStyle, text: &str) -> f32 {
        self.glyphs.measure(style.face, style.px, text)
    }

    /// `text`, shortened with "…" to measure at most `max_width`.
    pub fn ellipsize(&mut self, style: TextStyle, text: &str, max_width: f32) -> String {
        self.glyphs.ellipsize(style.face, style.px, text, max_width)
    }

    /// Number of glyphs rasterised so far (tests check that steady frames add none).
    pub fn cached_glyphs(&self) -> usize {
        self.glyphs.len()
    }

    /// Copies the canvas into `rgba` with alpha forced to 255.
    ///
    /// # Panics
    /// If `rgba` is not `width * height * 4` bytes. That size is the contract of
    /// [`Generator::render`](crate::source::generator::Generator::render), so a mismatch is a
    /// caller bug.
    pub fn copy_to(&self, rgba: &mut [u8]) {
        let src = self.pixmap.data();
        assert_eq!(
            rgba.len(),
            src.len(),
            "output buffer must be width * height * 4 bytes"
        );
        rgba.copy_from_slice(src);
        for px in rgba.chunks_exact_mut(4) {
            px[3] = 255;
        }
    }
}

fn solid(color: Rgb, alpha: u8, anti_alias: bool) -> Paint<'static> {
    let mut paint = Paint {
        anti_alias,
        ..Paint::default()
    };
    paint.set_color(color.skia(alpha));
    paint
}

#[cfg(test)]
mod tests {
    use super::*;

    const RED: Rgb = Rgb::new(255, 0, 0);
    const BLUE: Rgb = Rgb::new(0, 0, 170);

    #[test]
    fn rects_are_crisp_and_clipped() {
        let mut c = Canvas::new(20, 10);
        c.clear(BLUE);
        c.fill_rect(2.0, 3.0, 4.0, 2.0, RED);
        assert_eq!(c.pixel(2, 3), Some(RED));
        assert_eq!(c.pixel(5, 4), Some(RED));
        assert_eq!(c.pixel(6, 4), Some(BLUE));
        assert_eq!(c.pixel(2, 5), Some(BLUE));
        c.fill_rect(-5.0, -5.0, 100.0, 2.0 + 5.0, RED); // clipped, no panic
        c.fill_rect(5.0, 5.0, 0.0, 3.0, RED); // empty
        assert_eq!(c.pixel(5, 6), Some(BLUE), "an empty rect draws nothing");
        c.stroke_rect(0.0, 0.0, 20.0, 10.0, 1.0, Rgb::WHITE);
        assert_eq!(c.pixel(19, 9), Some(Rgb::WHITE));
        assert_eq!(c.pixel(10, 5), Some(BLUE));
        assert_eq!(c.pixel(20, 0), None);
    }

    #[test]
    fn output_is_opaque_and_sized() {
        let mut c = Canvas::new(16, 8);
        c.clear(BLUE);
        c.blend_rect(0.0, 0.0, 8.0, 8.0, Rgb::WHITE, 128);
        c.polyline(&[(0.0, 0.0), (15.0, 7.5), (3.0, 7.0)], 1.3, RED);
        c.shaded_circle((8.0, 4.0), 3.5, Rgb::WHITE, RED);
        let mut out = vec![0u8; 16 * 8 * 4];
        c.copy_to(&mut out);
        assert!(out.chunks(4).all(|p| p[3] == 255));
        // Half-white over (0,0,170) at the far left, away from the line and the circle.
        assert_eq!(&out[(4 * 16) * 4..][..4], &[128, 128, 213, 255]);
    }

    #[test]
    fn shaded_circle_runs_from_center_to_edge_color() {
        let mut c = Canvas::new(64, 64);
        c.clear(Rgb::BLACK);
        c.shaded_circle(
            (32.0, 32.0),
            20.0,
            Rgb::new(250, 200, 60),
            Rgb::new(120, 20, 0),
        );
        let center = c.pixel(32, 32).unwrap_or(Rgb::BLACK);
        assert!(center.r >= 245 && center.g >= 190, "{center:?}");
        let rim = c.pixel(32, 13).unwrap_or(Rgb::BLACK);
        assert!(rim.r < 160 && rim.g < 60, "{rim:?}");
        assert_eq!(c.pixel(2, 2), Some(Rgb::BLACK));
    }

    #[test]
    fn sizes_are_clamped() {
        let c = Canvas::new(0, 100_000);
        assert_eq!((c.width(), c.height()), (1, MAX_SIDE_PX));
    }
}
