//! The HTTP API against a real server: status JSON, snapshots as PNG, 404s with JSON errors, the
//! web page and its assets, and the metrics exposition.

use crate::common;

use crate::common::{decode_png, get, start};

#[tokio::test]
async fn status_and_streams() {
    let running = start("").await;
    let r = get(running.http_addr, "/api/status").await;
    assert_eq!(r.status, 200);
    assert!(
        r.headers
            .to_ascii_lowercase()
            .contains("content-type: application/json")
    );
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    let names: Vec<&str> = v["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bios", "cpu", "pattern", "pixelwire", "system"]);
    assert_eq!(
        v["streams"][0]["snapshot"],
        "/api/streams/bios/snapshot.png"
    );
    assert_eq!(v["displays"].as_array().unwrap().len(), 0);
    let r = get(running.http_addr, "/api/streams").await;
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 5);
    running.shutdown();
}

#[tokio::test]
async fn snapshots_render_on_demand() {
    let running = start("").await;
    for name in ["bios", "cpu", "pattern"] {
        let r = get(
            running.http_addr,
            &format!("/api/streams/{name}/snapshot.png"),
        )
        .await;
        assert_eq!(r.status, 200, "{name}");
        assert!(
            r.headers
                .to_ascii_lowercase()
                .contains("content-type: image/png")
        );
        let (w, h, rgb) = decode_png(&r.body);
        assert_eq!((w, h), (320, 240));
        // Each screen's known background colour at a known spot.
        let px = |x: usize, y: usize| rgb[(y * 320 + x) * 3..(y * 320 + x) * 3 + 3].to_vec();
        match name {
            "bios" => assert_eq!(px(160, 200), [0, 0, 170]),
            "cpu" => assert_eq!(px(2, 230), [30, 30, 30]),
            _ => assert_eq!(px(0, 0), [255, 255, 255]),
        }
    }
    running.shutdown();
}

#[tokio::test]
async fn unknown_things_are_404_with_a_json_error() {
    let running = start("").await;
    for path in [
        "/api/streams/nope/snapshot.png",
        "/api/displays/nope/preview.png",
        "/no/such/path",
    ] {
        let r = get(running.http_addr, path).await;
        assert_eq!(r.status, 404, "{path}");
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert!(
            v["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{path}: {v}"
        );
    }
    running.shutdown();
}

#[tokio::test]
async fn web_page_and_assets() {
    let running = start("").await;
    let r = get(running.http_addr, "/").await;
    assert_eq!(r.status, 200);
    assert!(String::from_utf8_lossy(&r.body).contains("pixelwire"));
    let r = get(running.http_addr, "/app.js").await;
    assert!(r.headers.to_ascii_lowercase().contains("text/javascript"));
    assert!(String::from_utf8_lossy(&r.body).contains("/api/status"));
    let r = get(running.http_addr, "/style.css").await;
    assert_eq!(r.status, 200);
    running.shutdown();
}

#[tokio::test]
async fn metrics_exposition() {
    let running = start("").await;
    // A display makes the display families appear (empty families are not exposed).
    let mut dev =
        common::Device::connect(running.display_addrs[0], common::hello("m1", 320, 240)).await;
    dev.run_for(std::time::Duration::from_millis(1500)).await;
    assert!(dev.frames() >= 1);
    let r = get(running.http_addr, "/metrics").await;
    assert_eq!(r.status, 200);
    let text = String::from_utf8_lossy(&r.body);
    for name in [
        "# TYPE pixelwire_stream_frames_total counter",
        "pixelwire_stream_frames_total{stream=\"bios\"}",
        "# TYPE pixelwire_stream_render_seconds histogram",
        "# TYPE pixelwire_display_latency_seconds histogram",
        "# TYPE pixelwire_display_frames_skipped_total counter",
        "# TYPE pixelwire_display_capacity_bytes_per_second gauge",
        "pixelwire_display_connected{display=\"m1\"} 1",
        "pixelwire_display_connections_total{protocol=\"pixelwire\"} 1",
        "pixelwire_display_stage_seconds_bucket{le=\"0.00001\",display=\"m1\",stage=\"diff\"}",
    ] {
        assert!(text.contains(name), "missing {name} in\n{text}");
    }
    // Without an Accept header asking for OpenMetrics, the classic text format 0.0.4.
    assert!(
        !text.contains("# EOF") && !text.contains("_created"),
        "{text}"
    );
    assert!(
        r.headers
            .to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{}",
        r.headers
    );
    running.shutdown();
}
