//! Headless Chromium plays the capture library's `screen_to_browser` example page (its code
//! compiled in here): JPEG stripes, H.264 stripes (one WebCodecs decoder per stripe) and
//! full-frame H.264, each painting what the test drew on a private X server.

#[path = "../../../capture/examples/screen_to_browser.rs"]
#[allow(dead_code)]
mod example;

use crate::common::chromium;
use pixelwire_devtools::xvfb::Xvfb;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Four quadrants of a 320x240 screen.
const QUADRANTS: [(u32, u32, u32); 4] = [
    (0, 0, 0xE02020),
    (160, 0, 0x20C040),
    (0, 120, 0x2040E0),
    (160, 120, 0xF0F0F0),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_paints_jpeg_stripes_h264_stripes_and_full_frames() {
    assert!(
        chromium::available(),
        "chromium not installed: run scripts/setup-test-deps.sh (CI installs it)"
    );
    let x = Xvfb::start(320, 240);
    let p = x.painter();
    for (qx, qy, rgb) in QUADRANTS {
        p.fill(qx as i16, qy as i16, 160, 120, rgb);
    }
    let mut browser = chromium::Browser::launch().await.expect("launch chromium");
    for args in [&[][..], &["--h264"][..], &["--h264", "--full-frame"][..]] {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut opts = example::parse_args(args.iter().map(|a| a.to_string())).unwrap();
        opts.settings.display = Some(x.display.clone());
        let stop = Arc::new(AtomicBool::new(false));
        let s2 = Arc::clone(&stop);
        let server = std::thread::spawn(move || {
            example::serve(listener, opts.settings, s2).map_err(|e| e.to_string())
        });
        let mut page = browser
            .open(&format!("http://{addr}/"))
            .await
            .expect("open the page");
        // Every stripe painted at least once (4 JPEG or H.264 stripes, or 1 full frame).
        let want = if args.contains(&"--full-frame") { 1 } else { 4 };
        let painted = page
            .wait_for(
                &format!("window.screenToBrowser && window.screenToBrowser.painted >= {want}"),
                Duration::from_secs(30),
            )
            .await;
        if let Err(e) = painted {
            let state = page
                .eval("JSON.stringify({painted: screenToBrowser.painted, messages: screenToBrowser.messages, error: screenToBrowser.error, decoders: [...screenToBrowser.decoders.values()].map(d => d.state + '/' + d.decodeQueueSize)})")
                .await;
            panic!(
                "{args:?}: nothing painted: {e}\n{state:?}\n{}",
                page.console_tail(20)
            );
        }
        let err = page
            .eval("String(window.screenToBrowser.error)")
            .await
            .unwrap();
        assert_eq!(err.as_str(), Some("null"), "{args:?}: decoder error");
        for (qx, qy, c) in QUADRANTS {
            let (sx, sy) = (qx + 80, qy + 60);
            let s = page
                .eval(&format!(
                    "JSON.stringify(screenToBrowser.sample({sx}, {sy}))"
                ))
                .await
                .unwrap();
            let s: Vec<i64> = serde_json::from_str(s.as_str().unwrap()).unwrap();
            let want = [
                (c >> 16) as i64 & 0xFF,
                (c >> 8) as i64 & 0xFF,
                c as i64 & 0xFF,
            ];
            assert!(
                s.iter().zip(want).all(|(a, b)| (a - b).abs() <= 24),
                "{args:?}: ({sx},{sy}) painted {s:?}, screen {want:?}"
            );
        }
        stop.store(true, Ordering::Relaxed);
        drop(page);
        server.join().unwrap().unwrap();
    }
}
