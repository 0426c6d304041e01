//! Measures the motion codec candidates on the built-in screens' golden frames and a camera-like
//! frame, for `BENCHMARKS.md` ("Motion codec"): for each quality level below exact, a full-frame
//! update as the server's encoder builds it with the lossless codecs only (the level's colour
//! quantisation) and with DCT and DCT_HALF offered (from level 2 on, as the server does), and each
//! alone at a range of qualities. Per row: wire bytes,
//! PSNR of what the panel shows against the source frame (RGBA), and the ESP32-C3 device time the
//! cost model estimates (`DecodeCost::ESP32C3`, both passes).
//!
//! Run: `cargo run --release -p pixelwire-core --example motion_codec`

use pixelwire_core::psnr::{psnr_db, sse_rect};
use pixelwire_core::{
    ColorCorrection, CostModel, DecodeCost, Dither, QualityLevel, Rect, Rgb565Converter,
    Rgb565Image, UpdateBytes, UpdateEncoder, WireFormat,
};
use pixelwire_proto::codec::dct;
use pixelwire_proto::{Codec, CodecSet, Decoder, Event, FramebufferWriter, PixelFormat, Pixels};
use std::path::PathBuf;

/// 320x240 RGBA frames: the golden screens and a camera-like scene.
fn frames() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for name in ["pattern", "cpu", "bios"] {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/golden")
            .join(format!("{name}-320x240.png"));
        let file = std::fs::File::open(&path).expect("golden frame");
        let mut reader = png::Decoder::new(std::io::BufReader::new(file))
            .read_info()
            .expect("png");
        let mut rgba = vec![0; reader.output_buffer_size().expect("size")];
        let info = reader.next_frame(&mut rgba).expect("png data");
        rgba.truncate(info.buffer_size());
        out.push((name.to_string(), rgba));
    }
    out.push(("camera-like".to_string(), camera_like(320, 240)));
    out
}

/// A camera-like frame: soft shading, a textured floor, sensor noise (σ≈3) and a sharp object.
fn camera_like(w: usize, h: usize) -> Vec<u8> {
    let mut seed = 0x1234_5678u32;
    let mut noise = move || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        // sum of 4 uniforms: roughly normal, σ ≈ 3
        (0..4)
            .map(|k| ((seed >> (k * 8)) & 0xFF) as f32)
            .sum::<f32>()
            / 4.0
            / 255.0
            * 10.4
            - 5.2
    };
    let mut rgba = Vec::with_capacity(w * h * 4);
    for y in 0..h {
        for x in 0..w {
            let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
            let mut c = if fy > 0.6 {
                // floor boards
                let board = ((x / 24 + y / 9) % 2) as f32 * 18.0;
                [120.0 + board, 90.0 + board * 0.8, 60.0]
            } else {
                // a lit wall
                let l = 170.0 - 60.0 * ((fx - 0.7).powi(2) + (fy - 0.2).powi(2)).sqrt();
                [l, l * 0.95, l * 0.85]
            };
            if (100..160).contains(&x) && (70..170).contains(&y) {
                c = [30.0, 60.0, 150.0]; // a blue coat
            }
            let n = noise();
            for v in c {
                rgba.push((v + n).clamp(0.0, 255.0) as u8);
            }
            rgba.push(255);
        }
    }
    rgba
}

fn format(codecs: CodecSet) -> WireFormat {
    WireFormat::Pixelwire {
        format: PixelFormat::default(),
        codecs,
        max_packet_bytes: 8192,
    }
}

/// Encodes the whole frame at `level` and returns (bytes, device ms, PSNR dB, DCT share of pixels).
fn update(
    img: &Rgb565Image,
    rgba: &[u8],
    level: QualityLevel,
    codecs: CodecSet,
) -> (u64, f64, f64, f64) {
    let mut enc = UpdateEncoder::new();
    enc.set_cost_model(Some(CostModel {
        decode: DecodeCost::ESP32C3,
        link_bytes_per_s: 300_000.0,
        panel_px_per_s: Some(2_500_000.0),
    }));
    let mut u = UpdateBytes::with_budget(usize::MAX);
    let out = enc.encode_rect(&format(codecs), img, img.bounds(), level, &mut u);
    assert!(out.complete);
    let shown = decode(&u.bytes, img.width, img.height);
    let sse = sse_rect(rgba, None, &shown, img.bounds());
    let d = u.stats.device_time();
    let dct_px: u64 = out.shown.iter().map(|(r, _)| r.area()).sum();
    (
        u.bytes.len() as u64,
        (d.receive_s + d.present_s) * 1e3,
        psnr_db(sse, img.bounds().area() * 3),
        dct_px as f64 / img.bounds().area() as f64,
    )
}

