//! JPEG in and out, with libjpeg-turbo (`turbojpeg`, vendored 3.1): the fastest decoder and encoder
//! measured on this machine (`shared/reference/rust-media-crates.md`: 0.74 ms decode and 0.60 ms
//! encode at 640x480). Camera JPEGs are checked structurally on arrival (SOI, EOI, a frame header
//! with a sane size) and decoded only when a consumer needs pixels; a JPEG that then fails to
//! decode is dropped and counted, so it never reaches an encoder.

use crate::frame::PixelLayout;
use crate::yuv::I420;

/// Largest side accepted from a camera.
pub const MAX_SIDE: u32 = 8192;

/// Why a JPEG was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JpegError {
    /// Does not start with SOI (`FF D8`).
    #[error("not a JPEG (no SOI marker)")]
    NoSoi,
    /// Does not end with EOI (`FF D9`): truncated.
    #[error("truncated JPEG (no EOI marker)")]
    NoEoi,
    /// The headers do not parse, or the size is out of range.
    #[error("bad JPEG header: {0}")]
    Header(String),
    /// The entropy-coded data does not decode.
    #[error("JPEG does not decode: {0}")]
    Decode(String),
    /// The pixels could not be encoded.
    #[error("JPEG encoding failed: {0}")]
    Encode(String),
}

/// Size and subsampling from a structurally valid JPEG.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JpegInfo {
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// True for 4:2:0 chroma (its planes are I420 as decoded).
    pub is_420: bool,
}

/// Checks markers and headers without decoding the image data.
pub fn inspect(data: &[u8]) -> Result<JpegInfo, JpegError> {
    if !data.starts_with(&[0xFF, 0xD8]) {
        return Err(JpegError::NoSoi);
    }
    // Some encoders pad after EOI; accept trailing zero bytes.
    let end = data.iter().rposition(|&b| b != 0).unwrap_or(0);
    if end < 1 || data[end - 1] != 0xFF || data[end] != 0xD9 {
        return Err(JpegError::NoEoi);
    }
    let h = turbojpeg::read_header(data).map_err(|e| JpegError::Header(e.to_string()))?;
    let (w, ht) = (h.width as u32, h.height as u32);
    if w == 0 || ht == 0 || w > MAX_SIDE || ht > MAX_SIDE {
        return Err(JpegError::Header(format!("size {w}x{ht} out of range")));
    }
    Ok(JpegInfo {
        width: w,
        height: ht,
        is_420: matches!(h.subsamp, turbojpeg::Subsamp::Sub2x2),
    })
}

/// Decodes to RGBA.
pub fn decode_rgba(data: &[u8]) -> Result<(u32, u32, Vec<u8>), JpegError> {
    let img = turbojpeg::decompress(data, turbojpeg::PixelFormat::RGBA)
        .map_err(|e| JpegError::Decode(e.to_string()))?;
    Ok((img.width as u32, img.height as u32, img.pixels))
}

