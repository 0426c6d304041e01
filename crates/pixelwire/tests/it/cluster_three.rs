//! Issue 12, three nodes: a camera into A watched over H.264 on B and C is encoded once (on A),
//! and killing B does not disturb C; a node behind a throttled link (a real slow subscriber of
//! large frames, cut off by nats-server as a slow consumer) slows neither the origin nor another
//! node — counted in frames, not time — and the frames it lost are counted in its `/metrics`.

use crate::cluster::{
    Nats, h264_hold, h264_picture, metrics, node, node_with, push_camera, red_left_blue_right,
    sample, wait_online,
};
use futures_util::SinkExt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

fn count(m: &str, what: &str, kind: &str) -> f64 {
    sample(
        m,
        &format!("pixelwire_cluster_{what}_messages_total{{stream=\"door\",kind=\"{kind}\"}}"),
    )
}

/// Waits until `node`'s `what` count of `kind` reaches `at_least`.
async fn wait_count(node: SocketAddr, what: &str, kind: &str, at_least: f64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let m = metrics(node).await;
        if count(&m, what, kind) >= at_least {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{node}: {what} {kind} never reached {at_least}:\n{m}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_encode_once_and_losing_one_viewer_node_leaves_the_other_alone() {
    let nats = Nats::start();
    let (a, b, c) = (
        node("a", &nats).await,
        node("b", &nats).await,
        node("c", &nats).await,
    );
    let camera = push_camera(a.http_addr).await;
    wait_online(b.http_addr, "door", true, 10).await;
    wait_online(c.http_addr, "door", true, 10).await;
    let hold_b = tokio::spawn(h264_hold(b.http_addr));
    let hold_c = tokio::spawn(h264_hold(c.http_addr));
    let mjpeg_b = tokio::spawn(mjpeg_hold(b.http_addr));
    let mjpeg_c = tokio::spawn(mjpeg_hold(c.http_addr));
    wait_count(b.http_addr, "received", "h264", 10.0).await;
    wait_count(c.http_addr, "received", "h264", 10.0).await;
    let (ma, mb, mc) = (
        metrics(a.http_addr).await,
        metrics(b.http_addr).await,
        metrics(c.http_addr).await,
    );
    let encoders = "pixelwire_stream_h264_encoders{stream=\"door\"}";
    assert_eq!(sample(&ma, encoders), 1.0, "{ma}");
    assert_eq!(sample(&mb, encoders), 0.0, "{mb}");
    assert_eq!(sample(&mc, encoders), 0.0, "{mc}");
    assert_eq!(
        sample(&ma, "pixelwire_cluster_remote_watchers{stream=\"door\"}"),
        2.0,
        "{ma}"
    );

    // b dies without a goodbye: c goes on receiving a's camera (its frames: the still camera's
    // H.264 has few units after the first) and a new H.264 viewer there gets its picture.
    hold_b.abort();
    mjpeg_b.abort();
    drop(b);
    let before = count(&metrics(c.http_addr).await, "received", "frame");
    wait_count(c.http_addr, "received", "frame", before + 40.0).await;
    let (_, w, _, rgb) = h264_picture(c.http_addr, "door").await;
    assert!(red_left_blue_right(&rgb, w as usize, 40));
    let mc = metrics(c.http_addr).await;
    assert_eq!(sample(&mc, encoders), 0.0, "{mc}");
    assert_eq!(
        sample(&metrics(a.http_addr).await, encoders),
        1.0,
        "a still encodes, once"
    );
    hold_c.abort();
    mjpeg_c.abort();
    camera.abort();
    a.shutdown();
    c.shutdown();
}

/// A TCP proxy to `upstream` that passes what the client sends at once and what the server
/// sends at about `bytes_per_s`: a node behind it is a slow subscriber.
async fn throttled_proxy(upstream: SocketAddr, bytes_per_s: usize) -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((client, _)) = l.accept().await {
            let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                continue;
            };
            let (mut cr, mut cw) = client.into_split();
            let (mut sr, mut sw) = server.into_split();
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut cr, &mut sw).await;
            });
            tokio::spawn(async move {
                let chunk = bytes_per_s / 20;
                let mut buf = vec![0; chunk];
                loop {
                    match sr.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if cw.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            });
        }
    });
    addr
}

