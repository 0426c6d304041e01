//! Turns damaged tiles into the rectangles of an update.
//!
//! Tiles' tight boxes are merged first along tile rows, then down columns, whenever sending the
//! union is estimated to cost no more bytes than sending the parts. A part costs its per-message
//! overhead (header, rect fields and the device's window setup) plus its area at the observed bytes
//! per pixel, so with a compressing codec the pixels between nearby changes are cheap and get merged,
//! while two changes in opposite corners stay two rectangles (seed 000 sent one bounding box,
//! §A.8.2). Tiles of different quality levels are never merged.

use crate::damage::DirtyTile;
use crate::frame::Rect;
use crate::quality::QualityLevel;

/// Bytes one extra rectangle costs beyond its pixels: 4-byte header, 9 bytes of rect fields, and
/// about as much again for the device to set a panel window (CASET/RASET/RAMWR).
pub const RECT_OVERHEAD_BYTES: f32 = 24.0;

/// One rectangle of an update and the tiles whose damage it covers.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateRect {
    /// Panel area to send.
    pub rect: Rect,
    /// Quality level of its pixels.
    pub level: QualityLevel,
    /// Tiles whose whole damage lies inside `rect`.
    pub tiles: Vec<u32>,
    /// Age of the oldest tile, in frames.
    pub age: u32,
    /// True if every tile is a paint-over of static content.
    pub paint_over: bool,
}

impl UpdateRect {
    fn cost(r: &Rect, bytes_per_pixel: f32) -> f32 {
        RECT_OVERHEAD_BYTES + r.area() as f32 * bytes_per_pixel
    }

    fn absorb(&mut self, o: UpdateRect) {
        self.rect = self.rect.union(&o.rect);
        self.tiles.extend(o.tiles);
        self.age = self.age.max(o.age);
        self.paint_over &= o.paint_over;
    }
}

/// Merging pays if the union costs no more than the parts, and the union touches no tile outside
/// the two parts (otherwise it would overwrite a neighbour that may hold finer pixels, which then
/// needs repainting: a loop).
fn worth_merging(a: &UpdateRect, b: &UpdateRect, tile: u32, bpp: f32) -> bool {
    let u = a.rect.union(&b.rect);
    let tiles_touched =
        ((u.right() - 1) / tile - u.x / tile + 1) * ((u.bottom() - 1) / tile - u.y / tile + 1);
    tiles_touched as usize == a.tiles.len() + b.tiles.len()
        && UpdateRect::cost(&u, bpp)
            <= UpdateRect::cost(&a.rect, bpp) + UpdateRect::cost(&b.rect, bpp)
}

/// Merges dirty tiles into rectangles, ordered by priority: fresh damage before paint-over, older
/// before newer, then top to bottom, left to right. `tile` is the tile side, `tiles_x` the number
/// of tile columns, `bytes_per_pixel` the recent encoded size (clamped to 0.01..=2).
pub fn merge_tiles(
    dirty: &[DirtyTile],
    tile: u32,
    tiles_x: u32,
    bytes_per_pixel: f32,
) -> Vec<UpdateRect> {
    let bpp = bytes_per_pixel.clamp(0.01, 2.0);
    let mut out = Vec::new();
    let mut levels: Vec<QualityLevel> = dirty.iter().map(|d| d.level).collect();
    levels.sort();
    levels.dedup();
    for level in levels {
        // Row pass: `dirty` is in row-major tile order already.
        let mut spans: Vec<(u32, UpdateRect)> = Vec::new();
        for d in dirty.iter().filter(|d| d.level == level) {
            let row = d.index / tiles_x.max(1);
            let part = UpdateRect {
                rect: d.rect,
                level,
                tiles: vec![d.index],
                age: d.age,
                paint_over: d.paint_over,
            };
            match spans.last_mut() {
                Some((r, span)) if *r == row && worth_merging(span, &part, tile, bpp) => {
                    span.absorb(part)
                }
                _ => spans.push((row, part)),
            }
        }
        // Column pass: merge each span into an open rect of the previous rows when it pays.
        let mut merged: Vec<UpdateRect> = Vec::new();
        for (_, span) in spans {
            let target = merged.iter_mut().rev().take(64).find(|m| {
                let overlap_x = m.rect.x < span.rect.right() && span.rect.x < m.rect.right();
                let adjacent_y = span.rect.y <= m.rect.bottom() + tile;
                overlap_x && adjacent_y && worth_merging(m, &span, tile, bpp)
            });
            match target {
                Some(m) => m.absorb(span),
                None => merged.push(span),
            }
        }
        out.extend(merged);
    }
    out.sort_by_key(|u| (u.paint_over, std::cmp::Reverse(u.age), u.rect.y, u.rect.x));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tile(index: u32, rect: Rect) -> DirtyTile {
        DirtyTile {
            index,
            rect,
            level: QualityLevel::EXACT,
            age: 0,
            paint_over: false,
        }
    }

    #[test]
    fn opposite_corners_stay_apart() {
        // 320x240 with 16px tiles: 20 tiles per row
        let d = [
            tile(0, Rect::new(2, 2, 4, 4)),
            tile(299, Rect::new(310, 230, 5, 5)),
        ];
        let r = merge_tiles(&d, 16, 20, 1.0);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].rect, Rect::new(2, 2, 4, 4));
    }

    #[test]
    fn a_line_across_tiles_becomes_one_rect() {
        let d: Vec<_> = (0..20)
            .map(|i| tile(20 * 5 + i, Rect::new(i * 16, 85, 16, 1)))
            .collect();
        let r = merge_tiles(&d, 16, 20, 2.0);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].rect, Rect::new(0, 85, 320, 1));
        assert_eq!(r[0].tiles.len(), 20);
    }

    #[test]
    fn stacked_tiles_merge_down() {
        // a 16-wide column of change over 3 tile rows
        let d: Vec<_> = (0..3)
            .map(|row| tile(row * 20 + 4, Rect::new(64, row * 16, 16, 16)))
            .collect();
        let r = merge_tiles(&d, 16, 20, 2.0);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].rect, Rect::new(64, 0, 16, 48));
    }

    #[test]
    fn no_merge_across_a_clean_tile() {
        // changes in tiles 0 and 2 of a row; tile 1 is clean and must not be overwritten
        let d = [
            tile(0, Rect::new(10, 0, 6, 4)),
            tile(2, Rect::new(32, 0, 4, 4)),
        ];
        let r = merge_tiles(&d, 16, 20, 2.0);
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn levels_never_mix_and_old_damage_goes_first() {
        let mut a = tile(0, Rect::new(0, 0, 16, 16));
        a.level = QualityLevel::new(2);
        let mut b = tile(1, Rect::new(16, 0, 16, 16));
        b.age = 5;
        let r = merge_tiles(&[a, b], 16, 20, 2.0);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].age, 5);
    }
}
