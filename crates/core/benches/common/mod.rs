//! Shared by `benches/rect_codecs.rs` and `examples/codec_report.rs`: the built-in screens' golden
//! frames (`testdata/golden/*-320x240.png`) as RGB565, cut into the units the codecs are measured
//! on, and the encode/decode loops both of them time.
//!
//! Units: RAW and RLE encode 16-row full-width bands, one RECT message each (320×16 px = 10240 raw
//! bytes, the seed sketch's packet size); PALETTE_RLE applies only to parts of at most 16 colours,
//! so it is measured on the 16×16 tiles (or 16-row bands) where it applies; LZ4 (`lz4_flex` block
//! format, the candidate codec) compresses the big-endian RGB565 bytes of the same bands, or of the
//! whole frame. Throughput is always counted in raw pixel bytes (2 per pixel) of the area covered.

use pixelwire_core::{
    ColorCorrection, Dither, QualityLevel, Rect, Rgb565Converter, Rgb565Image, UpdateBytes,
    UpdateEncoder, WireFormat,
};
use pixelwire_proto::message::{HEADER_LEN, RECT_FIELDS_LEN};
use pixelwire_proto::{
    Codec, CodecSet, Decoder, FramebufferWriter, PixelFormat, PixelOrder, RectHeader,
};
use std::path::PathBuf;

/// Rows per band, and the tile side for PALETTE_RLE.
pub const BAND_ROWS: u32 = 16;
/// Tile side for PALETTE_RLE.
pub const TILE: u32 = 16;
/// The device's `max_packet_bytes` assumed for the dirty-update case (a 4 KiB receive buffer).
pub const DIRTY_MAX_PACKET_BYTES: u16 = 4096;

/// One golden screen.
pub struct Content {
    /// Screen name (`bios`, `cpu`, `pattern`).
    pub name: &'static str,
    /// The frame, converted with the truncating formula and no dither.
    pub img: Rgb565Image,
    /// The area a realistic update of this screen carries.
    pub dirty: Rect,
    /// Why that area.
    pub dirty_note: &'static str,
}

/// The three 320×240 golden screens.
pub fn golden() -> Vec<Content> {
    vec![
        load(
            "bios",
            Rect::new(0, 60, 320, 20),
            "clock row, y 60..80, full width",
        ),
        load(
            "cpu",
            Rect::new(0, 48, 320, 192),
            "graph area, y 48..240, full width",
        ),
        load("pattern", Rect::new(0, 0, 320, 240), "whole frame"),
    ]
}

