//! Cost of one `StripePipeline::process` call on a synthetic 1920x1080 BGRA frame: a still frame
//! (planning and hashing only), a one-pixel change (one stripe), a full-frame change (every
//! stripe), for JPEG stripes, H.264 stripes and full-frame H.264. Group `dispatch` compares ways
//! of fanning the 17 JPEG stripes of a frame out over the cores (the choice in `pipeline.rs`);
//! group `jpeg_compressor` a fresh libjpeg-turbo compressor per stripe against a reused one.

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use pixelwire_capture::{CaptureSettings, OutputMode, StripePipeline};
use pixelwire_media::frame::PackedPixels;
use pixelwire_media::jpeg::{self, JpegEncoder, Subsampling};
use pixelwire_media::{MediaFrame, PixelLayout};
use rayon::prelude::*;
use std::hint::black_box;

const W: u32 = 1920;
const H: u32 = 1080;

/// A desktop-like frame: gradients, bars and "text" speckles; `shift` moves the content.
fn pixels(shift: u32) -> Vec<u8> {
    let mut v = vec![0u8; (W * H * 4) as usize];
    for y in 0..H {
        for x in 0..W {
            let i = ((y * W + x) * 4) as usize;
            let (xs, ys) = (x + shift, y + shift);
            let text = (xs * 7 + ys * 13) % 11 == 0 && (ys / 16) % 3 != 0;
            let v0 = if text { 20 } else { (xs / 8) as u8 };
            v[i..i + 4].copy_from_slice(&[
                v0,
                (ys / 5) as u8,
                if (xs / 64) % 2 == 0 { 230 } else { 90 },
                255,
            ]);
        }
    }
    v
}

fn frame(data: &Bytes, seq: u64) -> MediaFrame {
    let packed = PackedPixels {
        data: data.clone(),
        stride: W as usize * 4,
        layout: PixelLayout::Bgra,
    };
    MediaFrame::from_packed(W, H, packed, seq, seq * 16_666).expect("frame fits")
}

fn pipelines(c: &mut Criterion) {
    let a = Bytes::from(pixels(0));
    let mut poked = pixels(0).to_vec();
    poked[(500 * W * 4 + 800) as usize] ^= 0xFF;
    let poked = Bytes::from(poked);
    let b = Bytes::from(pixels(5));
    let modes = [
        ("jpeg", OutputMode::Jpeg, false),
        ("h264_striped", OutputMode::H264, false),
        ("h264_full_frame", OutputMode::H264, true),
    ];
    let mut g = c.benchmark_group("pipeline_1080p");
    g.sample_size(10);
    for (name, output, full_frame) in modes {
        let mut s = CaptureSettings {
            output,
            paint_over: None,
            ..CaptureSettings::default()
        };
        s.h264.full_frame = full_frame;
        let cases: [(&str, &Bytes, &Bytes); 3] = [
            ("still", &a, &a),
            ("one_pixel", &a, &poked),
            ("full_change", &a, &b),
        ];
        for (case, x, y) in cases {
            let mut p = StripePipeline::new(&s).expect("valid settings");
            p.process(&frame(x, 0));
            let mut seq = 1u64;
            g.bench_function(format!("{name}/{case}"), |bench| {
                bench.iter(|| {
                    let data = if seq.is_multiple_of(2) { x } else { y };
                    seq += 1;
                    black_box(p.process(&frame(data, seq)))
                })
            });
        }
    }
    g.finish();
}

fn stripe_jpeg(data: &[u8], i: usize) -> usize {
    let y = i * 64;
    let rows = 64.min(H as usize - y) as u32;
    let stride = W as usize * 4;
    jpeg::encode_with(
        &data[y * stride..],
        W,
        rows,
        stride,
        PixelLayout::Bgra,
        75,
        Subsampling::S444,
    )
    .map_or(0, |j| j.len())
}

fn dispatch(c: &mut Criterion) {
    let data = pixels(0);
    let n = (H as usize).div_ceil(64);
    let mut g = c.benchmark_group("dispatch_17_stripes");
    g.sample_size(20);
    g.bench_function("sequential", |b| {
        b.iter(|| (0..n).map(|i| stripe_jpeg(&data, i)).sum::<usize>())
    });
    g.bench_function("rayon", |b| {
        b.iter(|| {
            (0..n)
                .into_par_iter()
                .map(|i| stripe_jpeg(&data, i))
                .sum::<usize>()
        })
    });
    g.bench_function("thread_scope_2", |b| {
        b.iter(|| {
            std::thread::scope(|s| {
                let h = s.spawn(|| (n / 2..n).map(|i| stripe_jpeg(&data, i)).sum::<usize>());
                (0..n / 2).map(|i| stripe_jpeg(&data, i)).sum::<usize>() + h.join().unwrap_or(0)
            })
        })
    });
    // Dispatch overhead alone: 17 trivial jobs.
    g.bench_function("rayon_empty", |b| {
        b.iter(|| (0..n).into_par_iter().map(black_box).sum::<usize>())
    });
    g.bench_function("thread_scope_2_empty", |b| {
        b.iter(|| {
            std::thread::scope(|s| {
                let h = s.spawn(|| (n / 2..n).map(black_box).sum::<usize>());
                (0..n / 2).map(black_box).sum::<usize>() + h.join().unwrap_or(0)
            })
        })
    });
    g.finish();
}

fn compressor(c: &mut Criterion) {
    let data = pixels(0);
    let stride = W as usize * 4;
    let mut g = c.benchmark_group("jpeg_compressor_1920x64");
    g.bench_function("fresh", |b| {
        b.iter(|| {
            jpeg::encode_with(
                &data,
                W,
                64,
                stride,
                PixelLayout::Bgra,
                75,
                Subsampling::S444,
            )
            .map(|j| j.len())
        })
    });
    let mut enc = JpegEncoder::new().expect("compressor");
    g.bench_function("reused", |b| {
        b.iter(|| {
            enc.encode(
                &data,
                W,
                64,
                stride,
                PixelLayout::Bgra,
                75,
                Subsampling::S444,
            )
            .map(|j| j.len())
        })
    });
    g.finish();
}

criterion_group!(benches, pipelines, dispatch, compressor);
criterion_main!(benches);
