//! The reports viewer pages send back over their WebSocket (`docs/api.md`, "Viewer WebSocket"),
//! over a real socket: a report shows up in `/metrics` under the stream and codec the socket
//! serves, whatever the report says, and garbage is counted and refused without ending the
//! connection.

use crate::common::{get, start_with_default};
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const STREAMS: &str = "[[streams]]\nname = \"still\"\nsource = \"pattern\"\nstill = true\n\
[[streams]]\nname = \"pattern\"\nsource = \"pattern\"\nfps = 30\n";

/// The value of the sample line `series` (name and labels exactly as exposed) in `/metrics`.
async fn sample(addr: std::net::SocketAddr, series: &str) -> Option<f64> {
    let body = String::from_utf8(get(addr, "/metrics").await.body).unwrap();
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Polls `/metrics` until `series` is at least `want` (the socket task records a report a moment
/// after it was sent).
async fn wait_for(addr: std::net::SocketAddr, series: &str, want: f64) -> f64 {
    let mut last = None;
    for _ in 0..100 {
        last = sample(addr, series).await;
        if last.is_some_and(|v| v >= want) {
            return last.unwrap_or_default();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{series} is {last:?}, wanted {want}");
}

#[tokio::test]
async fn a_report_lands_in_metrics_under_the_sockets_stream() {
    let running = start_with_default("still", STREAMS).await;
    let addr = running.http_addr;
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{addr}/api/streams/pattern/ws?codec=jpeg"))
            .await
            .unwrap();
    let send = |text: String| Message::Text(text.into());
    // A report naming another stream still counts for the one this socket watches.
    ws.send(send(
        r#"{"type":"report","stream":"evil","codec":"jpeg","decoded":12,"dropped":3,"latency_ms":[4,30,-2,90000]}"#
            .to_string(),
    ))
    .await
    .unwrap();
    let count = r#"pixelwire_viewer_paint_latency_seconds_count{stream="pattern",codec="jpeg"}"#;
    assert_eq!(
        wait_for(addr, count, 1.0).await,
        3.0,
        "the 90 s sample is left out"
    );
    let bucket = |le: &str| {
        format!(
            r#"pixelwire_viewer_paint_latency_seconds_bucket{{le="{le}",stream="pattern",codec="jpeg"}}"#
        )
    };
    // -2 ms counts as 0 and 4 ms is under 5 ms; 30 ms is not.
    assert_eq!(sample(addr, &bucket("0.005")).await, Some(2.0));
    assert_eq!(sample(addr, &bucket("0.035")).await, Some(3.0));
    assert_eq!(
        sample(
            addr,
            r#"pixelwire_viewer_decoded_frames_total{stream="pattern",codec="jpeg"}"#
        )
        .await,
        Some(12.0)
    );
    assert_eq!(
        sample(
            addr,
            r#"pixelwire_viewer_dropped_frames_total{stream="pattern",codec="jpeg"}"#
        )
        .await,
        Some(3.0)
    );
    let body = String::from_utf8(get(addr, "/metrics").await.body).unwrap();
    assert!(
        !body.contains("evil"),
        "a client string became a label:\n{body}"
    );

    // Garbage, an oversized report and a report for another codec are counted and refused; the
    // socket stays open and the next good report is recorded.
    for bad in [
        "{\"type\":\"report\",\"codec\":\"jpeg\",\"decoded\":\"many\"}".to_string(),
        format!(
            "{{\"type\":\"report\",\"codec\":\"jpeg\",\"latency_ms\":[{}]}}",
            vec!["1"; 5000].join(",")
        ),
        "{\"type\":\"report\",\"codec\":\"h264\",\"decoded\":1}".to_string(),
    ] {
        ws.send(send(bad)).await.unwrap();
    }
    ws.send(send(
        r#"{"type":"report","codec":"jpeg","decoded":1,"latency_ms":[10]}"#.to_string(),
    ))
    .await
    .unwrap();
    assert_eq!(wait_for(addr, count, 4.0).await, 4.0);
    for (reason, n) in [
        ("malformed", 1.0),
        ("too_large", 1.0),
        ("codec_mismatch", 1.0),
    ] {
        assert_eq!(
            sample(
                addr,
                &format!(r#"pixelwire_viewer_reports_rejected_total{{reason="{reason}"}}"#)
            )
            .await,
            Some(n),
            "{reason}"
        );
    }
    // Still served: frames keep coming on the same socket.
    let mut frames = 0;
    while frames < 2 {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
            Ok(Some(Ok(Message::Binary(_)))) => frames += 1,
            Ok(Some(Ok(_))) => {}
            other => panic!("the socket ended after bad reports: {other:?}"),
        }
    }
    running.shutdown();
}
