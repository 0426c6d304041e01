//! Golden frames: every screen rendered at fixed inputs and compared byte for byte with the PNGs
//! in `testdata/golden/` (RGBA, 8 bits per channel). `PIXELWIRE_BLESS=1` rewrites them.
//!
//! When an update is legitimate: only when a change is *meant* to alter the pixels (a layout,
//! colour or font change, a new field, a tiny-skia/fontdue/dejavu upgrade whose rasterisation
//! differs). Look at the new PNGs before committing them, and say in the commit which change moved
//! which pixels. A golden diff from a refactor or an optimisation is a regression, not a reason to
//! bless. The semantic tests next to each screen pin the facts that must hold regardless.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::PathBuf;

use super::canvas::Rgb;
use super::{BiosInfo, BiosScreen, CpuScreen, PatternScreen};
use crate::source::generator::{ClockTime, Generator, RenderInput};

/// 2026-11-21 12:34:56.789, 1500 ms after start, frame 45, 29.9 fps.
pub(crate) fn fixed_input() -> RenderInput {
    RenderInput {
        clock: ClockTime {
            year: 2026,
            month: 11,
            day: 21,
            hour: 12,
            minute: 34,
            second: 56,
            millis: 789,
        },
        elapsed_ms: 1500,
        frame_index: 45,
        fps: 29.9,
    }
}

/// An 8-core "Test CPU @ 3.0GHz" screen with 60 deterministic samples: each core a triangle wave
/// 0..100 % with its own phase.
pub(crate) fn cpu_fixture(width: u32, height: u32) -> CpuScreen {
    let mut screen = CpuScreen::new(width, height, "Test CPU @ 3.0GHz".to_owned(), 8);
    for k in 0..60u32 {
        let sample: Vec<f32> = (0..8u32)
            .map(|core| {
                let p = (k * 3 + core * 17) % 100;
                (if p < 50 { p * 2 } else { (100 - p) * 2 }) as f32
            })
            .collect();
        screen.push_sample(&sample);
    }
    screen
}

/// Renders one frame into a fresh buffer.
pub(crate) fn render(screen: &mut impl Generator, input: &RenderInput) -> Vec<u8> {
    let (w, h) = screen.size();
    let mut rgba = vec![0; (w * h * 4) as usize];
    screen.render(input, &mut rgba);
    rgba
}

/// The colour of (`x`, `y`) in an RGBA frame `width` px wide.
pub(crate) fn pixel(frame: &[u8], width: u32, x: u32, y: u32) -> Rgb {
    let p = &frame[((y * width + x) * 4) as usize..][..3];
    Rgb::new(p[0], p[1], p[2])
}

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/golden")
        .join(name)
}

fn write_png(path: &PathBuf, width: u32, height: u32, rgba: &[u8]) {
    let file = File::create(path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    let mut enc = png::Encoder::new(BufWriter::new(file), width, height);
    enc.set_color(png::ColorType::Rgba);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::High);
    let mut writer = enc.write_header().expect("png header");
    writer.write_image_data(rgba).expect("png data");
    writer.finish().expect("png finish");
}

fn read_png(path: &PathBuf) -> (u32, u32, Vec<u8>) {
    let file = File::open(path).unwrap_or_else(|e| {
        panic!(
            "open {}: {e} (run with PIXELWIRE_BLESS=1 to create it)",
            path.display()
        )
    });
    let mut reader = png::Decoder::new(BufReader::new(file))
        .read_info()
        .expect("png info");
    let mut buf = vec![0; reader.output_buffer_size().expect("png size")];
    let info = reader.next_frame(&mut buf).expect("png frame");
    assert_eq!(
        (info.color_type, info.bit_depth),
        (png::ColorType::Rgba, png::BitDepth::Eight),
        "{} must be 8-bit RGBA",
        path.display()
    );
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

/// Compares `screen` rendered at `input` with `testdata/golden/<name>`, or rewrites it when
/// `PIXELWIRE_BLESS=1`. On a mismatch the actual frame is written to the temp dir.
fn check_golden(name: &str, screen: &mut impl Generator, input: &RenderInput) {
    let (w, h) = screen.size();
    let actual = render(screen, input);
    // Rendering the same input twice gives the same bytes (no hidden state leaks into a frame).
    assert!(
        render(screen, input) == actual,
        "{name}: rendering is not repeatable"
    );
    let path = golden_path(name);
    if std::env::var("PIXELWIRE_BLESS").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().expect("golden dir")).expect("create golden dir");
        write_png(&path, w, h, &actual);
        return;
    }
    let (gw, gh, expected) = read_png(&path);
    assert_eq!((gw, gh), (w, h), "{name}: size");
    if expected != actual {
        let differing = expected
            .chunks(4)
            .zip(actual.chunks(4))
            .filter(|(a, b)| a != b)
            .count();
        let first = expected
            .chunks(4)
            .zip(actual.chunks(4))
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        let out = std::env::temp_dir().join(format!("actual-{name}"));
        write_png(&out, w, h, &actual);
        panic!(
            "{name}: {differing} pixels differ, first at ({}, {}); actual frame written to {}",
            first as u32 % w,
            first as u32 / w,
            out.display()
        );
    }
}