/// Decodes to I420 straight from the JPEG's own planes, whatever its chroma subsampling (4:2:0
/// split in place; others resampled to 4:2:0, `jpeg_yuv.rs`); only a JPEG whose subsampling has
/// no planar form goes through RGBA.
pub fn decode_i420(data: &[u8], info: &JpegInfo) -> Result<I420, JpegError> {
    let yuv = turbojpeg::decompress_to_yuv(data);
    if !info.is_420 {
        if let Ok(yuv) = &yuv
            && let Some(i420) = crate::jpeg_yuv::to_i420(yuv)?
        {
            return Ok(i420);
        }
        let (w, h, rgba) = decode_rgba(data)?;
        return I420::from_rgba(&rgba, w, h)
            .ok_or_else(|| JpegError::Decode("image too small".into()));
    }
    let yuv = yuv.map_err(|e| JpegError::Decode(e.to_string()))?;
    let (w, h) = (yuv.width as u32, yuv.height as u32);
    // turbojpeg's 4:2:0 planes (tjPlaneWidth/tjPlaneHeight): luma is the size padded to even,
    // chroma half that; each row is padded to `align` bytes.
    let align = yuv.align.max(1);
    let (cw, ch) = (yuv.width.div_ceil(2), yuv.height.div_ceil(2));
    let y_stride = (cw * 2).div_ceil(align) * align;
    let c_stride = cw.div_ceil(align) * align;
    let (ew, eh) = (w & !1, h & !1);
    if ew == 0 || eh == 0 {
        return Err(JpegError::Decode("image too small for 4:2:0".into()));
    }
    let y_len = y_stride * ch * 2;
    let c_len = c_stride * ch;
    if yuv.pixels.len() < y_len + 2 * c_len {
        return Err(JpegError::Decode("short YUV buffer".into()));
    }
    // Unpadded planes of even size (the usual camera case) are the buffer itself, split in three.
    if (y_stride, c_stride) == (ew as usize, ew as usize / 2) && (w, h) == (ew, eh) {
        let mut y = yuv.pixels;
        y.truncate(y_len + 2 * c_len);
        let mut u = y.split_off(y_len);
        let v = u.split_off(c_len);
        return Ok(I420 {
            width: ew,
            height: eh,
            y,
            u,
            v,
        });
    }
    // Otherwise copy the visible part of each row (one memcpy per row).
    let plane = |start: usize, stride: usize, pw: u32, ph: u32| -> Vec<u8> {
        let mut out = Vec::with_capacity(pw as usize * ph as usize);
        for r in 0..ph as usize {
            let row = start + r * stride;
            out.extend_from_slice(&yuv.pixels[row..row + pw as usize]);
        }
        out
    };
    Ok(I420 {
        width: ew,
        height: eh,
        y: plane(0, y_stride, ew, eh),
        u: plane(y_len, c_stride, ew / 2, eh / 2),
        v: plane(y_len + c_len, c_stride, ew / 2, eh / 2),
    })
}

/// Encodes tightly packed RGBA as a baseline 4:2:0 JPEG.
pub fn encode_rgba(
    rgba: &[u8],
    width: u32,
    height: u32,
    quality: i32,
) -> Result<Vec<u8>, JpegError> {
    encode(
        rgba,
        width,
        height,
        width as usize * 4,
        PixelLayout::Rgba,
        quality,
    )
}

/// Chroma subsampling of an encoded JPEG.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Subsampling {
    /// 4:4:4, full colour resolution (sharp coloured text on screen content).
    S444,
    /// 4:2:0, half colour resolution both ways (camera-style, fewer bytes).
    #[default]
    S420,
}

impl Subsampling {
    fn to_turbojpeg(self) -> turbojpeg::Subsamp {
        match self {
            Subsampling::S444 => turbojpeg::Subsamp::None,
            Subsampling::S420 => turbojpeg::Subsamp::Sub2x2,
        }
    }
}

/// Encodes 4-byte pixels in `layout` with `stride` bytes per row (a screen capture's BGRA rows
/// straight from its buffer, or a band of rows of a larger image) as a baseline 4:2:0 JPEG.
pub fn encode(
    pixels: &[u8],
    width: u32,
    height: u32,
    stride: usize,
    layout: PixelLayout,
    quality: i32,
) -> Result<Vec<u8>, JpegError> {
    encode_with(
        pixels,
        width,
        height,
        stride,
        layout,
        quality,
        Subsampling::S420,
    )
}

/// Like [`encode`], with the chroma subsampling chosen by the caller.
pub fn encode_with(
    pixels: &[u8],
    width: u32,
    height: u32,
    stride: usize,
    layout: PixelLayout,
    quality: i32,
    subsampling: Subsampling,
) -> Result<Vec<u8>, JpegError> {
    let image = packed_image(pixels, width, height, stride, layout)?;
    turbojpeg::compress(image, quality, subsampling.to_turbojpeg())
        .map(|b| b.to_vec())
        .map_err(|e| JpegError::Encode(e.to_string()))
}

/// A reusable libjpeg-turbo compressor: the same output as [`encode_with`] without creating and
/// destroying a compressor per image (for a thread that encodes many small images, such as screen
/// stripes).
pub struct JpegEncoder {
    compressor: turbojpeg::Compressor,
}

impl std::fmt::Debug for JpegEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JpegEncoder").finish_non_exhaustive()
    }
}

impl JpegEncoder {
    /// A compressor; fails only if libjpeg-turbo cannot allocate one.
    pub fn new() -> Result<Self, JpegError> {
        Ok(Self {
            compressor: turbojpeg::Compressor::new()
                .map_err(|e| JpegError::Encode(e.to_string()))?,
        })
    }

