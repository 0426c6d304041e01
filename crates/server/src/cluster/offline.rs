//! The picture a relayed stream shows while its origin is unreachable: a dark card saying
//! "offline", the stream and the node it comes from. Published on the stream like any frame, so
//! displays, MJPEG viewers and snapshots on this node show it until the origin is back.

use crate::color::Rgb;
use crate::source::render::canvas::Canvas;
use crate::source::render::text::{Face, TextStyle};
use pixelwire_media::MediaFrame;

/// Background of the card.
pub const BACKGROUND: Rgb = Rgb::new(0x30, 0x30, 0x30);

/// The card for `stream` from `origin`, `width × height` (clamped to 16..=1920 × 16..=1080).
pub fn card(
    stream: &str,
    origin: &str,
    width: u32,
    height: u32,
    seq: u64,
    now_us: u64,
) -> MediaFrame {
    let (w, h) = (width.clamp(16, 1920), height.clamp(16, 1080));
    let mut c = Canvas::new(w, h);
    c.clear(BACKGROUND);
    let big = (h as f32 / 6.0).clamp(8.0, 96.0);
    let small = (big / 2.5).max(6.0);
    let title = TextStyle::new(Face::SansBold, big, Rgb::new(0xff, 0x60, 0x60));
    let line = TextStyle::new(Face::Sans, small, Rgb::new(0xd0, 0xd0, 0xd0));
    let left = w as f32 * 0.06;
    let mut y = h as f32 * 0.45;
    c.text(title, left, y, "offline");
    y += small * 1.8;
    let text = c.ellipsize(line, stream, w as f32 * 0.88);
    c.text(line, left, y, &text);
    y += small * 1.5;
    let from = c.ellipsize(line, &format!("from {origin}"), w as f32 * 0.88);
    c.text(line, left, y, &from);
    let mut rgba = vec![0; (w * h * 4) as usize];
    c.copy_to(&mut rgba);
    MediaFrame::from_rgba(w, h, rgba, seq, now_us)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_card_is_mostly_background_with_some_text() {
        crate::source::render::text::preload_fonts();
        let f = card("cam", "node-a", 320, 240, 1, 2);
        let rgba = f.rgba().expect("rgba");
        let bg = rgba
            .rgba
            .chunks_exact(4)
            .filter(|p| p[..3] == [0x30, 0x30, 0x30])
            .count();
        let all = 320 * 240;
        assert!(bg > all * 8 / 10 && bg < all, "{bg} of {all}");
        // Any size is accepted.
        assert_eq!(card("x", "y", 0, 100_000, 0, 0).height, 1080);
    }
}
