//! Encoders of one stripe: JPEG straight from the BGRA/RGBA rows with their stride (libjpeg-turbo
//! reads them without conversion; one reused compressor per thread), and H.264 with one OpenH264
//! stream per stripe (or one for the full frame), fed I420 converted from the rows, at a constant
//! quantiser (the CRF equivalent, `pixelwire_media::h264::RateMode::Quantiser`).

use pixelwire_media::PixelLayout;
use pixelwire_media::jpeg::{JpegEncoder, JpegError, Subsampling};
use std::cell::RefCell;

/// Why a stripe was not encoded.
#[derive(Debug, thiserror::Error)]
pub enum StripeEncodeError {
    /// libjpeg-turbo failed.
    #[error(transparent)]
    Jpeg(#[from] JpegError),
    /// OpenH264 failed.
    #[cfg(feature = "h264")]
    #[error(transparent)]
    H264(#[from] pixelwire_media::h264::H264Error),
    /// The rows are too small to become I420 (fewer than 2×2 pixels) or shorter than stated.
    #[error("{width}x{height} rows cannot be converted to I420")]
    Convert {
        /// Width.
        width: u32,
        /// Rows.
        height: u32,
    },
}

/// Rows of 4-byte pixels to encode: `height` rows of `width` pixels, `stride` bytes apart.
#[derive(Debug, Clone, Copy)]
pub struct Rows<'a> {
    /// The bytes, first row first.
    pub pixels: &'a [u8],
    /// Width, pixels.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// Bytes from one row to the next.
    pub stride: usize,
    /// Byte order.
    pub layout: PixelLayout,
}

thread_local! {
    /// A compressor per encoding thread (rayon worker or caller), created on first use.
    static JPEG: RefCell<Option<JpegEncoder>> = const { RefCell::new(None) };
}

/// Encodes rows as one baseline JFIF with this thread's reused compressor.
pub fn encode_jpeg(
    rows: Rows<'_>,
    quality: u8,
    subsampling: Subsampling,
) -> Result<Vec<u8>, StripeEncodeError> {
    JPEG.with(|cell| {
        let mut slot = cell.borrow_mut();
        let enc = match slot.as_mut() {
            Some(e) => e,
            None => slot.insert(JpegEncoder::new()?),
        };
        Ok(enc.encode(
            rows.pixels,
            rows.width,
            rows.height,
            rows.stride,
            rows.layout,
            i32::from(quality),
            subsampling,
        )?)
    })
}

/// One stripe's H.264 stream at a constant quantiser.
#[cfg(feature = "h264")]
#[derive(Debug, Default)]
pub struct H264Stripe {
    stream: Option<(u8, pixelwire_media::h264::H264Encoder)>,
}

/// An encoded H.264 access unit.
#[cfg(feature = "h264")]
#[derive(Debug)]
pub struct H264Unit {
    /// Annex-B bytes, SPS/PPS before an IDR.
    pub annexb: Vec<u8>,
    /// An IDR.
    pub keyframe: bool,
    /// Encoded width (even).
    pub width: u32,
    /// Encoded rows (even; an odd last row is dropped).
    pub height: u32,
}

#[cfg(feature = "h264")]
impl H264Stripe {
    /// Encodes rows at quantiser `qp`, as an IDR if `keyframe`. OpenH264 cannot change its
    /// quantiser range on a running stream, so a new `qp` (paint-over and back) restarts the
    /// stream, which starts with an IDR: paint-over is an IDR anyway, and the change that follows
    /// one costs an IDR at the base quantiser.
    pub fn encode(
        &mut self,
        rows: Rows<'_>,
        qp: u8,
        keyframe: bool,
    ) -> Result<H264Unit, StripeEncodeError> {
        use pixelwire_media::h264::{H264Encoder, H264Settings};
        let yuv = pixelwire_media::I420::from_packed(
            rows.pixels,
            rows.width,
            rows.height,
            rows.stride,
            rows.layout,
        )
        .ok_or(StripeEncodeError::Convert {
            width: rows.width,
            height: rows.height,
        })?;
        let enc = match &mut self.stream {
            Some((q, enc)) if *q == qp => enc,
            slot => {
                let enc =
                    H264Encoder::with_settings(move |w, h| H264Settings::constant_qp(w, h, qp));
                &mut slot.insert((qp, enc)).1
            }
        };
        if keyframe {
            enc.force_keyframe();
        }
        let au = enc.encode(&yuv)?;
        Ok(H264Unit {
            annexb: au.annexb.to_vec(),
            keyframe: au.stats.keyframe,
            width: yuv.width,
            height: yuv.height,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jpeg_stripe_decodes_to_its_rows() {
        let (w, h, stride) = (40u32, 16u32, 40 * 4 + 12);
        let bgra: Vec<u8> = (0..stride * h as usize)
            .map(|i| if (i / stride) % 8 < 4 { 200 } else { 30 })
            .collect();
        let rows = Rows {
            pixels: &bgra,
            width: w,
            height: h,
            stride,
            layout: PixelLayout::Bgra,
        };
        let jfif = encode_jpeg(rows, 90, Subsampling::S444).unwrap();
        let (dw, dh, rgba) = pixelwire_media::jpeg::decode_rgba(&jfif).unwrap();
        assert_eq!((dw, dh), (w, h));
        let worst = (0..h as usize)
            .flat_map(|y| (0..w as usize).map(move |x| (y, x)))
            .map(|(y, x)| rgba[(y * w as usize + x) * 4].abs_diff(bgra[y * stride + x * 4 + 2]))
            .max();
        assert!(worst.unwrap() < 12, "worst {worst:?}");
    }

    #[cfg(feature = "h264")]
    #[test]
    fn an_h264_stripe_starts_with_an_idr_and_a_new_qp_restarts_it() {
        let (w, h) = (64u32, 17u32);
        let bgra: Vec<u8> = (0..w * h * 4).map(|i| (i % 253) as u8).collect();
        let rows = Rows {
            pixels: &bgra,
            width: w,
            height: h,
            stride: w as usize * 4,
            layout: PixelLayout::Bgra,
        };
        let mut s = H264Stripe::default();
        let idr = s.encode(rows, 25, false).unwrap();
        assert!(idr.keyframe);
        assert_eq!((idr.width, idr.height), (64, 16));
        assert_eq!(idr.annexb[4] & 0x1F, 7, "SPS first");
        assert!(!s.encode(rows, 25, false).unwrap().keyframe);
        assert!(s.encode(rows, 25, true).unwrap().keyframe);
        assert!(s.encode(rows, 18, false).unwrap().keyframe);
    }
}
