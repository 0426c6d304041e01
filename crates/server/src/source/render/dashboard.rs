//! The Prometheus dashboard screen, after seed 000's `prometheus_monitor_generator.py`
//! (`reference/seed-protocols.md` §A.7): a grid of panels, each a title, its value(s) with units and
//! a history graph, a big value, or a gauge, in the seed's colours.
//!
//! Drawn at the stream's own size (the seed drew 640×480 and shrank it, which left 9 px text on a
//! 320×240 panel): sizes follow each cell's height and every text is fitted to its cell's width.
//! The screen keeps its canvas and a fingerprint of what each cell shows, and redraws only the
//! cells whose data changed, so an unchanged panel costs nothing to render and sends no bytes to
//! a display. When Prometheus does not answer, a banner along the bottom says why.

use std::hash::{DefaultHasher, Hash, Hasher};

use super::canvas::{Canvas, Rgb};
use super::text::{Face, TextStyle};
use crate::config::dashboard::{PanelKind, PanelSpec};
use crate::source::dashboard::model::{
    Connection, DashboardModel, PanelState, Reading, panel_range,
};

/// Screen background (seed 000).
pub const BACKGROUND: Rgb = Rgb::new(10, 15, 25);
/// Titles and units (seed 000's foreground).
pub const FOREGROUND: Rgb = Rgb::new(200, 220, 220);
/// Cell borders (seed 000).
pub const BORDER: Rgb = Rgb::new(60, 80, 100);
/// Graph grid lines and the gauge track.
pub const GRID: Rgb = Rgb::new(38, 52, 70);
/// Axis labels and secondary text.
pub const DIM: Rgb = Rgb::new(125, 145, 160);
/// "no data" (seed 000's error colour).
pub const ERROR: Rgb = Rgb::new(255, 80, 80);
/// The "Prometheus unreachable" banner.
pub const BANNER: Rgb = Rgb::new(130, 20, 24);

#[derive(Debug, Clone, Copy, PartialEq)]
struct Rect {
    x: f32,
    y: f32,
    w: f32,
    h: f32,
}

impl Rect {
    fn bottom(&self) -> f32 {
        self.y + self.h
    }

    fn clip(&self) -> [i32; 4] {
        [
            self.x as i32,
            self.y as i32,
            (self.x + self.w) as i32,
            (self.y + self.h) as i32,
        ]
    }

    fn overlaps(&self, o: &Rect) -> bool {
        self.x < o.x + o.w && o.x < self.x + self.w && self.y < o.bottom() && o.y < self.bottom()
    }
}

/// The dashboard screen of one stream.
pub struct DashboardScreen {
    canvas: Canvas,
    cells: Vec<Rect>,
    /// Fingerprint of what each cell shows now (`None`: must be drawn).
    drawn: Vec<Option<u64>>,
    banner: Option<String>,
    /// Prometheus's error while it fails.
    outage: Option<String>,
    points: Vec<(f32, f32)>,
}

/// Rows and columns for `panels` panels: `columns` if configured, else the CPU screen's rule
/// (wide cells suit graphs).
pub fn grid_for(panels: usize, width: u32, height: u32, columns: Option<u32>) -> (usize, usize) {
    let n = panels.max(1);
    match columns {
        Some(c) => {
            let cols = (c as usize).clamp(1, n);
            (n.div_ceil(cols), cols)
        }
        None if n <= 20 => super::cpu::grid_shape(n, width as f32, height as f32),
        None => {
            let cols = (n as f32).sqrt().ceil() as usize;
            (n.div_ceil(cols), cols)
        }
    }
}

impl DashboardScreen {
    /// A `width` × `height` screen for `panels` panels.
    pub fn new(width: u32, height: u32, panels: usize, columns: Option<u32>) -> Self {
        let mut canvas = Canvas::new(width, height);
        canvas.clear(BACKGROUND);
        let (w, h) = (canvas.width() as f32, canvas.height() as f32);
        let (rows, cols) = grid_for(panels, width, height, columns);
        let cells = (0..panels)
            .map(|i| {
                let (r, c) = ((i / cols) as f32, (i % cols) as f32);
                let x0 = (w * c / cols as f32).round();
                let x1 = (w * (c + 1.0) / cols as f32).round();
                let y0 = (h * r / rows as f32).round();
                let y1 = (h * (r + 1.0) / rows as f32).round();
                Rect {
                    x: x0,
                    y: y0,
                    w: x1 - x0,
                    h: y1 - y0,
                }
            })
            .collect();
        Self {
            canvas,
            cells,
            drawn: vec![None; panels],
            banner: None,
            outage: None,
            points: Vec::new(),
        }
    }

