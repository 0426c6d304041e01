//! Text for the built-in screens: `fontdue` rasterises the DejaVu TTFs embedded by the `dejavu`
//! crate (Latin, Cyrillic, box drawing U+2500..U+257F), and the coverage is blended into an opaque
//! RGBA buffer with one colour.
//!
//! Each font is parsed once per process ([`Face::font`]); each glyph is rasterised once per
//! (face, char, pixel size) and kept in a [`GlyphCache`] owned by the screen, so steady-state
//! frames only blit cached coverage. Layout is deliberately simple: left to right from a pen position on
//! a baseline, each glyph snapped to a whole pixel, advances summed without kerning or shaping
//! (the screens show short labels; [`GlyphCache::measure`] uses the same rule, so centring is
//! exact).

use std::collections::HashMap;
use std::sync::LazyLock;

use fontdue::{Font, FontSettings};

use super::canvas::Rgb;

/// One of the embedded DejaVu faces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Face {
    /// DejaVu Sans Mono: the BIOS text grid and the test-pattern overlay.
    Mono,
    /// DejaVu Sans.
    Sans,
    /// DejaVu Sans Bold.
    SansBold,
}

fn parse(bytes: &'static [u8]) -> Font {
    // The TTFs are compiled into the binary from the `dejavu` crate and parse on every build;
    // every renderer test goes through here, so a failure is a build bug, not a runtime condition.
    Font::from_bytes(bytes, FontSettings::default()).expect("embedded DejaVu font parses")
}

static MONO: LazyLock<Font> = LazyLock::new(|| parse(dejavu::sans_mono::regular()));
static SANS: LazyLock<Font> = LazyLock::new(|| parse(dejavu::sans::regular()));
static SANS_BOLD: LazyLock<Font> = LazyLock::new(|| parse(dejavu::sans::bold()));

/// Parses every embedded font now. fontdue parses all outlines up front, about 0.1 s for the
/// three faces in a release build; call this at startup (or on a side thread) so the first frame
/// of a stream is not late. Otherwise each face is parsed on first use.
pub fn preload_fonts() {
    for face in [Face::Mono, Face::Sans, Face::SansBold] {
        face.font();
    }
}

impl Face {
    /// The parsed font (parsed on first use, then shared by every screen).
    pub fn font(self) -> &'static Font {
        match self {
            Face::Mono => &MONO,
            Face::Sans => &SANS,
            Face::SansBold => &SANS_BOLD,
        }
    }

    /// Ascent above and descent below the baseline (both positive) at `px`.
    pub fn ascent_descent(self, px: f32) -> (f32, f32) {
        match self.font().horizontal_line_metrics(px) {
            Some(m) => (m.ascent, -m.descent),
            // DejaVu has an hhea table; this is only a sane fallback.
            None => (0.8 * px, 0.2 * px),
        }
    }

    /// Horizontal advance of `ch` at `px` (for the monospace face, the cell width).
    pub fn advance(self, ch: char, px: f32) -> f32 {
        self.font().metrics(ch, px).advance_width
    }
}

/// A rasterised glyph: coverage rows top to bottom, placed relative to the pen on the baseline.
#[derive(Debug)]
struct Glyph {
    /// Left edge of the bitmap relative to the pen, px.
    xmin: i32,
    /// Bottom edge of the bitmap relative to the baseline (up is positive), px.
    ymin: i32,
    width: usize,
    height: usize,
    advance: f32,
    coverage: Box<[u8]>,
}

/// Face, size and colour of a run of text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextStyle {
    /// The font.
    pub face: Face,
    /// Size in pixels per em.
    pub px: f32,
    /// Text colour.
    pub color: Rgb,
}

impl TextStyle {
    /// A style from its parts.
    pub const fn new(face: Face, px: f32, color: Rgb) -> Self {
        Self { face, px, color }
    }
}

/// Cache key: the pixel size is keyed by its bit pattern (sizes are computed once per layout, so
/// equal sizes are bit-identical).
type GlyphKey = (Face, char, u32);

