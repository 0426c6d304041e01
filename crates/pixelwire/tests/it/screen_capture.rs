//! A `screen` stream against a real X server (Xvfb) drawn by the test: the snapshot, a pixelwire
//! device, a client that parses like the seed-000 sketch and headless Chromium (H.264 and JPEG)
//! all show the captured region; a still screen produces no frames; a change reaches the panel.

use crate::common::{Device, chromium, decode_png, get, hello, start_with_default};
use pixelwire_devtools::emu::legacy::SketchParser;
use pixelwire_devtools::xvfb::Xvfb;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// Four quadrants of the 320x240 region at (60, 100), each its own colour.
const QUADRANTS: [(u32, u32, u32); 4] = [
    (0, 0, 0xE02020),
    (160, 0, 0x20C040),
    (0, 120, 0x2040E0),
    (160, 120, 0xF0F0F0),
];

fn config(display: &str) -> String {
    format!(
        "[[streams]]\nname = \"desk\"\nsource = \"screen\"\nfps = 30\n[streams.screen]\ndisplay = \"{display}\"\nregion = {{ x = 60, y = 100, width = 320, height = 240 }}\n\
[[displays]]\nid = \"scr\"\nstream = \"desk\"\n[legacy]\ndetect_ms = 200\n"
    )
}

fn paint_scene(x: &Xvfb) -> pixelwire_devtools::xvfb::Painter {
    let p = x.painter();
    p.fill(0, 0, 640, 480, 0x000000);
    for (qx, qy, rgb) in QUADRANTS {
        p.fill(60 + qx as i16, 100 + qy as i16, 160, 120, rgb);
    }
    p
}

fn rgb(c: u32) -> [u8; 3] {
    [(c >> 16) as u8, (c >> 8) as u8, c as u8]
}

fn rgb565(c: [u8; 3]) -> [u8; 3] {
    pixelwire_proto::rgb565_to_rgb888(pixelwire_proto::rgb565(c[0], c[1], c[2]))
}

fn pixel(rgb: &[u8], w: u32, x: u32, y: u32) -> [u8; 3] {
    let i = ((y * w + x) * 3) as usize;
    [rgb[i], rgb[i + 1], rgb[i + 2]]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_captured_region_reaches_snapshots_devices_and_the_sketch() {
    let x = Xvfb::start(640, 480);
    let p = paint_scene(&x);
    let running = start_with_default("desk", &config(&x.display)).await;

    // The snapshot is the region exactly (PNG is lossless).
    let snap = get(running.http_addr, "/api/streams/desk/snapshot.png").await;
    assert_eq!(snap.status, 200, "{}", String::from_utf8_lossy(&snap.body));
    let (w, h, shot) = decode_png(&snap.body);
    assert_eq!((w, h), (320, 240));
    for (qx, qy, c) in QUADRANTS {
        assert_eq!(
            pixel(&shot, w, qx + 80, qy + 60),
            rgb(c),
            "quadrant at {qx},{qy}"
        );
    }

    // A pixelwire device routed to it shows it in RGB565.
    let mut dev = Device::connect(running.display_addrs[0], hello("scr", 320, 240)).await;
    dev.run_for(Duration::from_millis(1500)).await;
    assert!(
        dev.frames() >= 1,
        "the device presented nothing: {:?}",
        dev.closed
    );
    let front = dev.front_rgb();
    for (qx, qy, c) in QUADRANTS {
        assert_eq!(pixel(&front, 320, qx + 80, qy + 60), rgb565(rgb(c)));
    }

    // A still screen: no new frames while watched.
    let frames = |body: &[u8]| -> u64 {
        let v: serde_json::Value = serde_json::from_slice(body).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "desk")
            .and_then(|s| s["frames"].as_u64())
            .unwrap()
    };
    let before = frames(&get(running.http_addr, "/api/streams").await.body);
    dev.run_for(Duration::from_millis(800)).await;
    let after = frames(&get(running.http_addr, "/api/streams").await.body);
    assert_eq!(
        before, after,
        "nothing changed on screen, so nothing was captured"
    );

    // A change reaches the panel.
    p.fill(60 + 10, 100 + 10, 40, 40, 0xFFFF00);
    dev.run_for(Duration::from_millis(1000)).await;
    assert_eq!(pixel(&dev.front_rgb(), 320, 30, 30), rgb565(rgb(0xFFFF00)));
    let after_change = frames(&get(running.http_addr, "/api/streams").await.body);
    assert!(after_change > after, "the change was captured");

    // A client that parses exactly like the seed-000 sketch (legacy protocol on the same port).
    let mut sock = TcpStream::connect(running.display_addrs[0]).await.unwrap();
    let mut sketch = SketchParser::new(320, 240);
    let mut fb = vec![0u8; 320 * 240 * 2];
    let end = tokio::time::Instant::now() + Duration::from_millis(2500);
    let mut buf = vec![0u8; 4096];
    while let Ok(Ok(n)) = tokio::time::timeout_at(end, sock.read(&mut buf)).await {
        if n == 0 {
            break;
        }
        sketch
            .feed(&buf[..n], &mut fb)
            .expect("the sketch accepts every packet");
    }
    assert!(
        sketch.packets >= 20,
        "a full frame: {} packets",
        sketch.packets
    );
    let at = |x: u32, y: u32| {
        let i = ((y * 320 + x) * 2) as usize;
        pixelwire_proto::rgb565_to_rgb888(u16::from_be_bytes([fb[i], fb[i + 1]]))
    };
    assert_eq!(at(30, 30), rgb565(rgb(0xFFFF00)));
    assert_eq!(at(240, 180), rgb565(rgb(0xF0F0F0)));
    running.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_paints_the_captured_region_from_h264_and_jpeg() {
    assert!(
        chromium::available(),
        "chromium not installed: run scripts/setup-test-deps.sh (CI installs it)"
    );
    let x = Xvfb::start(640, 480);
    let _p = paint_scene(&x);
    let running = start_with_default("desk", &config(&x.display)).await;
    let mut browser = chromium::Browser::launch().await.expect("launch chromium");
    for path in ["h264", "jpeg"] {
        let url = format!("http://{}/streams/desk?codec={path}", running.http_addr);
        let mut page = browser.open(&url).await.expect("open the viewer");
        page.wait_for(
            "window.pixelwireViewer && window.pixelwireViewer.framesPresented > 0",
            Duration::from_secs(30),
        )
        .await
        .unwrap_or_else(|e| panic!("{path}: nothing painted: {e}\n{}", page.console_tail(20)));
        let v = page.eval("JSON.stringify({path: pixelwireViewer.path, w: pixelwireViewer.width, h: pixelwireViewer.height})").await.unwrap();
        let v: serde_json::Value = serde_json::from_str(v.as_str().unwrap()).unwrap();
        assert_eq!(v["path"], path, "{path}: the page fell back: {v}");
        assert_eq!((v["w"].as_u64(), v["h"].as_u64()), (Some(320), Some(240)));
        for (qx, qy, c) in QUADRANTS {
            let (sx, sy) = (qx + 80, qy + 60);
            let s = page
                .eval(&format!(
                    "JSON.stringify(pixelwireViewer.sample({sx}, {sy}))"
                ))
                .await
                .unwrap();
            let s: Vec<i64> = serde_json::from_str(s.as_str().unwrap()).unwrap();
            let want = rgb(c);
            assert!(
                s.iter()
                    .zip(want)
                    .all(|(a, b)| (a - i64::from(b)).abs() <= 24),
                "{path}: ({sx},{sy}) painted {s:?}, screen {want:?}"
            );
        }
    }
    running.shutdown();
}
