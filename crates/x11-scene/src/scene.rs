//! The benchmark picture. [`render_into`] draws picture `index` of a mode into a packed BGRA
//! buffer; it reads nothing but its arguments, so the analysis re-renders the exact picture a
//! capture saw from the index the [`marker`](crate::marker) carries. Motion is per picture: at the
//! scene's usual 60 pictures/s the terminal scrolls 10 lines/s.
//!
//! * `dashboard`: a header with the marker, a terminal of pseudo-glyph text scrolling a line every
//!   6 pictures, 12 bar gauges, a video-like region (moving plasma plus per-pixel noise) and three
//!   bouncing boxes drawn over the right half.
//! * `heavy`: a text-and-gradient texture covering the screen, scrolling 3 px right and 2 px down
//!   per picture (the worst case: every pixel changes every picture).
//! * `idle` and `pulse` draw dashboard pictures; they differ in *which* picture is shown when
//!   ([`Mode::picture_at`]).

use crate::{marker, mix};
use std::sync::OnceLock;

/// What the scene shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The dashboard, a new picture every frame.
    Dashboard,
    /// The full-screen scrolling texture, a new picture every frame.
    Heavy,
    /// Dashboard picture 0, drawn once.
    Idle,
    /// The dashboard moving for one phase, still for the next.
    Pulse,
}

impl Mode {
    /// Parses `dashboard`, `heavy`, `idle` or `pulse`.
    pub fn parse(s: &str) -> Option<Mode> {
        Some(match s {
            "dashboard" => Mode::Dashboard,
            "heavy" => Mode::Heavy,
            "idle" => Mode::Idle,
            "pulse" => Mode::Pulse,
            _ => return None,
        })
    }

    /// The picture shown at scene frame `frame`. `phase_frames` is the length of a pulse phase (the
    /// scene's frame rate, for 1 s moving and 1 s still). The index is wrapped to what the marker
    /// carries.
    pub fn picture_at(self, frame: u64, phase_frames: u64) -> u64 {
        let n = phase_frames.max(1);
        let p = match self {
            Mode::Dashboard | Mode::Heavy => frame,
            Mode::Idle => 0,
            Mode::Pulse => {
                let (phase, within) = (frame / n, frame % n);
                if phase.is_multiple_of(2) {
                    phase / 2 * n + within
                } else {
                    phase / 2 * n + n - 1
                }
            }
        };
        p & marker::MAX_INDEX
    }
}

/// Picture `index` of `mode`, `width` x `height` packed BGRA (alpha 255).
pub fn render(index: u64, width: u32, height: u32, mode: Mode) -> Vec<u8> {
    let mut buf = vec![0; width as usize * height as usize * 4];
    render_into(&mut buf, index, width as usize, height as usize, mode);
    buf
}

/// [`render`] into a buffer of at least `width * height * 4` bytes.
pub fn render_into(buf: &mut [u8], index: u64, width: usize, height: usize, mode: Mode) {
    let c = Canvas {
        buf: &mut buf[..width * height * 4],
        w: width,
        h: height,
    };
    match mode {
        Mode::Heavy => heavy(c, index),
        Mode::Dashboard | Mode::Idle | Mode::Pulse => dashboard(c, index),
    }
    marker::stamp(buf, width, height, index);
}

/// Colours as BGRA bytes.
type Bgra = [u8; 4];

const fn rgb(r: u8, g: u8, b: u8) -> Bgra {
    [b, g, r, 0xFF]
}

const BACKGROUND: Bgra = rgb(0x22, 0x26, 0x2E);
const PANEL: Bgra = rgb(0x30, 0x36, 0x40);
const TERMINAL: Bgra = rgb(0x0C, 0x0C, 0x0C);
const TEXT: [Bgra; 4] = [
    rgb(0x50, 0xE0, 0x68),
    rgb(0xE8, 0xE8, 0xE8),
    rgb(0xF0, 0xC8, 0x40),
    rgb(0x60, 0xA8, 0xF0),
];

struct Canvas<'a> {
    buf: &'a mut [u8],
    w: usize,
    h: usize,
}

impl Canvas<'_> {
    fn fill(&mut self, x: i64, y: i64, w: i64, h: i64, c: Bgra) {
        let (x0, y0) = (
            x.clamp(0, self.w as i64) as usize,
            y.clamp(0, self.h as i64) as usize,
        );
        let x1 = (x + w).clamp(0, self.w as i64) as usize;
        let y1 = (y + h).clamp(0, self.h as i64) as usize;
        if x1 <= x0 {
            return;
        }
        for row in y0..y1 {
            let line = &mut self.buf[(row * self.w + x0) * 4..(row * self.w + x1) * 4];
            for px in line.chunks_exact_mut(4) {
                px.copy_from_slice(&c);
            }
        }
    }

    /// One 5x7 glyph in a 7x12 cell at (x, y), clipped to rows `clip_y0..clip_y1`.
    fn glyph(&mut self, x: usize, y: i64, g: u64, c: Bgra, clip: (i64, i64)) {
        for gy in 0..7 {
            let row = y + 2 + gy;
            if row < clip.0 || row >= clip.1 || row < 0 || row >= self.h as i64 {
                continue;
            }
            let bits = (g >> (gy * 5)) & 0x1F;
            for gx in 0..5 {
                let col = x + 1 + gx;
                if bits & (1 << gx) != 0 && col < self.w {
                    let o = (row as usize * self.w + col) * 4;
                    self.buf[o..o + 4].copy_from_slice(&c);
                }
            }
        }
    }
}

