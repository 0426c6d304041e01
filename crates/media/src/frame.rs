//! What the bus carries: a frame as it arrived (RGBA from a renderer, RGBA or BGRA rows with a
//! stride from a screen capture, JPEG from a camera, I420 from a Picamera) plus the other forms
//! consumers ask for, each computed once on first use and shared by every consumer (a display sink
//! wants packed RGBA, the H.264 encoder I420, MJPEG viewers JPEG). Nothing is copied to hand a form
//! out: a renderer's RGBA is the packed form itself, and a camera's JPEG is passed through untouched
//! to MJPEG viewers and snapshots.
//!
//! A source that knows what changed since its previous frame (a screen capture's damage events)
//! attaches [`damage`](MediaFrame::damage) rectangles; `None` means "anything may have changed".

use crate::jpeg::{self, JpegError, JpegInfo};
use crate::viewer_message::{self, MessageKind};
use crate::yuv::I420;
use bytes::Bytes;
use pixelwire_core::{Frame, Rect};
use std::sync::{Arc, OnceLock};

/// Quality of JPEGs encoded from RGBA frames (MJPEG, snapshots, the JPEG viewer fallback).
pub const JPEG_QUALITY: i32 = 80;

/// Called when a JPEG that looked valid fails to decode (the frame is then dropped for consumers
/// that need pixels).
pub type DecodeErrorHook = Arc<dyn Fn(&JpegError) + Send + Sync>;

/// Byte order of 4-byte pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PixelLayout {
    /// R, G, B, A (renderers, decoded JPEGs).
    Rgba,
    /// B, G, R, A (Windows and macOS screen buffers).
    Bgra,
    /// B, G, R and an unused byte (an X11 24-bit screen: the fourth byte is not alpha and is
    /// usually 0; conversions to RGBA make it opaque).
    Bgrx,
}

/// Why pixels could not become a frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The buffer is shorter than the size and stride say.
    #[error("{width}x{height} pixels with a {stride}-byte stride need {needed} bytes, got {got}")]
    ShortBuffer {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// Bytes per row.
        stride: usize,
        /// Bytes needed.
        needed: usize,
        /// Bytes given.
        got: usize,
    },
    /// Zero-sized, or a stride below four bytes per pixel.
    #[error("bad frame geometry: {width}x{height} with a {stride}-byte stride")]
    Geometry {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// Bytes per row.
        stride: usize,
    },
}

/// Rows of 4-byte pixels as a source produced them.
#[derive(Debug, Clone)]
pub struct PackedPixels {
    /// The pixel rows; row `y` starts at `y * stride`.
    pub data: Bytes,
    /// Bytes from one row to the next (at least `width * 4`).
    pub stride: usize,
    /// Byte order.
    pub layout: PixelLayout,
}

enum Payload {
    /// Tightly packed RGBA: the display sinks' form itself.
    Rgba(Arc<Frame>),
    Packed(PackedPixels),
    Jpeg {
        data: Bytes,
        info: JpegInfo,
    },
    I420(Arc<I420>),
}

/// One frame on the bus; see the module docs.
pub struct MediaFrame {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Source-local sequence number.
    pub seq: u64,
    /// Capture time, server clock, µs since the Unix epoch.
    pub capture_time_us: u64,
    payload: Payload,
    damage: Option<Vec<Rect>>,
    rgba: OnceLock<Option<Arc<Frame>>>,
    i420: OnceLock<Option<Arc<I420>>>,
    jpeg: OnceLock<Option<Bytes>>,
    viewer_jpeg: OnceLock<Option<Bytes>>,
    on_decode_error: Option<DecodeErrorHook>,
}

impl std::fmt::Debug for MediaFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaFrame")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("seq", &self.seq)
            .field("jpeg", &self.is_jpeg())
            .field("damage", &self.damage.as_ref().map(Vec::len))
            .finish()
    }
}

impl MediaFrame {
    fn with_payload(
        width: u32,
        height: u32,
        seq: u64,
        capture_time_us: u64,
        payload: Payload,
    ) -> Self {
        Self {
            width,
            height,
            seq,
            capture_time_us,
            payload,
            damage: None,
            rgba: OnceLock::new(),
            i420: OnceLock::new(),
            jpeg: OnceLock::new(),
            viewer_jpeg: OnceLock::new(),
            on_decode_error: None,
        }
    }

