//! Dashboard rendering: a full redraw (every cell) and the steady one-poll update (every series
//! gets a new sample: all six cells redrawn and copied out) of the "node" preset, at 320×240 and
//! 640×480. `examples/dashboard_report.rs` turns the same data into the BENCHMARKS.md table.
//!
//! Run: `cargo bench -p pixelwire --bench dashboard_render`

#[path = "common/dashboard_data.rs"]
mod dashboard_data;

use criterion::{Criterion, criterion_group, criterion_main};
use dashboard_data::{Noise, answers, node_dashboard};
use pixelwire_server::source::render::dashboard::DashboardScreen;
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("dashboard_render");
    for (w, h) in [(320u32, 240u32), (640, 480)] {
        let (specs, mut model) = node_dashboard(120);
        let mut noise = Noise::new();
        let mut tick = 1_000_000i64;
        for _ in 0..120 {
            model.apply_instant(tick, answers(&specs, tick, &mut noise));
            tick += 1;
        }
        let mut rgba = vec![0u8; (w * h * 4) as usize];
        group.bench_function(format!("full_redraw_{w}x{h}"), |b| {
            b.iter(|| {
                let mut s = DashboardScreen::new(w, h, specs.len(), None);
                s.update(&specs, black_box(&model));
                s.copy_to(&mut rgba);
            })
        });
        let mut screen = DashboardScreen::new(w, h, specs.len(), None);
        screen.update(&specs, &model);
        group.bench_function(format!("poll_update_{w}x{h}"), |b| {
            b.iter(|| {
                model.apply_instant(tick, answers(&specs, tick, &mut noise));
                tick += 1;
                black_box(screen.update(&specs, &model));
                screen.copy_to(&mut rgba);
            })
        });
        group.bench_function(format!("unchanged_{w}x{h}"), |b| {
            b.iter(|| black_box(screen.update(&specs, black_box(&model))))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
