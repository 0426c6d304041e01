//! Change detection against a shadow of what *this* device shows.
//!
//! The panel is cut into square tiles. Per frame:
//! 1. Each band of tile rows is hashed with xxh3 and compared with the previous frame's hash; in
//!    the bands that changed, each tile is compared with the previous frame's pixels. A tile that did
//!    not change keeps its state and counts towards *paint-over*: a tile unchanged for
//!    `paint_over_frames` frames is updated at exact quality even while the rest of the panel runs
//!    at a coarser level.
//! 2. A tile is clean if the shadow was last found or made equal to it at a level at least as fine
//!    as the one wanted now and it has not changed since; otherwise its pixels (at the wanted level)
//!    are compared with the shadow and the tight box around the differing pixels is its damage.
//! 3. The shadow changes only through [`DamageTracker::commit`], with the pixels actually sent, so
//!    nothing that was skipped or deferred is ever forgotten (seed 000's reference drift, §A.8.1).
//!
//! Comparisons are in the final RGB565 domain, after colour correction and dithering, so invisible
//! changes cost nothing and no visible one is missed (§A.8.3).

use crate::frame::Rect;
use crate::image565::Rgb565Image;
use crate::quality::QualityLevel;
use xxhash_rust::xxh3::xxh3_64;

/// One damaged tile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirtyTile {
    /// Tile index (row-major).
    pub index: u32,
    /// Tight box around the pixels that differ from the shadow.
    pub rect: Rect,
    /// Quality level to send it at.
    pub level: QualityLevel,
    /// Frames this tile has been waiting (0 = it became dirty in this frame).
    pub age: u32,
    /// True if this is a paint-over of static content at exact quality.
    pub paint_over: bool,
}

/// Per-device change detection state; see the module docs.
#[derive(Debug, Clone)]
pub struct DamageTracker {
    tile: u32,
    tiles_x: u32,
    tiles_y: u32,
    shadow: Rgb565Image,
    /// The previous target, to tell which tiles changed; allocated by the first frame below exact
    /// quality (only paint-over needs it), so a display kept exact never holds a third copy.
    previous: Rgb565Image,
    /// Per band of tile rows: xxh3 of the previous target's rows.
    band_hash: Vec<Option<u64>>,
    /// Per tile: false until the shadow reflects the panel there (a new connection shows unknown
    /// content, so every tile is resent whole once).
    known: Vec<bool>,
    /// Per tile: the shadow equals the current target at this level (or finer), if known.
    clean_at: Vec<Option<QualityLevel>>,
    static_frames: Vec<u32>,
    dirty_since: Vec<Option<u64>>,
    frame_no: u64,
}

impl DamageTracker {
    /// A tracker for a `width × height` panel with square tiles of `tile` pixels (clamped to 8..=256).
    pub fn new(width: u32, height: u32, tile: u32) -> Self {
        let tile = tile.clamp(8, 256);
        let tiles_x = width.div_ceil(tile);
        let tiles_y = height.div_ceil(tile);
        let n = (tiles_x * tiles_y) as usize;
        Self {
            tile,
            tiles_x,
            tiles_y,
            shadow: Rgb565Image::filled(width, height, 0),
            previous: Rgb565Image {
                width,
                height,
                px: Vec::new(),
            },
            band_hash: vec![None; tiles_y as usize],
            known: vec![false; n],
            clean_at: vec![None; n],
            static_frames: vec![0; n],
            dirty_since: vec![None; n],
            frame_no: 0,
        }
    }

    /// Tile side in pixels.
    pub fn tile_size(&self) -> u32 {
        self.tile
    }

    /// Number of tile columns.
    pub fn tiles_x(&self) -> u32 {
        self.tiles_x
    }

    /// What the device shows, as far as the server knows (after everything committed).
    pub fn shadow(&self) -> &Rgb565Image {
        &self.shadow
    }

    /// Forgets what the device shows: the next update covers the whole panel. Called on every new
    /// connection, since a (re)connected panel shows something else (a boot screen, a stale image).
    pub fn invalidate(&mut self) {
        self.known.iter_mut().for_each(|k| *k = false);
        self.clean_at.iter_mut().for_each(|c| *c = None);
    }

    fn tile_rect(&self, tx: u32, ty: u32) -> Rect {
        let x = tx * self.tile;
        let y = ty * self.tile;
        Rect::new(
            x,
            y,
            self.tile.min(self.shadow.width - x),
            self.tile.min(self.shadow.height - y),
        )
    }

