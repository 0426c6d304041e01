//! What the mock camera sends: a [`Painter`]'s picture (the `pixelwire` binary paints the server's
//! `pattern` test screen, seed 001's mock_camera.py look-alike; without one, [`MovingBars`]),
//! rendered fresh for every frame and encoded per [`Format`]:
//! JPEG (turbojpeg), big-endian RGB565 as esp32-camera fills its framebuffer (§C.4), or Picamera's
//! raw `yuv` (I420) and `rgb` (RGB24) buffers padded to a width multiple of 32 and a height
//! multiple of 16 (§D). Padding is black, in `media::yuv`'s convention for I420 (BT.601 full
//! range, as Picamera's JFIF-style YUV) and 0 for RGB.

use super::Format;
use pixelwire_media::yuv::{I420, padded_i420_len, padded_packed_len};
use std::sync::Arc;
use std::time::Duration;

/// What a painter knows about the frame it paints.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PaintInput {
    /// Milliseconds since the camera started.
    pub elapsed_ms: u64,
    /// Frames painted before this one.
    pub frame_index: u64,
    /// Frames per second achieved so far (the target rate during the first second).
    pub fps: f32,
}

/// Draws the pictures a mock camera sends.
pub trait Painter: Send + 'static {
    /// Paints one frame into `rgba` (`width * height * 4` bytes, opaque).
    fn paint(&mut self, input: &PaintInput, rgba: &mut [u8]);
}

/// Makes a painter for a frame size; see [`MockCameraOptions::painter`](super::MockCameraOptions).
#[derive(Clone)]
pub struct PainterFactory(Arc<dyn Fn(u32, u32) -> Box<dyn Painter> + Send + Sync>);

impl PainterFactory {
    /// A factory calling `make(width, height)`.
    pub fn new(make: impl Fn(u32, u32) -> Box<dyn Painter> + Send + Sync + 'static) -> Self {
        Self(Arc::new(make))
    }

    /// A painter for `width × height`.
    pub fn make(&self, width: u32, height: u32) -> Box<dyn Painter> {
        (self.0)(width, height)
    }
}

impl Default for PainterFactory {
    fn default() -> Self {
        Self::new(|w, _| Box::new(MovingBars { width: w }))
    }
}

impl std::fmt::Debug for PainterFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PainterFactory")
    }
}

/// The painter used when none is given: eight colour bars sliding one pixel per frame.
#[derive(Debug, Clone)]
pub struct MovingBars {
    width: u32,
}

impl Painter for MovingBars {
    fn paint(&mut self, input: &PaintInput, rgba: &mut [u8]) {
        const BARS: [[u8; 3]; 8] = [
            [235, 235, 235],
            [235, 235, 16],
            [16, 235, 235],
            [16, 235, 16],
            [235, 16, 235],
            [235, 16, 16],
            [16, 16, 235],
            [16, 16, 16],
        ];
        let w = self.width.max(1) as u64;
        let bar = w.div_ceil(8).max(1);
        for (i, px) in rgba.chunks_exact_mut(4).enumerate() {
            let x = (i as u64 % w + input.frame_index) % w;
            let [r, g, b] = BARS[(x / bar).min(7) as usize];
            px.copy_from_slice(&[r, g, b, 255]);
        }
    }
}

/// Renders and encodes frames.
pub struct FrameSource {
    painter: Box<dyn Painter>,
    rgba: Vec<u8>,
    width: u32,
    height: u32,
    format: Format,
    quality: i32,
    target_fps: f64,
    index: u64,
}

impl FrameSource {
    /// A `width` × `height` source painted by [`MovingBars`], encoding to `format` (`quality` for
    /// JPEG).
    pub fn new(width: u32, height: u32, format: Format, quality: i32, target_fps: f64) -> Self {
        let painter = PainterFactory::default().make(width, height);
        Self::with_painter(painter, width, height, format, quality, target_fps)
    }

