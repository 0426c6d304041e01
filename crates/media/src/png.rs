//! PNG encoding for snapshots and previews (RGB, 8 bits, fast compression: lossless, so a PNG of a
//! display shadow is exactly what the panel shows).

use pixelwire_core::{Frame, PixelFormat, Rgb565Image};

/// Why a PNG could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum PngError {
    /// Writing failed.
    #[error("PNG encoding failed: {0}")]
    Encode(#[from] ::png::EncodingError),
    /// The bytes are not a PNG this reader takes.
    #[error("PNG decoding failed: {0}")]
    Decode(String),
}

fn encode(
    width: u32,
    height: u32,
    color: ::png::ColorType,
    data: &[u8],
) -> Result<Vec<u8>, PngError> {
    let mut out = Vec::new();
    let mut enc = ::png::Encoder::new(&mut out, width, height);
    enc.set_color(color);
    enc.set_depth(::png::BitDepth::Eight);
    enc.set_compression(::png::Compression::Fast);
    let mut w = enc.write_header()?;
    w.write_image_data(data)?;
    w.finish()?;
    Ok(out)
}

/// A source frame as PNG (RGB; alpha is always opaque).
pub fn frame_png(f: &Frame) -> Result<Vec<u8>, PngError> {
    let rgb: Vec<u8> = f
        .rgba
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    encode(f.width, f.height, ::png::ColorType::Rgb, &rgb)
}

/// Reads an 8-bit RGB or RGBA PNG (a snapshot, a panel preview, a golden frame) as
/// `(width, height, RGB bytes)`; alpha is dropped.
pub fn decode_rgb(png: &[u8]) -> Result<(u32, u32, Vec<u8>), PngError> {
    let bad = |e: &dyn std::fmt::Display| PngError::Decode(e.to_string());
    let mut reader = ::png::Decoder::new(std::io::Cursor::new(png))
        .read_info()
        .map_err(|e| bad(&e))?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| PngError::Decode("image too large".into()))?;
    let mut buf = vec![0; size];
    let info = reader.next_frame(&mut buf).map_err(|e| bad(&e))?;
    buf.truncate(info.buffer_size());
    let rgb = match (info.color_type, info.bit_depth) {
        (::png::ColorType::Rgb, ::png::BitDepth::Eight) => buf,
        (::png::ColorType::Rgba, ::png::BitDepth::Eight) => buf
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect(),
        (c, d) => {
            return Err(PngError::Decode(format!(
                "{c:?} at {d:?} is not 8-bit RGB(A)"
            )));
        }
    };
    Ok((info.width, info.height, rgb))
}

/// Reads a PNG of any colour type and bit depth (an overlay, a watermark) as
/// `(width, height, RGBA bytes)` with 8 bits per channel: palette and grey are expanded, 16-bit
/// channels reduced, and an image without alpha is opaque.
pub fn decode_rgba(png: &[u8]) -> Result<(u32, u32, Vec<u8>), PngError> {
    let bad = |e: &dyn std::fmt::Display| PngError::Decode(e.to_string());
    let mut decoder = ::png::Decoder::new(std::io::Cursor::new(png));
    decoder.set_transformations(::png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(|e| bad(&e))?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| PngError::Decode("image too large".into()))?;
    let mut buf = vec![0; size];
    let info = reader.next_frame(&mut buf).map_err(|e| bad(&e))?;
    buf.truncate(info.buffer_size());
    let rgba = match info.color_type {
        ::png::ColorType::Rgba => buf,
        ::png::ColorType::Rgb => buf
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect(),
        ::png::ColorType::GrayscaleAlpha => buf
            .chunks_exact(2)
            .flat_map(|p| [p[0], p[0], p[0], p[1]])
            .collect(),
        ::png::ColorType::Grayscale => buf.iter().flat_map(|&g| [g, g, g, 255]).collect(),
        c => return Err(PngError::Decode(format!("{c:?} after expansion"))),
    };
    Ok((info.width, info.height, rgba))
}

/// An RGB565 image (a panel shadow) as PNG.
pub fn rgb565_png(img: &Rgb565Image) -> Result<Vec<u8>, PngError> {
    encode(
        img.width,
        img.height,
        ::png::ColorType::Rgb,
        &img.to_rgb888(),
    )
}

/// A panel image in its pixel format as PNG: RGB for RGB565, 8-bit grey for the grey formats
/// (levels widened: gray4 `v · 17`, mono 0 or 255), so a preview shows what such a panel shows.
pub fn panel_png(img: &Rgb565Image, format: PixelFormat) -> Result<Vec<u8>, PngError> {
    if format.is_rgb565() {
        return rgb565_png(img);
    }
    encode(
        img.width,
        img.height,
        ::png::ColorType::Grayscale,
        &img.to_gray8(format),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grey_panel_previews_as_grey_levels() {
        let img = Rgb565Image {
            width: 3,
            height: 1,
            px: vec![0, 7, 15],
        };
        let png = panel_png(&img, PixelFormat::Gray4).unwrap();
        let (w, h, rgba) = decode_rgba(&png).unwrap();
        assert_eq!((w, h), (3, 1));
        assert_eq!(rgba, [0, 0, 0, 255, 119, 119, 119, 255, 255, 255, 255, 255]);
        // RGB565 stays RGB
        let img = Rgb565Image::filled(1, 1, 0xF800);
        let (_, _, rgb) = decode_rgb(&panel_png(&img, PixelFormat::default()).unwrap()).unwrap();
        assert_eq!(rgb, [255, 0, 0]);
    }

    #[test]
    fn a_frame_written_as_png_reads_back_exactly() {
        let rgba: Vec<u8> = (0..6 * 4u32)
            .flat_map(|i| [(i * 10) as u8, (i * 3) as u8, 200, 255])
            .collect();
        let f = Frame {
            width: 6,
            height: 4,
            rgba: rgba.clone(),
            seq: 0,
            capture_time_us: 0,
        };
        let (w, h, rgb) = decode_rgb(&frame_png(&f).unwrap()).unwrap();
        assert_eq!((w, h), (6, 4));
        let want: Vec<u8> = rgba
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect();
        assert_eq!(rgb, want);
        assert!(matches!(decode_rgb(b"not a png"), Err(PngError::Decode(_))));
    }

    #[test]
    fn rgba_and_grey_alpha_pngs_read_as_rgba() {
        let rgba: Vec<u8> = (0..3 * 2u32)
            .flat_map(|i| [(i * 40) as u8, 7, 9, (i * 50) as u8])
            .collect();
        let png = encode(3, 2, ::png::ColorType::Rgba, &rgba).unwrap();
        assert_eq!(decode_rgba(&png).unwrap(), (3, 2, rgba));
        let ga = encode(2, 1, ::png::ColorType::GrayscaleAlpha, &[10, 20, 30, 40]).unwrap();
        assert_eq!(
            decode_rgba(&ga).unwrap(),
            (2, 1, vec![10, 10, 10, 20, 30, 30, 30, 40])
        );
        let rgb = encode(1, 1, ::png::ColorType::Rgb, &[1, 2, 3]).unwrap();
        assert_eq!(decode_rgba(&rgb).unwrap(), (1, 1, vec![1, 2, 3, 255]));
        assert!(decode_rgba(b"nope").is_err());
    }
}