    /// Output size in pixels.
    pub fn size(&self) -> (u32, u32) {
        (self.canvas.width(), self.canvas.height())
    }

    /// Brings the canvas up to date with `model`, drawing only cells whose content changed.
    /// Returns the number of cells redrawn (0: the frame is the same as before).
    pub fn update(&mut self, specs: &[PanelSpec], model: &DashboardModel) -> usize {
        let banner = match &model.connection {
            Connection::Failing { error, .. } => Some(format!("Prometheus: {error}")),
            _ => None,
        };
        let banner_rect = self.banner_rect();
        let banner_changed = banner != self.banner;
        if banner_changed {
            for (cell, drawn) in self.cells.iter().zip(&mut self.drawn) {
                if cell.overlaps(&banner_rect) {
                    *drawn = None;
                }
            }
        }
        let mut redrawn = 0;
        let mut under_banner = false;
        // While the banner says why Prometheus fails, cells do not repeat it.
        self.outage = match &model.connection {
            Connection::Failing { error, .. } => Some(error.clone()),
            _ => None,
        };
        for (i, (spec, state)) in specs.iter().zip(&model.panels).enumerate() {
            let Some(&cell) = self.cells.get(i) else {
                break;
            };
            let print = fingerprint(spec, state, self.outage.as_deref());
            if self.drawn[i] == Some(print) {
                continue;
            }
            self.draw_cell(cell, spec, state);
            self.drawn[i] = Some(print);
            redrawn += 1;
            under_banner |= cell.overlaps(&banner_rect);
        }
        if let Some(text) = &banner
            && (banner_changed || under_banner)
        {
            self.draw_banner(banner_rect, text);
        }
        self.banner = banner;
        redrawn + usize::from(banner_changed)
    }

    /// Copies the canvas into `rgba` (`width * height * 4` bytes).
    pub fn copy_to(&self, rgba: &mut [u8]) {
        self.canvas.copy_to(rgba);
    }

    fn banner_rect(&self) -> Rect {
        let (w, h) = (self.canvas.width() as f32, self.canvas.height() as f32);
        let bh = (h * 0.075).round().clamp(14.0, 30.0);
        Rect {
            x: 0.0,
            y: h - bh,
            w,
            h: bh,
        }
    }

    fn draw_banner(&mut self, r: Rect, text: &str) {
        self.canvas.fill_rect(r.x, r.y, r.w, r.h, BANNER);
        let px = (r.h * 0.62).round();
        let style = TextStyle::new(Face::SansBold, px, Rgb::WHITE);
        let text = self.canvas.ellipsize(style, text, r.w - px);
        let (ascent, descent) = style.face.ascent_descent(px);
        let baseline = r.y + ((r.h - ascent - descent) / 2.0 + ascent).round();
        self.canvas
            .text_clipped(r.clip(), style, r.x + px / 2.0, baseline, &text);
    }

