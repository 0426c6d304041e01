//! What a consumer pays to get a frame in the form it needs, at 1920×1080 (a desktop capture):
//! * `rgba_of_rendered`: `MediaFrame::rgba()` of a renderer's packed RGBA, first call (the form is the
//!   payload itself, shared); `clone_8mb` is what each consumer paid before: a copy of the payload;
//! * `rgba_of_bgra_stride`: BGRA rows with a padded stride (an X11 SHM image) converted once to
//!   packed RGBA for display sinks;
//! * `i420_of_bgra_stride`: the same rows to I420 for the H.264 encoder (`yuvutils-rs`);
//! * `jpeg_of_bgra_stride`: the same rows to JPEG quality 80 (libjpeg-turbo reads BGRA with a
//!   stride directly, no RGBA step).
//!
//! Throughput is in elements = pixels (criterion prints Melem/s = Mpixel/s).
//!
//! Run: `cargo bench -p pixelwire-media --bench frame_forms -- --warm-up-time 1 --measurement-time 3`

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pixelwire_media::frame::PackedPixels;
use pixelwire_media::{MediaFrame, PixelLayout};
use std::hint::black_box;

const W: u32 = 1920;
const H: u32 = 1080;

/// A desktop-like picture: gradients with a few flat areas.
fn pixels(stride: usize) -> Vec<u8> {
    let mut v = vec![0u8; stride * H as usize];
    for y in 0..H as usize {
        for x in 0..W as usize {
            let i = y * stride + x * 4;
            let flat = (x / 240 + y / 270) % 3 == 0;
            let (a, b) = if flat {
                (230, 230)
            } else {
                ((x * 255 / W as usize) as u8, (y * 255 / H as usize) as u8)
            };
            v[i..i + 4].copy_from_slice(&[a, b, ((x ^ y) & 0xFF) as u8, 255]);
        }
    }
    v
}

fn frame_forms(c: &mut Criterion) {
    let mut g = c.benchmark_group("frame_forms_1920x1080");
    g.throughput(Throughput::Elements(u64::from(W * H)));
    let packed = pixels(W as usize * 4);
    g.bench_function("rgba_of_rendered", |b| {
        b.iter_batched(
            || MediaFrame::from_rgba(W, H, packed.clone(), 1, 0),
            |f| black_box(f.rgba()),
            criterion::BatchSize::LargeInput,
        )
    });
    g.bench_function("clone_8mb", |b| b.iter(|| black_box(packed.clone())));
    let stride = W as usize * 4 + 64;
    let rows = Bytes::from(pixels(stride));
    let bgra = || {
        MediaFrame::from_packed(
            W,
            H,
            PackedPixels {
                data: rows.clone(),
                stride,
                layout: PixelLayout::Bgra,
            },
            1,
            0,
        )
        .expect("sizes fit")
    };
    g.bench_function("rgba_of_bgra_stride", |b| {
        b.iter_batched(
            bgra,
            |f| black_box(f.rgba()),
            criterion::BatchSize::SmallInput,
        )
    });
    g.bench_function("i420_of_bgra_stride", |b| {
        b.iter_batched(
            bgra,
            |f| black_box(f.i420()),
            criterion::BatchSize::SmallInput,
        )
    });
    g.bench_function("jpeg_of_bgra_stride", |b| {
        b.iter_batched(
            bgra,
            |f| black_box(f.jpeg()),
            criterion::BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, frame_forms);
criterion_main!(benches);
