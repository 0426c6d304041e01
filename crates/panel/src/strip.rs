//! Turns a staged frame (RECT messages, `docs/protocol.md`) into panel writes: decodes each RECT with
//! the protocol crate's incremental [`Decoder`] and packs its pixels into strip buffers, clipped to
//! the panel, one address window per rectangle. A strip holds pixels of one window only, in the
//! window's row-major order, so the driver opens the window once and streams its strips after it.
//!
//! [`StripFiller::next_strip`] is resumable: a long run or a large literal that does not fit the
//! strip continues in the next one. It never panics on any input: the staged bytes were already
//! checked by the session's decoder, and a second error here ends the frame with that error.

use crate::driver::Window;
use pixelwire_proto::{Decoder, Event, PixelChunk, ProtoError, RectHeader};

/// One strip's worth of pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Strip {
    /// Open this window before writing the strip (the first strip of a rectangle).
    pub window: Option<Window>,
    /// Bytes of the buffer filled (an even number).
    pub len: usize,
}

#[derive(Debug, Clone, Copy)]
struct Cursor {
    /// Rectangle size.
    w: u32,
    h: u32,
    /// The part on the panel, from the rectangle's top left.
    vis_w: u32,
    vis_h: u32,
    /// Position of the next pixel inside the rectangle.
    col: u32,
    row: u32,
}

