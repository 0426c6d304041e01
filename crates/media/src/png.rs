//! PNG encoding for snapshots and previews (RGB, 8 bits, fast compression: lossless, so a PNG of a
//! display shadow is exactly what the panel shows).

use pixelwire_core::{Frame, Rgb565Image};

/// Why a PNG could not be written.
#[derive(Debug, thiserror::Error)]
#[error("PNG encoding failed: {0}")]
pub struct PngError(#[from] ::png::EncodingError);

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

/// An RGB565 image (a panel shadow) as PNG.
pub fn rgb565_png(img: &Rgb565Image) -> Result<Vec<u8>, PngError> {
    encode(
        img.width,
        img.height,
        ::png::ColorType::Rgb,
        &img.to_rgb888(),
    )
}