    fn draw_cell(&mut self, cell: Rect, spec: &PanelSpec, state: &PanelState) {
        let c = &mut self.canvas;
        c.fill_rect(cell.x, cell.y, cell.w, cell.h, BACKGROUND);
        let border = (cell.h / 120.0).round().clamp(1.0, 3.0);
        c.stroke_rect(cell.x, cell.y, cell.w, cell.h, border, BORDER);
        let pad = (cell.h * 0.05).round().clamp(3.0, 10.0);
        let inner = Rect {
            x: cell.x + border + pad,
            y: cell.y + border + pad * 0.6,
            w: cell.w - 2.0 * (border + pad),
            h: cell.h - 2.0 * border - pad * 1.6,
        };
        if inner.w < 8.0 || inner.h < 8.0 {
            return;
        }
        let clip = cell.clip();
        let title_px = (cell.h * 0.13).min(cell.w * 0.1).round().clamp(9.0, 26.0);
        let title = TextStyle::new(Face::Sans, title_px, FOREGROUND);
        let (ascent, descent) = title.face.ascent_descent(title_px);
        let baseline = (inner.y + ascent).round();
        // "of 15.6 GiB" at the right of the title row for panels with a max query.
        let mut title_room = inner.w;
        if let Some(Reading::Value(max)) = &state.max {
            let text = format!("of {}", spec.unit.format(*max, spec.decimals).joined());
            let style = TextStyle::new(Face::Sans, title_px, DIM);
            let w = c.measure(style, &text);
            if w < inner.w * 0.6 {
                c.text_clipped(clip, style, inner.x + inner.w - w, baseline, &text);
                title_room = inner.w - w - title_px * 0.5;
            }
        }
        let text = c.ellipsize(title, &spec.title, title_room);
        c.text_clipped(clip, title, inner.x, baseline, &text);
        let body = Rect {
            x: inner.x,
            y: inner.y + (ascent + descent).ceil() + pad * 0.5,
            w: inner.w,
            h: inner.bottom() - (inner.y + (ascent + descent).ceil() + pad * 0.5),
        };
        if body.h < 8.0 {
            return;
        }
        let range = panel_range(spec, state);
        let dims = Dims {
            clip,
            title_px,
            cell_h: cell.h,
        };
        match spec.kind {
            PanelKind::Graph => self.draw_graph_panel(body, dims, spec, state, range),
            PanelKind::Value => self.draw_value_panel(body, dims, spec, state, range),
            PanelKind::Gauge => self.draw_gauge_panel(body, dims, spec, state, range),
        }
    }

    fn draw_graph_panel(
        &mut self,
        body: Rect,
        d: Dims,
        spec: &PanelSpec,
        state: &PanelState,
        range: (f64, f64),
    ) {
        let values_bottom = if spec.series.len() == 1 {
            let px = (d.cell_h * 0.22).round().clamp(12.0, 56.0);
            let bottom = (body.y + line_height(Face::SansBold, px)).round();
            let reading = &state.series[0].reading;
            let color = spec.series[0].color;
            let r = Rect {
                h: bottom - body.y,
                ..body
            };
            self.value_line(r, d, "", reading, spec, color, px, false);
            bottom
        } else {
            let px = (d.cell_h * 0.13).round().clamp(9.0, 28.0);
            let lh = line_height(Face::SansBold, px).round();
            let mut y = body.y;
            for (s, st) in spec.series.iter().zip(&state.series) {
                let r = Rect { y, h: lh, ..body };
                self.value_line(r, d, &s.label, &st.reading, spec, s.color, px, false);
                y += lh;
            }
            y
        };
        let gap = (d.cell_h * 0.04).round().clamp(2.0, 8.0);
        let graph = Rect {
            y: values_bottom + gap,
            h: body.bottom() - values_bottom - gap,
            ..body
        };
        if graph.h < 10.0 {
            return;
        }
        let c = &mut self.canvas;
        c.stroke_rect(graph.x, graph.y, graph.w, graph.h, 1.0, GRID);
        for k in 1..=3 {
            let y = graph.y + (graph.h * k as f32 / 4.0).round();
            c.fill_rect(graph.x, y, graph.w, 1.0, GRID);
        }
        for k in 1..=4 {
            let x = graph.x + (graph.w * k as f32 / 5.0).round();
            c.fill_rect(x, graph.y, 1.0, graph.h, GRID);
        }
        // The top of the range, so the height of a line means something; under the lines, so
        // it never hides data.
        let axis_px = (d.title_px * 0.8).round().clamp(8.0, 18.0);
        let axis = TextStyle::new(Face::Sans, axis_px, DIM);
        let (ascent, _) = axis.face.ascent_descent(axis_px);
        let top = axis_label(spec.unit, range.1);
        c.text_clipped(
            d.clip,
            axis,
            graph.x + 3.0,
            (graph.y + 1.0 + ascent).round(),
            &top,
        );
        if range.0 != 0.0 {
            let bottom = axis_label(spec.unit, range.0);
            c.text_clipped(d.clip, axis, graph.x + 3.0, graph.bottom() - 3.0, &bottom);
        }
        let width = (d.cell_h / 80.0).clamp(1.0, 2.5);
        for (s, st) in spec.series.iter().zip(&state.series) {
            self.history_line(graph, st, range, s.color, width);
        }
        let why = state.series.iter().find_map(|s| match &s.reading {
            Reading::NoData(why) => Some(why),
            _ => None,
        });
        if let Some(why) = why {
            self.centered_note(graph, d, why);
        }
    }