impl Cursor {
    /// Moves `n` pixels on (within the current row or beyond).
    fn advance(&mut self, n: u32) {
        let col = self.col + n;
        if col < self.w {
            self.col = col;
        } else {
            let pos = u64::from(self.row) * u64::from(self.w) + u64::from(col);
            let w = u64::from(self.w.max(1));
            self.row = (pos / w).min(u64::from(u32::MAX)) as u32;
            self.col = (pos % w) as u32;
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Pending<'a> {
    None,
    Bytes(&'a [u8]),
    /// Decoded pixels (DCT) by value, and how many of its bytes are placed.
    Chunk(PixelChunk, u8),
    Fill([u8; 2], u32),
}

/// Decodes staged RECT messages into strips; see the module docs.
#[derive(Debug)]
pub struct StripFiller<'a> {
    decoder: Decoder,
    input: &'a [u8],
    width: u16,
    height: u16,
    cursor: Option<Cursor>,
    pending: Pending<'a>,
    next_rect: Option<RectHeader>,
    half: Option<u8>,
    pixels: u64,
    rects: u32,
}

impl<'a> StripFiller<'a> {
    /// A filler over `staged` (whole RECT messages) for a `width × height` panel.
    pub fn new(staged: &'a [u8], width: u16, height: u16) -> Self {
        Self {
            decoder: Decoder::default(),
            input: staged,
            width,
            height,
            cursor: None,
            pending: Pending::None,
            next_rect: None,
            half: None,
            pixels: 0,
            rects: 0,
        }
    }

    /// Pixels placed on the panel so far.
    pub fn pixels(&self) -> u64 {
        self.pixels
    }

    /// RECT messages seen so far.
    pub fn rects(&self) -> u32 {
        self.rects
    }

    fn begin(&mut self, h: RectHeader) -> Option<Window> {
        self.rects += 1;
        self.half = None;
        let win = Window::clip(h.x, h.y, h.w, h.h, self.width, self.height);
        self.cursor = Some(Cursor {
            w: u32::from(h.w),
            h: u32::from(h.h),
            vis_w: win.map_or(0, |w| u32::from(w.w)),
            vis_h: win.map_or(0, |w| u32::from(w.h)),
            col: 0,
            row: 0,
        });
        win
    }

    /// Fills `buf` (an even number of bytes, ≥ 2) with the next strip; `None` once the frame is
    /// done.
    pub fn next_strip(&mut self, buf: &mut [u8]) -> Result<Option<Strip>, ProtoError> {
        let cap = buf.len() & !1;
        let buf = &mut buf[..cap];
        let mut len = 0usize;
        let mut window = self.next_rect.take().and_then(|h| self.begin(h));
        loop {
            match self.pending {
                Pending::None => {}
                Pending::Bytes(b) => {
                    let used = self.put_bytes(b, buf, &mut len);
                    if used < b.len() {
                        self.pending = Pending::Bytes(&b[used..]);
                        return Ok(Some(Strip { window, len }));
                    }
                    self.pending = Pending::None;
                }
                Pending::Chunk(c, off) => {
                    let b = c.as_bytes().get(usize::from(off)..).unwrap_or(&[]);
                    let used = self.put_bytes(b, buf, &mut len);
                    if used < b.len() {
                        self.pending = Pending::Chunk(c, off + used as u8);
                        return Ok(Some(Strip { window, len }));
                    }
                    self.pending = Pending::None;
                }
                Pending::Fill(px, n) => {
                    let done = self.put_fill(px, n, buf, &mut len);
                    if done < n {
                        self.pending = Pending::Fill(px, n - done);
                        return Ok(Some(Strip { window, len }));
                    }
                    self.pending = Pending::None;
                }
            }
            let (used, ev) = self.decoder.decode(self.input)?;
            self.input = self.input.get(used..).unwrap_or(&[]);
            match ev {
                None if used == 0 => {
                    if !self.decoder.is_idle() {
                        return Err(ProtoError::Truncated { kind: 0x90 });
                    }
                    return Ok((len > 0).then_some(Strip { window, len }));
                }
                None => {}
                Some(Event::RectBegin(h)) => {
                    if len > 0 {
                        // A new window: finish this strip; the rect opens the next one.
                        self.next_rect = Some(h);
                        return Ok(Some(Strip { window, len }));
                    }
                    window = self.begin(h);
                }
                Some(Event::Pixels(b)) => self.pending = Pending::Bytes(b),
                Some(Event::Chunk(c)) => self.pending = Pending::Chunk(c, 0),
                Some(Event::Fill { pixel, count }) => {
                    self.half = None;
                    self.pending = Pending::Fill(pixel, count);
                }
                Some(Event::RectEnd) => {
                    self.cursor = None;
                    self.half = None;
                }
                Some(_) => {}
            }
        }
    }

    /// Places whole pixels of `b` into `buf`; returns the bytes of `b` used (all of them unless
    /// the strip is full).
    fn put_bytes(&mut self, b: &[u8], buf: &mut [u8], len: &mut usize) -> usize {
        let Some(mut c) = self.cursor else {
            return b.len();
        };
        let mut i = 0usize;
        if let Some(first) = self.half {
            let Some(&second) = b.first() else {
                return 0;
            };
            if c.row < c.vis_h && c.col < c.vis_w {
                let Some(dst) = buf.get_mut(*len..*len + 2) else {
                    return 0;
                };
                dst.copy_from_slice(&[first, second]);
                *len += 2;
                self.pixels += 1;
            }
            c.advance(1);
            self.half = None;
            i = 1;
        }
        while b.len() - i >= 2 {
            if c.row >= c.h || c.row >= c.vis_h {
                // Below the panel (or past the rect, which the decoder does not allow): skip.
                let n = ((b.len() - i) / 2) as u32;
                c.advance(n);
                i += n as usize * 2;
                break;
            }
            let avail = ((b.len() - i) / 2) as u32;
            let n = avail.min(c.w - c.col);
            if c.col < c.vis_w {
                let vis = n.min(c.vis_w - c.col);
                let room = ((buf.len() - *len) / 2) as u32;
                let k = vis.min(room);
                if k == 0 {
                    break;
                }
                let bytes = k as usize * 2;
                buf[*len..*len + bytes].copy_from_slice(&b[i..i + bytes]);
                *len += bytes;
                i += bytes;
                self.pixels += u64::from(k);
                c.advance(k);
                if k < vis {
                    break;
                }
            } else {
                c.advance(n);
                i += n as usize * 2;
            }
        }
        if b.len() - i == 1 {
            // Half a pixel: it completes with the first byte of the next piece.
            self.half = Some(b[i]);
            i += 1;
        }
        self.cursor = Some(c);
        i
    }

    /// Places up to `n` copies of `px`; returns how many were consumed (all unless the strip is
    /// full).
    fn put_fill(&mut self, px: [u8; 2], n: u32, buf: &mut [u8], len: &mut usize) -> u32 {
        let Some(mut c) = self.cursor else {
            return n;
        };
        let mut done = 0u32;
        while done < n {
            if c.row >= c.h || c.row >= c.vis_h {
                c.advance(n - done);
                done = n;
                break;
            }
            let k = (n - done).min(c.w - c.col);
            if c.col < c.vis_w {
                let vis = k.min(c.vis_w - c.col);
                let room = ((buf.len() - *len) / 2) as u32;
                let m = vis.min(room);
                if m == 0 {
                    break;
                }
                let bytes = m as usize * 2;
                fill_pattern(&mut buf[*len..*len + bytes], px);
                *len += bytes;
                self.pixels += u64::from(m);
                c.advance(m);
                done += m;
                if m < vis {
                    break;
                }
            } else {
                c.advance(k);
                done += k;
            }
        }
        self.cursor = Some(c);
        done
    }
}

/// Writes `px` repeatedly over `dst` (an even length).
#[inline]
fn fill_pattern(dst: &mut [u8], px: [u8; 2]) {
    for d in dst.chunks_exact_mut(2) {
        d.copy_from_slice(&px);
    }
}