/// What a panel shows after `bytes`.
fn decode(bytes: &[u8], w: u32, h: u32) -> Rgb565Image {
    let mut d = Decoder::default();
    let mut fbw = FramebufferWriter::new(w as u16, h as u16);
    let mut fb = vec![0u8; (w * h * 2) as usize];
    for ev in d.feed(bytes) {
        let ev: Event<'_> = ev.expect("valid stream");
        fbw.apply(&mut fb, &ev);
    }
    let mut img = Rgb565Image::filled(w, h, 0);
    for (p, b) in img.px.iter_mut().zip(fb.chunks_exact(2)) {
        *p = u16::from_be_bytes([b[0], b[1]]);
    }
    img
}

/// DCT alone over the frame in 128x16 RECTs (DCT_HALF: 256x32) at `quality`: (bytes, PSNR).
fn dct_only(img: &Rgb565Image, rgba: &[u8], quality: u8, half: bool) -> (u64, f64) {
    let (codec, s) = if half {
        (Codec::DctHalf, 2)
    } else {
        (Codec::Dct, 1)
    };
    let mut shown = Rgb565Image::filled(img.width, img.height, 0);
    let mut out = vec![0u8; 65536];
    let mut bytes = 0u64;
    for y in (0..img.height).step_by(16 * s as usize) {
        for x in (0..img.width).step_by(128 * s as usize) {
            let r = Rect::new(
                x,
                y,
                (128 * s).min(img.width - x),
                (16 * s).min(img.height - y),
            );
            let start = (y * img.width + x) as usize;
            let px = Pixels {
                data: &img.px[start..],
                stride: img.width as usize,
                width: r.w as usize,
                height: r.h as usize,
            };
            let n = if half {
                dct::encode_half(px, quality, &mut out)
            } else {
                dct::encode(px, quality, &mut out)
            }
            .expect("fits");
            bytes += n as u64 + 13;
            let dec = pixelwire_proto::codec::decode_format_to_vec(
                codec,
                PixelFormat::default(),
                r.w as u16,
                r.h as u16,
                &out[..n],
            )
            .expect("decodes");
            for (i, b) in dec.chunks_exact(2).enumerate() {
                let (dy, dx) = (i as u32 / r.w, i as u32 % r.w);
                shown.px[((y + dy) * img.width + x + dx) as usize] =
                    u16::from_be_bytes([b[0], b[1]]);
            }
        }
    }
    let sse = sse_rect(rgba, None, &shown, img.bounds());
    (bytes, psnr_db(sse, img.bounds().area() * 3))
}

fn main() {
    println!("### Full-frame update per level (320x240, ESP32-C3 cost model, 300 kB/s)\n");
    println!(
        "| content | level | lossless: bytes | dB | device ms | with DCT: bytes | dB | device ms | DCT share | DCT q |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let frames = frames();
    for (name, rgba) in &frames {
        let mut img = Rgb565Image::filled(320, 240, 0);
        Rgb565Converter::new(ColorCorrection::default(), Dither::None).convert(rgba, &mut img);
        for l in 0..=3 {
            let level = QualityLevel::new(l);
            let (b0, d0, p0, _) = update(&img, rgba, level, CodecSet::lossless());
            let (b1, d1, p1, share) = update(&img, rgba, level, CodecSet::all());
            println!(
                "| {name} | {l} | {b0} | {p0:.1} | {d0:.1} | {b1} | {p1:.1} | {d1:.1} | {:.0} % | {} |",
                share * 100.0,
                level.dct_quality()
            );
        }
    }
    for half in [false, true] {
        let (name, rects) = if half {
            ("DCT_HALF", "256x32")
        } else {
            ("DCT", "128x16")
        };
        println!("\n### {name} alone, {rects} RECTs (bytes include the 13-byte RECT headers)\n");
        println!("| content | q30 | q50 | q60 | q75 | q85 | q90 | q95 |");
        println!("|---|---|---|---|---|---|---|---|");
        for (name, rgba) in &frames {
            let mut img = Rgb565Image::filled(320, 240, 0);
            Rgb565Converter::new(ColorCorrection::default(), Dither::None).convert(rgba, &mut img);
            let cells: Vec<String> = [30, 50, 60, 75, 85, 90, 95]
                .iter()
                .map(|&q| {
                    let (b, p) = dct_only(&img, rgba, q, half);
                    format!("{b} B {p:.1} dB")
                })
                .collect();
            println!("| {name} | {} |", cells.join(" | "));
        }
    }
}