/// 35 bits of a pseudo-glyph for character code `ch` (about half the pixels set).
fn glyph_bits(ch: u64) -> u64 {
    mix(ch.wrapping_mul(0x1F3)) & ((1 << 35) - 1)
}

/// A position bouncing between 0 and `span` at `speed` pixels per picture.
fn bounce(start: u64, speed: u64, index: u64, span: u64) -> i64 {
    if span == 0 {
        return 0;
    }
    let t = (start + speed * index) % (2 * span);
    (if t < span { t } else { 2 * span - t }) as i64
}

const CELL_W: usize = 7;
const CELL_H: usize = 12;
/// Pictures per scrolled terminal line (10 lines/s at 60 pictures/s).
const PICTURES_PER_LINE: u64 = 6;

fn dashboard(mut c: Canvas<'_>, index: u64) {
    let (w, h) = (c.w as i64, c.h as i64);
    c.fill(0, 0, w, h, BACKGROUND);
    let header = 40.max(h / 18);
    c.fill(0, 0, w, header, PANEL);

    // Terminal: left half below the header.
    let (tx, ty, tw, th) = (16, header + 8, w / 2 - 24, h - header - 24);
    c.fill(tx, ty, tw, th, TERMINAL);
    let cols = (tw.max(0) as usize / CELL_W).saturating_sub(1);
    let rows = th.max(0) as usize / CELL_H + 1;
    let first_line = index / PICTURES_PER_LINE;
    for r in 0..rows {
        let line = first_line + r as u64;
        let h_line = mix(line);
        let len = if h_line.is_multiple_of(7) {
            0
        } else {
            (h_line >> 8) as usize % (cols + 1)
        };
        let colour = TEXT[(h_line >> 40) as usize % TEXT.len()];
        let y = ty + (r * CELL_H) as i64;
        for col in 0..len {
            let ch = mix(line.wrapping_mul(131).wrapping_add(col as u64)) % 96;
            if ch < 12 {
                continue; // a space
            }
            c.glyph(
                tx as usize + 4 + col * CELL_W,
                y,
                glyph_bits(ch),
                colour,
                (ty, ty + th),
            );
        }
    }

    // Gauges: right half, top third.
    let (gx, gy, gw, gh) = (w / 2 + 8, header + 8, w / 2 - 24, h / 3);
    c.fill(gx, gy, gw, gh, PANEL);
    let bars = 12i64;
    let slot = (gw / bars).max(1);
    for b in 0..bars {
        let full = (gh - 16).max(1) as u64;
        let level = bounce(mix(b as u64) % full, 1 + b as u64 % 5, index, full);
        let colour = rgb(0x40 + (b * 16) as u8, 0xC0 - (b * 8) as u8, 0xE0);
        c.fill(
            gx + b * slot + 4,
            gy + gh - 8 - level,
            slot - 8,
            level,
            colour,
        );
    }

    // Video-like region: bottom right.
    let (vw, vh) = (w / 4, h / 4);
    let (vx, vy) = (w - vw - 16, h - vh - 16);
    video(&mut c, vx, vy, vw, vh, index);

    // Bouncing boxes over the right half.
    let (bx, by, bw, bh) = (w / 2, header, w / 2, h - header);
    for k in 0..3u64 {
        let size = (h / 8 + k as i64 * h / 24).max(8);
        let x = bx
            + bounce(
                mix(k + 10) % 997,
                3 + k * 2,
                index,
                (bw - size).max(0) as u64,
            );
        let y = by + bounce(mix(k + 20) % 991, 2 + k, index, (bh - size).max(0) as u64);
        let colour = [
            rgb(0xE0, 0x50, 0x50),
            rgb(0x50, 0x90, 0xE0),
            rgb(0xF0, 0xF0, 0x60),
        ][k as usize];
        c.fill(x, y, size, size, colour);
        c.fill(x + size / 4, y + size / 4, size / 2, size / 2, BACKGROUND);
    }
}