/// 640x480 of noise as JPEG (about 300 kB).
fn large_jpeg(salt: u32) -> Vec<u8> {
    let rgba: Vec<u8> = (0..640 * 480u32)
        .flat_map(|i| {
            let v = i.wrapping_mul(2_654_435_761).wrapping_add(salt) >> 8;
            [v as u8, (v >> 8) as u8, (v >> 16) as u8, 255]
        })
        .collect();
    pixelwire_media::jpeg::encode_rgba(&rgba, 640, 480, 90).expect("jpeg")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_subscriber_node_slows_neither_the_origin_nor_another_node() {
    // nats-server cuts a client whose unsent output passes 2 MB or blocks a write for 1 s.
    let conf = crate::common::temp_dir("nats-slow").join("nats.conf");
    std::fs::write(&conf, "max_pending: 2097152\nwrite_deadline: \"1s\"\n").expect("conf");
    let mut nats = Nats::new();
    nats.restart_with(&["-c", conf.to_str().expect("utf-8 path")]);
    let a = node("a", &nats).await;
    let b = node("b", &nats).await;
    // c reads NATS at 200 kB/s: a tenth of the camera's rate.
    let proxy = throttled_proxy(
        format!("127.0.0.1:{}", nats.port).parse().expect("addr"),
        200_000,
    )
    .await;
    let c = node_with(
        "c",
        &Nats::at(proxy.port()),
        "heartbeat_ms = 200\noffline_after_ms = 3000\n",
    )
    .await;
    // A camera of large frames into a, counted as sent.
    let frames = [large_jpeg(1), large_jpeg(2)];
    assert!(frames[0].len() > 150_000, "{}", frames[0].len());
    let sent = Arc::new(AtomicU64::new(0));
    let (mut cam, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/ws/camera/door", a.http_addr))
            .await
            .expect("camera connects");
    let counter = sent.clone();
    let camera = tokio::spawn(async move {
        for i in 0.. {
            let f = frames[i % 2].clone();
            if cam.send(Message::Binary(f.into())).await.is_err() {
                return;
            }
            counter.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    wait_online(b.http_addr, "door", true, 10).await;
    wait_online(c.http_addr, "door", true, 20).await;
    // b and c both watch its frames (MJPEG).
    let mjpeg_b = tokio::spawn(mjpeg_hold(b.http_addr));
    let mjpeg_c = tokio::spawn(mjpeg_hold(c.http_addr));
    wait_count(b.http_addr, "received", "frame", 5.0).await;
    let (sent0, a0, b0) = (
        sent.load(Ordering::Relaxed),
        count(&metrics(a.http_addr).await, "published", "frame"),
        count(&metrics(b.http_addr).await, "received", "frame"),
    );
    // Until c has lost frames (nats-server cut it as a slow consumer, or they were skipped)...
    let gaps =
        "pixelwire_cluster_dropped_messages_total{stream=\"door\",kind=\"frame\",reason=\"gap\"}";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let m = metrics(c.http_addr).await;
        if sample(&m, gaps) >= 2.0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "c never lost a frame:\n{m}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // ...and for 30 more camera frames, the origin published and b received as many as the
    // camera sent (a few may be in flight).
    let target = sent.load(Ordering::Relaxed) + 30;
    while sent.load(Ordering::Relaxed) < target {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (sent1, a1, b1) = (
        sent.load(Ordering::Relaxed),
        count(&metrics(a.http_addr).await, "published", "frame"),
        count(&metrics(b.http_addr).await, "received", "frame"),
    );
    let mc = metrics(c.http_addr).await;
    let c_received = count(&mc, "received", "frame");
    let camera_frames = (sent1 - sent0) as f64;
    assert!(
        a1 - a0 >= camera_frames * 0.9,
        "a published {} of {camera_frames} frames",
        a1 - a0
    );
    assert!(
        b1 - b0 >= camera_frames * 0.9,
        "b received {} of {camera_frames} frames",
        b1 - b0
    );
    assert!(
        c_received < b1,
        "c (slow) received {c_received}, b {b1}:\n{mc}"
    );
    mjpeg_b.abort();
    mjpeg_c.abort();
    camera.abort();
    a.shutdown();
    b.shutdown();
    c.shutdown();
}

/// An MJPEG client of `door` on `node` that reads until aborted.
async fn mjpeg_hold(node: SocketAddr) {
    let Ok(mut s) = tokio::net::TcpStream::connect(node).await else {
        return;
    };
    let _ = s
        .write_all(b"GET /api/streams/door/mjpeg HTTP/1.1\r\nHost: t\r\n\r\n")
        .await;
    let mut buf = vec![0; 1 << 16];
    while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {}
}