    fn draw_value_panel(
        &mut self,
        body: Rect,
        d: Dims,
        spec: &PanelSpec,
        state: &PanelState,
        range: (f64, f64),
    ) {
        // A faint filled history along the bottom.
        let spark = Rect {
            y: body.y + body.h * 0.55,
            h: body.h * 0.45,
            ..body
        };
        if let (Some(s), Some(st)) = (spec.series.first(), state.series.first()) {
            self.history_area(spark, st, range, s.color);
        }
        if spec.series.len() == 1 {
            let px = (body.h * 0.5).round().clamp(12.0, 96.0);
            let lh = line_height(Face::SansBold, px);
            let r = Rect {
                y: (body.y + (body.h * 0.75 - lh) / 2.0).max(body.y).round(),
                h: lh,
                ..body
            };
            let reading = &state.series[0].reading;
            self.value_line(r, d, "", reading, spec, spec.series[0].color, px, true);
            if let Reading::NoData(why) = reading {
                let note = Rect {
                    y: r.bottom(),
                    h: body.bottom() - r.bottom(),
                    ..body
                };
                self.centered_note(note, d, why);
            }
        } else {
            let px = (body.h / (spec.series.len() as f32 + 0.5) * 0.8)
                .round()
                .clamp(9.0, 48.0);
            let lh = line_height(Face::SansBold, px).round();
            let mut y = body.y + ((body.h - lh * spec.series.len() as f32) / 2.0).max(0.0);
            for (s, st) in spec.series.iter().zip(&state.series) {
                let r = Rect { y, h: lh, ..body };
                self.value_line(r, d, &s.label, &st.reading, spec, s.color, px, true);
                y += lh;
            }
        }
    }

    fn draw_gauge_panel(
        &mut self,
        body: Rect,
        d: Dims,
        spec: &PanelSpec,
        state: &PanelState,
        (lo, hi): (f64, f64),
    ) {
        let label_px = (d.title_px * 0.8).round().clamp(8.0, 18.0);
        let label_h = line_height(Face::Sans, label_px);
        // The arc spans 240°: its height is 1.5 radii.
        let outer = (body.w / 2.0).min((body.h - label_h) / 1.5);
        if outer < 8.0 {
            return;
        }
        let thickness = (outer * 0.2).max(3.0);
        let radius = outer - thickness / 2.0;
        let cx = body.x + body.w / 2.0;
        let cy = body.y + outer;
        let (Some(series), Some(st)) = (spec.series.first(), state.series.first()) else {
            return;
        };
        self.arc(cx, cy, radius, 1.0, thickness, GRID);
        let value = st.reading.value();
        if let Some(v) = value.filter(|v| !v.is_nan()) {
            let frac = ((v - lo) / (hi - lo)).clamp(0.0, 1.0) as f32;
            if frac > 0.0 {
                self.arc(cx, cy, radius, frac, thickness, series.color);
            }
        }
        // Value in the middle of the arc.
        let inside = Rect {
            x: cx - radius * 0.8,
            y: cy - radius * 0.45,
            w: radius * 1.6,
            h: radius * 0.75,
        };
        let px = (radius * 0.55).round().clamp(10.0, 80.0);
        let r = Rect {
            h: line_height(Face::SansBold, px),
            ..inside
        };
        self.value_line(r, d, "", &st.reading, spec, series.color, px, true);
        if let Reading::NoData(why) = &st.reading {
            let note = Rect {
                x: body.x,
                y: cy + radius * 0.15,
                w: body.w,
                h: label_h * 1.5,
            };
            self.centered_note(note, d, why);
        }
        // Bottom and top of the range under the arc's ends.
        let end_y = cy + outer * 0.5 + 1.0;
        let style = TextStyle::new(Face::Sans, label_px, DIM);
        let (ascent, _) = style.face.ascent_descent(label_px);
        let lo_text = axis_label(spec.unit, lo);
        let hi_text = axis_label(spec.unit, hi);
        let left = cx - radius * 0.87 - self.canvas.measure(style, &lo_text) / 2.0;
        let right = cx + radius * 0.87 - self.canvas.measure(style, &hi_text) / 2.0;
        let c = &mut self.canvas;
        c.text_clipped(d.clip, style, left.max(body.x), end_y + ascent, &lo_text);
        let right = right.min(body.x + body.w - c.measure(style, &hi_text));
        c.text_clipped(d.clip, style, right, end_y + ascent, &hi_text);
    }

