//! Delivered-quality figure: `PanelPsnr::update` at 320×240 in 16-pixel tiles, after
//! * `full`: a new source frame (every tile re-summed: the cost per frame of moving content);
//! * `one_tile`: one committed rectangle of 16×16 (a dashboard cell changing);
//! * `full_gamma`: as `full`, with a gamma LUT applied to the reference.
//!
//! For scale, `color_convert` at 320×240 and the sink's resize run on every new frame as well.
//!
//! Run: `cargo bench -p pixelwire-core --bench panel_psnr -- --warm-up-time 1 --measurement-time 3`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pixelwire_core::{ColorCorrection, PanelPsnr, Rect, Rgb565Image};
use std::hint::black_box;

fn panel_psnr(c: &mut Criterion) {
    let (w, h) = (320u32, 240u32);
    let mut src = Vec::with_capacity((w * h * 4) as usize);
    for y in 0..h {
        for x in 0..w {
            src.extend_from_slice(&[(x * 255 / w) as u8, (y * 255 / h) as u8, (x ^ y) as u8, 255]);
        }
    }
    let shadow = Rgb565Image {
        width: w,
        height: h,
        px: src
            .chunks_exact(4)
            .map(|s| pixelwire_proto::rgb565(s[0], s[1], s[2]) & 0xC718)
            .collect(),
    };
    let luts = ColorCorrection {
        gamma: 2.2,
        white_balance: [1.0; 3],
    }
    .luts();
    let mut p = PanelPsnr::new(w, h, 16);
    let mut g = c.benchmark_group("panel_psnr");
    g.throughput(Throughput::Elements(u64::from(w * h)));
    g.bench_function("full/320x240", |b| {
        b.iter(|| {
            p.mark_all();
            black_box(p.update(black_box(&src), None, &shadow))
        })
    });
    g.bench_function("full_gamma/320x240", |b| {
        b.iter(|| {
            p.mark_all();
            black_box(p.update(black_box(&src), Some(&luts), &shadow))
        })
    });
    g.bench_function("one_tile/320x240", |b| {
        b.iter(|| {
            p.mark(Rect::new(64, 64, 16, 16));
            black_box(p.update(black_box(&src), None, &shadow))
        })
    });
    g.finish();
}

criterion_group!(benches, panel_psnr);
criterion_main!(benches);
