//! [`ScreenCapture`] against a real X server (Xvfb): the stripes decode to what was drawn (JPEG
//! and H.264), a still screen produces no stripes, a small change re-encodes only its stripe, and
//! a refresh re-sends a still screen whole.

use pixelwire_capture::{
    CaptureSettings, CaptureTarget, EncodedStripe, OutputMode, ScreenCapture, StripeCodec,
};
use pixelwire_devtools::xvfb::Xvfb;
use std::time::Duration;

const W: u32 = 320;
const H: u32 = 240;

fn settings(display: &str, output: OutputMode) -> CaptureSettings {
    CaptureSettings {
        display: Some(display.into()),
        target: CaptureTarget::Screen,
        target_fps: 60.0,
        output,
        ..CaptureSettings::default()
    }
}

/// Stripes until `quiet` passes without one (or 10 s).
fn collect(it: &mut pixelwire_capture::Stripes, quiet: Duration) -> Vec<EncodedStripe> {
    let mut out = Vec::new();
    let end = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < end {
        match it.next_timeout(quiet) {
            Some(s) => out.push(s),
            None => break,
        }
    }
    out
}

/// Pastes decoded JPEG stripes into an RGBA canvas.
fn paint_jpeg(canvas: &mut [u8], stripes: &[EncodedStripe]) {
    for s in stripes {
        assert_eq!(s.codec, StripeCodec::Jpeg);
        let (w, h, rgba) = pixelwire_media::jpeg::decode_rgba(&s.data).expect("a stripe decodes");
        assert_eq!((w, h), (W, s.height));
        let start = (s.y * W * 4) as usize;
        canvas[start..start + rgba.len()].copy_from_slice(&rgba);
    }
}

fn close(canvas: &[u8], x: u32, y: u32, rgb: u32) -> bool {
    let i = ((y * W + x) * 4) as usize;
    let want = [(rgb >> 16) as u8, (rgb >> 8) as u8, rgb as u8];
    canvas[i..i + 3]
        .iter()
        .zip(want)
        .all(|(a, b)| (i32::from(*a) - i32::from(b)).abs() <= 8)
}

#[test]
fn jpeg_stripes_show_the_screen_and_only_changes_follow() {
    let x = Xvfb::start(W, H);
    let p = x.painter();
    p.fill(0, 0, W as u16, H as u16, 0x203040);
    p.fill(100, 10, 50, 20, 0xFF8000);
    let (cap, mut it) = ScreenCapture::start_iter(settings(&x.display, OutputMode::Jpeg)).unwrap();
    let first = collect(&mut it, Duration::from_millis(500));
    // 240 rows in 64-row stripes: 4 stripes cover the screen.
    let ys: Vec<u32> = first
        .iter()
        .filter(|s| s.frame_id == first[0].frame_id)
        .map(|s| s.y)
        .collect();
    assert_eq!(
        ys,
        [0, 64, 128, 192],
        "the first frame is whole, top to bottom"
    );
    let mut canvas = vec![0u8; (W * H * 4) as usize];
    paint_jpeg(&mut canvas, &first);
    assert!(close(&canvas, 120, 20, 0xFF8000) && close(&canvas, 5, 200, 0x203040));
    assert!(
        first
            .iter()
            .all(|s| s.encode_end_us >= s.encode_start_us && s.encode_start_us >= s.capture_us)
    );

    // A still screen: nothing (paint-over may send each stripe once more, never again).
    let still = collect(&mut it, Duration::from_millis(600));
    let still_again = collect(&mut it, Duration::from_millis(600));
    assert!(
        still_again.is_empty(),
        "a still screen keeps producing stripes: {}",
        still_again.len()
    );
    assert!(still.len() <= 4);

    // A change in rows 130..140 re-encodes the stripe at 128 only.
    p.fill(10, 130, 20, 10, 0x00FF00);
    let changed = collect(&mut it, Duration::from_millis(300));
    let ys: Vec<u32> = changed.iter().map(|s| s.y).collect();
    assert_eq!(ys.first(), Some(&128), "{ys:?}");
    assert!(
        changed.iter().all(|s| s.y == 128),
        "only the changed stripe: {ys:?}"
    );
    paint_jpeg(&mut canvas, &changed);
    assert!(close(&canvas, 15, 135, 0x00FF00));

    // A refresh re-sends the still screen whole.
    collect(&mut it, Duration::from_millis(700));
    cap.request_refresh();
    let refreshed = collect(&mut it, Duration::from_millis(400));
    let ys: Vec<u32> = refreshed.iter().map(|s| s.y).collect();
    assert_eq!(ys, [0, 64, 128, 192]);
    assert!(cap.stats().frames_captured >= 3);
    cap.stop().unwrap();
}