    /// A `width` × `height` source painted by `painter`, encoding to `format`.
    pub fn with_painter(
        painter: Box<dyn Painter>,
        width: u32,
        height: u32,
        format: Format,
        quality: i32,
        target_fps: f64,
    ) -> Self {
        Self {
            painter,
            rgba: vec![0; width as usize * height as usize * 4],
            width,
            height,
            format,
            quality,
            target_fps,
            index: 0,
        }
    }

    /// Frames produced so far.
    pub fn frames(&self) -> u64 {
        self.index
    }

    /// Paints the frame for `elapsed` since the start and returns its encoded bytes.
    pub fn next_frame(&mut self, elapsed: Duration) -> anyhow::Result<Vec<u8>> {
        let secs = elapsed.as_secs_f64();
        let fps = if secs >= 1.0 {
            self.index as f64 / secs
        } else {
            self.target_fps
        };
        let input = PaintInput {
            elapsed_ms: elapsed.as_millis() as u64,
            frame_index: self.index,
            fps: fps as f32,
        };
        self.painter.paint(&input, &mut self.rgba);
        self.index += 1;
        let (w, h) = (self.width, self.height);
        Ok(match self.format {
            Format::Jpeg => pixelwire_media::jpeg::encode_rgba(&self.rgba, w, h, self.quality)
                .map_err(|e| anyhow::anyhow!("JPEG encoding failed: {e}"))?,
            Format::Rgb565 => rgba_to_rgb565_be(&self.rgba),
            Format::Yuv => rgba_to_padded_i420(&self.rgba, w, h),
            Format::Rgb => rgba_to_padded_rgb24(&self.rgba, w, h),
        })
    }
}

/// RGBA → RGB565, high byte first (esp32-camera's `PIXFORMAT_RGB565` buffer order).
pub fn rgba_to_rgb565_be(rgba: &[u8]) -> Vec<u8> {
    rgba.chunks_exact(4)
        .flat_map(|p| pixelwire_proto::rgb565(p[0], p[1], p[2]).to_be_bytes())
        .collect()
}

/// RGBA → Picamera raw YUV420: full Y plane, then U, then V, each padded (width to 32, height
/// to 16); [`padded_i420_len`] bytes.
pub fn rgba_to_padded_i420(rgba: &[u8], w: u32, h: u32) -> Vec<u8> {
    let (pw, ph) = (w.div_ceil(32) * 32, h.div_ceil(16) * 16);
    let y_len = (pw * ph) as usize;
    let c_len = (pw / 2 * (ph / 2)) as usize;
    let (black_y, black_u, black_v) = black_yuv();
    let mut out = vec![black_y; padded_i420_len(w, h)];
    out[y_len..y_len + c_len].fill(black_u);
    out[y_len + c_len..].fill(black_v);
    // `from_rgba` crops an odd last column/row; that pixel stays padding.
    if let Some(yuv) = I420::from_rgba(rgba, w, h) {
        let (cw, ch) = (yuv.width / 2, yuv.height / 2);
        copy_plane(&mut out[..y_len], pw, &yuv.y, yuv.width, yuv.height);
        let (u_dst, v_dst) = out[y_len..].split_at_mut(c_len);
        copy_plane(u_dst, pw / 2, &yuv.u, cw, ch);
        copy_plane(v_dst, pw / 2, &yuv.v, cw, ch);
    }
    out
}

/// Black in the I420 convention of [`I420::from_rgba`] (Y 0 and Cb/Cr 128 at full range).
fn black_yuv() -> (u8, u8, u8) {
    let black = [0, 0, 0, 255].repeat(4);
    I420::from_rgba(&black, 2, 2).map_or((0, 128, 128), |p| (p.y[0], p.u[0], p.v[0]))
}

fn copy_plane(dst: &mut [u8], dst_stride: u32, src: &[u8], w: u32, h: u32) {
    let (stride, w) = (dst_stride as usize, w as usize);
    for (row, src_row) in src.chunks_exact(w).take(h as usize).enumerate() {
        dst[row * stride..row * stride + w].copy_from_slice(src_row);
    }
}

