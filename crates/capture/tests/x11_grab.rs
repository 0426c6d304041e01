//! The X11 grabber against a real X server (Xvfb): pixels, damage gating, regions, monitors,
//! window follow and the cursor.

use pixelwire_capture::x11::X11Grabber;
use pixelwire_capture::{CaptureSettings, CaptureTarget, CursorMode, MonitorSelector, Region};
use pixelwire_devtools::xvfb::{Xvfb, rgb_at};
use std::sync::mpsc;
use std::time::Duration;

fn settings(display: &str, target: CaptureTarget) -> CaptureSettings {
    CaptureSettings {
        display: Some(display.to_string()),
        target,
        target_fps: 100.0,
        ..CaptureSettings::default()
    }
}

/// Runs a grabber on its own thread, returning grabs through a channel.
fn run(
    s: CaptureSettings,
) -> (
    mpsc::Receiver<pixelwire_capture::Grab>,
    pixelwire_capture::FrameCapture,
) {
    let (tx, rx) = mpsc::channel();
    let cap = pixelwire_capture::FrameCapture::start(&s, move |g| {
        let _ = tx.send(g);
    })
    .expect("capture starts");
    (rx, cap)
}

const WAIT: Duration = Duration::from_secs(5);

#[test]
fn grabs_the_screen_then_only_what_damage_reports() {
    let x = Xvfb::start(320, 200);
    let p = x.painter();
    p.fill(0, 0, 320, 200, 0x102030);
    let (rx, cap) = run(settings(&x.display, CaptureTarget::Screen));
    let first = rx.recv_timeout(WAIT).expect("a first, full frame");
    assert_eq!((first.frame.width, first.frame.height), (320, 200));
    assert_eq!(first.frame.damage(), None, "the first frame is whole");
    let px = first.frame.packed().unwrap();
    assert_eq!(rgb_at(&px.data, px.stride, 5, 5), 0x102030);

    // Nothing changes: nothing is grabbed.
    assert!(
        rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "a still screen is not grabbed"
    );

    p.fill(40, 100, 10, 20, 0xFF0000);
    let g = rx.recv_timeout(WAIT).expect("damage brings a frame");
    let damage = g.frame.damage().expect("damage rectangles").to_vec();
    assert!(!damage.is_empty());
    assert!(
        damage
            .iter()
            .all(|r| r.x >= 40 && r.y >= 100 && r.x + r.w <= 50 && r.y + r.h <= 120),
        "damage covers only the filled rectangle: {damage:?}"
    );
    let px = g.frame.packed().unwrap();
    assert_eq!(rgb_at(&px.data, px.stride, 45, 110), 0xFF0000);
    assert_eq!(rgb_at(&px.data, px.stride, 5, 5), 0x102030);
    assert!(g.frame.seq > first.frame.seq);
    cap.stop().expect("clean stop");
}

#[test]
fn a_region_is_read_at_its_offset_and_damage_is_in_frame_coordinates() {
    let x = Xvfb::start(320, 200);
    let p = x.painter();
    p.fill(0, 0, 320, 200, 0x000000);
    p.fill(100, 50, 1, 1, 0x00FF00);
    let region = Region {
        x: 100,
        y: 50,
        width: 64,
        height: 32,
    };
    let (rx, _cap) = run(settings(&x.display, CaptureTarget::Region(region)));
    let g = rx.recv_timeout(WAIT).unwrap();
    assert_eq!((g.frame.width, g.frame.height), (64, 32));
    let px = g.frame.packed().unwrap();
    assert_eq!(
        rgb_at(&px.data, px.stride, 0, 0),
        0x00FF00,
        "the region's top left"
    );
    // Damage outside the region is ignored; inside it arrives shifted.
    p.fill(0, 0, 10, 10, 0xFFFFFF);
    p.fill(110, 60, 4, 4, 0x0000FF);
    let g = rx.recv_timeout(WAIT).unwrap();
    assert_eq!(
        g.frame.damage().unwrap(),
        &[pixelwire_core::Rect {
            x: 10,
            y: 10,
            w: 4,
            h: 4
        }]
    );
    assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
}

#[test]
fn a_region_outside_the_screen_is_refused_with_the_screen_size() {
    let x = Xvfb::start(320, 200);
    let s = settings(
        &x.display,
        CaptureTarget::Region(Region {
            x: 300,
            y: 0,
            width: 64,
            height: 32,
        }),
    );
    let err = X11Grabber::open(&s).err().expect("refused").to_string();
    assert!(err.contains("320x200"), "{err}");
}