fn bios(width: u32, height: u32) -> BiosScreen {
    let mut info = BiosInfo::new("Test CPU @ 3.0GHz", "8192 MiB", "golden-host");
    // Pinned so that a version bump does not change the goldens.
    info.version = "pixelwire 0.1.0".to_owned();
    BiosScreen::new(width, height).with_info(info)
}

#[test]
fn golden_bios_320x240() {
    check_golden("bios-320x240.png", &mut bios(320, 240), &fixed_input());
}

#[test]
fn golden_bios_480x320() {
    check_golden("bios-480x320.png", &mut bios(480, 320), &fixed_input());
}

#[test]
fn golden_cpu_320x240() {
    check_golden(
        "cpu-320x240.png",
        &mut cpu_fixture(320, 240),
        &fixed_input(),
    );
}

#[test]
fn golden_cpu_240x240() {
    check_golden(
        "cpu-240x240.png",
        &mut cpu_fixture(240, 240),
        &fixed_input(),
    );
}

#[test]
fn golden_pattern_320x240() {
    check_golden(
        "pattern-320x240.png",
        &mut PatternScreen::new(320, 240),
        &fixed_input(),
    );
}

#[test]
fn golden_pattern_480x320() {
    check_golden(
        "pattern-480x320.png",
        &mut PatternScreen::new(480, 320),
        &fixed_input(),
    );
}

/// The "node" preset with two minutes of deterministic history: CPU a wave, memory 5.2 of
/// 15.6 GiB, load 1.23, disk and network ramps, 57 °C.
pub(crate) fn dashboard_fixture() -> (
    Vec<crate::config::dashboard::PanelSpec>,
    crate::source::dashboard::model::DashboardModel,
) {
    use crate::config::dashboard::DashboardConfig;
    use crate::source::dashboard::model::{DashboardModel, QueryTarget};
    use crate::source::dashboard::prom_api::InstantSeries;
    let specs = DashboardConfig::default().panel_specs();
    let mut model = DashboardModel::new(&specs, 120);
    let gib = 1024f64.powi(3);
    let mib = 1024f64.powi(2);
    for tick in 0..120i64 {
        let t = tick as f64;
        let answers = DashboardModel::queries(&specs)
            .into_iter()
            .map(|(target, _)| {
                let v = match target {
                    QueryTarget::Series { panel: 0, .. } => 50.0 + 40.0 * (t / 9.0).sin(),
                    QueryTarget::Series { panel: 1, .. } => 5.2 * gib + (t / 5.0).sin() * 0.1 * gib,
                    QueryTarget::Max { .. } => 15.6 * gib,
                    QueryTarget::Series { panel: 2, .. } => 1.23,
                    QueryTarget::Series {
                        panel: 3,
                        series: 0,
                    } => (t % 40.0) * 0.2 * mib,
                    QueryTarget::Series { panel: 3, .. } => ((t + 20.0) % 60.0) * 0.05 * mib,
                    QueryTarget::Series {
                        panel: 4,
                        series: 0,
                    } => 300.0 * 1024.0 + t * 900.0,
                    QueryTarget::Series { panel: 4, .. } => 40.0 * 1024.0,
                    QueryTarget::Series { .. } => 57.0,
                };
                let value = vec![InstantSeries {
                    labels: Default::default(),
                    value: v,
                }];
                (target, Ok(value))
            })
            .collect();
        model.apply_instant(1_000_000 + tick, answers);
    }
    (specs, model)
}

/// A dashboard screen over a fixed model, as a [`Generator`] for the golden harness.
struct DashboardGolden {
    screen: super::dashboard::DashboardScreen,
    specs: Vec<crate::config::dashboard::PanelSpec>,
    model: crate::source::dashboard::model::DashboardModel,
}

impl DashboardGolden {
    fn new(width: u32, height: u32) -> Self {
        let (specs, model) = dashboard_fixture();
        Self {
            screen: super::dashboard::DashboardScreen::new(width, height, specs.len(), None),
            specs,
            model,
        }
    }
}

impl Generator for DashboardGolden {
    fn size(&self) -> (u32, u32) {
        self.screen.size()
    }

    fn render(&mut self, _input: &RenderInput, rgba: &mut [u8]) {
        self.screen.update(&self.specs, &self.model);
        self.screen.copy_to(rgba);
    }
}

#[test]
fn golden_dashboard_320x240() {
    check_golden(
        "dashboard-320x240.png",
        &mut DashboardGolden::new(320, 240),
        &fixed_input(),
    );
}

#[test]
fn golden_dashboard_240x240() {
    check_golden(
        "dashboard-240x240.png",
        &mut DashboardGolden::new(240, 240),
        &fixed_input(),
    );
}

#[test]
fn golden_dashboard_640x480() {
    check_golden(
        "dashboard-640x480.png",
        &mut DashboardGolden::new(640, 480),
        &fixed_input(),
    );
}

#[test]
fn golden_dashboard_unreachable_320x240() {
    let mut g = DashboardGolden::new(320, 240);
    g.model
        .apply_unreachable(1_000_120, "connection refused".to_owned());
    check_golden("dashboard-unreachable-320x240.png", &mut g, &fixed_input());
}
