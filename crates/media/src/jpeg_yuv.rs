//! A JPEG's own YCbCr planes as I420, for every chroma subsampling libjpeg-turbo decodes to planes
//! (4:4:4, 4:2:2 — what OV2640 camera sensors send —, 4:4:0, 4:1:1, 4:4:1, greyscale): the luma
//! plane is used as decoded and the chroma planes are box-filtered (or, where they are already
//! coarser than 4:2:0, sampled) to 4:2:0. No RGB detour: the conversion to RGB and back costs more
//! than the decode itself, and loses precision twice. 4:2:0 itself is split in place by
//! `jpeg::decode_i420`.

use crate::jpeg::JpegError;
use crate::yuv::I420;
use turbojpeg::{Subsamp, YuvImage};

/// `yuv` (from `turbojpeg::decompress_to_yuv`, any subsampling but 4:2:0's fast path) as I420 of
/// the even-cropped size. `None` for a subsampling without planes (`Unknown`).
pub(crate) fn to_i420(yuv: &YuvImage<Vec<u8>>) -> Result<Option<I420>, JpegError> {
    let (sx, sy) = match yuv.subsamp {
        Subsamp::None => (1, 1),
        Subsamp::Sub2x1 => (2, 1),
        Subsamp::Sub2x2 => (2, 2),
        Subsamp::Sub1x2 => (1, 2),
        Subsamp::Sub4x1 => (4, 1),
        Subsamp::Sub1x4 => (1, 4),
        Subsamp::Gray => (1, 1),
        // Unknown, and any kind a later libjpeg-turbo adds: the caller goes through RGBA.
        _ => return Ok(None),
    };
    let gray = matches!(yuv.subsamp, Subsamp::Gray);
    let (w, h) = (yuv.width, yuv.height);
    let (ew, eh) = (w & !1, h & !1);
    if ew == 0 || eh == 0 {
        return Err(JpegError::Decode("image too small for 4:2:0".into()));
    }
    let align = yuv.align.max(1);
    // libjpeg-turbo's plane geometry (tj3YUVPlaneWidth/Height): luma padded to the subsampling
    // factor, chroma that divided by it; rows padded to `align`.
    let (lw, lh) = (w.div_ceil(sx) * sx, h.div_ceil(sy) * sy);
    let (cw, ch) = (lw / sx, lh / sy);
    let y_stride = lw.div_ceil(align) * align;
    let c_stride = cw.div_ceil(align) * align;
    let y_len = y_stride * lh;
    let c_len = if gray { 0 } else { c_stride * ch };
    if yuv.pixels.len() < y_len + 2 * c_len {
        return Err(JpegError::Decode("short YUV buffer".into()));
    }
    let mut y = Vec::with_capacity(ew * eh);
    for r in 0..eh {
        y.extend_from_slice(&yuv.pixels[r * y_stride..r * y_stride + ew]);
    }
    let (ow, oh) = (ew / 2, eh / 2);
    let chroma = |start: usize| -> Vec<u8> {
        if gray {
            return vec![128; ow * oh];
        }
        let plane = &yuv.pixels[start..start + c_len];
        let mut out = Vec::with_capacity(ow * oh);
        for j in 0..oh {
            // The chroma rows covering luma rows 2j and 2j+1 (one row when they share it).
            let (r0, r1) = ((2 * j) / sy, (2 * j + 1) / sy);
            for i in 0..ow {
                let (c0, c1) = ((2 * i) / sx, (2 * i + 1) / sx);
                let at = |r: usize, c: usize| u32::from(plane[r * c_stride + c]);
                let sum = at(r0, c0) + at(r0, c1) + at(r1, c0) + at(r1, c1);
                out.push(((sum + 2) / 4) as u8);
            }
        }
        out
    };
    Ok(Some(I420 {
        width: ew as u32,
        height: eh as u32,
        u: chroma(y_len),
        v: chroma(y_len + c_len),
        y,
    }))
}

#[cfg(test)]
mod tests {
    use crate::jpeg::{decode_i420, decode_rgba, inspect};
    use crate::yuv::I420;

    /// A smooth colourful picture with a sharp-edged square, compressed with `subsamp`.
    fn jpeg(w: usize, h: usize, subsamp: turbojpeg::Subsamp) -> Vec<u8> {
        let mut rgb = Vec::with_capacity(w * h * 3);
        for y in 0..h {
            for x in 0..w {
                let inside = (w / 4..w / 2).contains(&x) && (h / 4..h / 2).contains(&y);
                if inside {
                    rgb.extend_from_slice(&[250, 30, 40]);
                } else {
                    rgb.extend_from_slice(&[(x * 255 / w) as u8, (y * 255 / h) as u8, 90]);
                }
            }
        }
        let img = turbojpeg::Image {
            pixels: rgb.as_slice(),
            width: w,
            pitch: w * 3,
            height: h,
            format: turbojpeg::PixelFormat::RGB,
        };
        turbojpeg::compress(img, 95, subsamp).unwrap().to_vec()
    }

    /// Every subsampling decodes to I420 close to converting its decoded RGB (the old path).
    #[test]
    fn every_subsampling_decodes_to_planes_matching_the_rgb_path() {
        use turbojpeg::Subsamp::*;
        for subsamp in [None, Sub2x1, Sub1x2, Sub4x1, Sub1x4, Gray, Sub2x2] {
            for (w, h) in [(64usize, 48usize), (66, 50), (35, 19)] {
                let data = jpeg(w, h, subsamp);
                let info = inspect(&data).unwrap();
                let got = decode_i420(&data, &info).unwrap();
                let (dw, dh, rgba) = decode_rgba(&data).unwrap();
                let mut even = Vec::new();
                for row in rgba.chunks_exact(dw as usize * 4).take((dh & !1) as usize) {
                    even.extend_from_slice(&row[..(dw & !1) as usize * 4]);
                }
                let want = I420::from_rgba(&even, dw & !1, dh & !1).unwrap();
                assert_eq!((got.width, got.height), (want.width, want.height));
                for (name, g, wv) in [
                    ("y", &got.y, &want.y),
                    ("u", &got.u, &want.u),
                    ("v", &got.v, &want.v),
                ] {
                    assert_eq!(g.len(), wv.len(), "{subsamp:?} {w}x{h} {name}");
                    let mean = g
                        .iter()
                        .zip(wv.iter())
                        .map(|(a, b)| f64::from(a.abs_diff(*b)))
                        .sum::<f64>()
                        / g.len() as f64;
                    assert!(
                        mean < 2.5,
                        "{subsamp:?} {w}x{h} {name}: mean difference {mean:.2}"
                    );
                }
            }
        }
    }
}