    /// "label  12.3 MiB/s" fitted into `r` (`centered` or left-aligned); "no data" in red, "…"
    /// while pending.
    #[allow(clippy::too_many_arguments)]
    fn value_line(
        &mut self,
        r: Rect,
        d: Dims,
        label: &str,
        reading: &Reading,
        spec: &PanelSpec,
        color: Rgb,
        px: f32,
        centered: bool,
    ) {
        let (number, unit, number_color) = match reading {
            Reading::Value(v) => {
                let f = spec.unit.format(*v, spec.decimals);
                (f.number, f.unit, color)
            }
            Reading::Pending => ("…".to_owned(), String::new(), DIM),
            Reading::NoData(_) => ("no data".to_owned(), String::new(), ERROR),
        };
        // Sizes relative to the number: label and unit at 55 %, never below 8 px.
        let measure = |c: &mut Canvas, px: f32| {
            let small = (px * 0.55).max(8.0).round();
            let lw = if label.is_empty() {
                0.0
            } else {
                c.measure(TextStyle::new(Face::Sans, small, color), label) + small * 0.4
            };
            let nw = c.measure(TextStyle::new(Face::SansBold, px, number_color), &number);
            let uw = if unit.is_empty() {
                0.0
            } else {
                c.measure(TextStyle::new(Face::Sans, small, FOREGROUND), &unit) + small * 0.25
            };
            (small, lw, nw, uw)
        };
        // "no data" is a state, not a number: smaller than the number it stands for.
        let px = if matches!(reading, Reading::NoData(_)) {
            (px * 0.6).round().max(9.0)
        } else {
            px
        };
        let c = &mut self.canvas;
        let (_, lw, nw, uw) = measure(c, px);
        let total = lw + nw + uw;
        // Advances scale linearly with the size (fontdue does not hint), so one measurement fits.
        let px = if total > r.w {
            (px * r.w / total).floor().max(8.0)
        } else {
            px
        };
        let (small, lw, nw, uw) = measure(c, px);
        let (ascent, _) = Face::SansBold.ascent_descent(px);
        let baseline = (r.y + ascent).round();
        let mut x = if centered {
            r.x + ((r.w - (lw + nw + uw)) / 2.0).max(0.0)
        } else {
            r.x
        };
        if !label.is_empty() {
            c.text_clipped(
                d.clip,
                TextStyle::new(Face::Sans, small, color),
                x,
                baseline,
                label,
            );
            x += lw;
        }
        let number_style = TextStyle::new(Face::SansBold, px, number_color);
        let room = r.x + r.w - x;
        let number = if nw > room {
            c.ellipsize(number_style, &number, room)
        } else {
            number
        };
        let end = c.text_clipped(d.clip, number_style, x, baseline, &number);
        if !unit.is_empty() && nw <= room {
            let style = TextStyle::new(Face::Sans, small, FOREGROUND);
            c.text_clipped(d.clip, style, end + small * 0.25, baseline, &unit);
        }
    }

    /// `text` in small red letters, centred in `r` on a background plate; nothing when the
    /// banner already says it.
    fn centered_note(&mut self, r: Rect, d: Dims, text: &str) {
        if self.outage.as_deref() == Some(text) {
            return;
        }
        let px = (d.title_px * 0.85).round().clamp(8.0, 20.0);
        let style = TextStyle::new(Face::Sans, px, ERROR);
        let text = self.canvas.ellipsize(style, text, r.w - 4.0);
        let w = self.canvas.measure(style, &text);
        let lh = line_height(Face::Sans, px);
        let x = r.x + ((r.w - w) / 2.0).max(0.0);
        let y = r.y + ((r.h - lh) / 2.0).max(0.0);
        self.plate_text(d.clip, x, y, px, ERROR, &text);
    }

