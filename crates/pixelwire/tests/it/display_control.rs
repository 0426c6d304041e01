//! Issue 15, part 4: switching a display's stream through `PUT /api/displays/{id}` while it
//! streams, for a pixelwire device and for a seed-000 sketch, and the choice after a restart (kept
//! while the configuration's route is the one it overrode; dropped when the configuration changed).
//! Stream B is a declared camera stream the test publishes a solid colour into, so the panel's
//! every pixel says which stream it shows.

use crate::common::{self, Device, hello, temp_dir};
use pixelwire_devtools::emu::legacy::SketchParser;
use pixelwire_media::MediaFrame;
use pixelwire_server::server::Running;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const STREAMS: &str = "[[streams]]\nname = \"pattern\"\nsource = \"pattern\"\nfps = 30\n\
[[streams]]\nname = \"cam\"\nsource = \"camera\"\n\
[legacy]\ndetect_ms = 200\n";

const RED: [u8; 3] = [255, 0, 0];

/// `colour` as the panel shows it (RGB565 by truncation, expanded back).
fn on_panel(colour: [u8; 3]) -> [u8; 3] {
    pixelwire_proto::rgb565_to_rgb888(pixelwire_proto::rgb565(colour[0], colour[1], colour[2]))
}

/// Publishes solid `colour` frames into `name` at 20 fps, as a camera pushes them, until aborted.
/// Paint-over (coarse regions repainted exactly) counts frames, so a session that was coarse
/// while the pattern moved ends exact only on a stream that keeps sending.
fn keep_publishing(running: &Running, name: &str, colour: [u8; 3]) -> tokio::task::JoinHandle<()> {
    let stream = running.state.bus.get(name).expect("declared stream");
    let [r, g, b] = colour;
    let rgba: Vec<u8> = (0..320 * 240).flat_map(|_| [r, g, b, 255]).collect();
    tokio::spawn(async move {
        for seq in 2.. {
            let now = pixelwire_server::clock::now().as_micros();
            stream.publish(MediaFrame::from_rgba(320, 240, rgba.clone(), seq, now));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
}

/// A request over plain HTTP/1.1: (status, body).
async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, serde_json::Value) {
    let mut s = TcpStream::connect(addr).await.expect("connect http");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.expect("send request");
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut raw))
        .await
        .expect("response in time")
        .expect("read");
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").expect("a response");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    (status, serde_json::from_str(body).unwrap_or_default())
}

/// The panel's pixels, as RGB.
fn all_pixels_are(rgb: &[u8], colour: [u8; 3]) -> bool {
    rgb.chunks_exact(3).all(|p| p == colour)
}

async fn displays(addr: SocketAddr) -> serde_json::Value {
    serde_json::from_slice(&common::get(addr, "/api/displays").await.body).expect("JSON")
}

fn connections(metrics: &str) -> String {
    metrics
        .lines()
        .filter(|l| l.starts_with("pixelwire_display_connections_total"))
        .collect()
}

#[tokio::test]
async fn a_pixelwire_display_switches_streams_while_it_streams() {
    let cfg = format!("{STREAMS}[[displays]]\nid = \"desk\"\nstream = \"pattern\"\n");
    let running = common::start_with_default("pattern", &cfg).await;
    let camera = keep_publishing(&running, "cam", RED);
    let mut dev = Device::connect(running.display_addrs[0], hello("desk", 320, 240)).await;
    dev.run_for(Duration::from_millis(1500)).await;
    assert!(dev.closed.is_none(), "{:?}", dev.closed);
    assert!(dev.frames() >= 5, "the pattern streams: {}", dev.frames());
    let before = dev.front_rgb();
    assert!(
        before[..3].iter().all(|&c| c >= 200),
        "the pattern's white border: {:?}",
        &before[..3]
    );
    assert!(!all_pixels_are(&before, on_panel(RED)));
    let (status, v) = request(
        running.http_addr,
        "PUT",
        "/api/displays/desk",
        r#"{"stream":"cam"}"#,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (&v["stream"], &v["origin"], &v["connected"]),
        (&"cam".into(), &"override".into(), &true.into())
    );
    assert_eq!(v["status"]["stream"], "cam");
    dev.run_for(Duration::from_millis(1500)).await;
    assert!(
        dev.closed.is_none(),
        "switching must not reconnect: {:?}",
        dev.closed
    );
    assert!(
        all_pixels_are(&dev.front_rgb(), on_panel(RED)),
        "the panel shows the camera stream"
    );
    let list = displays(running.http_addr).await;
    assert_eq!(list[0]["stream"], "cam");
    assert_eq!(list[0]["stream_origin"], "override");
    assert_eq!(list[0]["configured_stream"], "pattern");
    // Back to the configured route: the pattern again, on the same connection.
    let (status, v) = request(
        running.http_addr,
        "PATCH",
        "/api/displays/desk",
        r#"{"stream":null}"#,
    )
    .await;
    assert_eq!((status, &v["origin"]), (200, &"config".into()), "{v}");
    dev.run_for(Duration::from_millis(1500)).await;
    // The pattern moves, so the rate controller may show it coarsely: near white is enough.
    let after = dev.front_rgb();
    assert!(
        after[..3].iter().all(|&c| c >= 200),
        "the pattern's border is back: {:?}",
        &after[..3]
    );
    assert!(!all_pixels_are(&after, on_panel(RED)));
    let m =
        String::from_utf8_lossy(&common::get(running.http_addr, "/metrics").await.body).to_string();
    assert!(
        connections(&m).ends_with(" 1"),
        "one connection in all: {}",
        connections(&m)
    );
    // Unknown stream: refused, and the display keeps streaming the pattern.
    let (status, v) = request(
        running.http_addr,
        "PUT",
        "/api/displays/desk",
        r#"{"stream":"nope"}"#,
    )
    .await;
    assert_eq!(status, 422, "{v}");
    assert!(v["error"].as_str().unwrap().contains("no stream \"nope\""));
    let list = displays(running.http_addr).await;
    assert_eq!(
        (&list[0]["stream"], &list[0]["stream_origin"]),
        (&"pattern".into(), &"config".into())
    );
    camera.abort();
    running.shutdown();
}

