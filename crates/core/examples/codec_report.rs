//! Prints markdown tables of the rect codecs on the built-in screens' golden frames, for pasting
//! into `BENCHMARKS.md`: per screen and codec, the encoded bytes, the compression ratio (raw /
//! encoded) and encode/decode speed in MB/s of raw pixel data. A second table does the same for a
//! realistic dirty update of each screen, encoded by the server's `UpdateEncoder`.
//!
//! The measurement units are those of `benches/rect_codecs.rs` (shared code in
//! `benches/common/mod.rs`): RAW/RLE over 16-row bands, PALETTE_RLE over the 16×16 tiles where it
//! applies, LZ4 (`lz4_flex` block) over the same bands or the whole frame. Each speed is the median
//! of 21 timed runs (each run repeats the operation for at least 2 ms), with `std::time::Instant`.
//!
//! Run: `cargo run --release -p pixelwire-core --example codec_report`

#[path = "../benches/common/mod.rs"]
mod common;

use common::*;
use pixelwire_core::{Rect, UpdateEncoder};
use pixelwire_proto::Codec;
use std::hint::black_box;
use std::time::{Duration, Instant};

const RUNS: usize = 21;

/// Median seconds per call of `f` over [`RUNS`] runs.
fn median_secs(mut f: impl FnMut()) -> f64 {
    // Calibrate the repetitions so one run takes at least 2 ms.
    let mut reps = 1u32;
    loop {
        let t = Instant::now();
        for _ in 0..reps {
            f();
        }
        if t.elapsed() >= Duration::from_millis(2) {
            break;
        }
        reps *= 2;
    }
    let mut runs: Vec<f64> = (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..reps {
                f();
            }
            t.elapsed().as_secs_f64() / f64::from(reps)
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    runs[RUNS / 2]
}

fn mb_s(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / secs / 1e6
}

struct Row {
    content: &'static str,
    codec: String,
    raw: u64,
    encoded: usize,
    enc_secs: f64,
    dec_secs: f64,
}

impl Row {
    fn print(&self) {
        println!(
            "| {} | {} | {} | {} | {:.2} | {:.0} | {:.0} |",
            self.content,
            self.codec,
            self.raw,
            self.encoded,
            self.raw as f64 / self.encoded.max(1) as f64,
            mb_s(self.raw, self.enc_secs),
            mb_s(self.raw, self.dec_secs),
        );
    }
}

/// A codec over message-framed parts: RAW, RLE, PALETTE_RLE.
fn codec_row(c: &Content, label: String, parts: &[Rect], codec: Codec) -> Row {
    let img = &c.img;
    let mut stream = Vec::new();
    let mut fb = vec![0u8; (img.width * img.height * 2) as usize];
    let encoded = encode_parts(img, parts, codec, &mut stream);
    decode_stream(&stream, img.width, img.height, &mut fb);
    for r in parts {
        assert_decoded(img, *r, &fb);
    }
    let mut scratch = Vec::new();
    let enc_secs = median_secs(|| {
        black_box(encode_parts(black_box(img), parts, codec, &mut scratch));
    });
    let dec_secs =
        median_secs(|| decode_stream(black_box(&stream), img.width, img.height, &mut fb));
    Row {
        content: c.name,
        codec: label,
        raw: raw_bytes(parts),
        encoded,
        enc_secs,
        dec_secs,
    }
}

/// LZ4 blocks over the big-endian bytes of `parts`.
fn lz4_row(c: &Content, label: String, parts: &[Rect]) -> Row {
    let inputs: Vec<Vec<u8>> = parts.iter().map(|r| be_bytes(&c.img, *r)).collect();
    let mut blocks = Vec::new();
    let encoded = lz4_compress_all(&inputs, &mut blocks);
    let mut out = inputs.clone();
    lz4_decompress_all(&blocks, &mut out);
    assert!(out == inputs, "LZ4 round trip");
    let mut scratch = Vec::new();
    let enc_secs = median_secs(|| {
        black_box(lz4_compress_all(black_box(&inputs), &mut scratch));
    });
    let dec_secs = median_secs(|| lz4_decompress_all(black_box(&blocks), &mut out));
    Row {
        content: c.name,
        codec: label,
        raw: raw_bytes(parts),
        encoded,
        enc_secs,
        dec_secs,
    }
}

fn main() {
    let screens = golden();
    println!("### Rect codecs on the golden screens (320x240, RGB565 big-endian)\n");
    println!(
        "Encoded bytes are codec payload only (each RECT message adds 13 header bytes); \
         MB/s counts raw pixel bytes; median of {RUNS} runs.\n"
    );
    println!(
        "| content | codec (unit) | raw bytes | encoded bytes | ratio | encode MB/s | decode MB/s |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|");
    for c in &screens {
        let frame = c.img.bounds();
        let band_parts = bands(frame);
        let tile_parts = tiles(&c.img);
        for codec in [Codec::Raw, Codec::Rle] {
            codec_row(c, format!("{} (band16)", codec.name()), &band_parts, codec).print();
        }
        let pal_tiles = applicable(&c.img, &tile_parts, Codec::PaletteRle);
        let pal_bands = applicable(&c.img, &band_parts, Codec::PaletteRle);
        let whole = applicable(&c.img, &[frame], Codec::PaletteRle);
        if pal_tiles.is_empty() {
            println!(
                "| {} | palette_rle (tile16, 0% of tiles) | 0 | - | - | - | - |",
                c.name
            );
        } else {
            codec_row(
                c,
                format!(
                    "palette_rle (tile16, {}/{} tiles = {:.0}%; {}/{} bands; whole frame: {})",
                    pal_tiles.len(),
                    tile_parts.len(),
                    100.0 * pal_tiles.len() as f64 / tile_parts.len() as f64,
                    pal_bands.len(),
                    band_parts.len(),
                    if whole.is_empty() { "no" } else { "yes" }
                ),
                &pal_tiles,
                Codec::PaletteRle,
            )
            .print();
        }
        lz4_row(c, "lz4 (band16)".into(), &band_parts).print();
        lz4_row(c, "lz4 (frame)".into(), &[frame]).print();
    }

    println!(
        "\n### Dirty updates (server `UpdateEncoder`, max_packet_bytes {DIRTY_MAX_PACKET_BYTES})\n"
    );
    println!(
        "Wire bytes include message headers; LZ4 is one block of the area's bytes, no framing.\n"
    );
    println!(
        "| content | area | codecs | raw bytes | wire bytes | ratio | encode MB/s | decode MB/s |"
    );
    println!("|---|---|---|---:|---:|---:|---:|---:|");
    let mut enc = UpdateEncoder::new();
    for c in &screens {
        let raw = raw_bytes(&[c.dirty]);
        let mut fb = vec![0u8; (c.img.width * c.img.height * 2) as usize];
        for (name, set) in update_codec_sets() {
            let u = encode_update(&mut enc, &c.img, c.dirty, set);
            decode_stream(&u.bytes, c.img.width, c.img.height, &mut fb);
            assert_decoded(&c.img, c.dirty, &fb);
            let enc_secs = median_secs(|| {
                black_box(encode_update(&mut enc, black_box(&c.img), c.dirty, set));
            });
            let dec_secs = median_secs(|| {
                decode_stream(black_box(&u.bytes), c.img.width, c.img.height, &mut fb)
            });
            println!(
                "| {} | {} | {} | {} | {} | {:.2} | {:.0} | {:.0} |",
                c.name,
                c.dirty_note,
                name,
                raw,
                u.bytes.len(),
                raw as f64 / u.bytes.len() as f64,
                mb_s(raw, enc_secs),
                mb_s(raw, dec_secs)
            );
        }
        let row = lz4_row(c, "lz4".into(), &[c.dirty]);
        println!(
            "| {} | {} | lz4 | {} | {} | {:.2} | {:.0} | {:.0} |",
            c.name,
            c.dirty_note,
            raw,
            row.encoded,
            raw as f64 / row.encoded as f64,
            mb_s(raw, row.enc_secs),
            mb_s(raw, row.dec_secs)
        );
    }
}