    /// Notes which tiles of `target` changed since the previous frame (paint-over counters and
    /// clean states), and remembers `target` as the previous frame. Per-tile tracking is needed only
    /// below exact quality (for paint-over); at exact quality every tile of a changed band is simply
    /// re-compared with the shadow, which saves a pass over the frame and a copy of it.
    fn note_changes(&mut self, target: &Rgb565Image, track_tiles: bool) {
        let w = target.width as usize;
        if track_tiles && self.previous.px.is_empty() {
            // Its first use: what changed before is unknown, so every tile is compared with the
            // shadow again and starts counting static frames from here (as on a first frame).
            self.previous = Rgb565Image::filled(target.width, target.height, 0);
            self.clean_at.iter_mut().for_each(|c| *c = None);
            self.static_frames.iter_mut().for_each(|n| *n = 0);
        }
        for ty in 0..self.tiles_y {
            let y0 = (ty * self.tile) as usize;
            let y1 = (y0 + self.tile as usize).min(target.height as usize);
            let band = &target.px[y0 * w..y1 * w];
            let h = xxh3_64(bytemuck::cast_slice(band));
            let unchanged = self.band_hash[ty as usize] == Some(h);
            self.band_hash[ty as usize] = Some(h);
            if !unchanged && !track_tiles {
                // `previous` goes stale here; a later tracked frame only over-reports changes.
                for tx in 0..self.tiles_x {
                    let i = (ty * self.tiles_x + tx) as usize;
                    self.static_frames[i] = 0;
                    self.clean_at[i] = None;
                }
                continue;
            }
            for tx in 0..self.tiles_x {
                let i = (ty * self.tiles_x + tx) as usize;
                let changed = !unchanged && {
                    let r = self.tile_rect(tx, ty);
                    let (a, b) = (r.x as usize, r.right() as usize);
                    (r.y..r.bottom()).any(|y| target.row(y)[a..b] != self.previous.row(y)[a..b])
                };
                if changed {
                    self.static_frames[i] = 0;
                    self.clean_at[i] = None;
                } else {
                    self.static_frames[i] = self.static_frames[i].saturating_add(1);
                }
            }
            if !unchanged {
                self.previous.px[y0 * w..y1 * w].copy_from_slice(band);
            }
        }
    }

    /// Analyses a new target image (same size as the panel) and returns the damaged tiles.
    /// `level` is the quality wanted for changing content; tiles static for `paint_over_frames`
    /// frames are wanted at exact quality.
    pub fn analyse(
        &mut self,
        target: &Rgb565Image,
        level: QualityLevel,
        paint_over_frames: u32,
    ) -> Vec<DirtyTile> {
        debug_assert_eq!(
            (target.width, target.height),
            (self.shadow.width, self.shadow.height)
        );
        self.frame_no += 1;
        self.note_changes(target, level != QualityLevel::EXACT);
        let mut dirty = Vec::new();
        for ty in 0..self.tiles_y {
            for tx in 0..self.tiles_x {
                let i = (ty * self.tiles_x + tx) as usize;
                let paint_over =
                    self.static_frames[i] >= paint_over_frames && level != QualityLevel::EXACT;
                let want = if paint_over {
                    QualityLevel::EXACT
                } else {
                    level
                };
                if self.clean_at[i].is_some_and(|l| l <= want) {
                    self.dirty_since[i] = None;
                    continue;
                }
                let r = self.tile_rect(tx, ty);
                let tight = if self.known[i] {
                    diff_box(target, &self.shadow, r, want)
                } else {
                    Some(r)
                };
                match tight {
                    None => {
                        self.clean_at[i] = Some(want);
                        self.dirty_since[i] = None;
                    }
                    Some(rect) => {
                        let since = *self.dirty_since[i].get_or_insert(self.frame_no);
                        dirty.push(DirtyTile {
                            index: i as u32,
                            rect,
                            level: want,
                            age: (self.frame_no - since) as u32,
                            paint_over,
                        });
                    }
                }
            }
        }
        dirty
    }

    /// Records that `rect` of the panel shows `pixels` (row-major, `rect.w` per row) rather than
    /// the target: a lossy codec's output (DCT), after [`DamageTracker::commit`] of the same part.
    pub fn set_shown(&mut self, rect: Rect, pixels: &[u16]) {
        let w = self.shadow.width as usize;
        for (r, src) in pixels.chunks_exact(rect.w as usize).enumerate() {
            let y = rect.y as usize + r;
            if y >= self.shadow.height as usize {
                break;
            }
            let a = y * w + rect.x as usize;
            if let Some(dst) = self.shadow.px.get_mut(a..a + src.len()) {
                dst.copy_from_slice(src);
            }
        }
    }

