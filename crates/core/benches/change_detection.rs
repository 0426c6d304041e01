//! Change detection: `DamageTracker::analyse` followed by `commit` of every dirty tile (what the
//! sink does per frame, minus rect merging and encoding), at 320×240 and 1920×1080 with 16-pixel
//! tiles, on three kinds of frame:
//! * `static`: the same content as the previous analysis (every band hash matches);
//! * `clock`: a clock-sized region (96×16 px, top right) differs from the previous frame;
//! * `full`: every pixel differs from the previous frame.
//!
//! The `clock` and `full` cases alternate between two frames, so every iteration sees a change.
//! Throughput is bytes of RGB565 frame per second (`w*h*2` bytes per analysis); the goal is
//! at least 5 GB/s at 1080p.
//!
//! Run: `cargo bench -p pixelwire-core --bench change_detection -- --warm-up-time 1 --measurement-time 3`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pixelwire_core::{DamageTracker, QualityLevel, Rgb565Image};
use std::hint::black_box;

const TILE: u32 = 16;
const PAINT_OVER_FRAMES: u32 = 15;

/// Desktop-like content: flat areas, gradients and some texture.
fn content(w: u32, h: u32, salt: u16) -> Rgb565Image {
    let mut img = Rgb565Image::filled(w, h, 0);
    for y in 0..h {
        for x in 0..w {
            let v = if y < h / 3 {
                0x18E3 // a flat panel
            } else if x < w / 2 {
                (((x * 31 / w) << 11) | ((y * 63 / h) << 5)) as u16 // a gradient
            } else {
                (x.wrapping_mul(2654435761) ^ y.wrapping_mul(40503)) as u16 // texture
            };
            img.px[(y * w + x) as usize] = v ^ salt;
        }
    }
    img
}

/// Analyses `img` and commits its damage, as if the whole update was sent.
fn step(t: &mut DamageTracker, img: &Rgb565Image) -> usize {
    let dirty = t.analyse(img, QualityLevel::EXACT, PAINT_OVER_FRAMES);
    for d in &dirty {
        t.commit(img, d.rect, d.level, &[d.index]);
    }
    dirty.len()
}

fn change_detection(c: &mut Criterion) {
    let mut g = c.benchmark_group("change_detection");
    for (w, h) in [(320u32, 240u32), (1920, 1080)] {
        let size = format!("{w}x{h}");
        g.throughput(Throughput::Bytes(u64::from(w * h * 2)));
        let a = content(w, h, 0);

        // Static: the tracker has seen and committed `a`; every iteration analyses it again.
        let mut t = DamageTracker::new(w, h, TILE);
        step(&mut t, &a);
        step(&mut t, &a);
        g.bench_with_input(BenchmarkId::new("static", &size), &a, |b, a| {
            b.iter(|| {
                let n = step(&mut t, black_box(a));
                debug_assert_eq!(n, 0);
                n
            })
        });

        // Clock: a 96x16 region near the top-right corner changes every frame.
        let mut clock = a.clone();
        let (cx, cy) = (w - 120, 8);
        for y in cy..cy + 16 {
            for x in cx..cx + 96 {
                clock.px[(y * w + x) as usize] ^= 0xFFFF;
            }
        }
        bench_alternating(&mut g, "clock", &size, (w, h), &a, &clock);

        // Full: every pixel changes every frame.
        let full = content(w, h, 0x0841);
        bench_alternating(&mut g, "full", &size, (w, h), &a, &full);
    }
    g.finish();
}

fn bench_alternating(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    size: &str,
    (w, h): (u32, u32),
    a: &Rgb565Image,
    b_img: &Rgb565Image,
) {
    let mut t = DamageTracker::new(w, h, TILE);
    step(&mut t, a);
    step(&mut t, a);
    let frames = [a, b_img];
    let mut i = 0usize;
    g.bench_function(BenchmarkId::new(name, size), |b| {
        b.iter(|| {
            i += 1;
            let n = step(&mut t, black_box(frames[i & 1]));
            debug_assert!(n > 0);
            n
        })
    });
}

criterion_group!(benches, change_detection);
criterion_main!(benches);