    /// A rendered frame (`width*height*4` bytes RGBA), taken without copying.
    pub fn from_rgba(
        width: u32,
        height: u32,
        rgba: Vec<u8>,
        seq: u64,
        capture_time_us: u64,
    ) -> Self {
        let frame = Arc::new(Frame {
            width,
            height,
            rgba,
            seq,
            capture_time_us,
        });
        Self::with_payload(width, height, seq, capture_time_us, Payload::Rgba(frame))
    }

    /// Rows of RGBA or BGRA pixels with a stride, as a screen capture produces them; checked for
    /// size, not copied.
    pub fn from_packed(
        width: u32,
        height: u32,
        pixels: PackedPixels,
        seq: u64,
        capture_time_us: u64,
    ) -> Result<Self, FrameError> {
        let stride = pixels.stride;
        if width == 0 || height == 0 || stride < width as usize * 4 {
            return Err(FrameError::Geometry {
                width,
                height,
                stride,
            });
        }
        let needed = (height as usize - 1) * stride + width as usize * 4;
        if pixels.data.len() < needed {
            return Err(FrameError::ShortBuffer {
                width,
                height,
                stride,
                needed,
                got: pixels.data.len(),
            });
        }
        Ok(Self::with_payload(
            width,
            height,
            seq,
            capture_time_us,
            Payload::Packed(pixels),
        ))
    }

    /// A camera JPEG, checked structurally (not decoded).
    pub fn from_jpeg(data: Bytes, seq: u64, capture_time_us: u64) -> Result<Self, JpegError> {
        let info = jpeg::inspect(&data)?;
        Ok(Self::with_payload(
            info.width,
            info.height,
            seq,
            capture_time_us,
            Payload::Jpeg { data, info },
        ))
    }

    /// A raw YUV frame.
    pub fn from_i420(img: I420, seq: u64, capture_time_us: u64) -> Self {
        Self::with_payload(
            img.width,
            img.height,
            seq,
            capture_time_us,
            Payload::I420(Arc::new(img)),
        )
    }

    /// Reports decode failures through `hook`.
    #[must_use]
    pub fn with_decode_error_hook(mut self, hook: DecodeErrorHook) -> Self {
        self.on_decode_error = Some(hook);
        self
    }

    /// Says which rectangles changed since the source's previous frame (clipped to the frame).
    #[must_use]
    pub fn with_damage(mut self, rects: Vec<Rect>) -> Self {
        let (fw, fh) = (self.width, self.height);
        let clipped = rects
            .into_iter()
            .filter_map(|r| {
                let (x1, y1) = (r.x.min(fw), r.y.min(fh));
                let x2 = r.x.saturating_add(r.w).min(fw);
                let y2 = r.y.saturating_add(r.h).min(fh);
                (x2 > x1 && y2 > y1).then_some(Rect {
                    x: x1,
                    y: y1,
                    w: x2 - x1,
                    h: y2 - y1,
                })
            })
            .collect();
        self.damage = Some(clipped);
        self
    }

    /// Drops the damage rectangles: anything may have changed (a frame that replaces an older,
    /// never-consumed frame whose damage was unknown).
    pub fn without_damage(mut self) -> Self {
        self.damage = None;
        self
    }

    /// What changed since the source's previous frame; `None` when the source does not know
    /// (treat the whole frame as changed). An empty list means nothing changed.
    pub fn damage(&self) -> Option<&[Rect]> {
        self.damage.as_deref()
    }

    /// True if the frame arrived as JPEG.
    pub fn is_jpeg(&self) -> bool {
        matches!(self.payload, Payload::Jpeg { .. })
    }

    /// The pixel rows as they arrived, when they arrived as 4-byte pixels (RGBA or BGRA): what a
    /// stripe encoder reads without any conversion.
    pub fn packed(&self) -> Option<PackedPixels> {
        match &self.payload {
            Payload::Packed(p) => Some(p.clone()),
            Payload::Rgba(f) => Some(PackedPixels {
                data: Bytes::from_owner(FrameBytes(f.clone())),
                stride: f.width as usize * 4,
                layout: PixelLayout::Rgba,
            }),
            _ => None,
        }
    }