/// A sketch's panel as it parses, kept across reads.
struct Sketch {
    parser: SketchParser,
    fb: Vec<u8>,
}

impl Sketch {
    fn new(w: u16, h: u16) -> Sketch {
        Sketch {
            parser: SketchParser::new(w, h),
            fb: vec![0; usize::from(w) * usize::from(h) * 2],
        }
    }

    /// Reads like the sketch for `d`; panics if the sketch would have disconnected.
    async fn read_for(&mut self, sock: &mut TcpStream, d: Duration) {
        let end = tokio::time::Instant::now() + d;
        let mut buf = vec![0u8; 4096];
        loop {
            match tokio::time::timeout_at(end, sock.read(&mut buf)).await {
                Err(_) => return,
                Ok(Ok(0)) => panic!("the server closed the sketch's connection"),
                Ok(Err(e)) => panic!("read: {e}"),
                Ok(Ok(n)) => self
                    .parser
                    .feed(&buf[..n], &mut self.fb)
                    .expect("the sketch parses every packet"),
            }
        }
    }

    fn rgb(&self) -> Vec<u8> {
        self.fb
            .chunks_exact(2)
            .flat_map(|p| pixelwire_proto::rgb565_to_rgb888(u16::from_be_bytes([p[0], p[1]])))
            .collect()
    }
}

