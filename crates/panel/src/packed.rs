//! A packed framebuffer in RAM for grey and monochrome displays (`docs/protocol.md`, "Pixel
//! formats"): rows of `row_bytes(width)` bytes, packed exactly as the wire packs them, so a staged
//! frame's RECTs are decoded straight into it ([`pixelwire_proto::FramebufferWriter`]) with no
//! per-pixel work. [`PackedFrame::apply`] reports the rows it touched, so a controller driver
//! flushes only those (an SSD1306's pages, an e-paper's partial window).
//!
//! Such panels are small (128x64 mono is 1 KiB), so the device keeps the whole framebuffer and can
//! declare `frame_buffer_bytes` as its staging buffer like a DCS device: frames still show whole,
//! at FRAME_END.

use pixelwire_proto::{Decoder, Event, FramebufferWriter, PixelFormat, ProtoError};

/// What one staged frame changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    /// Rows `[first, end)` that RECTs touched (clipped to the panel), if any.
    pub rows: Option<(u16, u16)>,
    /// RECT messages decoded.
    pub rects: u32,
    /// Pixels of those RECTs on the panel.
    pub pixels: u64,
}

/// A `width × height` framebuffer in a grey `format`; see the module docs.
#[derive(Debug)]
pub struct PackedFrame<'b> {
    format: PixelFormat,
    width: u16,
    height: u16,
    fb: &'b mut [u8],
}

impl<'b> PackedFrame<'b> {
    /// A frame over `fb`, which must hold `format.frame_bytes(width, height)` bytes (`None`
    /// otherwise, or for an RGB565 `format`). It starts black.
    pub fn new(format: PixelFormat, width: u16, height: u16, fb: &'b mut [u8]) -> Option<Self> {
        let need = format.frame_bytes(usize::from(width), usize::from(height));
        if format.is_rgb565() || fb.len() < need {
            return None;
        }
        let (fb, _) = fb.split_at_mut(need);
        fb.fill(0);
        Some(Self {
            format,
            width,
            height,
            fb,
        })
    }

    /// The pixel format.
    pub fn format(&self) -> PixelFormat {
        self.format
    }

    /// Width in pixels.
    pub fn width(&self) -> u16 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u16 {
        self.height
    }

    /// The packed bytes, row-major.
    pub fn bytes(&self) -> &[u8] {
        self.fb
    }

    /// Row `y`'s packed bytes (empty past the bottom).
    pub fn row(&self, y: u16) -> &[u8] {
        let stride = self.format.row_bytes(usize::from(self.width));
        let start = usize::from(y) * stride;
        self.fb.get(start..start + stride).unwrap_or(&[])
    }

    /// The grey level of pixel `(x, y)` (0 off the panel).
    pub fn pixel(&self, x: u16, y: u16) -> u16 {
        if x >= self.width {
            return 0;
        }
        self.format.unpack(self.row(y), usize::from(x))
    }

    /// Sets pixel `(x, y)` to grey `level` (masked to the format's depth); nothing off the panel.
    pub fn set_pixel(&mut self, x: u16, y: u16, level: u16) {
        if x >= self.width || y >= self.height {
            return;
        }
        let stride = self.format.row_bytes(usize::from(self.width));
        let x = usize::from(x);
        let level = level & self.format.max_value();
        let (at, shift, mask) = match self.format {
            PixelFormat::Gray8 => (x, 0, 0xFF),
            PixelFormat::Gray4 => (x / 2, if x.is_multiple_of(2) { 4 } else { 0 }, 0x0F),
            PixelFormat::Mono1 => (x / 8, 7 - x % 8, 0x01),
            // `new` refuses RGB565.
            PixelFormat::Rgb565(_) => return,
        };
        if let Some(b) = self.fb.get_mut(usize::from(y) * stride + at) {
            *b = (*b & !(mask << shift)) | ((level as u8) << shift);
        }
    }

    /// Decodes `staged` (whole RECT messages in this format) into the framebuffer. The session's
    /// decoder accepted these bytes already; an error here (which cannot happen then) stops at the
    /// bad message, the RECTs before it applied.
    pub fn apply(&mut self, staged: &[u8]) -> Result<Applied, ProtoError> {
        let mut decoder = Decoder::new(u16::MAX).with_format(self.format);
        let mut writer = FramebufferWriter::with_format(self.width, self.height, self.format);
        let mut out = Applied::default();
        for ev in decoder.feed(staged) {
            let ev = ev?;
            if let Event::RectBegin(r) = ev
                && r.x < self.width
                && r.y < self.height
            {
                let end = r.y.saturating_add(r.h).min(self.height);
                let w = r.w.min(self.width - r.x);
                out.rects += 1;
                out.pixels += u64::from(w) * u64::from(end - r.y);
                out.rows = Some(match out.rows {
                    Some((a, b)) => (a.min(r.y), b.max(end)),
                    None => (r.y, end),
                });
            }
            writer.apply(self.fb, &ev);
        }
        if !decoder.is_idle() {
            return Err(ProtoError::PixelCountMismatch);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pixelwire_proto::{Codec, Pixels, RectHeader};

    #[test]
    fn staged_rects_land_packed_and_report_their_rows() {
        let mut fb = [0xAAu8; 16 * 4 / 8];
        let mut f = PackedFrame::new(PixelFormat::Mono1, 16, 4, &mut fb).unwrap();
        assert!(f.bytes().iter().all(|&b| b == 0), "starts black");
        // an 8x2 white rect at (8, 1)
        let px = [1u16; 16];
        let mut msg = [0u8; 64];
        let mut payload = [0u8; 8];
        let n = Codec::Raw
            .encode(Pixels::packed(&px, 8, 2), PixelFormat::Mono1, &mut payload)
            .unwrap();
        let hdr = RectHeader {
            x: 8,
            y: 1,
            w: 8,
            h: 2,
            codec: Codec::Raw,
        };
        let k = hdr.encode(&mut msg, n).unwrap();
        msg[k..k + n].copy_from_slice(&payload[..n]);
        let a = f.apply(&msg[..k + n]).unwrap();
        assert_eq!(a.rows, Some((1, 3)));
        assert_eq!((a.rects, a.pixels), (1, 16));
        assert_eq!(f.bytes(), [0, 0, 0, 0xFF, 0, 0xFF, 0, 0]);
        assert_eq!((f.pixel(8, 1), f.pixel(7, 1), f.pixel(8, 3)), (1, 0, 0));
        assert_eq!(f.apply(&msg[..k + 1]), Err(ProtoError::PixelCountMismatch));
        assert!(PackedFrame::new(PixelFormat::Gray4, 16, 4, &mut [0u8; 31]).is_none());
    }

    #[test]
    fn set_pixel_writes_one_pixel_of_every_packed_format() {
        for format in [PixelFormat::Gray8, PixelFormat::Gray4, PixelFormat::Mono1] {
            let mut fb = [0u8; 16 * 3];
            let mut f = PackedFrame::new(format, 16, 3, &mut fb).unwrap();
            let max = format.max_value();
            f.set_pixel(9, 1, max);
            f.set_pixel(10, 1, 0xFFFF);
            f.set_pixel(10, 1, 0);
            f.set_pixel(16, 1, max);
            f.set_pixel(0, 3, max);
            for y in 0..3 {
                for x in 0..16 {
                    let want = if (x, y) == (9, 1) { max } else { 0 };
                    assert_eq!(f.pixel(x, y), want, "{format:?} ({x}, {y})");
                }
            }
        }
    }
}
