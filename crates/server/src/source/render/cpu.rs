//! The CPU monitor screen, after seed 000's `cpu_monitor_generator.py`
//! (`reference/seed-protocols.md` §A.7): title "ЦП", the CPU model (or "Ядер: N"), the average
//! load, and a grid of per-core load histories.
//!
//! The seed's 320×240 geometry is scaled by `s = min(w / 320, h / 240)`: title at (10, 15) in
//! 24 px, model text from x = 70 on the title's baseline, grid from y = 49 to 10 px above the
//! bottom, 10 px side margins, 5 px cell padding. The grid holds up to [`MAX_CORES_SHOWN`] cores in
//! at most 4 rows × 5 columns, shaped by [`grid_shape`]. Each cell has a border, 3 horizontal and
//! 4 vertical grid lines, an anti-aliased polyline of the last [`HISTORY_LEN`] samples (0..100 %,
//! newest at the right) and a label `"<core> <load>%"`. Samples come from the caller through
//! [`CpuScreen::push_sample`]; the screen never reads system metrics.

use std::collections::VecDeque;

use super::canvas::{Canvas, Rgb};
use super::text::{Face, TextStyle};
use crate::source::generator::{Generator, RenderInput};

/// Screen background.
pub const BACKGROUND: Rgb = Rgb::new(30, 30, 30);
/// Title, model and label text.
pub const TEXT: Rgb = Rgb::new(210, 210, 210);
/// Cell borders and grid lines.
pub const GRID: Rgb = Rgb::new(60, 60, 60);
/// Load polylines.
pub const LINE: Rgb = Rgb::new(0, 180, 220);
/// Width of the load polylines: at most 1 px, tiny-skia draws an anti-aliased hairline, several
/// times faster than a stroked path.
pub const LINE_WIDTH_PX: f32 = 1.0;
/// Samples kept per core.
pub const HISTORY_LEN: usize = 60;
/// Cores drawn at most (4 rows × 5 columns); the average covers all of them.
pub const MAX_CORES_SHOWN: usize = 20;
const MAX_ROWS: usize = 4;
const MAX_COLS: usize = 5;
/// Preferred cell width / height: wide cells suit time series.
const TARGET_CELL_ASPECT: f32 = 1.6;

/// Rows and columns of the grid for `cores` cores (at most [`MAX_CORES_SHOWN`] are shown) in a
/// `grid_w` × `grid_h` area: the shape with at most 4 rows and 5 columns that minimises the
/// number of empty cells plus |ln(cell aspect / 1.6)|; ties go to fewer rows. 8 cores at 320×240
/// give 2 × 4.
pub fn grid_shape(cores: usize, grid_w: f32, grid_h: f32) -> (usize, usize) {
    let n = cores.clamp(1, MAX_CORES_SHOWN);
    let mut best = (MAX_ROWS, MAX_COLS);
    let mut best_score = f32::INFINITY;
    for rows in 1..=MAX_ROWS {
        let cols = n.div_ceil(rows);
        if cols > MAX_COLS || (rows - 1) * cols >= n {
            continue; // too wide, or a whole row would stay empty
        }
        let aspect = (grid_w / cols as f32) / (grid_h / rows as f32).max(1.0);
        let score = (rows * cols - n) as f32 + (aspect.max(1e-3) / TARGET_CELL_ASPECT).ln().abs();
        if score < best_score {
            (best, best_score) = ((rows, cols), score);
        }
    }
    best
}

/// The CPU monitor screen.
pub struct CpuScreen {
    canvas: Canvas,
    model: String,
    histories: Vec<VecDeque<f32>>,
    /// Reused polyline buffer.
    points: Vec<(f32, f32)>,
}

impl CpuScreen {
    /// A screen of `width` × `height` px for `cores` cores; `model` is shown in the header ("Ядер:
    /// N" when empty).
    pub fn new(width: u32, height: u32, model: String, cores: usize) -> Self {
        Self {
            canvas: Canvas::new(width, height),
            model,
            histories: vec![VecDeque::with_capacity(HISTORY_LEN); cores],
            points: Vec::with_capacity(HISTORY_LEN),
        }
    }

    /// Appends one sample per core (percent, clamped to 0..=100; NaN counts as 0), dropping the
    /// oldest beyond [`HISTORY_LEN`]. Missing cores get 0; extra values are ignored.
    pub fn push_sample(&mut self, per_core_percent: &[f32]) {
        for (i, history) in self.histories.iter_mut().enumerate() {
            let v = per_core_percent.get(i).copied().unwrap_or(0.0);
            if history.len() == HISTORY_LEN {
                history.pop_front();
            }
            history.push_back(if v.is_nan() { 0.0 } else { v.clamp(0.0, 100.0) });
        }
    }