#[tokio::test]
async fn a_legacy_sketch_switches_streams_by_its_address_and_port() {
    let running = common::start_with_default("pattern", STREAMS).await;
    let camera = keep_publishing(&running, "cam", RED);
    let addr = running.display_addrs[0];
    let mut sock = TcpStream::connect(addr).await.unwrap();
    let mut sketch = Sketch::new(320, 240);
    sketch
        .read_for(&mut sock, Duration::from_millis(1500))
        .await;
    assert!(
        sketch.parser.packets >= 20,
        "a full frame: {}",
        sketch.parser.packets
    );
    assert!(!all_pixels_are(&sketch.rgb(), on_panel(RED)));
    let id = format!("legacy-127.0.0.1-{}", addr.port());
    assert_eq!(displays(running.http_addr).await[0]["id"], id.as_str());
    // Switch while the pattern streams, and keep reading meanwhile.
    let http = running.http_addr;
    let path = format!("/api/displays/{id}");
    let put = tokio::spawn(async move { request(http, "PUT", &path, r#"{"stream":"cam"}"#).await });
    sketch
        .read_for(&mut sock, Duration::from_millis(2000))
        .await;
    let (status, v) = put.await.unwrap();
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["configured_stream"], "pattern");
    assert_eq!(sketch.parser.length_mismatches, 0);
    let rgb = sketch.rgb();
    let red = rgb.chunks_exact(3).filter(|p| *p == on_panel(RED)).count();
    let first_other = rgb.chunks_exact(3).position(|p| p != on_panel(RED));
    assert!(
        all_pixels_are(&rgb, on_panel(RED)),
        "the sketch shows the camera stream: {red} red, first other at {first_other:?}: {:?}",
        first_other.map(|i| &rgb[i * 3..i * 3 + 3])
    );
    assert_eq!(displays(running.http_addr).await[0]["stream"], "cam");
    camera.abort();
    running.shutdown();
}

fn config_in(data: &Path, route: &str) -> pixelwire_server::config::Config {
    let text = format!(
        "[server]\nhttp = \"127.0.0.1:0\"\ndisplay = \"127.0.0.1:0\"\ndata_dir = \"{}\"\n{}{}{STREAMS}\
[[streams]]\nname = \"bios\"\nsource = \"bios\"\n\
[[displays]]\nid = \"desk\"\nstream = \"{route}\"\n",
        data.display(),
        common::CAMERAS_ON_PORT_0,
        common::RTSP_ON_PORT_0
    );
    pixelwire_server::config::Config::parse(&text, None).expect("test config")
}

/// Starts a server on `data`, waiting for the previous one to let go of its database.
async fn start_on(data: &Path, route: &str) -> Running {
    let end = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match pixelwire_server::server::start(config_in(data, route)).await {
            Ok(r) => return r,
            Err(_) if tokio::time::Instant::now() < end => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("server start: {e}"),
        }
    }
}

async fn stop(running: Running) {
    running.shutdown();
    running.join(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_switch_survives_a_restart_until_the_config_route_changes() {
    let data = temp_dir("routes");
    let running = start_on(&data, "pattern").await;
    let (status, v) = request(
        running.http_addr,
        "PUT",
        "/api/displays/desk",
        r#"{"stream":"cam"}"#,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    stop(running).await;

    // The same configuration: the display connects to the stream chosen before the restart.
    let running = start_on(&data, "pattern").await;
    let camera = keep_publishing(&running, "cam", RED);
    let mut dev = Device::connect(running.display_addrs[0], hello("desk", 320, 240)).await;
    dev.run_for(Duration::from_millis(1500)).await;
    assert!(dev.closed.is_none(), "{:?}", dev.closed);
    assert!(all_pixels_are(&dev.front_rgb(), on_panel(RED)));
    let list = displays(running.http_addr).await;
    assert_eq!(list[0]["stream"], "cam");
    camera.abort();
    drop(dev);
    stop(running).await;

    // The configuration now routes it elsewhere: the configuration wins, and keeps winning.
    for _ in 0..2 {
        let running = start_on(&data, "bios").await;
        let (status, v) = request(running.http_addr, "GET", "/api/displays/desk", "").await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(
            (&v["stream"], &v["origin"]),
            (&"bios".into(), &"config".into())
        );
        let camera = keep_publishing(&running, "cam", RED);
        let mut dev = Device::connect(running.display_addrs[0], hello("desk", 320, 240)).await;
        dev.run_for(Duration::from_millis(1500)).await;
        assert!(dev.frames() >= 1);
        assert!(!all_pixels_are(&dev.front_rgb(), on_panel(RED)));
        assert_eq!(displays(running.http_addr).await[0]["stream"], "bios");
        camera.abort();
        drop(dev);
        stop(running).await;
    }
    let _ = std::fs::remove_dir_all(&data);
}

/// The status page's stream selector: headless Chromium picks the camera stream on the display's
/// card while the device streams, and the panel shows it; the policy selector beside it switches
/// `prefer`; a stream the server does not have gets its error shown on the card, and nothing
/// changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_switches_a_display_and_shows_errors() {
    use crate::common::chromium;
    assert!(
        chromium::available(),
        "chromium not installed: run scripts/setup-test-deps.sh (CI installs it)"
    );
    let cfg = format!("{STREAMS}[[displays]]\nid = \"desk\"\nstream = \"pattern\"\n");
    let running = common::start_with_default("pattern", &cfg).await;
    let camera = keep_publishing(&running, "cam", RED);
    let mut dev = Device::connect(running.display_addrs[0], hello("desk", 320, 240)).await;
    dev.run_for(Duration::from_millis(500)).await;
    let device = tokio::spawn(async move {
        dev.run_for(Duration::from_secs(12)).await;
        dev
    });
    let mut browser = chromium::Browser::launch().await.expect("chromium starts");
    let mut page = browser
        .open(&format!("http://{}/", running.http_addr))
        .await
        .expect("open the status page");
    let select = "document.querySelector('#displays .pick select')";
    page.wait_for(
        &format!(
            "{select}?.querySelector('option[value=\"cam\"]') !== null && {select}.value === ''"
        ),
        Duration::from_secs(10),
    )
    .await
    .unwrap_or_else(|e| panic!("no stream selector: {e}"));
    page.eval(&format!(
        "(() => {{ const s = {select}; s.value = 'cam'; s.dispatchEvent(new Event('change')); return true; }})()"
    ))
    .await
    .expect("pick the camera stream");
    let end = tokio::time::Instant::now() + Duration::from_secs(10);
    while displays(running.http_addr).await[0]["stream"] != "cam" {
        assert!(
            tokio::time::Instant::now() < end,
            "the page did not switch the display"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The policy selector next to it: `detail` reaches the display's route and its status.
    let prefer = "document.querySelectorAll('#displays .pick select')[1]";
    page.wait_for(
        &format!("{prefer}?.querySelector('option[value=\"detail\"]') !== null"),
        Duration::from_secs(10),
    )
    .await
    .unwrap_or_else(|e| panic!("no policy selector: {e}"));
    page.eval(&format!(
        "(() => {{ const s = {prefer}; s.value = 'detail'; s.dispatchEvent(new Event('change')); return true; }})()"
    ))
    .await
    .expect("pick detail");
    let end = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let d = displays(running.http_addr).await;
        if d[0]["prefer"] == "detail" && d[0]["prefer_origin"] == "override" {
            // the stream chosen before is kept
            assert_eq!(d[0]["stream"], "cam");
            break;
        }
        assert!(
            tokio::time::Instant::now() < end,
            "the page did not switch the policy: {}",
            d[0]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A stream that went away between the page's poll and the pick: the card says why.
    page.eval(&format!(
        "(() => {{ const s = {select}; const o = document.createElement('option'); o.value = 'gone'; s.appendChild(o); s.value = 'gone'; s.dispatchEvent(new Event('change')); return true; }})()"
    ))
    .await
    .expect("pick a missing stream");
    page.wait_for(
        "document.querySelector('#displays .pick-error')?.textContent.includes('no stream \"gone\"')",
        Duration::from_secs(10),
    )
    .await
    .unwrap_or_else(|e| panic!("no error on the card: {e}"));
    assert_eq!(displays(running.http_addr).await[0]["stream"], "cam");
    let dev = device.await.expect("device task");
    assert!(dev.closed.is_none(), "{:?}", dev.closed);
    assert!(
        all_pixels_are(&dev.front_rgb(), on_panel(RED)),
        "the panel shows the stream picked on the page"
    );
    camera.abort();
    running.shutdown();
}

/// A pushed stream (created by a camera's first frame, like `ws-<ip>`), as ingest creates it.
fn pushed_stream(running: &Running, name: &str) {
    use pixelwire_server::bus::{StreamDescription, StreamKind};
    running.state.bus.get_or_create(name, || StreamDescription {
        kind: StreamKind::Camera,
        source: "camera".into(),
        width: 320,
        height: 240,
        nominal_fps: 20.0,
    });
}

/// A choice of a pushed camera stream survives a restart, but that stream only exists again once
/// its camera sends: meanwhile the display shows its configured route, and choosing the stream
/// again once it exists switches it.
#[tokio::test]
async fn a_chosen_pushed_stream_that_is_not_back_yet_falls_back_to_the_config() {
    let data = temp_dir("routes-pushed");
    let running = start_on(&data, "pattern").await;
    pushed_stream(&running, "porch-cam");
    let (status, v) = request(
        running.http_addr,
        "PUT",
        "/api/displays/desk",
        r#"{"stream":"porch-cam"}"#,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    stop(running).await;

    let running = start_on(&data, "pattern").await;
    let mut dev = Device::connect(running.display_addrs[0], hello("desk", 320, 240)).await;
    dev.run_for(Duration::from_millis(1000)).await;
    assert!(dev.closed.is_none(), "{:?}", dev.closed);
    assert!(dev.frames() >= 1, "the configured route streams meanwhile");
    let list = displays(running.http_addr).await;
    assert_eq!(
        (&list[0]["stream"], &list[0]["stream_origin"]),
        (&"pattern".into(), &"override".into()),
        "{list}"
    );
    // The camera is back; picking its stream again switches the connected display.
    pushed_stream(&running, "porch-cam");
    let camera = keep_publishing(&running, "porch-cam", RED);
    let (status, v) = request(
        running.http_addr,
        "PUT",
        "/api/displays/desk",
        r#"{"stream":"porch-cam"}"#,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    dev.run_for(Duration::from_millis(1500)).await;
    assert!(dev.closed.is_none(), "{:?}", dev.closed);
    assert!(all_pixels_are(&dev.front_rgb(), on_panel(RED)));
    assert_eq!(displays(running.http_addr).await[0]["stream"], "porch-cam");
    camera.abort();
    drop(dev);
    stop(running).await;
    let _ = std::fs::remove_dir_all(&data);
}