    /// `text` with its top at `y` on a plate of background colour.
    fn plate_text(&mut self, clip: [i32; 4], x: f32, y: f32, px: f32, color: Rgb, text: &str) {
        let style = TextStyle::new(Face::Sans, px, color);
        let w = self.canvas.measure(style, text);
        let (ascent, descent) = style.face.ascent_descent(px);
        self.canvas.blend_rect(
            x - 1.0,
            y,
            w + 2.0,
            (ascent + descent).ceil(),
            BACKGROUND,
            220,
        );
        self.canvas
            .text_clipped(clip, style, x, (y + ascent).round(), text);
    }

    /// The series' history as polylines across `g` (gaps where samples are missing).
    fn history_line(
        &mut self,
        g: Rect,
        st: &crate::source::dashboard::model::SeriesState,
        (lo, hi): (f64, f64),
        color: Rgb,
        width: f32,
    ) {
        let n = st.history.slots().len();
        let step = (g.w - 2.0) / (n.max(2) - 1) as f32;
        let y_of = |v: f64| {
            let f = ((v - lo) / (hi - lo)).clamp(0.0, 1.0) as f32;
            g.y + 1.0 + (g.h - 2.0) * (1.0 - f)
        };
        self.points.clear();
        for (i, v) in st.history.slots().enumerate() {
            match v {
                Some(v) => self.points.push((g.x + 1.0 + i as f32 * step, y_of(v))),
                None => {
                    flush_run(&mut self.canvas, &mut self.points, width, color);
                }
            }
        }
        flush_run(&mut self.canvas, &mut self.points, width, color);
    }

    /// The series' history as a faint filled area over the bottom of `g`.
    fn history_area(
        &mut self,
        g: Rect,
        st: &crate::source::dashboard::model::SeriesState,
        (lo, hi): (f64, f64),
        color: Rgb,
    ) {
        let n = st.history.slots().len();
        let step = g.w / (n.max(2) - 1) as f32;
        let mut run: Vec<(f32, f32)> = Vec::new();
        let fill = |c: &mut Canvas, run: &mut Vec<(f32, f32)>| {
            if run.len() >= 2 {
                let (first, last) = (run[0].0, run[run.len() - 1].0);
                run.push((last, g.bottom()));
                run.push((first, g.bottom()));
                c.fill_polygon(run, color, 56);
            }
            run.clear();
        };
        for (i, v) in st.history.slots().enumerate() {
            match v {
                Some(v) => {
                    let f = ((v - lo) / (hi - lo)).clamp(0.0, 1.0) as f32;
                    run.push((g.x + i as f32 * step, g.y + g.h * (1.0 - f)));
                }
                None => fill(&mut self.canvas, &mut run),
            }
        }
        fill(&mut self.canvas, &mut run);
    }

    /// A 240° arc (from the bottom left, clockwise) covering `frac` of its sweep.
    fn arc(&mut self, cx: f32, cy: f32, radius: f32, frac: f32, thickness: f32, color: Rgb) {
        let start = 150f32.to_radians();
        let sweep = 240f32.to_radians() * frac;
        let steps = ((radius * sweep / 3.0).ceil() as usize).clamp(4, 256);
        self.points.clear();
        self.points.extend((0..=steps).map(|i| {
            let a = start + sweep * i as f32 / steps as f32;
            (cx + radius * a.cos(), cy + radius * a.sin())
        }));
        let points = std::mem::take(&mut self.points);
        self.canvas.polyline(&points, thickness, color);
        self.points = points;
    }
}

/// Sizes shared by a cell's parts.
#[derive(Debug, Clone, Copy)]
struct Dims {
    clip: [i32; 4],
    title_px: f32,
    cell_h: f32,
}