/// Rasterised glyphs by (face, char, pixel size).
#[derive(Debug, Default)]
pub struct GlyphCache {
    glyphs: HashMap<GlyphKey, Glyph>,
}

impl GlyphCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of distinct glyphs rasterised so far.
    pub fn len(&self) -> usize {
        self.glyphs.len()
    }

    /// Whether nothing has been rasterised yet.
    pub fn is_empty(&self) -> bool {
        self.glyphs.is_empty()
    }

    fn glyph(&mut self, face: Face, ch: char, px: f32) -> &Glyph {
        self.glyphs
            .entry((face, ch, px.to_bits()))
            .or_insert_with(|| {
                let (m, coverage) = face.font().rasterize(ch, px);
                Glyph {
                    xmin: m.xmin,
                    ymin: m.ymin,
                    width: m.width,
                    height: m.height,
                    advance: m.advance_width,
                    coverage: coverage.into_boxed_slice(),
                }
            })
    }

    /// Width of `text` at `px` as [`GlyphCache::draw`] lays it out.
    pub fn measure(&mut self, face: Face, px: f32, text: &str) -> f32 {
        text.chars()
            .map(|ch| self.glyph(face, ch, px).advance)
            .sum()
    }

    /// `text` shortened with a trailing "…" so that it measures at most `max_width` px.
    pub fn ellipsize(&mut self, face: Face, px: f32, text: &str, max_width: f32) -> String {
        if self.measure(face, px, text) <= max_width {
            return text.to_owned();
        }
        let budget = max_width - self.glyph(face, '…', px).advance;
        let mut out = String::new();
        let mut width = 0.0;
        for ch in text.chars() {
            width += self.glyph(face, ch, px).advance;
            if width > budget {
                break;
            }
            out.push(ch);
        }
        out.push('…');
        out
    }

    /// Blends `text` into `rgba` (`size` = width × height, opaque RGBA) with the pen starting
    /// at `origin` = (x, baseline y). Returns the pen x after the last glyph. Only pixels inside
    /// both the buffer and `clip` (x0, y0, x1, y1; end-exclusive) change.
    pub fn draw(
        &mut self,
        rgba: &mut [u8],
        size: (u32, u32),
        clip: [i32; 4],
        style: TextStyle,
        origin: (f32, f32),
        text: &str,
    ) -> f32 {
        let (width, height) = size;
        let [cx0, cy0, cx1, cy1] = clip;
        let bounds = [
            cx0.max(0),
            cy0.max(0),
            cx1.min(width as i32),
            cy1.min(height as i32),
        ];
        let (mut pen, baseline) = (origin.0, origin.1.round() as i32);
        for ch in text.chars() {
            let glyph = self.glyph(style.face, ch, style.px);
            let left = pen.round() as i32 + glyph.xmin;
            let top = baseline - glyph.ymin - glyph.height as i32;
            blit(rgba, width, bounds, glyph, (left, top), style.color);
            pen += glyph.advance;
        }
        pen
    }
}

/// Blends one glyph's coverage at (`left`, `top`) into the pixels inside `bounds` (x0, y0, x1,
/// y1; already within the buffer).
fn blit(rgba: &mut [u8], width: u32, bounds: [i32; 4], g: &Glyph, at: (i32, i32), color: Rgb) {
    let (left, top) = at;
    let [bx0, by0, bx1, by1] = bounds;
    let x0 = left.max(bx0);
    let x1 = (left + g.width as i32).min(bx1);
    if x0 >= x1 {
        return;
    }
    for gy in 0..g.height as i32 {
        let y = top + gy;
        if y < by0 || y >= by1 {
            continue;
        }
        let src = &g.coverage[gy as usize * g.width..][..g.width];
        let row = y as usize * width as usize * 4;
        for x in x0..x1 {
            let a = u32::from(src[(x - left) as usize]);
            if a == 0 {
                continue;
            }
            let px = &mut rgba[row + x as usize * 4..][..4];
            px[0] = mix(px[0], color.r, a);
            px[1] = mix(px[1], color.g, a);
            px[2] = mix(px[2], color.b, a);
            px[3] = 255;
        }
    }
}