    /// Records that `rect` of the panel now shows `target` at `level`. `complete_tiles` lists tiles
    /// whose whole damage this update covered; they are marked clean. Every other tile touched by
    /// `rect` is re-compared next frame.
    pub fn commit(
        &mut self,
        target: &Rgb565Image,
        rect: Rect,
        level: QualityLevel,
        complete_tiles: &[u32],
    ) {
        let w = self.shadow.width as usize;
        for y in rect.y..rect.bottom() {
            let a = y as usize * w + rect.x as usize;
            let src = &target.px[a..a + rect.w as usize];
            let dst = &mut self.shadow.px[a..a + rect.w as usize];
            if level == QualityLevel::EXACT {
                dst.copy_from_slice(src);
            } else {
                for (d, s) in dst.iter_mut().zip(src) {
                    *d = level.apply(*s);
                }
            }
        }
        let (tx0, ty0) = (rect.x / self.tile, rect.y / self.tile);
        let (tx1, ty1) = (
            (rect.right() - 1) / self.tile,
            (rect.bottom() - 1) / self.tile,
        );
        for ty in ty0..=ty1 {
            for tx in tx0..=tx1 {
                let i = ty * self.tiles_x + tx;
                let complete = complete_tiles.contains(&i);
                let t = self.tile_rect(tx, ty);
                let covered = t.x >= rect.x
                    && t.right() <= rect.right()
                    && t.y >= rect.y
                    && t.bottom() <= rect.bottom();
                let i = i as usize;
                self.clean_at[i] = complete.then_some(level);
                if covered {
                    // The shadow now holds what the panel shows over the whole tile.
                    self.known[i] = true;
                }
                if complete {
                    // A complete tile's damage was its whole area when unknown, so it is known now.
                    self.dirty_since[i] = None;
                    self.known[i] = true;
                }
            }
        }
    }
}