#[test]
fn a_monitor_is_found_by_name_and_by_index() {
    let x = Xvfb::start(640, 200);
    let p = x.painter();
    // Two virtual monitors side by side, as `xrandr --setmonitor` makes them.
    let status = std::process::Command::new("xrandr")
        .args([
            "-d",
            &x.display,
            "--setmonitor",
            "LEFT",
            "320/1x200/1+0+0",
            "none",
        ])
        .status();
    let status2 = std::process::Command::new("xrandr")
        .args([
            "-d",
            &x.display,
            "--setmonitor",
            "RIGHT",
            "320/1x200/1+320+0",
            "none",
        ])
        .status();
    assert!(
        status.unwrap().success() && status2.unwrap().success(),
        "xrandr --setmonitor"
    );
    p.fill(320, 0, 320, 200, 0xABCDEF);
    let grabber = X11Grabber::open(&settings(&x.display, CaptureTarget::Screen)).unwrap();
    let names: Vec<_> = grabber
        .monitors()
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert!(names.contains(&"RIGHT".to_string()), "{names:?}");

    let (rx, _cap) = run(settings(
        &x.display,
        CaptureTarget::Monitor(MonitorSelector::Name("RIGHT".into())),
    ));
    let g = rx.recv_timeout(WAIT).unwrap();
    assert_eq!((g.area.x, g.frame.width), (320, 320));
    let px = g.frame.packed().unwrap();
    assert_eq!(rgb_at(&px.data, px.stride, 0, 0), 0xABCDEF);

    let err = X11Grabber::open(&settings(
        &x.display,
        CaptureTarget::Monitor(MonitorSelector::Name("NOPE".into())),
    ))
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("RIGHT"), "the error lists the monitors: {err}");
}

#[test]
fn a_window_is_followed_when_it_moves_and_resizes() {
    let x = Xvfb::start(320, 200);
    let p = x.painter();
    p.fill(0, 0, 320, 200, 0x000000);
    let win = p.window("pixelwire test window", 10, 20, 100, 50, 0x336699);
    let (rx, _cap) = run(settings(
        &x.display,
        CaptureTarget::Window {
            title: "test window".into(),
        },
    ));
    let g = rx.recv_timeout(WAIT).unwrap();
    assert_eq!(
        (g.area.x, g.area.y, g.frame.width, g.frame.height),
        (10, 20, 100, 50)
    );
    let px = g.frame.packed().unwrap();
    assert_eq!(rgb_at(&px.data, px.stride, 50, 25), 0x336699);

    p.configure(win, 150, 100, 60, 40);
    let moved = std::iter::from_fn(|| rx.recv_timeout(WAIT).ok())
        .find(|g| (g.area.x, g.area.y) == (150, 100))
        .expect("a frame at the new place");
    assert_eq!((moved.frame.width, moved.frame.height), (60, 40));
    assert_eq!(
        moved.frame.damage(),
        None,
        "a moved window is a whole new frame"
    );

    let err = X11Grabber::open(&settings(
        &x.display,
        CaptureTarget::Window {
            title: "no such title".into(),
        },
    ))
    .err()
    .unwrap();
    assert!(err.to_string().contains("no such title"));
}

#[test]
fn the_composited_cursor_is_drawn_and_moving_it_damages_its_old_and_new_place() {
    let x = Xvfb::start(320, 200);
    let p = x.painter();
    p.fill(0, 0, 320, 200, 0x000000);
    p.conn
        .warp_pointer(x11rb::NONE, p.root, 0, 0, 0, 0, 100, 100)
        .unwrap();
    x11rb::connection::Connection::flush(&p.conn).unwrap();
    use x11rb::protocol::xproto::ConnectionExt as _;
    let s = CaptureSettings {
        cursor: CursorMode::Composited,
        ..settings(&x.display, CaptureTarget::Screen)
    };
    let (rx, _cap) = run(s);
    let g = rx.recv_timeout(WAIT).unwrap();
    let px = g.frame.packed().unwrap();
    let lit = |px: &pixelwire_media::frame::PackedPixels, x0: u32, y0: u32| {
        (0..24)
            .flat_map(|dy| (0..24).map(move |dx| (dx, dy)))
            .filter(|&(dx, dy)| rgb_at(&px.data, px.stride, x0 + dx, y0 + dy) != 0)
            .count()
    };
    assert!(lit(&px, 90, 90) > 0, "the cursor shows near (100, 100)");
    p.conn
        .warp_pointer(x11rb::NONE, p.root, 0, 0, 0, 0, 200, 50)
        .unwrap();
    x11rb::connection::Connection::flush(&p.conn).unwrap();
    let g = std::iter::from_fn(|| rx.recv_timeout(WAIT).ok())
        .find(|g| {
            let px = g.frame.packed().unwrap();
            lit(&px, 190, 40) > 0
        })
        .expect("the cursor at its new place");
    let px = g.frame.packed().unwrap();
    assert_eq!(lit(&px, 90, 90), 0, "gone from the old place");
    let damage = g.frame.damage().expect("cursor motion is damage");
    assert!(
        damage.iter().any(|r| r.x <= 200 && r.x + r.w >= 200),
        "{damage:?}"
    );
}