/// A range end as an axis label: round numbers without trailing zeros ("10 MiB/s", "2.5 k").
fn axis_label(unit: crate::source::dashboard::units::Unit, v: f64) -> String {
    let mut f = unit.format(v, None);
    if f.number.contains('.') && !f.number.contains('e') {
        f.number = f
            .number
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_owned();
    }
    f.joined()
}

fn line_height(face: Face, px: f32) -> f32 {
    let (a, d) = face.ascent_descent(px);
    a + d
}

fn flush_run(c: &mut Canvas, points: &mut Vec<(f32, f32)>, width: f32, color: Rgb) {
    match points.len() {
        0 => {}
        // A lone sample between gaps: a dot, so it is not lost.
        1 => c.fill_rect(points[0].0 - 1.0, points[0].1 - 1.0, 2.0, 2.0, color),
        _ => c.polyline(points, width, color),
    }
    points.clear();
}

/// A digest of everything a cell shows: equal digests draw equal pixels.
fn fingerprint(spec: &PanelSpec, state: &PanelState, outage: Option<&str>) -> u64 {
    let mut h = DefaultHasher::new();
    outage.hash(&mut h);
    let reading = |h: &mut DefaultHasher, r: &Reading| match r {
        Reading::Pending => 0u8.hash(h),
        Reading::Value(v) => {
            1u8.hash(h);
            v.to_bits().hash(h);
        }
        Reading::NoData(why) => {
            2u8.hash(h);
            why.hash(h);
        }
    };
    for s in &state.series {
        reading(&mut h, &s.reading);
        // Only graphs and value sparklines show history; gauges ignore it.
        if spec.kind != PanelKind::Gauge {
            for v in s.history.slots() {
                v.map(f64::to_bits).hash(&mut h);
            }
        }
    }
    if let Some(m) = &state.max {
        reading(&mut h, m);
    }
    let (lo, hi) = panel_range(spec, state);
    lo.to_bits().hash(&mut h);
    hi.to_bits().hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::dashboard::DashboardConfig;
    use crate::source::dashboard::model::QueryTarget;
    use crate::source::dashboard::prom_api::InstantSeries;
    use crate::source::render::golden_tests::dashboard_fixture;

    fn frame(screen: &DashboardScreen) -> Vec<u8> {
        let (w, h) = screen.size();
        let mut rgba = vec![0; (w * h * 4) as usize];
        screen.copy_to(&mut rgba);
        rgba
    }

    fn one(v: f64) -> Result<Vec<InstantSeries>, crate::source::dashboard::prom_api::QueryError> {
        Ok(vec![InstantSeries {
            labels: Default::default(),
            value: v,
        }])
    }

    /// Pixels of exactly `c` inside the rectangle.
    fn count(rgba: &[u8], width: u32, r: Rect, c: Rgb) -> usize {
        let mut n = 0;
        for y in r.y as u32..r.bottom() as u32 {
            for x in r.x as u32..(r.x + r.w) as u32 {
                let p = &rgba[((y * width + x) * 4) as usize..][..3];
                n += usize::from(p == [c.r, c.g, c.b]);
            }
        }
        n
    }

    #[test]
    fn only_changed_cells_are_redrawn() {
        let (specs, mut model) = dashboard_fixture();
        let mut screen = DashboardScreen::new(320, 240, specs.len(), None);
        assert_eq!(screen.update(&specs, &model), 6);
        let before = frame(&screen);
        assert_eq!(screen.update(&specs, &model), 0, "nothing changed");
        assert_eq!(frame(&screen), before);
        // A new load value (panel 2) on the same tick touches only that cell.
        let tick = model.tick.unwrap_or(0);
        model.apply_instant(
            tick,
            vec![(
                QueryTarget::Series {
                    panel: 2,
                    series: 0,
                },
                one(7.5),
            )],
        );
        assert_eq!(screen.update(&specs, &model), 1);
        let after = frame(&screen);
        let cell = screen.cells[2];
        let mut changed_outside = 0;
        let mut changed_inside = 0;
        for (i, (a, b)) in before.chunks(4).zip(after.chunks(4)).enumerate() {
            if a != b {
                let (x, y) = ((i % 320) as f32, (i / 320) as f32);
                let inside = x >= cell.x && x < cell.x + cell.w && y >= cell.y && y < cell.bottom();
                if inside {
                    changed_inside += 1;
                } else {
                    changed_outside += 1;
                }
            }
        }
        assert_eq!(changed_outside, 0);
        assert!(changed_inside > 100, "{changed_inside}");
    }

    #[test]
    fn no_data_is_red_and_values_are_in_their_colour() {
        let (specs, mut model) = dashboard_fixture();
        let mut screen = DashboardScreen::new(320, 240, specs.len(), None);
        screen.update(&specs, &model);
        let cpu = screen.cells[0];
        let ok = frame(&screen);
        assert_eq!(count(&ok, 320, cpu, ERROR), 0);
        assert!(
            count(&ok, 320, cpu, Rgb::new(0, 255, 255)) > 50,
            "cyan value and line"
        );
        let tick = model.tick.unwrap_or(0) + 1;
        model.apply_instant(
            tick,
            vec![(
                QueryTarget::Series {
                    panel: 0,
                    series: 0,
                },
                Ok(vec![]),
            )],
        );
        screen.update(&specs, &model);
        let empty = frame(&screen);
        assert!(count(&empty, 320, cpu, ERROR) > 60, "no data in red");
        // The other panels are not failing.
        assert_eq!(count(&empty, 320, screen.cells[1], ERROR), 0);
    }

    #[test]
    fn outage_banner_appears_and_goes() {
        let (specs, mut model) = dashboard_fixture();
        let mut screen = DashboardScreen::new(320, 240, specs.len(), None);
        screen.update(&specs, &model);
        let bottom = Rect {
            x: 0.0,
            y: 230.0,
            w: 320.0,
            h: 10.0,
        };
        assert_eq!(count(&frame(&screen), 320, bottom, BANNER), 0);
        let tick = model.tick.unwrap_or(0) + 1;
        model.apply_unreachable(tick, "connection refused".into());
        screen.update(&specs, &model);
        assert!(count(&frame(&screen), 320, bottom, BANNER) > 1000);
        model.apply_instant(
            tick + 1,
            vec![(
                QueryTarget::Series {
                    panel: 0,
                    series: 0,
                },
                one(1.0),
            )],
        );
        screen.update(&specs, &model);
        assert_eq!(count(&frame(&screen), 320, bottom, BANNER), 0, "recovered");
    }

    #[test]
    fn line_height_follows_the_value() {
        // One graph panel with a fixed 0..100 range: a constant 25 sits a quarter up the graph,
        // a constant 75 three quarters up.
        let cfg: DashboardConfig = toml::from_str(
            "[[panels]]\ntitle = \"t\"\nunit = \"percent\"\nrange = [0, 100]\nquery = \"q\"\ncolor = \"#ff0000\"",
        )
        .unwrap();
        let specs = cfg.panel_specs();
        let mean_red_y = |v: f64| {
            let mut model = crate::source::dashboard::model::DashboardModel::new(&specs, 20);
            for t in 0..20 {
                model.apply_instant(
                    t,
                    vec![(
                        QueryTarget::Series {
                            panel: 0,
                            series: 0,
                        },
                        one(v),
                    )],
                );
            }
            let mut screen = DashboardScreen::new(200, 200, 1, None);
            screen.update(&specs, &model);
            let rgba = frame(&screen);
            // Red line pixels right of the value text's column (x > 100), below the value row.
            let ys: Vec<f32> = (100..200u32)
                .flat_map(|y| (120..190u32).map(move |x| (x, y)))
                .filter(|&(x, y)| {
                    let p = &rgba[((y * 200 + x) * 4) as usize..][..3];
                    p[0] > 200 && p[1] < 60 && p[2] < 60
                })
                .map(|(_, y)| y as f32)
                .collect();
            assert!(!ys.is_empty(), "a line for {v}");
            ys.iter().sum::<f32>() / ys.len() as f32
        };
        let (y25, y75) = (mean_red_y(25.0), mean_red_y(75.0));
        assert!(y75 < y25, "higher values draw higher: {y75} vs {y25}");
        let y50 = mean_red_y(50.0);
        assert!(((y25 + y75) / 2.0 - y50).abs() < 1.5, "{y25} {y50} {y75}");
    }
}
