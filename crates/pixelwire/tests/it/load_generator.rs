//! `pixelwire-load` (issue 12, the one-node envelope) against a real server on loopback: every kind
//! of client it opens gets what the server serves, and the server's books close on the camera
//! side (every frame the ingest counted reached the stream). The generator refuses targets off
//! this machine.

use crate::common::{get, start_with_default};
use clap::Parser;
use pixelwire_devtools::load::{LoadOptions, run};

fn options(args: &[&str]) -> LoadOptions {
    let mut argv = vec!["pixelwire-load"];
    argv.extend_from_slice(args);
    LoadOptions::try_parse_from(argv).expect("options")
}

/// The sum of every series of `name` in a Prometheus text exposition.
fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|r| r.starts_with('{') || r.starts_with(' '))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_of_the_load_generator_is_served_and_no_accepted_frame_is_lost() {
    let running = start_with_default(
        "load-0",
        "[[streams]]\nname = \"load-0\"\nsource = \"camera\"\n",
    )
    .await;
    let server = running.http_addr.to_string();
    let display = running.display_addrs[0].to_string();
    let summary = run(options(&[
        "--server",
        &server,
        "--display",
        &display,
        "--cameras",
        "1",
        "--size",
        "320x240",
        "--viewers",
        "3",
        "--mjpeg",
        "1",
        "--snapshots",
        "1",
        "--snapshot-interval-ms",
        "200",
        "--displays",
        "1",
        "--warmup",
        "1",
        "--duration",
        "2",
        "--interval",
        "1",
    ]))
    .await
    .expect("the load runs");
    let n = |v: &serde_json::Value| v.as_f64().unwrap_or(0.0);
    assert!(n(&summary["camera"]["frames"]) > 0.0, "{summary}");
    assert_eq!(n(&summary["camera"]["errors"]), 0.0, "{summary}");
    assert!(n(&summary["h264"]["frames"]) > 0.0, "{summary}");
    assert!(n(&summary["h264"]["keyframes"]) >= 1.0, "{summary}");
    assert!(
        n(&summary["h264"]["latency_ms"]["samples"]) == n(&summary["h264"]["frames"]),
        "every unit has a latency sample: {summary}"
    );
    assert_eq!(n(&summary["h264"]["errors"]), 0.0, "{summary}");
    assert!(n(&summary["mjpeg"]["frames"]) > 0.0, "{summary}");
    assert!(n(&summary["snapshot"]["frames"]) > 0.0, "{summary}");
    assert_eq!(n(&summary["snapshot"]["failed"]), 0.0, "{summary}");
    assert_eq!(n(&summary["displays"]["count"]), 1.0, "{summary}");
    assert!(n(&summary["displays"]["fps_mean"]) > 0.0, "{summary}");

    // Nothing accepted lost at the ingest: every frame counted in is on the stream.
    let metrics = String::from_utf8(get(running.http_addr, "/metrics").await.body).unwrap();
    let received = metric_sum(&metrics, "pixelwire_camera_frames_total");
    let published = metric_sum(&metrics, "pixelwire_stream_frames_total");
    assert!(received > 0.0, "{metrics}");
    assert_eq!(received, published, "{metrics}");
    assert_eq!(
        metric_sum(&metrics, "pixelwire_camera_dropped_frames_total"),
        0.0
    );
    // Each frame the encoder took or skipped is one the stream published.
    let accounted = metric_sum(&metrics, "pixelwire_stream_h264_encode_seconds_count")
        + metric_sum(&metrics, "pixelwire_stream_h264_unchanged_frames_total")
        + metric_sum(&metrics, "pixelwire_stream_h264_superseded_frames_total");
    assert!(
        accounted > 0.0 && accounted <= published,
        "{accounted} of {published}"
    );
}

#[tokio::test]
async fn the_load_generator_refuses_a_target_off_this_machine() {
    let err = run(options(&["--server", "192.0.2.1:8080", "--cameras", "1"]))
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("not loopback"), "{err}");
}
