//! Headless Chromium (Debian's `chromium`) opens the viewer page and the test reads back what the
//! page painted: the position and colour of the pattern's features, for the WebCodecs (H.264) path,
//! the JPEG-over-WebSocket path and the MJPEG path; and, for the two socket paths, that the page's
//! reports put its capture-to-paint latency for that stream into `/metrics`.

use crate::common::chromium;

use crate::common::{decode_png, get, start_with_default};
use pixelwire_server::source::render::pattern::{
    BORDER_COLOR, CIRCLE_CENTER_COLOR, circle_center, circle_radius,
};
use std::time::Duration;

const STREAMS: &str = "[[streams]]\nname = \"still\"\nsource = \"pattern\"\nstill = true\n";

fn close(a: [i64; 3], b: [i64; 3], tol: i64) -> bool {
    a.iter().zip(&b).all(|(x, y)| (x - y).abs() <= tol)
}

/// The value of `series` in `/metrics` once it is above 0 (the socket records a report a moment
/// after the page sent it); 0 if it never is within 5 s.
async fn reported(addr: std::net::SocketAddr, series: &str) -> f64 {
    let mut value = 0.0;
    for _ in 0..50 {
        let body = String::from_utf8(get(addr, "/metrics").await.body).unwrap();
        value = body
            .lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0.0);
        if value > 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_viewer_paints_the_pattern_on_every_path() {
    assert!(
        chromium::available(),
        "chromium not installed: run scripts/setup-test-deps.sh (CI installs it)"
    );
    let running = start_with_default("still", STREAMS).await;
    let snap = get(running.http_addr, "/api/streams/still/snapshot.png").await;
    let (w, h, rgb) = decode_png(&snap.body);
    assert_eq!((w, h), (320, 240));
    let at = |x: u32, y: u32| {
        let i = ((y * w + x) * 3) as usize;
        [
            i64::from(rgb[i]),
            i64::from(rgb[i + 1]),
            i64::from(rgb[i + 2]),
        ]
    };
    // The still frame is rendered as soon as the stream is first watched (elapsed ≈ 0 ms): the
    // circle is at the centre.
    let (cx, cy) = circle_center(320, 240, 0);
    let (cx, cy) = (cx.round() as u32, cy.round() as u32);
    let r = circle_radius(320, 240) as u32;
    let c = CIRCLE_CENTER_COLOR;
    assert!(
        close(at(cx, cy), [c.r.into(), c.g.into(), c.b.into()], 12),
        "snapshot centre {:?}",
        at(cx, cy)
    );
    let probes = [
        (cx, cy),
        (1, 1),
        (318, 238),
        (cx - r + 4, cy),
        (cx - r - 6, cy),
        (280, 200),
        (40, 200),
    ];
    let mut browser = chromium::Browser::launch().await.expect("launch chromium");
    for (path, tol) in [("h264", 24), ("jpeg", 24), ("mjpeg", 24)] {
        let url = format!("http://{}/streams/still?codec={path}", running.http_addr);
        let mut page = browser.open(&url).await.expect("open the viewer");
        page.wait_for(
            "window.pixelwireViewer && window.pixelwireViewer.framesPresented > 0",
            Duration::from_secs(30),
        )
        .await
        .unwrap_or_else(|e| panic!("{path}: nothing painted: {e}\n{}", page.console_tail(20)));
        let v = page.eval("JSON.stringify({path: pixelwireViewer.path, w: pixelwireViewer.width, h: pixelwireViewer.height, err: pixelwireViewer.error})").await.unwrap();
        let v: serde_json::Value = serde_json::from_str(v.as_str().unwrap()).unwrap();
        assert_eq!(v["path"], path, "{path}: the page fell back: {v}");
        assert_eq!(
            (v["w"].as_u64(), v["h"].as_u64()),
            (Some(320), Some(240)),
            "{path}: {v}"
        );
        for &(x, y) in &probes {
            let s = page
                .eval(&format!("JSON.stringify(pixelwireViewer.sample({x}, {y}))"))
                .await
                .unwrap();
            let s: Vec<i64> = serde_json::from_str(s.as_str().unwrap()).unwrap();
            let painted = [s[0], s[1], s[2]];
            assert!(
                close(painted, at(x, y), tol),
                "{path}: pixel ({x},{y}) painted {painted:?}, source {:?}",
                at(x, y)
            );
        }
        // The features themselves, in absolute terms.
        let centre: Vec<i64> = serde_json::from_str(
            page.eval(&format!(
                "JSON.stringify(pixelwireViewer.sample({cx}, {cy}))"
            ))
            .await
            .unwrap()
            .as_str()
            .unwrap(),
        )
        .unwrap();
        assert!(
            close(
                [centre[0], centre[1], centre[2]],
                [c.r.into(), c.g.into(), c.b.into()],
                30
            ),
            "{path}: circle centre {centre:?}"
        );
        let corner: Vec<i64> = serde_json::from_str(
            page.eval("JSON.stringify(pixelwireViewer.sample(0, 0))")
                .await
                .unwrap()
                .as_str()
                .unwrap(),
        )
        .unwrap();
        let b = BORDER_COLOR;
        assert!(
            close(
                [corner[0], corner[1], corner[2]],
                [b.r.into(), b.g.into(), b.b.into()],
                30
            ),
            "{path}: border {corner:?}"
        );
        if path != "mjpeg" {
            // Latency is measured once the clock offset is known (not for the <img> path).
            page.wait_for(
                "pixelwireViewer.latencyMsP50 !== null || pixelwireViewer.framesPresented > 1",
                Duration::from_secs(10),
            )
            .await
            .ok();
            // The page reports what it measured, and /metrics has it for this stream and codec.
            page.wait_for(
                "pixelwireViewer.latencySamplesSent > 0",
                Duration::from_secs(15),
            )
            .await
            .unwrap_or_else(|e| panic!("{path}: no report sent: {e}\n{}", page.console_tail(20)));
            let count = reported(
                running.http_addr,
                &format!(
                    "pixelwire_viewer_paint_latency_seconds_count{{stream=\"still\",codec=\"{path}\"}}"
                ),
            )
            .await;
            assert!(count >= 1.0, "{path}: {count} latency samples in /metrics");
            let decoded = reported(
                running.http_addr,
                &format!(
                    "pixelwire_viewer_decoded_frames_total{{stream=\"still\",codec=\"{path}\"}}"
                ),
            )
            .await;
            assert!(
                decoded >= 1.0,
                "{path}: {decoded} decoded frames in /metrics"
            );
        }
    }
    running.shutdown();
}
