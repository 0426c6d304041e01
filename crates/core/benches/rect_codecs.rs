//! Rect codecs on real content: encode and decode speed of RAW, RLE and PALETTE_RLE, beside LZ4
//! (`lz4_flex` block format) as a candidate codec, on the built-in screens' golden frames
//! (`testdata/golden/{bios,cpu,pattern}-320x240.png`, converted to RGB565 without dither).
//!
//! Per screen it measures, in MB/s of raw pixel data (2 bytes per pixel of the area covered):
//! * `encode/<codec>` and `decode/<codec>`: RAW and RLE over 16-row bands (one RECT message each),
//!   PALETTE_RLE over the 16×16 tiles where it applies (at most 16 colours), LZ4 over the same bands'
//!   big-endian bytes and over the whole frame. Decoding goes through `Decoder` into a
//!   `FramebufferWriter`, as the display emulator does; LZ4 decompresses into the band buffers.
//! * `update/<codecs>`: a realistic dirty update (bios: the clock row y 60..80; cpu: the graph area
//!   y 48..240; pattern: the whole frame), encoded by the server's `UpdateEncoder` for a device
//!   with `max_packet_bytes` 4096 and the given codec set, and `update/lz4`: the same area as one
//!   LZ4 block.
//!
//! Compression ratios (raw bytes / codec payload bytes) and PALETTE_RLE's applicability are
//! printed once per screen. `examples/codec_report.rs` prints the same figures as a table.
//!
//! Run: `cargo bench -p pixelwire-core --bench rect_codecs -- --warm-up-time 1 --measurement-time 3`

mod common;

use common::*;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pixelwire_core::UpdateEncoder;
use pixelwire_proto::Codec;
use std::hint::black_box;

fn ratio(raw: u64, encoded: usize) -> f64 {
    raw as f64 / encoded.max(1) as f64
}