    fn failed(&self, e: &JpegError) {
        if let Some(h) = &self.on_decode_error {
            h(e);
        }
    }

    /// The frame as packed RGBA (converted once, or the payload itself); `None` if it does not
    /// decode.
    pub fn rgba(&self) -> Option<Arc<Frame>> {
        self.rgba
            .get_or_init(|| {
                let (w, h, rgba) = match &self.payload {
                    // The packed form is the payload itself: handing it out shares it.
                    Payload::Rgba(f) => return Some(f.clone()),
                    Payload::Packed(p) => (self.width, self.height, to_packed_rgba(self, p)),
                    Payload::I420(y) => (y.width, y.height, y.to_rgba()),
                    Payload::Jpeg { data, info } => match gated(info, || jpeg::decode_rgba(data)) {
                        Ok(d) => d,
                        Err(e) => {
                            self.failed(&e);
                            return None;
                        }
                    },
                };
                Some(Arc::new(Frame {
                    width: w,
                    height: h,
                    rgba,
                    seq: self.seq,
                    capture_time_us: self.capture_time_us,
                }))
            })
            .clone()
    }

    /// The camera's JPEG bytes, if the frame arrived as a JPEG (nothing is encoded).
    pub fn jpeg_payload(&self) -> Option<&[u8]> {
        match &self.payload {
            Payload::Jpeg { data, .. } => Some(data),
            _ => None,
        }
    }

    /// The frame as I420 for the H.264 encoder (decoded once); `None` if it does not decode.
    pub fn i420(&self) -> Option<Arc<I420>> {
        self.i420
            .get_or_init(|| match &self.payload {
                Payload::I420(y) => Some(y.clone()),
                Payload::Rgba(f) => I420::from_rgba(&f.rgba, self.width, self.height).map(Arc::new),
                Payload::Packed(p) => {
                    I420::from_packed(&p.data, self.width, self.height, p.stride, p.layout)
                        .map(Arc::new)
                }
                Payload::Jpeg { data, info } => match gated(info, || jpeg::decode_i420(data, info))
                {
                    Ok(y) => Some(Arc::new(y)),
                    Err(e) => {
                        self.failed(&e);
                        None
                    }
                },
            })
            .clone()
    }

    /// The frame as JPEG: the camera's own bytes, or encoded once at [`JPEG_QUALITY`].
    pub fn jpeg(&self) -> Option<Bytes> {
        self.jpeg
            .get_or_init(|| match &self.payload {
                Payload::Jpeg { data, .. } => Some(data.clone()),
                Payload::Packed(p) => jpeg::encode(
                    &p.data,
                    self.width,
                    self.height,
                    p.stride,
                    p.layout,
                    JPEG_QUALITY,
                )
                .ok()
                .map(Bytes::from),
                _ => {
                    let f = self.rgba()?;
                    jpeg::encode_rgba(&f.rgba, f.width, f.height, JPEG_QUALITY)
                        .ok()
                        .map(Bytes::from)
                }
            })
            .clone()
    }

    /// The JPEG as a complete viewer WebSocket message (built once, shared by every viewer).
    pub fn viewer_jpeg_message(&self) -> Option<Bytes> {
        self.viewer_jpeg
            .get_or_init(|| {
                let j = self.jpeg()?;
                Some(viewer_message::build(
                    MessageKind::Jpeg,
                    true,
                    self.width,
                    self.height,
                    self.capture_time_us,
                    &j,
                ))
            })
            .clone()
    }
}

/// Lets `Bytes` share a frame's RGBA without copying it.
struct FrameBytes(Arc<Frame>);

impl AsRef<[u8]> for FrameBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0.rgba
    }
}

/// Packed rows with a stride, in either byte order, to tightly packed RGBA (`yuvutils-rs`'s SIMD
/// shuffle for BGRA; a plain loop when the last row is shorter than the stride).
/// Runs a decode of the JPEG `info` describes under the [`crate::decode_gate`].
fn gated<T>(info: &JpegInfo, decode: impl FnOnce() -> T) -> T {
    let _permit = crate::decode_gate::enter(info.width, info.height);
    decode()
}