#[test]
fn h264_stripes_start_with_idrs_and_decode_in_ffmpeg() {
    let x = Xvfb::start(W, H);
    let p = x.painter();
    p.fill(0, 0, W as u16, H as u16, 0x000000);
    p.fill(0, 0, W as u16, 64, 0xC03030);
    let s = CaptureSettings {
        h264: pixelwire_capture::H264StripeSettings {
            full_frame: true,
            ..Default::default()
        },
        ..settings(&x.display, OutputMode::H264)
    };
    let (cap, mut it) = ScreenCapture::start_iter(s).unwrap();
    let first = collect(&mut it, Duration::from_millis(500));
    let idr = first.first().expect("a first access unit");
    assert!(
        idr.keyframe && (idr.y, idr.height, idr.width) == (0, H, W),
        "{idr:?}"
    );
    assert!(
        idr.data.windows(5).any(|w| w == [0, 0, 0, 1, 0x67]),
        "SPS before the IDR"
    );
    p.fill(100, 100, 40, 40, 0x30C030);
    let more = collect(&mut it, Duration::from_millis(300));
    assert!(
        !more.is_empty() && more.iter().all(|s| !s.keyframe),
        "P frames follow"
    );
    cap.stop().unwrap();

    // ffmpeg decodes the stream and sees the drawn colours.
    let dir = std::env::temp_dir().join(format!("pw-capture-h264-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let h264 = dir.join("s.h264");
    let all: Vec<u8> = first
        .iter()
        .chain(&more)
        .flat_map(|s| s.data.iter().copied())
        .collect();
    std::fs::write(&h264, all).unwrap();
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&h264)
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let frame = (W * H * 3) as usize;
    let last = &out.stdout[out.stdout.len() - frame..];
    let at = |x: u32, y: u32| {
        let i = ((y * W + x) * 3) as usize;
        [last[i], last[i + 1], last[i + 2]]
    };
    let near = |a: [u8; 3], b: [u8; 3]| {
        a.iter()
            .zip(b)
            .all(|(x, y)| (i32::from(*x) - i32::from(y)).abs() <= 20)
    };
    assert!(near(at(10, 10), [0xC0, 0x30, 0x30]), "{:?}", at(10, 10));
    assert!(near(at(120, 120), [0x30, 0xC0, 0x30]), "{:?}", at(120, 120));
    assert!(near(at(300, 220), [0, 0, 0]), "{:?}", at(300, 220));
    let _ = std::fs::remove_dir_all(dir);
}

/// An iterator reader that falls more than `ITER_CAPACITY` stripes behind loses the backlog and
/// gets a full refresh in its place, so it catches up to a complete, current picture.
#[test]
fn a_reader_that_falls_behind_gets_a_refresh_instead_of_the_backlog() {
    let x = Xvfb::start(W, H);
    let p = x.painter();
    let (cap, mut it) = ScreenCapture::start_iter(settings(&x.display, OutputMode::Jpeg)).unwrap();
    // Change every stripe many times while nobody reads.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut shade = 0u32;
    while cap.stats().stripes_dropped == 0 && std::time::Instant::now() < deadline {
        shade = (shade + 0x030303) & 0xFFFFFF;
        p.fill(0, 0, W as u16, H as u16, shade);
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        cap.stats().stripes_dropped > 0,
        "the reader never fell behind"
    );
    // Once the screen is still, what the reader gets ends with a refresh of every stripe that
    // shows the last picture.
    let last = shade;
    let got = collect(&mut it, Duration::from_millis(800));
    let refresh: Vec<&EncodedStripe> = got
        .iter()
        .filter(|s| s.reason == pixelwire_capture::StripeReason::Refresh)
        .collect();
    let ys: std::collections::BTreeSet<u32> = refresh.iter().map(|s| s.y).collect();
    assert_eq!(
        ys.into_iter().collect::<Vec<_>>(),
        [0, 64, 128, 192],
        "a whole refresh"
    );
    let mut canvas = vec![0u8; (W * H * 4) as usize];
    paint_jpeg(&mut canvas, &got);
    assert!(close(&canvas, 10, 10, last) && close(&canvas, 300, 230, last));
    cap.stop().unwrap();
}
