//! Recording write cost per frame (issue 17, part 4): 10 s of a moving 640x480 picture at 30 fps,
//! encoded once in the setup with the server's H.264 settings (an IDR every 60 frames), then cut
//! into fragmented MP4 by the recorder's segmenter: `mux` builds the init segment and the ~1 s
//! fragments in memory; `mux_write_fdatasync` also writes them to a file under the temp dir and
//! `fdatasync`s each fragment, as `record/task.rs` does. Throughput is in frames.
//!
//! Run: `cargo bench -p pixelwire-server --bench record_write`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pixelwire_media::MediaFrame;
use pixelwire_media::h264::H264Encoder;
use pixelwire_server::encoded::EncodedUnit;
use pixelwire_server::record::segmenter::{Output, Segmenter};
use std::hint::black_box;
use std::io::Write;
use std::sync::Arc;

const W: u32 = 640;
const H: u32 = 480;
const FRAMES: u64 = 300;

/// A moving diagonal gradient with a bright square: something for the encoder to do.
fn frame(i: u64) -> MediaFrame {
    let mut rgba = vec![0u8; (W * H * 4) as usize];
    for y in 0..H {
        for x in 0..W {
            let p = ((y * W + x) * 4) as usize;
            let v = (x + y + i as u32 * 4) as u8;
            let in_square = (x + 600 - (i as u32 * 7) % 600) % 600 < 80 && (100..180).contains(&y);
            rgba[p] = if in_square { 255 } else { v };
            rgba[p + 1] = v.wrapping_mul(3);
            rgba[p + 2] = 255 - v;
            rgba[p + 3] = 255;
        }
    }
    MediaFrame::from_rgba(W, H, rgba, i, i)
}

fn units() -> Vec<Arc<EncodedUnit>> {
    let mut enc = H264Encoder::new();
    (0..FRAMES)
        .map(|i| {
            let f = frame(i);
            let yuv = f.i420().expect("an RGBA frame converts");
            if i % 60 == 0 {
                enc.force_keyframe();
            }
            let au = enc.encode(&yuv).expect("encodes");
            Arc::new(EncodedUnit::new(
                i,
                au.stats.keyframe,
                W,
                H,
                1_800_000_000_000_000 + i * 100_000 / 3,
                au.annexb,
            ))
        })
        .collect()
}

fn mux(units: &[Arc<EncodedUnit>]) -> Vec<Output> {
    let mut seg = Segmenter::new(60_000_000, 1_000_000);
    let mut out = Vec::new();
    for u in units {
        seg.handle_unit(u, &mut out);
    }
    seg.finish(&mut out);
    out
}

fn bench(c: &mut Criterion) {
    let units = units();
    let bytes: usize = units.iter().map(|u| u.annexb.len()).sum();
    eprintln!(
        "record_write: {FRAMES} frames of {W}x{H}, {} kB of H.264",
        bytes / 1000
    );
    let dir = std::env::temp_dir().join(format!("pixelwire-bench-record-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut group = c.benchmark_group("record_write");
    group.throughput(Throughput::Elements(FRAMES));
    group.sample_size(20);
    group.bench_function(format!("mux_{W}x{H}"), |b| {
        b.iter(|| black_box(mux(black_box(&units))))
    });
    let path = dir.join("bench.mp4");
    group.bench_function(format!("mux_write_fdatasync_{W}x{H}"), |b| {
        b.iter(|| {
            let mut file: Option<std::fs::File> = None;
            for o in mux(&units) {
                match o {
                    Output::Open { init, .. } => {
                        let mut f = std::fs::File::create(&path).expect("create");
                        f.write_all(&init).expect("write");
                        file = Some(f);
                    }
                    Output::Fragment { bytes, .. } => {
                        if let Some(f) = file.as_mut() {
                            f.write_all(&bytes).expect("write");
                            f.sync_data().expect("fdatasync");
                        }
                    }
                    Output::Close => {
                        if let Some(f) = file.take() {
                            f.sync_all().expect("sync");
                        }
                    }
                }
            }
        })
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
