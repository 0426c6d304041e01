//! Frames as they travel on the bus: 8-bit RGBA (alpha ignored, always opaque), row-major, tightly
//! packed, with the sequence number and capture time the sinks need for change detection and latency.

/// One picture from a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 4` bytes: R, G, B, A per pixel. A is ignored.
    pub rgba: Vec<u8>,
    /// Source-local sequence number, +1 per frame.
    pub seq: u64,
    /// When the frame was captured or rendered: wall clock, µs since the Unix epoch.
    pub capture_time_us: u64,
}

impl Frame {
    /// A black frame.
    pub fn black(width: u32, height: u32) -> Self {
        let mut rgba = vec![0u8; width as usize * height as usize * 4];
        for px in rgba.chunks_exact_mut(4) {
            px[3] = 0xFF;
        }
        Self {
            width,
            height,
            rgba,
            seq: 0,
            capture_time_us: 0,
        }
    }

    /// The RGB of pixel (x, y), or `None` outside the frame.
    pub fn rgb_at(&self, x: u32, y: u32) -> Option<[u8; 3]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let i = (y as usize * self.width as usize + x as usize) * 4;
        Some([self.rgba[i], self.rgba[i + 1], self.rgba[i + 2]])
    }
}

/// An axis-aligned rectangle in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Rect {
    /// Left column.
    pub x: u32,
    /// Top row.
    pub y: u32,
    /// Width.
    pub w: u32,
    /// Height.
    pub h: u32,
}

impl Rect {
    /// A rectangle.
    pub const fn new(x: u32, y: u32, w: u32, h: u32) -> Self {
        Self { x, y, w, h }
    }

    /// Area in pixels.
    pub const fn area(&self) -> u64 {
        self.w as u64 * self.h as u64
    }

    /// One past the right column.
    pub const fn right(&self) -> u32 {
        self.x + self.w
    }

    /// One past the bottom row.
    pub const fn bottom(&self) -> u32 {
        self.y + self.h
    }

    /// The smallest rectangle holding both.
    pub fn union(&self, o: &Rect) -> Rect {
        let x = self.x.min(o.x);
        let y = self.y.min(o.y);
        Rect::new(
            x,
            y,
            self.right().max(o.right()) - x,
            self.bottom().max(o.bottom()) - y,
        )
    }

    /// The overlap, if any.
    pub fn intersect(&self, o: &Rect) -> Option<Rect> {
        let x = self.x.max(o.x);
        let y = self.y.max(o.y);
        let r = self.right().min(o.right());
        let b = self.bottom().min(o.bottom());
        (r > x && b > y).then(|| Rect::new(x, y, r - x, b - y))
    }

    /// True when the rectangle has no pixels.
    pub const fn is_empty(&self) -> bool {
        self.w == 0 || self.h == 0
    }
}
