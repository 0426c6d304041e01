//! Applies decoded rect events to a framebuffer in memory: what the display emulator, the host tests
//! and a device with enough RAM do. Pixels outside the panel are clipped, as TFT drivers clip.

use crate::decoder::Event;
use crate::message::RectHeader;

/// Writes the pixels of RECT events into a `width × height` RGB565 framebuffer kept in the device's
/// pixel order (two bytes per pixel, row-major).
#[derive(Debug)]
pub struct FramebufferWriter {
    width: u16,
    height: u16,
    rect: Option<RectHeader>,
    /// Pixel index inside the current rect.
    cursor: u32,
    /// First byte of a pixel split across input pieces.
    half: Option<u8>,
}

impl FramebufferWriter {
    /// A writer for a `width × height` panel.
    pub fn new(width: u16, height: u16) -> Self {
        Self {
            width,
            height,
            rect: None,
            cursor: 0,
            half: None,
        }
    }

    /// Applies one event to `fb` (`width*height*2` bytes). Non-pixel events are ignored; returns
    /// true for events that changed pixels.
    pub fn apply(&mut self, fb: &mut [u8], ev: &Event<'_>) -> bool {
        match *ev {
            Event::RectBegin(h) => {
                self.rect = Some(h);
                self.cursor = 0;
                self.half = None;
                false
            }
            Event::RectEnd => {
                self.rect = None;
                false
            }
            Event::Pixels(mut bytes) => {
                if let Some(first) = self.half.take() {
                    if let Some((&second, rest)) = bytes.split_first() {
                        self.put(fb, [first, second]);
                        bytes = rest;
                    } else {
                        self.half = Some(first);
                    }
                }
                let mut pairs = bytes.chunks_exact(2);
                for p in &mut pairs {
                    self.put(fb, [p[0], p[1]]);
                }
                if let [last] = pairs.remainder() {
                    self.half = Some(*last);
                }
                true
            }
            Event::Fill { pixel, count } => {
                for _ in 0..count {
                    self.put(fb, pixel);
                }
                true
            }
            _ => false,
        }
    }

    #[inline]
    fn put(&mut self, fb: &mut [u8], px: [u8; 2]) {
        let Some(r) = self.rect else { return };
        let i = self.cursor;
        self.cursor += 1;
        let x = u32::from(r.x) + i % u32::from(r.w);
        let y = u32::from(r.y) + i / u32::from(r.w);
        if x >= u32::from(self.width) || y >= u32::from(self.height) {
            return;
        }
        let at = (y as usize * self.width as usize + x as usize) * 2;
        if let Some(dst) = fb.get_mut(at..at + 2) {
            dst.copy_from_slice(&px);
        }
    }
}