    /// Encodes like [`encode_with`].
    #[expect(
        clippy::too_many_arguments,
        reason = "encode_with's arguments plus self"
    )]
    pub fn encode(
        &mut self,
        pixels: &[u8],
        width: u32,
        height: u32,
        stride: usize,
        layout: PixelLayout,
        quality: i32,
        subsampling: Subsampling,
    ) -> Result<Vec<u8>, JpegError> {
        let image = packed_image(pixels, width, height, stride, layout)?;
        let err = |e: turbojpeg::Error| JpegError::Encode(e.to_string());
        self.compressor
            .set_quality(quality.clamp(1, 100))
            .map_err(err)?;
        self.compressor
            .set_subsamp(subsampling.to_turbojpeg())
            .map_err(err)?;
        self.compressor.compress_to_vec(image).map_err(err)
    }
}

fn packed_image(
    pixels: &[u8],
    width: u32,
    height: u32,
    stride: usize,
    layout: PixelLayout,
) -> Result<turbojpeg::Image<&[u8]>, JpegError> {
    let needed = (height as usize).saturating_sub(1) * stride + width as usize * 4;
    if width == 0 || height == 0 || stride < width as usize * 4 || pixels.len() < needed {
        return Err(JpegError::Encode(format!(
            "{width}x{height} with stride {stride} does not fit {} bytes",
            pixels.len()
        )));
    }
    Ok(turbojpeg::Image {
        pixels,
        width: width as usize,
        pitch: stride,
        height: height as usize,
        format: match layout {
            PixelLayout::Rgba => turbojpeg::PixelFormat::RGBA,
            PixelLayout::Bgra => turbojpeg::PixelFormat::BGRA,
            PixelLayout::Bgrx => turbojpeg::PixelFormat::BGRX,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(w: u32, h: u32) -> Vec<u8> {
        let rgba: Vec<u8> = (0..w * h)
            .flat_map(|i| [(i % w * 255 / w) as u8, (i / w * 255 / h) as u8, 100, 255])
            .collect();
        encode_rgba(&rgba, w, h, 85).unwrap()
    }

    #[test]
    fn bgra_rows_with_a_stride_encode_like_the_same_rgba() {
        let (w, h, stride) = (32u32, 16u32, 32 * 4 + 12);
        let rgba: Vec<u8> = (0..w * h)
            .flat_map(|i| [(i * 5) as u8, 90, (i % w * 8) as u8, 255])
            .collect();
        let mut bgra = vec![0xEEu8; stride * h as usize];
        for (row, src) in bgra
            .chunks_exact_mut(stride)
            .zip(rgba.chunks_exact(w as usize * 4))
        {
            for (d, s) in row.chunks_exact_mut(4).zip(src.chunks_exact(4)) {
                d.copy_from_slice(&[s[2], s[1], s[0], s[3]]);
            }
        }
        let a = encode_rgba(&rgba, w, h, 90).unwrap();
        let b = encode(&bgra, w, h, stride, PixelLayout::Bgra, 90).unwrap();
        assert_eq!(decode_rgba(&a).unwrap(), decode_rgba(&b).unwrap());
        assert!(encode(&bgra[..100], w, h, stride, PixelLayout::Bgra, 90).is_err());
    }

    /// Sampling factors of each component from the SOF0 frame header, as `(h << 4) | v` bytes.
    fn sof0_sampling(jpeg: &[u8]) -> Vec<u8> {
        let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        let n = usize::from(jpeg[sof + 9]);
        (0..n).map(|c| jpeg[sof + 10 + 3 * c + 1]).collect()
    }

    #[test]
    fn subsampling_is_what_was_asked_and_the_reused_encoder_matches() {
        let (w, h, stride) = (48u32, 20u32, 48 * 4 + 8);
        let bgra: Vec<u8> = (0..stride * h as usize)
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let s444 = encode_with(
            &bgra,
            w,
            h,
            stride,
            PixelLayout::Bgra,
            80,
            Subsampling::S444,
        )
        .unwrap();
        assert_eq!(sof0_sampling(&s444), [0x11, 0x11, 0x11]);
        assert!(!inspect(&s444).unwrap().is_420);
        let s420 = encode_with(
            &bgra,
            w,
            h,
            stride,
            PixelLayout::Bgra,
            80,
            Subsampling::S420,
        )
        .unwrap();
        assert_eq!(sof0_sampling(&s420), [0x22, 0x11, 0x11]);
        assert_eq!(
            s420,
            encode(&bgra, w, h, stride, PixelLayout::Bgra, 80).unwrap()
        );
        let mut enc = JpegEncoder::new().unwrap();
        for (sub, want) in [(Subsampling::S444, &s444), (Subsampling::S420, &s420)] {
            let got = enc
                .encode(&bgra, w, h, stride, PixelLayout::Bgra, 80, sub)
                .unwrap();
            assert_eq!(&got, want);
        }
        assert!(
            enc.encode(
                &bgra[..10],
                w,
                h,
                stride,
                PixelLayout::Bgra,
                80,
                Subsampling::S444
            )
            .is_err()
        );
    }

    #[test]
    fn round_trip_and_inspection() {
        let jpeg = sample(64, 48);
        let info = inspect(&jpeg).unwrap();
        assert_eq!((info.width, info.height, info.is_420), (64, 48, true));
        let (w, h, rgba) = decode_rgba(&jpeg).unwrap();
        assert_eq!((w, h, rgba.len()), (64, 48, 64 * 48 * 4));
        let yuv = decode_i420(&jpeg, &info).unwrap();
        assert_eq!(
            (yuv.width, yuv.height, yuv.y.len(), yuv.u.len()),
            (64, 48, 3072, 768)
        );
    }

    #[test]
    fn truncated_and_garbage_are_rejected() {
        let jpeg = sample(64, 48);
        assert_eq!(inspect(&jpeg[..jpeg.len() / 2]), Err(JpegError::NoEoi));
        assert_eq!(inspect(b"hello world"), Err(JpegError::NoSoi));
        assert_eq!(inspect(&[]), Err(JpegError::NoSoi));
        // markers right but headers garbage
        let mut bad = vec![0xFF, 0xD8, 0x00, 0x01, 0x02, 0x03];
        bad.extend_from_slice(&[0xFF, 0xD9]);
        assert!(matches!(inspect(&bad), Err(JpegError::Header(_))));
    }

    /// A message cut short right after SOI is a truncated JPEG, not "not a JPEG" (fuzz finding:
    /// the drop was counted as `not_jpeg`, and the same bytes padded with zeros as `truncated`).
    #[test]
    fn a_jpeg_cut_short_after_soi_is_truncated() {
        assert_eq!(inspect(&[0xFF, 0xD8]), Err(JpegError::NoEoi));
        assert_eq!(inspect(&[0xFF, 0xD8, 0xFD]), Err(JpegError::NoEoi));
        assert_eq!(inspect(&[0xFF, 0xD8, 0xFD, 0]), Err(JpegError::NoEoi));
        assert_eq!(inspect(&[0xFF]), Err(JpegError::NoSoi));
        assert_eq!(inspect(&[0xFF, 0xD9]), Err(JpegError::NoSoi));
    }

    /// The JPEG's own planes (unpadded: split in place; padded rows: copied) hold the image: they
    /// match a conversion of the decoded RGBA.
    #[test]
    fn i420_planes_hold_the_image_with_and_without_row_padding() {
        for (w, h) in [(64, 48), (66, 50), (33, 17)] {
            let jpeg = sample(w, h);
            let yuv = decode_i420(&jpeg, &inspect(&jpeg).unwrap()).unwrap();
            let (dw, dh, rgba) = decode_rgba(&jpeg).unwrap();
            let mut even = Vec::new();
            for row in rgba.chunks_exact(dw as usize * 4).take((dh & !1) as usize) {
                even.extend_from_slice(&row[..(dw & !1) as usize * 4]);
            }
            let want = I420::from_rgba(&even, dw & !1, dh & !1).unwrap();
            for (name, got, want) in [
                ("y", &yuv.y, &want.y),
                ("u", &yuv.u, &want.u),
                ("v", &yuv.v, &want.v),
            ] {
                assert_eq!(got.len(), want.len(), "{w}x{h} {name}");
                let worst = got.iter().zip(want).map(|(a, b)| a.abs_diff(*b)).max();
                assert!(worst.unwrap_or(0) <= 8, "{w}x{h} {name}: worst {worst:?}");
            }
        }
    }

    #[test]
    fn odd_sizes_decode_to_even_i420() {
        let jpeg = sample(33, 17);
        let info = inspect(&jpeg).unwrap();
        let yuv = decode_i420(&jpeg, &info).unwrap();
        assert_eq!((yuv.width, yuv.height), (32, 16));
        assert_eq!(yuv.u.len(), 16 * 8);
    }
}