fn bench_content(c: &mut Criterion, content: &Content) {
    let img = &content.img;
    let (w, h) = (img.width, img.height);
    let frame = img.bounds();
    let all_bands = bands(frame);
    let all_tiles = tiles(img);
    let pal_tiles = applicable(img, &all_tiles, Codec::PaletteRle);
    let pal_bands = applicable(img, &all_bands, Codec::PaletteRle);
    let whole_frame_palette = !applicable(img, &[frame], Codec::PaletteRle).is_empty();
    let band_bytes: Vec<Vec<u8>> = all_bands.iter().map(|r| be_bytes(img, *r)).collect();
    let frame_bytes = vec![be_bytes(img, frame)];
    let mut fb = vec![0u8; (w * h * 2) as usize];

    // Sizes, once.
    let mut stream = Vec::new();
    let mut blocks = Vec::new();
    let raw_frame = raw_bytes(&[frame]);
    println!(
        "\n{}: {w}x{h}, {} raw bytes; PALETTE_RLE applies to the whole frame: {whole_frame_palette}, \
         to {}/{} 16x16 tiles ({:.0}%), to {}/{} 16-row bands",
        content.name,
        raw_frame,
        pal_tiles.len(),
        all_tiles.len(),
        100.0 * pal_tiles.len() as f64 / all_tiles.len() as f64,
        pal_bands.len(),
        all_bands.len()
    );
    for codec in [Codec::Raw, Codec::Rle] {
        let n = encode_parts(img, &all_bands, codec, &mut stream);
        decode_stream(&stream, w, h, &mut fb);
        assert_decoded(img, frame, &fb);
        println!(
            "  {:<22} payload {:>7} B  ratio {:>6.2}",
            format!("{}/band16", codec.name()),
            n,
            ratio(raw_frame, n)
        );
    }
    let n = encode_parts(img, &pal_tiles, Codec::PaletteRle, &mut stream);
    println!(
        "  {:<22} payload {:>7} B  ratio {:>6.2}  (over the applicable tiles' {} raw bytes)",
        "palette_rle/tile16",
        n,
        ratio(raw_bytes(&pal_tiles), n),
        raw_bytes(&pal_tiles)
    );
    let n = lz4_compress_all(&band_bytes, &mut blocks);
    println!(
        "  {:<22} payload {:>7} B  ratio {:>6.2}",
        "lz4/band16",
        n,
        ratio(raw_frame, n)
    );
    let n = lz4_compress_all(&frame_bytes, &mut blocks);
    println!(
        "  {:<22} payload {:>7} B  ratio {:>6.2}",
        "lz4/frame",
        n,
        ratio(raw_frame, n)
    );
    let mut enc = UpdateEncoder::new();
    let dirty_raw = raw_bytes(&[content.dirty]);
    println!(
        "  dirty update: {} ({} raw bytes), max_packet_bytes {DIRTY_MAX_PACKET_BYTES}",
        content.dirty_note, dirty_raw
    );
    for (name, set) in update_codec_sets() {
        let u = encode_update(&mut enc, img, content.dirty, set);
        fb.fill(0);
        decode_stream(&u.bytes, w, h, &mut fb);
        assert_decoded(img, content.dirty, &fb);
        println!(
            "  {:<22} wire {:>7} B  ratio {:>6.2}  ({} messages)",
            format!("update/{name}"),
            u.bytes.len(),
            ratio(dirty_raw, u.bytes.len()),
            u.stats.messages
        );
    }
    let dirty_bytes = vec![be_bytes(img, content.dirty)];
    let n = lz4_compress_all(&dirty_bytes, &mut blocks);
    println!(
        "  {:<22} payload {:>7} B  ratio {:>6.2}",
        "update/lz4",
        n,
        ratio(dirty_raw, n)
    );

    let mut g = c.benchmark_group(format!("rect_codecs/{}", content.name));
    // Band and frame codecs.
    for codec in [Codec::Raw, Codec::Rle] {
        g.throughput(Throughput::Bytes(raw_frame));
        g.bench_function(format!("encode/{}", codec.name()), |b| {
            b.iter(|| encode_parts(black_box(img), &all_bands, codec, &mut stream))
        });
        encode_parts(img, &all_bands, codec, &mut stream);
        g.bench_function(format!("decode/{}", codec.name()), |b| {
            b.iter(|| decode_stream(black_box(&stream), w, h, &mut fb))
        });
    }
    if !pal_tiles.is_empty() {
        g.throughput(Throughput::Bytes(raw_bytes(&pal_tiles)));
        g.bench_function("encode/palette_rle_tiles", |b| {
            b.iter(|| encode_parts(black_box(img), &pal_tiles, Codec::PaletteRle, &mut stream))
        });
        encode_parts(img, &pal_tiles, Codec::PaletteRle, &mut stream);
        g.bench_function("decode/palette_rle_tiles", |b| {
            b.iter(|| decode_stream(black_box(&stream), w, h, &mut fb))
        });
    }
    for (name, inputs) in [("lz4_band16", &band_bytes), ("lz4_frame", &frame_bytes)] {
        g.throughput(Throughput::Bytes(raw_frame));
        g.bench_function(format!("encode/{name}"), |b| {
            b.iter(|| lz4_compress_all(black_box(inputs), &mut blocks))
        });
        lz4_compress_all(inputs, &mut blocks);
        let mut out = inputs.clone();
        g.bench_function(format!("decode/{name}"), |b| {
            b.iter(|| lz4_decompress_all(black_box(&blocks), &mut out))
        });
    }
    // The dirty update.
    g.throughput(Throughput::Bytes(dirty_raw));
    for (name, set) in update_codec_sets() {
        g.bench_function(format!("update/{name}"), |b| {
            b.iter(|| encode_update(&mut enc, black_box(img), content.dirty, set))
        });
    }
    g.bench_function("update/lz4", |b| {
        b.iter(|| lz4_compress_all(black_box(&dirty_bytes), &mut blocks))
    });
    g.finish();
}

fn rect_codecs(c: &mut Criterion) {
    for content in golden() {
        bench_content(c, &content);
    }
}

criterion_group!(benches, rect_codecs);
criterion_main!(benches);