/// Tight box around the pixels of `r` where `level.apply(target) != shadow`, or `None`.
fn diff_box(
    target: &Rgb565Image,
    shadow: &Rgb565Image,
    r: Rect,
    level: QualityLevel,
) -> Option<Rect> {
    let (mut x0, mut x1, mut y0, mut y1) = (u32::MAX, 0u32, u32::MAX, 0u32);
    let (a, b) = (r.x as usize, r.right() as usize);
    for y in r.y..r.bottom() {
        let t = &target.row(y)[a..b];
        let s = &shadow.row(y)[a..b];
        let (first, last) = if level == QualityLevel::EXACT {
            if t == s {
                continue;
            }
            let f = t.iter().zip(s).position(|(p, q)| p != q);
            let l = t.iter().zip(s).rposition(|(p, q)| p != q);
            match (f, l) {
                (Some(f), Some(l)) => (f, l),
                _ => continue,
            }
        } else {
            let f = t.iter().zip(s).position(|(p, q)| level.apply(*p) != *q);
            let Some(f) = f else { continue };
            // a match was found at `f`, so a last one exists
            let l = t
                .iter()
                .zip(s)
                .rposition(|(p, q)| level.apply(*p) != *q)
                .unwrap_or(f);
            (f, l)
        };
        x0 = x0.min(r.x + first as u32);
        x1 = x1.max(r.x + last as u32);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    (x0 != u32::MAX).then(|| Rect::new(x0, y0, x1 - x0 + 1, y1 - y0 + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit_all(t: &mut DamageTracker, target: &Rgb565Image, dirty: &[DirtyTile]) {
        for d in dirty {
            t.commit(target, d.rect, d.level, &[d.index]);
        }
    }

    #[test]
    fn first_frame_is_whole_panel_then_nothing() {
        let img = Rgb565Image::filled(40, 20, 0x1234);
        let mut t = DamageTracker::new(40, 20, 16);
        let d = t.analyse(&img, QualityLevel::EXACT, 10);
        // 3 x 2 tiles, edge tiles clipped
        assert_eq!(d.len(), 6);
        let area: u64 = d.iter().map(|d| d.rect.area()).sum();
        assert_eq!(area, 800);
        commit_all(&mut t, &img, &d);
        assert!(t.analyse(&img, QualityLevel::EXACT, 10).is_empty());
        assert_eq!(t.shadow(), &img);
    }

    #[test]
    fn partial_commit_makes_covered_tiles_known() {
        // Regression: a repaint larger than the frame budget is sent in parts (no tile complete).
        // Tiles a part covers whole must become known, or every later update re-sends the same
        // first part and the panel never converges (a livelock with a 64 KiB device buffer).
        let img = Rgb565Image::filled(64, 32, 0x0F0F);
        let mut t = DamageTracker::new(64, 32, 16);
        let d = t.analyse(&img, QualityLevel::EXACT, 10);
        assert_eq!(d.len(), 8, "unknown: every tile");
        // The first 16 rows went out as one part of a bigger rect.
        t.commit(&img, Rect::new(0, 0, 64, 16), QualityLevel::EXACT, &[]);
        let d = t.analyse(&img, QualityLevel::EXACT, 10);
        assert_eq!(d.len(), 4, "only the bottom row of tiles is left: {d:?}");
        assert!(d.iter().all(|d| d.rect.y == 16));
        // A part covering half a tile leaves that tile unknown (it is sent whole again).
        t.commit(&img, Rect::new(0, 16, 64, 8), QualityLevel::EXACT, &[]);
        assert_eq!(t.analyse(&img, QualityLevel::EXACT, 10).len(), 4);
        t.commit(&img, Rect::new(0, 16, 64, 16), QualityLevel::EXACT, &[]);
        assert!(t.analyse(&img, QualityLevel::EXACT, 10).is_empty());
    }

    #[test]
    fn tight_boxes_in_separate_tiles() {
        let mut img = Rgb565Image::filled(64, 64, 0);
        let mut t = DamageTracker::new(64, 64, 16);
        let d = t.analyse(&img, QualityLevel::EXACT, 10);
        commit_all(&mut t, &img, &d);
        img.px[3 * 64 + 5] = 1; // tile 0
        img.px[60 * 64 + 62] = 1; // tile 15
        img.px[61 * 64 + 60] = 1;
        let d = t.analyse(&img, QualityLevel::EXACT, 10);
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].rect, Rect::new(5, 3, 1, 1));
        assert_eq!(d[1].rect, Rect::new(60, 60, 3, 2));
    }

    #[test]
    fn uncommitted_damage_is_never_forgotten() {
        // seed 000's reference drift: a change that is not sent must show up again
        let mut img = Rgb565Image::filled(32, 32, 0);
        let mut t = DamageTracker::new(32, 32, 16);
        let d = t.analyse(&img, QualityLevel::EXACT, 10);
        commit_all(&mut t, &img, &d);
        img.px[0] = 7;
        let d1 = t.analyse(&img, QualityLevel::EXACT, 10);
        assert_eq!(d1.len(), 1);
        // not committed (budget ran out); next frame it is still dirty, and older
        let d2 = t.analyse(&img, QualityLevel::EXACT, 10);
        assert_eq!(d2.len(), 1);
        assert_eq!(d2[0].age, 1);
        commit_all(&mut t, &img, &d2);
        assert!(t.analyse(&img, QualityLevel::EXACT, 10).is_empty());
    }

    #[test]
    fn coarse_level_then_paint_over_when_static() {
        let img = Rgb565Image::filled(16, 16, 0x1234);
        let mut t = DamageTracker::new(16, 16, 16);
        let d = t.analyse(&img, QualityLevel::new(2), 3);
        assert_eq!(d[0].level, QualityLevel::new(2));
        commit_all(&mut t, &img, &d);
        assert_eq!(t.shadow().px[0], QualityLevel::new(2).apply(0x1234));
        // static for 1, 2 frames: clean at level 2
        assert!(t.analyse(&img, QualityLevel::new(2), 3).is_empty());
        assert!(t.analyse(&img, QualityLevel::new(2), 3).is_empty());
        // third static frame: paint-over at exact quality
        let d = t.analyse(&img, QualityLevel::new(2), 3);
        assert_eq!(d.len(), 1);
        assert!(d[0].paint_over);
        assert_eq!(d[0].level, QualityLevel::EXACT);
        commit_all(&mut t, &img, &d);
        assert_eq!(t.shadow(), &img);
        // a finer shadow is not re-sent at a coarser level
        assert!(t.analyse(&img, QualityLevel::new(3), 100).is_empty());
    }

    #[test]
    fn invalidate_forces_full_update() {
        let img = Rgb565Image::filled(32, 16, 5);
        let mut t = DamageTracker::new(32, 16, 16);
        let d = t.analyse(&img, QualityLevel::EXACT, 10);
        commit_all(&mut t, &img, &d);
        t.invalidate();
        let d = t.analyse(&img, QualityLevel::EXACT, 10);
        assert_eq!(d.iter().map(|d| d.rect.area()).sum::<u64>(), 512);
    }
}