/// RGBA → Picamera raw RGB24 (R G B per pixel), padded like [`rgba_to_padded_i420`];
/// [`padded_packed_len`]`(w, h, 3)` bytes.
pub fn rgba_to_padded_rgb24(rgba: &[u8], w: u32, h: u32) -> Vec<u8> {
    let stride = (w.div_ceil(32) * 32) as usize * 3;
    let mut out = vec![0u8; padded_packed_len(w, h, 3)];
    for (y, src_row) in rgba
        .chunks_exact(w as usize * 4)
        .take(h as usize)
        .enumerate()
    {
        let dst_row = &mut out[y * stride..y * stride + w as usize * 3];
        for (d, s) in dst_row.chunks_exact_mut(3).zip(src_row.chunks_exact(4)) {
            d.copy_from_slice(&s[..3]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rgb565_is_big_endian() {
        let rgba = [
            0xFF, 0x00, 0x00, 0xFF, 0x00, 0x00, 0xFF, 0xFF, 0x12, 0x34, 0x56, 0xFF,
        ];
        // red F800, blue 001F, (0x12,0x34,0x56) → 0x11AA
        assert_eq!(
            rgba_to_rgb565_be(&rgba),
            [0xF8, 0x00, 0x00, 0x1F, 0x11, 0xAA]
        );
    }

    #[test]
    fn picamera_raw_sizes_at_320x240() {
        // seed-protocols.md §D: 115 200 bytes of yuv and 230 400 of rgb at 320×240.
        let mut yuv = FrameSource::new(320, 240, Format::Yuv, 85, 30.0);
        assert_eq!(yuv.next_frame(Duration::ZERO).unwrap().len(), 115_200);
        let mut rgb = FrameSource::new(320, 240, Format::Rgb, 85, 30.0);
        assert_eq!(rgb.next_frame(Duration::ZERO).unwrap().len(), 230_400);
        let mut jpeg = FrameSource::new(320, 240, Format::Jpeg, 85, 30.0);
        let j = jpeg.next_frame(Duration::from_millis(40)).unwrap();
        assert_eq!(
            (&j[..2], &j[j.len() - 2..]),
            (&[0xFF, 0xD8][..], &[0xFF, 0xD9][..])
        );
        assert_eq!(jpeg.frames(), 1);
        let mut raw = FrameSource::new(320, 240, Format::Rgb565, 85, 30.0);
        assert_eq!(raw.next_frame(Duration::ZERO).unwrap().len(), 320 * 240 * 2);
    }

    #[test]
    fn padding_surrounds_the_picture() {
        // 40×20 pads to 64×32. A white picture, black padding (whatever the range convention).
        let (w, h) = (40u32, 20u32);
        let rgba = vec![255u8; (w * h * 4) as usize];
        let white = I420::from_rgba(&rgba[..16], 2, 2).unwrap().y[0];
        let (black, _, _) = black_yuv();
        assert!(white >= 235 && black <= 16, "{white} {black}");
        let yuv = rgba_to_padded_i420(&rgba, w, h);
        assert_eq!(yuv.len(), 64 * 32 * 3 / 2);
        assert_eq!(
            (yuv[0], yuv[39], yuv[40], yuv[64 * 20]),
            (white, white, black, black)
        );
        assert_eq!(yuv[64 * 32], 128); // first U byte (neither white nor black has colour)
        let back = I420::from_padded(&yuv, w, h).unwrap();
        assert!(back.y.iter().all(|&v| v == white));
        let rgb = rgba_to_padded_rgb24(&rgba, w, h);
        assert_eq!(rgb.len(), 64 * 32 * 3);
        assert_eq!(
            (rgb[0], rgb[39 * 3 + 2], rgb[40 * 3], rgb[64 * 3 * 20]),
            (255, 255, 0, 0)
        );
    }
}