fn to_packed_rgba(f: &MediaFrame, p: &PackedPixels) -> Vec<u8> {
    let row_bytes = f.width as usize * 4;
    let mut out = vec![0u8; row_bytes * f.height as usize];
    // yuvutils-rs wants every row whole, padding included (it skips a short last row silently).
    if matches!(p.layout, PixelLayout::Bgra | PixelLayout::Bgrx)
        && p.data.len() >= p.stride * f.height as usize
        && let Ok(stride) = u32::try_from(p.stride)
        && yuvutils_rs::bgra_to_rgba(&p.data, stride, &mut out, f.width * 4, f.width, f.height)
            .is_ok()
    {
        if p.layout == PixelLayout::Bgrx {
            out.chunks_exact_mut(4).for_each(|px| px[3] = 0xFF);
        }
        return out;
    }
    for (dst, src) in out.chunks_exact_mut(row_bytes).zip(p.data.chunks(p.stride)) {
        let src = &src[..row_bytes];
        match p.layout {
            PixelLayout::Rgba => dst.copy_from_slice(src),
            PixelLayout::Bgra => {
                for (d, s) in dst.chunks_exact_mut(4).zip(src.chunks_exact(4)) {
                    d.copy_from_slice(&[s[2], s[1], s[0], s[3]]);
                }
            }
            PixelLayout::Bgrx => {
                for (d, s) in dst.chunks_exact_mut(4).zip(src.chunks_exact(4)) {
                    d.copy_from_slice(&[s[2], s[1], s[0], 0xFF]);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn rendered_rgba_is_handed_out_without_a_copy() {
        let rgba = vec![7u8; 8 * 2 * 4];
        let ptr = rgba.as_ptr();
        let f = MediaFrame::from_rgba(8, 2, rgba, 3, 9);
        let a = f.rgba().unwrap();
        assert_eq!(a.rgba.as_ptr(), ptr, "the payload itself");
        assert_eq!((a.seq, a.capture_time_us), (3, 9));
        assert_eq!(f.packed().unwrap().data.as_ptr(), ptr);
    }

    #[test]
    fn bgrx_rows_become_opaque_rgba_on_both_conversion_paths() {
        let (w, h, stride) = (4u32, 2u32, 4 * 4 + 4);
        let mut data = vec![0u8; stride * h as usize];
        for y in 0..h as usize {
            for x in 0..w as usize {
                let i = y * stride + x * 4;
                // X11's fourth byte is padding, usually 0.
                data[i..i + 4].copy_from_slice(&[10, 20 + x as u8, 30 + y as u8, 0]);
            }
        }
        let full = PackedPixels {
            data: Bytes::from(data),
            stride,
            layout: PixelLayout::Bgrx,
        };
        let tight = PackedPixels {
            data: full.data.slice(..stride + w as usize * 4),
            ..full.clone()
        };
        for pixels in [full, tight] {
            let f = MediaFrame::from_packed(w, h, pixels, 0, 0).unwrap();
            let rgba = f.rgba().unwrap();
            let p = ((w + 3) * 4) as usize;
            assert_eq!(rgba.rgba[p..p + 4], [31, 23, 10, 255]);
            assert!(rgba.rgba.chunks_exact(4).all(|px| px[3] == 255));
        }
    }

    #[test]
    fn bgra_rows_with_a_stride_convert_once_to_rgba_i420_and_jpeg() {
        let (w, h, stride) = (6u32, 4u32, 6 * 4 + 8);
        let mut data = vec![0xAAu8; stride * h as usize];
        for y in 0..h as usize {
            for x in 0..w as usize {
                let i = y * stride + x * 4;
                data[i..i + 4].copy_from_slice(&[x as u8 * 40, y as u8 * 60, 200, 255]);
            }
        }
        let pixels = PackedPixels {
            data: Bytes::from(data),
            stride,
            layout: PixelLayout::Bgra,
        };
        // the same rows without the padding after the last one (the plain-loop path)
        let needed = (h as usize - 1) * stride + w as usize * 4;
        let tight = PackedPixels {
            data: pixels.data.slice(..needed),
            ..pixels.clone()
        };
        let f = MediaFrame::from_packed(w, h, pixels, 1, 2).unwrap();
        let rgba = f.rgba().unwrap();
        let g = MediaFrame::from_packed(w, h, tight, 1, 2).unwrap();
        assert_eq!(g.rgba().unwrap().rgba, rgba.rgba);
        assert_eq!(g.i420().unwrap(), f.i420().unwrap());
        assert_eq!(
            jpeg::decode_rgba(&g.jpeg().unwrap()),
            jpeg::decode_rgba(&f.jpeg().unwrap())
        );
        assert_eq!(rgba.rgba.len(), (w * h * 4) as usize);
        // pixel (x=2, y=3): B = 80, G = 180, R = 200
        let p = ((3 * w + 2) * 4) as usize;
        assert_eq!(rgba.rgba[p..p + 4], [200, 180, 80, 255]);
        assert!(Arc::ptr_eq(&rgba, &f.rgba().unwrap()));
        assert_eq!(f.i420().unwrap().width, 6);
        let (jw, jh, _) = jpeg::decode_rgba(&f.jpeg().unwrap()).unwrap();
        assert_eq!((jw, jh), (6, 4));
        let short = PackedPixels {
            data: Bytes::from(vec![0u8; 10]),
            stride,
            layout: PixelLayout::Rgba,
        };
        assert!(matches!(
            MediaFrame::from_packed(w, h, short, 1, 2),
            Err(FrameError::ShortBuffer { .. })
        ));
    }

    #[test]
    fn damage_is_clipped_to_the_frame() {
        let f = MediaFrame::from_rgba(10, 10, vec![0; 400], 1, 0);
        assert_eq!(f.damage(), None);
        let f = f.with_damage(vec![
            Rect {
                x: 8,
                y: 8,
                w: 5,
                h: 5,
            },
            Rect {
                x: 20,
                y: 0,
                w: 1,
                h: 1,
            },
        ]);
        assert_eq!(
            f.damage(),
            Some(
                &[Rect {
                    x: 8,
                    y: 8,
                    w: 2,
                    h: 2
                }][..]
            )
        );
    }

    #[test]
    fn jpeg_frames_pass_through_and_decode_once() {
        let rgba: Vec<u8> = (0..32 * 16).flat_map(|i| [i as u8, 0, 200, 255]).collect();
        let jpeg = Bytes::from(jpeg::encode_rgba(&rgba, 32, 16, 90).unwrap());
        let f = MediaFrame::from_jpeg(jpeg.clone(), 1, 5).unwrap();
        assert_eq!((f.width, f.height), (32, 16));
        assert_eq!(f.jpeg().unwrap(), jpeg, "passed through untouched");
        let a = f.rgba().unwrap();
        let b = f.rgba().unwrap();
        assert!(Arc::ptr_eq(&a, &b), "decoded once, shared");
        assert_eq!(f.i420().unwrap().width, 32);
    }

    #[test]
    fn a_jpeg_that_does_not_decode_is_reported_once_and_yields_nothing() {
        // Valid markers and frame header, but no quantisation tables: the headers inspect fine
        // (libjpeg-turbo checks the tables only when decoding starts), the image cannot be decoded.
        let rgba: Vec<u8> = (0..64 * 64)
            .flat_map(|i| [(i * 7) as u8, (i * 3) as u8, i as u8, 255])
            .collect();
        let mut data = jpeg::encode_rgba(&rgba, 64, 64, 90).unwrap();
        while let Some(dqt) = data.windows(2).position(|w| w == [0xFF, 0xDB]) {
            let len = usize::from(u16::from_be_bytes([data[dqt + 2], data[dqt + 3]]));
            data.drain(dqt..dqt + 2 + len);
        }
        let count = Arc::new(AtomicUsize::new(0));
        let c = count.clone();
        let f = MediaFrame::from_jpeg(Bytes::from(data), 1, 0)
            .unwrap()
            .with_decode_error_hook(Arc::new(move |_| {
                c.fetch_add(1, Ordering::Relaxed);
            }));
        assert!(f.rgba().is_none());
        assert!(f.rgba().is_none());
        assert!(f.i420().is_none());
        // once for the RGBA decode, once for the I420 decode; never again for the same form
        assert_eq!(count.load(Ordering::Relaxed), 2);
        assert!(
            f.jpeg().is_some(),
            "the bytes themselves are still what arrived"
        );
    }
}