fn load(name: &'static str, dirty: Rect, dirty_note: &'static str) -> Content {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/golden")
        .join(format!("{name}-320x240.png"));
    let file =
        std::fs::File::open(&path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .expect("golden PNG header");
    let mut rgba = vec![0; reader.output_buffer_size().expect("PNG size")];
    let info = reader.next_frame(&mut rgba).expect("golden PNG data");
    assert_eq!(
        (info.color_type, info.bit_depth),
        (png::ColorType::Rgba, png::BitDepth::Eight),
        "golden frames are 8-bit RGBA"
    );
    rgba.truncate(info.buffer_size());
    let mut img = Rgb565Image::filled(info.width, info.height, 0);
    Rgb565Converter::new(ColorCorrection::default(), Dither::None).convert(&rgba, &mut img);
    Content {
        name,
        img,
        dirty,
        dirty_note,
    }
}

/// 16-row bands covering `r`.
pub fn bands(r: Rect) -> Vec<Rect> {
    (r.y..r.bottom())
        .step_by(BAND_ROWS as usize)
        .map(|y| Rect::new(r.x, y, r.w, BAND_ROWS.min(r.bottom() - y)))
        .collect()
}

/// 16×16 tiles covering the image (edge tiles clipped).
pub fn tiles(img: &Rgb565Image) -> Vec<Rect> {
    let mut out = Vec::new();
    for y in (0..img.height).step_by(TILE as usize) {
        for x in (0..img.width).step_by(TILE as usize) {
            out.push(Rect::new(
                x,
                y,
                TILE.min(img.width - x),
                TILE.min(img.height - y),
            ));
        }
    }
    out
}

/// The parts `codec` can encode (all but PALETTE_RLE on more than 16 colours).
pub fn applicable(img: &Rgb565Image, parts: &[Rect], codec: Codec) -> Vec<Rect> {
    let mut scratch = Vec::new();
    parts
        .iter()
        .copied()
        .filter(|r| {
            scratch.resize(r.area() as usize * 3 + 64, 0);
            codec
                .encode(img.pixels(*r), PixelOrder::BigEndian, &mut scratch)
                .is_ok()
        })
        .collect()
}

/// Raw pixel bytes of `parts`.
pub fn raw_bytes(parts: &[Rect]) -> u64 {
    parts.iter().map(|r| r.area() * 2).sum()
}

/// Encodes each part as one RECT message with `codec` into `out` (cleared first); returns the codec
/// payload bytes (without the 13 header bytes per message). Parts must be encodable.
pub fn encode_parts(img: &Rgb565Image, parts: &[Rect], codec: Codec, out: &mut Vec<u8>) -> usize {
    const HEAD: usize = HEADER_LEN + RECT_FIELDS_LEN;
    out.clear();
    let mut payload = 0;
    for r in parts {
        let at = out.len();
        out.resize(at + HEAD + r.area() as usize * 3 + 64, 0);
        let n = codec
            .encode(img.pixels(*r), PixelOrder::BigEndian, &mut out[at + HEAD..])
            .expect("parts were checked with `applicable`");
        let hdr = RectHeader {
            x: r.x as u16,
            y: r.y as u16,
            w: r.w as u16,
            h: r.h as u16,
            codec,
        };
        hdr.encode(&mut out[at..at + HEAD], n)
            .expect("a RECT header fits its 13 bytes");
        out.truncate(at + HEAD + n);
        payload += n;
    }
    payload
}

/// Decodes a message stream into `fb` (a `width × height` big-endian framebuffer) the way the
/// display emulator does: [`Decoder`] events applied by a [`FramebufferWriter`].
pub fn decode_stream(stream: &[u8], width: u32, height: u32, fb: &mut [u8]) {
    let mut d = Decoder::default();
    let mut w = FramebufferWriter::new(width as u16, height as u16);
    for ev in d.feed(stream) {
        w.apply(fb, &ev.expect("the stream was encoded by pixelwire"));
    }
}

/// Big-endian RGB565 bytes of `r`, row-major (what LZ4 compresses and a panel receives).
pub fn be_bytes(img: &Rgb565Image, r: Rect) -> Vec<u8> {
    (r.y..r.bottom())
        .flat_map(|y| img.row(y)[r.x as usize..r.right() as usize].iter())
        .flat_map(|p| p.to_be_bytes())
        .collect()
}

/// LZ4 block-compresses each buffer into `out` (one block after the other, each as big as the
/// worst case so no call reallocates); returns the compressed sizes.
pub fn lz4_compress_all(inputs: &[Vec<u8>], out: &mut Vec<Vec<u8>>) -> usize {
    out.resize_with(inputs.len(), Vec::new);
    let mut total = 0;
    for (src, dst) in inputs.iter().zip(out.iter_mut()) {
        dst.resize(lz4_flex::block::get_maximum_output_size(src.len()), 0);
        let n = lz4_flex::block::compress_into(src, dst).expect("worst-case output size");
        dst.truncate(n);
        total += n;
    }
    total
}

/// Decompresses each block into `out`, whose buffers must have the original sizes.
pub fn lz4_decompress_all(blocks: &[Vec<u8>], out: &mut [Vec<u8>]) {
    for (src, dst) in blocks.iter().zip(out.iter_mut()) {
        let n = lz4_flex::block::decompress_into(src, dst).expect("our own LZ4 block");
        assert_eq!(n, dst.len());
    }
}

/// The codec sets compared for a dirty update, as the server's encoder would use them.
pub fn update_codec_sets() -> [(&'static str, CodecSet); 4] {
    let raw = CodecSet::EMPTY.with(Codec::Raw);
    [
        ("raw", raw),
        ("raw+rle", raw.with(Codec::Rle)),
        ("raw+palette_rle", raw.with(Codec::PaletteRle)),
        ("all", CodecSet::all()),
    ]
}

/// Encodes `rect` of `img` the way the server does for a device that declared `codecs` and
/// [`DIRTY_MAX_PACKET_BYTES`] (bands cut to the packet, best codec per band, RAW fallback).
pub fn encode_update(
    enc: &mut UpdateEncoder,
    img: &Rgb565Image,
    rect: Rect,
    codecs: CodecSet,
) -> UpdateBytes {
    let format = WireFormat::Pixelwire {
        format: PixelFormat::Rgb565(PixelOrder::BigEndian),
        codecs,
        max_packet_bytes: DIRTY_MAX_PACKET_BYTES,
    };
    let mut update = UpdateBytes::with_budget(usize::MAX);
    let outcome = enc.encode_rect(&format, img, rect, QualityLevel::EXACT, &mut update);
    assert!(outcome.complete, "an unlimited budget sends everything");
    update
}

/// Checks that `fb` (big-endian) holds `img` inside `r`.
pub fn assert_decoded(img: &Rgb565Image, r: Rect, fb: &[u8]) {
    for y in r.y..r.bottom() {
        for x in r.x..r.right() {
            let i = (y * img.width + x) as usize;
            assert_eq!(
                [fb[i * 2], fb[i * 2 + 1]],
                img.px[i].to_be_bytes(),
                "pixel ({x}, {y})"
            );
        }
    }
}
