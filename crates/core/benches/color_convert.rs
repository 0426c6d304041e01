//! Colour conversion: `Rgb565Converter::convert` from RGBA to RGB565 at 320×240 and 1920×1080, in
//! three configurations:
//! * `truncate`: no correction, the seed's truncating formula;
//! * `gamma2.2`: a gamma 2.2 LUT, then truncation;
//! * `dither`: no correction, ordered 4×4 Bayer dither.
//!
//! Throughput is in elements = pixels per second (criterion prints Melem/s = Mpixel/s).
//!
//! Run: `cargo bench -p pixelwire-core --bench color_convert -- --warm-up-time 1 --measurement-time 3`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pixelwire_core::{ColorCorrection, Dither, Rgb565Converter, Rgb565Image};
use std::hint::black_box;

/// An RGBA frame with gradients in every channel (no two neighbouring rows alike).
fn rgba(w: u32, h: u32) -> Vec<u8> {
    let mut v = Vec::with_capacity((w * h * 4) as usize);
    for y in 0..h {
        for x in 0..w {
            v.extend_from_slice(&[
                (x * 255 / w) as u8,
                (y * 255 / h) as u8,
                ((x + y) % 256) as u8,
                255,
            ]);
        }
    }
    v
}

fn color_convert(c: &mut Criterion) {
    let gamma = ColorCorrection {
        gamma: 2.2,
        white_balance: [1.0; 3],
    };
    let configs = [
        ("truncate", ColorCorrection::default(), Dither::None),
        ("gamma2.2", gamma, Dither::None),
        ("dither", ColorCorrection::default(), Dither::Ordered),
    ];
    let mut g = c.benchmark_group("color_convert");
    for (w, h) in [(320u32, 240u32), (1920, 1080)] {
        let src = rgba(w, h);
        let mut out = Rgb565Image::filled(w, h, 0);
        g.throughput(Throughput::Elements(u64::from(w * h)));
        for (name, correction, dither) in configs {
            let conv = Rgb565Converter::new(correction, dither);
            g.bench_with_input(
                BenchmarkId::new(name, format!("{w}x{h}")),
                &src,
                |b, src| b.iter(|| conv.convert(black_box(src), &mut out)),
            );
        }
    }
    g.finish();
}

criterion_group!(benches, color_convert);
criterion_main!(benches);