    /// Mean of the latest sample of every core, or `None` before the first sample.
    pub fn average_percent(&self) -> Option<f32> {
        let latest = self.histories.iter().filter_map(|h| h.back());
        let (sum, n) = latest.fold((0.0, 0u32), |(sum, n), v| (sum + v, n + 1));
        (n > 0).then(|| sum / n as f32)
    }

    fn draw(&mut self) {
        let (w, h) = (self.canvas.width() as f32, self.canvas.height() as f32);
        let s = (w / 320.0).min(h / 240.0);
        self.canvas.clear(BACKGROUND);

        // Header: title, model, average on one baseline.
        let title = TextStyle::new(Face::SansBold, 24.0 * s, TEXT);
        let text = TextStyle::new(Face::Sans, 14.0 * s, TEXT);
        let baseline = 15.0 * s + title.face.ascent_descent(title.px).0;
        let title_end = self.canvas.text(title, 10.0 * s, baseline, "ЦП");
        let avg = match self.average_percent() {
            Some(v) => format!("avg {v:.0}%"),
            None => "avg --%".to_owned(),
        };
        let avg_x = w - 10.0 * s - self.canvas.measure(text, &avg);
        self.canvas.text(text, avg_x, baseline, &avg);
        let model = if self.model.trim().is_empty() {
            format!("Ядер: {}", self.histories.len())
        } else {
            self.model.clone()
        };
        let model_x = (70.0 * s).max(title_end + 10.0 * s);
        let model = self
            .canvas
            .ellipsize(text, &model, avg_x - 10.0 * s - model_x);
        self.canvas.text(text, model_x, baseline, &model);

        // Grid of cores.
        let shown = self.histories.len().min(MAX_CORES_SHOWN);
        if shown == 0 {
            return;
        }
        let (gx, gy) = (10.0 * s, 49.0 * s);
        let (gw, gh) = (w - 20.0 * s, h - 59.0 * s);
        let (rows, cols) = grid_shape(shown, gw, gh);
        let (cw, ch) = (gw / cols as f32, gh / rows as f32);
        let pad = 5.0 * s;
        for core in 0..shown {
            let (r, c) = (core / cols, core % cols);
            let x = (gx + c as f32 * cw + pad).round();
            let y = (gy + r as f32 * ch + pad).round();
            let iw = (gx + (c + 1) as f32 * cw - pad).round() - x;
            let ih = (gy + (r + 1) as f32 * ch - pad).round() - y;
            if iw < 2.0 || ih < 2.0 {
                continue; // too small to draw anything meaningful
            }
            self.draw_cell(core, (x, y, iw, ih), s);
        }
    }

    fn draw_cell(&mut self, core: usize, (x, y, w, h): (f32, f32, f32, f32), s: f32) {
        self.canvas.stroke_rect(x, y, w, h, 1.0, GRID);
        for k in 1..=3 {
            self.canvas
                .fill_rect(x, y + (h * k as f32 / 4.0).round(), w, 1.0, GRID);
        }
        for k in 1..=4 {
            self.canvas
                .fill_rect(x + (w * k as f32 / 5.0).round(), y, 1.0, h, GRID);
        }

        let history = &self.histories[core];
        let first_slot = HISTORY_LEN - history.len();
        let step = (w - 1.0) / (HISTORY_LEN - 1) as f32;
        self.points.clear();
        self.points.extend(history.iter().enumerate().map(|(i, v)| {
            let px = x + 0.5 + (first_slot + i) as f32 * step;
            let py = y + 0.5 + (h - 1.0) * (1.0 - v / 100.0);
            (px, py)
        }));
        self.canvas.polyline(&self.points, LINE_WIDTH_PX, LINE);

        let label = match history.back() {
            Some(v) => format!("{core} {v:.0}%"),
            None => format!("{core} --%"),
        };
        // On a plate of background colour, so the line never runs through the digits.
        let style = TextStyle::new(Face::Sans, 11.0 * s, TEXT);
        let (ascent, descent) = style.face.ascent_descent(style.px);
        let label_w = self.canvas.measure(style, &label);
        let (lx, ly) = (x + 1.0, y + 1.0);
        let plate_h = (ascent + descent + 2.0 * s).ceil();
        self.canvas
            .blend_rect(lx, ly, label_w + 4.0 * s, plate_h, BACKGROUND, 200);
        self.canvas.text_top(style, lx + 2.0 * s, ly + s, &label);
    }
}