/// `dst` moved towards `src` by coverage `a` (0..=255), rounded.
fn mix(dst: u8, src: u8, a: u32) -> u8 {
    ((u32::from(src) * a + u32::from(dst) * (255 - a) + 127) / 255) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOX_CHARS: &str = "─│┌┐└┘├┤┬┴┼═║╔╗╚╝╟╢";

    #[test]
    fn fonts_cover_cyrillic_and_box_drawing() {
        for ch in "ЦПЯдер".chars().chain(BOX_CHARS.chars()).chain(['…']) {
            assert!(Face::Mono.font().has_glyph(ch), "mono lacks {ch:?}");
        }
        for ch in "ЦПЯдер".chars() {
            assert!(Face::Sans.font().has_glyph(ch), "sans lacks {ch:?}");
            assert!(
                Face::SansBold.font().has_glyph(ch),
                "sans bold lacks {ch:?}"
            );
        }
    }

    #[test]
    fn cyrillic_glyphs_are_not_tofu() {
        // U+E000 is a private-use code point DejaVu does not map: it renders as .notdef.
        let notdef = Face::SansBold.font().rasterize('\u{E000}', 24.0);
        let ts = Face::SansBold.font().rasterize('Ц', 24.0);
        let pe = Face::SansBold.font().rasterize('П', 24.0);
        assert!(ts.1.iter().any(|&c| c > 200), "Ц has ink");
        assert_ne!(ts.1, notdef.1);
        assert_ne!(pe.1, notdef.1);
        assert_ne!(ts.1, pe.1);
    }

    #[test]
    fn box_drawing_glyphs_have_ink() {
        let mut cache = GlyphCache::new();
        for ch in BOX_CHARS.chars() {
            let g = cache.glyph(Face::Mono, ch, 13.0);
            assert!(g.coverage.iter().any(|&c| c > 128), "{ch:?} has no ink");
        }
    }

    #[test]
    fn draw_blends_and_caches() {
        let (w, h) = (40u32, 20u32);
        let all = [0, 0, w as i32, h as i32];
        let style = TextStyle::new(Face::Mono, 14.0, Rgb::WHITE);
        let mut rgba = [0, 0, 0, 255].repeat((w * h) as usize);
        let mut cache = GlyphCache::new();
        let end = cache.draw(&mut rgba, (w, h), all, style, (2.0, 15.0), "ЯA");
        assert!((end - 2.0 - cache.measure(Face::Mono, 14.0, "ЯA")).abs() < 1e-4);
        assert_eq!(cache.len(), 2);
        assert!(rgba.chunks(4).any(|p| p == [255, 255, 255, 255]));
        assert!(
            rgba.chunks(4)
                .all(|p| p[3] == 255 && p[0] == p[1] && p[1] == p[2])
        );
        // Drawing off the buffer is clipped, not a panic.
        cache.draw(&mut rgba, (w, h), all, style, (-5.0, 3.0), "Ж");
        cache.draw(&mut rgba, (w, h), all, style, (35.0, 40.0), "Ж");
        assert_eq!(cache.len(), 3);
        // A clip rect keeps the glyph inside it.
        let mut clipped = [0, 0, 0, 255].repeat((w * h) as usize);
        cache.draw(&mut clipped, (w, h), [0, 0, 6, 20], style, (2.0, 15.0), "Я");
        let lit = |x: u32| (0..h).any(|y| clipped[((y * w + x) * 4) as usize] > 0);
        assert!(lit(4) && !lit(6) && !lit(7));
    }

    #[test]
    fn ellipsize_fits() {
        let mut cache = GlyphCache::new();
        let long = "Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz";
        let short = cache.ellipsize(Face::Sans, 14.0, long, 100.0);
        assert!(short.ends_with('…'));
        assert!(cache.measure(Face::Sans, 14.0, &short) <= 100.0);
        assert_eq!(cache.ellipsize(Face::Sans, 14.0, "ok", 100.0), "ok");
    }
}
