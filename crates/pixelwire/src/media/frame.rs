//! What the bus carries: a frame as it arrived (RGBA from a renderer, JPEG from a camera, I420 from
//! a Picamera) plus the other forms consumers ask for, each computed once on first use and shared
//! by every consumer (a display sink wants RGBA, the H.264 encoder I420, MJPEG viewers JPEG). A
//! camera's JPEG is passed through untouched to MJPEG viewers and snapshots.

use super::jpeg::{self, JpegError, JpegInfo};
use super::yuv::I420;
use bytes::Bytes;
use pixelwire_core::Frame;
use std::sync::{Arc, OnceLock};

/// Quality of JPEGs encoded from RGBA frames (MJPEG, snapshots, the JPEG viewer fallback).
pub const JPEG_QUALITY: i32 = 80;

/// Called when a JPEG that looked valid fails to decode (the frame is then dropped for consumers
/// that need pixels).
pub type DecodeErrorHook = Arc<dyn Fn(&JpegError) + Send + Sync>;

enum Payload {
    Rgba(Vec<u8>),
    Jpeg { data: Bytes, info: JpegInfo },
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
            rgba: OnceLock::new(),
            i420: OnceLock::new(),
            jpeg: OnceLock::new(),
            viewer_jpeg: OnceLock::new(),
            on_decode_error: None,
        }
    }

    /// A rendered frame (`width*height*4` bytes RGBA).
    pub fn from_rgba(
        width: u32,
        height: u32,
        rgba: Vec<u8>,
        seq: u64,
        capture_time_us: u64,
    ) -> Self {
        Self::with_payload(width, height, seq, capture_time_us, Payload::Rgba(rgba))
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

    /// True if the frame arrived as JPEG.
    pub fn is_jpeg(&self) -> bool {
        matches!(self.payload, Payload::Jpeg { .. })
    }

    fn failed(&self, e: &JpegError) {
        if let Some(h) = &self.on_decode_error {
            h(e);
        }
    }

    /// The frame as RGBA (decoded once); `None` if it does not decode.
    pub fn rgba(&self) -> Option<Arc<Frame>> {
        self.rgba
            .get_or_init(|| {
                let (w, h, rgba) = match &self.payload {
                    Payload::Rgba(px) => (self.width, self.height, px.clone()),
                    Payload::I420(y) => (y.width, y.height, y.to_rgba()),
                    Payload::Jpeg { data, .. } => match jpeg::decode_rgba(data) {
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

    /// The frame as I420 for the H.264 encoder (decoded once); `None` if it does not decode.
    pub fn i420(&self) -> Option<Arc<I420>> {
        self.i420
            .get_or_init(|| match &self.payload {
                Payload::I420(y) => Some(y.clone()),
                Payload::Rgba(px) => I420::from_rgba(px, self.width, self.height).map(Arc::new),
                Payload::Jpeg { data, info } => match jpeg::decode_i420(data, info) {
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
                _ => {
                    let f = self.rgba()?;
                    jpeg::encode_rgba(&f.rgba, f.width, f.height, JPEG_QUALITY)
                        .ok()
                        .map(Bytes::from)
                }
            })
            .clone()
    }
}

impl MediaFrame {
    /// The JPEG as a complete viewer WebSocket message (built once, shared by every viewer).
    pub fn viewer_jpeg_message(&self) -> Option<Bytes> {
        self.viewer_jpeg
            .get_or_init(|| {
                let j = self.jpeg()?;
                Some(crate::viewer::message::build(
                    crate::viewer::message::KIND_JPEG,
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

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