impl Generator for CpuScreen {
    fn size(&self) -> (u32, u32) {
        (self.canvas.width(), self.canvas.height())
    }

    fn render(&mut self, _input: &RenderInput, rgba: &mut [u8]) {
        self.draw();
        self.canvas.copy_to(rgba);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::render::golden_tests::{cpu_fixture, fixed_input, pixel, render};

    #[test]
    fn grid_shapes() {
        let (w, h) = (300.0, 181.0);
        let shape = |n| grid_shape(n, w, h);
        assert_eq!(shape(1), (1, 1));
        assert_eq!(shape(2), (1, 2));
        assert_eq!(shape(4), (2, 2));
        assert_eq!(shape(6), (2, 3));
        assert_eq!(shape(8), (2, 4));
        assert_eq!(shape(12), (3, 4));
        assert_eq!(shape(16), (4, 4));
        assert_eq!(shape(20), (4, 5));
        assert_eq!(shape(64), (4, 5));
        for n in 1..=MAX_CORES_SHOWN {
            let (r, c) = shape(n);
            assert!(r <= MAX_ROWS && c <= MAX_COLS && r * c >= n, "{n}: {r}x{c}");
        }
    }

    #[test]
    fn history_is_bounded_and_clamped() {
        let mut s = CpuScreen::new(320, 240, String::new(), 2);
        assert_eq!(s.average_percent(), None);
        for i in 0..100 {
            s.push_sample(&[i as f32, 150.0]);
        }
        assert_eq!(s.histories[0].len(), HISTORY_LEN);
        assert_eq!(s.histories[0].front(), Some(&40.0));
        assert_eq!(s.average_percent(), Some((99.0 + 100.0) / 2.0));
        s.push_sample(&[f32::NAN]);
        assert_eq!(s.histories[0].back(), Some(&0.0));
        assert_eq!(s.histories[1].back(), Some(&0.0));
    }

    #[test]
    fn title_is_cyrillic_ink_not_tofu() {
        let mut s = cpu_fixture(320, 240);
        let frame = render(&mut s, &fixed_input());
        let at = |x: u32, y: u32| pixel(&frame, 320, x, y);
        assert_eq!(at(0, 0), BACKGROUND);
        assert_eq!(at(319, 239), BACKGROUND);
        // The title box (10..60, 15..40) holds bright text pixels.
        let title_box = || (15..40).flat_map(|y| (10..60).map(move |x| (x, y)));
        let lit = title_box().filter(|&(x, y)| at(x, y).r > 150).count();
        assert!(lit > 60, "title ink: {lit}");
        // The same text drawn with the missing glyph (.notdef) looks clearly different.
        let draw = |text: &str| {
            let mut c = Canvas::new(80, 40);
            c.clear(BACKGROUND);
            let base = 15.0 + Face::SansBold.ascent_descent(24.0).0;
            c.text(TextStyle::new(Face::SansBold, 24.0, TEXT), 10.0, base, text);
            c
        };
        let (real, tofu) = (draw("ЦП"), draw("\u{E000}\u{E000}"));
        let diff = title_box()
            .filter(|&(x, y)| tofu.pixel(x, y) != real.pixel(x, y))
            .count();
        assert!(diff > 50, "ЦП looks like tofu ({diff} px differ)");
        // The screen's title is the real rendering.
        assert!(title_box().all(|(x, y)| real.pixel(x, y) == Some(at(x, y))));
    }

    #[test]
    fn lines_and_grid_are_drawn() {
        let mut s = cpu_fixture(320, 240);
        let frame = render(&mut s, &fixed_input());
        let count = |c: Rgb| {
            frame
                .chunks(4)
                .filter(|p| p[..3] == [c.r, c.g, c.b])
                .count()
        };
        assert!(count(GRID) > 8 * 200, "grid lines");
        let bluish = frame.chunks(4).filter(|p| p[2] > 120 && p[0] < 60).count();
        assert!(bluish > 8 * 60, "load lines: {bluish}");
    }

    #[test]
    fn empty_model_falls_back_to_core_count_and_zero_cores_render() {
        let mut s = CpuScreen::new(320, 240, String::new(), 0);
        let frame = render(&mut s, &fixed_input());
        assert!(
            frame
                .chunks(4)
                .skip(49 * 320)
                .all(|p| p == [30, 30, 30, 255])
        );
        let mut s = CpuScreen::new(320, 240, " ".into(), 3);
        s.push_sample(&[10.0, 20.0, 30.0]);
        render(&mut s, &fixed_input());
    }
}