/// Moving colour waves plus per-pixel noise: content that changes everywhere, like video.
fn video(c: &mut Canvas<'_>, x: i64, y: i64, w: i64, h: i64, index: u64) {
    if x < 0 || y < 0 || w <= 0 || h <= 0 {
        return;
    }
    let (x, y, w, h) = (x as usize, y as usize, w as usize, h as usize);
    let t = index as usize;
    for row in 0..h.min(c.h.saturating_sub(y)) {
        let o = ((y + row) * c.w + x) * 4;
        let line = &mut c.buf[o..o + w.min(c.w - x) * 4];
        for (col, px) in line.chunks_exact_mut(4).enumerate() {
            let n =
                mix(((index << 32) ^ ((row as u64) << 16) ^ col as u64).wrapping_add(7)) as usize;
            let a = (col * 2 + t * 3) & 0x1FF;
            let b = (row * 3 + t * 2) & 0x1FF;
            let tri = |v: usize| if v < 256 { v } else { 511 - v };
            px[0] = (tri(a) / 2 + tri(b) / 4 + (n & 0x1F)) as u8;
            px[1] = (tri((a + b) & 0x1FF) / 2 + ((n >> 8) & 0x1F)) as u8;
            px[2] = (tri(b) / 2 + tri(a) / 4 + ((n >> 16) & 0x1F)) as u8;
            px[3] = 0xFF;
        }
    }
}

const TILE: usize = 512;

/// The texture of `heavy`: 512x512 BGRA of glyph rows over a diagonal gradient.
fn tile() -> &'static [u8] {
    static TILE_PIXELS: OnceLock<Vec<u8>> = OnceLock::new();
    TILE_PIXELS.get_or_init(|| {
        let mut buf = vec![0; TILE * TILE * 4];
        for y in 0..TILE {
            for x in 0..TILE {
                let v = ((x + y) / 4) as u8;
                buf[(y * TILE + x) * 4..(y * TILE + x + 1) * 4].copy_from_slice(&rgb(
                    v / 2,
                    0x30 + v / 4,
                    0x80 - v / 4,
                ));
            }
        }
        let mut c = Canvas {
            buf: &mut buf,
            w: TILE,
            h: TILE,
        };
        for r in 0..TILE / CELL_H {
            for col in 0..TILE / CELL_W {
                let ch = mix((r * 1000 + col) as u64) % 96;
                if ch >= 12 {
                    let colour = TEXT[r % TEXT.len()];
                    let y = (r * CELL_H) as i64;
                    c.glyph(col * CELL_W, y, glyph_bits(ch), colour, (0, TILE as i64));
                }
            }
        }
        buf
    })
}

fn heavy(c: Canvas<'_>, index: u64) {
    let t = tile();
    let dx = (index as usize * 3) % TILE;
    let dy = (index as usize * 2) % TILE;
    for row in 0..c.h {
        let src_row = &t[((row + TILE - dy) % TILE) * TILE * 4..][..TILE * 4];
        let line = &mut c.buf[row * c.w * 4..(row + 1) * c.w * 4];
        // Column x shows tile column (x - dx) mod TILE.
        let mut x = 0;
        while x < c.w {
            let sx = (x + TILE - dx) % TILE;
            let n = (TILE - sx).min(c.w - x);
            line[x * 4..(x + n) * 4].copy_from_slice(&src_row[sx * 4..(sx + n) * 4]);
            x += n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_are_pure_functions_of_the_index() {
        for mode in [Mode::Dashboard, Mode::Heavy] {
            assert_eq!(render(42, 400, 240, mode), render(42, 400, 240, mode));
            assert_ne!(render(42, 400, 240, mode), render(43, 400, 240, mode));
        }
    }

    #[test]
    fn consecutive_dashboard_pictures_differ_in_part_only() {
        let (a, b) = (
            render(100, 640, 360, Mode::Dashboard),
            render(101, 640, 360, Mode::Dashboard),
        );
        let changed = a
            .chunks_exact(4)
            .zip(b.chunks_exact(4))
            .filter(|(p, q)| p != q)
            .count();
        assert!(changed > 1000 && changed < 640 * 360 / 2, "{changed}");
    }

    #[test]
    fn schedules() {
        assert_eq!(Mode::Idle.picture_at(500, 60), 0);
        assert_eq!(Mode::Dashboard.picture_at(500, 60), 500);
        let pulse: Vec<u64> = (0..8).map(|f| Mode::Pulse.picture_at(f, 2)).collect();
        assert_eq!(pulse, [0, 1, 1, 1, 2, 3, 3, 3]);
        assert_eq!(Mode::Heavy.picture_at(marker::MAX_INDEX + 1, 60), 0);
    }

    #[test]
    fn odd_sizes_do_not_panic() {
        for (w, h) in [(1, 1), (17, 5), (300, 30), (1279, 721)] {
            for mode in [Mode::Dashboard, Mode::Heavy] {
                assert_eq!(render(7, w, h, mode).len(), (w * h * 4) as usize);
            }
        }
    }
}
