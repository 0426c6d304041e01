//! Router tests without sockets: each request goes through [`app`] (or [`device_port`]) with
//! `tower::ServiceExt::oneshot`, on an [`AppState`] over a temp data dir, and the test reads the
//! real response: status, headers, JSON, and images decoded back to pixels. Frames are published
//! straight into the bus, or uploaded through the router's own device API.
//!
//! They complement the loopback tests of `crates/pixelwire/tests/it/` (`http_api`,
//! `camera_ingest`), which run the same handlers over real sockets and seed-exact clients; here
//! there is no port, no task but the request, and no waiting.

use super::{AppState, app, device_port};
use crate::bus::{Stream, StreamDescription, StreamKind};
use crate::config::Config;
use crate::shutdown::Shutdown;
use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode, header};
use bytes::Bytes;
use http_body_util::BodyExt;
use pixelwire_media::MediaFrame;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tower::ServiceExt;

/// The default key of seed 002's firmware, accepted when no `[[api_keys]]` is configured.
const KEY: &str = "dev-api-key-change-in-production";

/// Prometheus 2.x's scrape `Accept` header.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// A server's state and router over a fresh data dir, removed on drop.
struct Fixture {
    state: AppState,
    router: Router,
    data_dir: PathBuf,
    // Dropping the trigger would read as a shutdown to everything that waits on the signal.
    _shutdown: Shutdown,
}

impl Fixture {
    /// Registers display `id` as connected, with `commands` as its connection task's channel.
    fn connect_display(
        &self,
        id: &str,
        commands: tokio::sync::mpsc::Sender<crate::display::registry::DisplayCommand>,
    ) {
        let identity = crate::display::live::Identity {
            id: id.to_string(),
            protocol: crate::metrics::Protocol::Pixelwire,
            address: "192.168.1.77:5000".parse().expect("address"),
            stream: "cpu".into(),
            size: (32, 24),
            firmware: None,
            pixel_format: pixelwire_proto::PixelFormat::default(),
        };
        let live =
            crate::display::live::LiveDisplay::new(identity, 0, self.state.metrics.display(id));
        let handle = crate::display::registry::DisplayHandle {
            conn: self.state.displays.next_conn(),
            live: Arc::new(live),
            commands,
        };
        self.state
            .displays
            .register(id, handle)
            .expect("the id is free");
    }

    /// The state for built-in defaults plus `extra` TOML, and its router. The device API reads the
    /// peer's address, which a socket would give; here it is fixed.
    fn new(extra: &str) -> Fixture {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let data_dir =
            std::env::temp_dir().join(format!("pixelwire-router-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data_dir);
        std::fs::create_dir_all(&data_dir).expect("temp dir");
        let text = format!("[server]\ndata_dir = \"{}\"\n{extra}", data_dir.display());
        let cfg = Config::parse(&text, None).expect("test config");
        let (shutdown, signal) = Shutdown::new();
        let state = AppState::new(Arc::new(cfg), signal).expect("state");
        let router = app(state.clone()).layer(MockConnectInfo(peer()));
        Fixture {
            state,
            router,
            data_dir,
            _shutdown: shutdown,
        }
    }

    /// Sends `req` through the router; the whole response.
    async fn send(&self, req: Request<Body>) -> Reply {
        send(&self.router, req).await
    }

    async fn get(&self, path: &str) -> Reply {
        self.send(get(path)).await
    }

    /// A stream on the bus, as a camera or a source would create it.
    fn stream(&self, name: &str, kind: StreamKind, w: u32, h: u32) -> Arc<Stream> {
        let s = Stream::new(
            name,
            StreamDescription {
                kind,
                source: "test".into(),
                width: w,
                height: h,
                nominal_fps: 10.0,
            },
        );
        self.state.bus.insert(s.clone());
        s
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

fn peer() -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 7], 40_000))
}

/// A response, read to the end.
#[derive(Debug)]
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Reply {
    fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(&name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
    }

    fn content_type(&self) -> &str {
        self.header(header::CONTENT_TYPE)
    }

    fn json(&self) -> Value {
        assert!(
            self.content_type().starts_with("application/json"),
            "{self:?}"
        );
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("a UTF-8 body")
    }
}

async fn send(router: &Router, req: Request<Body>) -> Reply {
    let resp = router
        .clone()
        .oneshot(req)
        .await
        .expect("the router is infallible");
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.expect("a complete body").to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).expect("request")
}

/// `w × h`: the left half `left`, the right half `right`, as RGBA.
fn halves(w: u32, h: u32, left: [u8; 3], right: [u8; 3]) -> Vec<u8> {
    (0..w * h)
        .flat_map(|i| {
            let [r, g, b] = if i % w < w / 2 { left } else { right };
            [r, g, b, 255]
        })
        .collect()
}

fn rgba_frame(w: u32, h: u32, left: [u8; 3], right: [u8; 3], seq: u64) -> MediaFrame {
    MediaFrame::from_rgba(w, h, halves(w, h, left, right), seq, seq + 1)
}

fn jpeg(w: u32, h: u32, colour: [u8; 3]) -> Vec<u8> {
    pixelwire_media::jpeg::encode_rgba(&halves(w, h, colour, colour), w, h, 90).expect("encode")
}

/// Decodes a PNG into (width, height, RGB).
fn decode_png(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    pixelwire_media::png::decode_rgb(bytes).expect("an 8-bit RGB(A) PNG")
}

fn pixel(rgb: &[u8], w: u32, x: u32, y: u32) -> [u8; 3] {
    let i = ((y * w + x) * 3) as usize;
    [rgb[i], rgb[i + 1], rgb[i + 2]]
}

fn close(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 8)
}

/// A frame upload as seed 002 devices send one, with a raw JPEG body.
fn upload(key: &str, device: &str, body: Vec<u8>) -> Request<Body> {
    Request::post("/api/v1/stream/stream")
        .header("x-api-key", key)
        .header("x-device-id", device)
        .header(header::CONTENT_TYPE, "image/jpeg")
        .body(Body::from(body))
        .expect("request")
}

fn json_post(path: &str, key: &str, body: &Value) -> Request<Body> {
    Request::post(path)
        .header("x-api-key", key)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("request")
}

#[tokio::test]
async fn status_and_lists_show_what_the_bus_holds() {
    let f = Fixture::new("");
    // Nothing is started with the state: no stream, display or device yet.
    assert_eq!(f.get("/api/streams").await.json(), json!([]));
    assert_eq!(f.get("/api/displays").await.json(), json!([]));
    assert_eq!(f.get("/api/devices").await.json(), json!([]));
    let porch = f.stream("porch", StreamKind::Camera, 640, 480);
    porch.publish(rgba_frame(64, 48, [255, 0, 0], [0, 0, 255], 0));
    let r = f.get("/api/status").await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert!(v["uptime_s"].as_f64().is_some_and(|s| s >= 0.0), "{v}");
    assert_eq!(v["displays"], json!([]));
    assert_eq!(v["devices"], json!([]));
    let s = &v["streams"][0];
    assert_eq!(s["name"], "porch");
    assert_eq!(s["kind"], "camera");
    assert_eq!(s["source"], "test");
    // The size is the newest frame's, not the nominal one.
    assert_eq!(
        (s["width"].as_u64(), s["height"].as_u64()),
        (Some(64), Some(48))
    );
    assert_eq!(s["frames"], 1);
    assert_eq!(
        (s["watchers"].as_u64(), s["active"].as_bool()),
        (Some(0), Some(false))
    );
    assert_eq!(s["snapshot"], "/api/streams/porch/snapshot.png");
    assert_eq!(s["viewer"], "/streams/porch");
    let list = f.get("/api/streams").await.json();
    assert_eq!(list, v["streams"]);
}

#[tokio::test]
async fn snapshot_png_is_the_newest_frame() {
    let f = Fixture::new("");
    let s = f.stream("cam", StreamKind::Camera, 64, 48);
    s.publish(rgba_frame(64, 48, [255, 0, 0], [0, 0, 255], 0));
    let r = f.get("/api/streams/cam/snapshot.png").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.content_type(), "image/png");
    assert_eq!(r.header(header::CACHE_CONTROL), "no-store");
    let (w, h, rgb) = decode_png(&r.body);
    assert_eq!((w, h), (64, 48));
    assert_eq!(pixel(&rgb, w, 0, 0), [255, 0, 0]);
    assert_eq!(pixel(&rgb, w, 63, 47), [0, 0, 255]);
    // Newest frame wins, at its own size.
    s.publish(rgba_frame(32, 24, [0, 255, 0], [0, 255, 0], 1));
    let (w, h, rgb) = decode_png(&f.get("/api/streams/cam/snapshot.png").await.body);
    assert_eq!((w, h), (32, 24));
    assert_eq!(pixel(&rgb, w, 31, 0), [0, 255, 0]);
}

#[tokio::test]
async fn snapshot_jpg_passes_a_camera_jpeg_through_and_encodes_anything_else() {
    let f = Fixture::new("");
    let image = jpeg(80, 60, [250, 250, 0]);
    let cam = f.stream("cam", StreamKind::Camera, 80, 60);
    cam.publish(MediaFrame::from_jpeg(Bytes::from(image.clone()), 0, 1).expect("a JPEG"));
    let r = f.get("/api/streams/cam/snapshot.jpg").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.content_type(), "image/jpeg");
    assert_eq!(r.body, image, "a camera's bytes pass through untouched");
    // The PNG of a JPEG frame is its decode.
    let (w, h, rgb) = decode_png(&f.get("/api/streams/cam/snapshot.png").await.body);
    assert_eq!((w, h), (80, 60));
    assert!(close(pixel(&rgb, w, 40, 30), [250, 250, 0]));
    // Raw pixels (a renderer's, or an RGB565 upload's) are encoded.
    let raw = f.stream("raw", StreamKind::Camera, 100, 50);
    raw.publish(rgba_frame(100, 50, [0, 0, 0], [255, 255, 255], 0));
    let r = f.get("/api/streams/raw/snapshot.jpg").await;
    assert_eq!((r.status, r.content_type()), (StatusCode::OK, "image/jpeg"));
    let (w, h, rgba) = pixelwire_media::jpeg::decode_rgba(&r.body).expect("a JPEG");
    assert_eq!((w, h), (100, 50));
    let at = |x: u32, y: u32| {
        let i = ((y * w + x) * 4) as usize;
        [rgba[i], rgba[i + 1], rgba[i + 2]]
    };
    assert!(close(at(10, 25), [0, 0, 0]) && close(at(90, 25), [255, 255, 255]));
}

#[tokio::test]
async fn a_generated_stream_renders_for_the_snapshot() {
    // A generated source renders only while watched: the snapshot watches, the "source" (this
    // task) renders once it is watched, and the snapshot shows that frame, not the stale one.
    let f = Fixture::new("");
    let s = f.stream("gen", StreamKind::Generated, 16, 16);
    s.publish(rgba_frame(16, 16, [9, 9, 9], [9, 9, 9], 0));
    let source = s.clone();
    let render = tokio::spawn(async move {
        source.watched().await;
        source.publish(rgba_frame(16, 16, [200, 100, 50], [200, 100, 50], 1));
    });
    let r = f.get("/api/streams/gen/snapshot.png").await;
    assert_eq!(r.status, StatusCode::OK);
    let (w, _, rgb) = decode_png(&r.body);
    assert_eq!(pixel(&rgb, w, 8, 8), [200, 100, 50]);
    render.await.expect("source task");
    assert_eq!(s.watchers(), 0, "the snapshot stopped watching");
}

#[tokio::test]
async fn mjpeg_streams_the_newest_frame_as_multipart_parts() {
    let f = Fixture::new("");
    let image = jpeg(48, 32, [0, 128, 255]);
    let s = f.stream("cam", StreamKind::Camera, 48, 32);
    s.publish(MediaFrame::from_jpeg(Bytes::from(image.clone()), 0, 1).expect("a JPEG"));
    let resp = f
        .router
        .clone()
        .oneshot(get("/api/streams/cam/mjpeg"))
        .await
        .expect("infallible");
    assert_eq!(resp.status(), StatusCode::OK);
    let ctype = resp.headers()[header::CONTENT_TYPE].to_str().unwrap();
    let boundary = ctype
        .strip_prefix("multipart/x-mixed-replace; boundary=")
        .unwrap_or_else(|| panic!("{ctype}"))
        .to_string();
    // The body never ends: read until the first part is complete.
    let mut body = resp.into_body();
    let mut got = Vec::new();
    let end = format!("\r\n--{boundary}\r\n");
    let part = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            let frame = body.frame().await.expect("more body").expect("a frame");
            if let Ok(data) = frame.into_data() {
                got.extend_from_slice(&data);
            }
            let start = format!("--{boundary}\r\n");
            if got.len() > start.len()
                && let Some(i) = got[start.len()..]
                    .windows(end.len())
                    .position(|w| w == end.as_bytes())
            {
                assert!(got.starts_with(start.as_bytes()));
                return got[start.len()..start.len() + i].to_vec();
            }
        }
    })
    .await
    .expect("a first part in time");
    let split = part.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = std::str::from_utf8(&part[..split]).unwrap();
    assert!(head.contains("Content-Type: image/jpeg"), "{head}");
    assert!(
        head.contains(&format!("Content-Length: {}", image.len())),
        "{head}"
    );
    assert_eq!(&part[split + 4..], &image[..]);
    assert_eq!(s.watchers(), 1, "the open stream watches");
    drop(body);
    assert_eq!(s.watchers(), 0, "a closed stream stops watching");
}

#[tokio::test]
async fn unknown_things_are_404_with_a_json_error() {
    let f = Fixture::new("");
    f.stream("cam", StreamKind::Camera, 8, 8);
    for (method, path) in [
        ("GET", "/api/streams/nope/snapshot.png"),
        ("GET", "/api/streams/nope/snapshot.jpg"),
        ("GET", "/api/streams/nope/mjpeg"),
        ("GET", "/api/streams/nope/dashboard"),
        // A stream that is not a dashboard has no dashboard.
        ("GET", "/api/streams/cam/dashboard"),
        ("GET", "/api/displays/nope/preview.png"),
        ("GET", "/no/such/path"),
        ("POST", "/no/such/path"),
        ("GET", "/api/v2/status"),
    ] {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .unwrap();
        let r = f.send(req).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{method} {path}");
        let v = r.json();
        assert!(
            v["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{method} {path}: {v}"
        );
    }
}

#[tokio::test]
async fn web_page_and_assets_have_their_types() {
    let f = Fixture::new("");
    for (path, ctype, needle) in [
        ("/", "text/html; charset=utf-8", "pixelwire"),
        ("/app.js", "text/javascript; charset=utf-8", "/api/status"),
        ("/style.css", "text/css; charset=utf-8", "{"),
        ("/viewer.js", "text/javascript; charset=utf-8", "WebSocket"),
        ("/streams/anything", "text/html; charset=utf-8", "viewer.js"),
    ] {
        let r = f.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert_eq!(r.content_type(), ctype, "{path}");
        assert!(r.text().contains(needle), "{path} lacks {needle:?}");
    }
}

#[tokio::test]
async fn metrics_speak_openmetrics_or_text_by_accept_header() {
    let f = Fixture::new("");
    let s = f.stream("cam", StreamKind::Camera, 8, 8);
    s.publish(rgba_frame(8, 8, [0, 0, 0], [0, 0, 0], 0));
    const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
    for (accept, want) in [
        (None, TEXT),
        (Some(PROMETHEUS_ACCEPT), OPENMETRICS),
        (Some("application/openmetrics-text"), OPENMETRICS),
        (Some("text/plain"), TEXT),
        (Some("*/*"), TEXT),
        (
            Some("application/openmetrics-text;q=0.5,text/plain;q=0.9"),
            TEXT,
        ),
        (Some("application/json"), TEXT),
    ] {
        let mut req = Request::get("/metrics");
        if let Some(a) = accept {
            req = req.header(header::ACCEPT, a);
        }
        let r = f.send(req.body(Body::empty()).unwrap()).await;
        assert_eq!(r.status, StatusCode::OK, "{accept:?}");
        assert_eq!(r.content_type(), want, "{accept:?}");
        assert_eq!(r.header(header::VARY), "Accept");
        let text = r.text();
        assert!(
            text.contains("pixelwire_stream_frames_total{stream=\"cam\"} 1"),
            "{accept:?}:\n{text}"
        );
        if want == OPENMETRICS {
            assert!(text.ends_with("# EOF\n"), "{accept:?}:\n{text}");
        } else {
            assert!(
                !text.contains("# EOF") && !text.contains("_created"),
                "{accept:?}:\n{text}"
            );
            assert!(
                text.contains("# TYPE pixelwire_stream_frames_total counter"),
                "{text}"
            );
        }
    }
}

#[tokio::test]
async fn device_api_wrong_keys_are_401_and_foreign_devices_403() {
    let f = Fixture::new(
        "[[api_keys]]\nkey = \"garden-key-0001\"\ndevices = [\"garden\"]\n\
         [[api_keys]]\nkey = \"any-device-key-01\"\ndevices = [\"*\"]\n",
    );
    let image = jpeg(32, 24, [0, 255, 0]);
    // The seed's default key is not accepted once keys are configured.
    for key in ["wrong-key", KEY, ""] {
        let r = f.send(upload(key, "garden", image.clone())).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{key:?}");
        assert!(r.json()["error"].as_str().unwrap().contains("X-API-Key"));
    }
    // A key for another device.
    let r = f
        .send(upload("garden-key-0001", "porch", image.clone()))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.json()["error"].is_string());
    let reg = json!({"deviceId": "porch", "deviceName": "Porch"});
    let r = f
        .send(json_post(
            "/api/v1/devices/register",
            "garden-key-0001",
            &reg,
        ))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = f
        .send(json_post("/api/v1/devices/register", "wrong-key", &reg))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Nothing was published or registered.
    assert_eq!(f.get("/api/streams").await.json(), json!([]));
    assert_eq!(f.get("/api/devices").await.json(), json!([]));
    // The right keys.
    let r = f
        .send(upload("garden-key-0001", "garden", image.clone()))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = f.send(upload("any-device-key-01", "porch", image)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let m = f.get("/metrics").await;
    assert!(
        m.text().contains(
            "pixelwire_camera_dropped_frames_total{transport=\"http\",reason=\"unauthorized\"} 6"
        ),
        "{}",
        m.text()
    );
}

#[tokio::test]
async fn device_api_upload_publishes_and_an_oversize_body_is_413() {
    let f = Fixture::new("[cameras]\nmax_frame_bytes = 65536\n");
    let image = jpeg(64, 48, [255, 0, 255]);
    let r = f.send(upload(KEY, "Garden-Cam", image.clone())).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    assert_eq!(
        (&v["deviceId"], &v["stream"]),
        (&json!("Garden-Cam"), &json!("garden-cam"))
    );
    let snap = f.get("/api/streams/garden-cam/snapshot.jpg").await;
    assert_eq!(snap.body, image);
    let devices = f.get("/api/devices").await.json();
    assert_eq!(devices[0]["id"], "Garden-Cam");
    assert_eq!(devices[0]["transport"], "http");
    assert_eq!(devices[0]["frames"], 1);
    // Larger than max_frame_bytes.
    let big: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    let r = f.send(upload(KEY, "Garden-Cam", big)).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("max_frame_bytes")
    );
    // Not a JPEG: 400, and the newest frame stays.
    let r = f
        .send(upload(KEY, "Garden-Cam", b"not a jpeg".to_vec()))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        f.get("/api/streams/garden-cam/snapshot.jpg").await.body,
        image
    );
    let m = f.get("/metrics").await;
    for line in [
        "pixelwire_camera_dropped_frames_total{transport=\"http\",reason=\"too_large\"} 1",
        "pixelwire_camera_dropped_frames_total{transport=\"http\",reason=\"not_jpeg\"} 1",
    ] {
        assert!(m.text().contains(line), "{line} in\n{}", m.text());
    }
}

#[tokio::test]
async fn device_api_registers_heartbeats_and_answers_probes() {
    let f = Fixture::new("");
    for path in ["/health", "/api/v1/stream/stream"] {
        let r = f.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert_eq!(r.json(), json!({"status": "healthy"}));
    }
    let hb = json!({"deviceId": "cam-1", "uptime": 1000, "freeHeap": 4096, "wifiRssi": -60});
    // A heartbeat before registering: 404, so the firmware registers at its next tick.
    let r = f
        .send(json_post("/api/v1/devices/heartbeat", KEY, &hb))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let reg = json!({"deviceId": "cam-1", "deviceName": "Cam one", "capabilities": ["streaming"]});
    let r = f
        .send(json_post("/api/v1/devices/register", KEY, &reg))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["stream"], "cam-1");
    let r = f
        .send(json_post("/api/v1/devices/heartbeat", KEY, &hb))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let d = &f.get("/api/devices").await.json()[0];
    assert_eq!((&d["id"], &d["name"]), (&json!("cam-1"), &json!("Cam one")));
    assert_eq!(d["rssi_dbm"], -60);
    // Without a device id in the upload, the device registered at the peer's address sends it.
    let r = f.send(upload(KEY, "", jpeg(16, 16, [1, 2, 3]))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["stream"], "cam-1");
    // Bad bodies.
    let missing = json!({"deviceName": "x"});
    let r = f
        .send(json_post("/api/v1/devices/register", KEY, &missing))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let garbage = Request::post("/api/v1/devices/heartbeat")
        .header("x-api-key", KEY)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{not json"))
        .unwrap();
    assert_eq!(f.send(garbage).await.status, StatusCode::BAD_REQUEST);
}

/// Issue 13 (8): ids with newlines, NULs or 10,000 characters were stored, persisted and logged
/// raw (a newline forged a log line); register answered a stream the registry did not store.
#[tokio::test]
async fn device_ids_are_validated_and_register_answers_what_it_stores() {
    let f = Fixture::new("");
    for bad in [
        "a\nERROR pixelwire::server: FORGED LINE".to_string(),
        "nul\0id".to_string(),
        "x".repeat(10_000),
    ] {
        let reg = json!({"deviceId": bad, "deviceName": "x"});
        let r = f
            .send(json_post("/api/v1/devices/register", KEY, &reg))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad:.40?}");
        assert!(r.text().contains("printable ASCII"), "{}", r.text());
        let hb = json!({"deviceId": bad});
        let r = f
            .send(json_post("/api/v1/devices/heartbeat", KEY, &hb))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
    }
    // An upload names its device in a header (which cannot carry a newline or a NUL).
    let r = f
        .send(upload(KEY, &"x".repeat(10_000), jpeg(8, 8, [0, 0, 0])))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    let forged = json!({"deviceId": "cam-2", "deviceName": "two\nlines"});
    let r = f
        .send(json_post("/api/v1/devices/register", KEY, &forged))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert_eq!(
        f.get("/api/devices").await.json(),
        json!([]),
        "nothing refused is stored"
    );

    let reg =
        json!({"deviceId": "Reg-Only-9", "deviceName": "Cam nine", "capabilities": ["streaming"]});
    let r = f
        .send(json_post("/api/v1/devices/register", KEY, &reg))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let answered = r.json()["stream"].clone();
    assert_eq!(answered, "reg-only-9");
    let d = &f.get("/api/devices").await.json()[0];
    assert_eq!(
        d["stream"], answered,
        "register answers what the registry stores: {d}"
    );
}

/// Issue 13 (3): one frame under each of 3,000 new camera names made 3,116 streams, registry
/// entries and metric series, persisted and never expired.
#[tokio::test]
async fn pushed_streams_and_devices_are_capped_and_expire() {
    let f = Fixture::new(
        "[[api_keys]]\nkey = \"secret-key-1\"\n[cameras]\nmax_pushed_streams = 2\nmax_unregistered_devices = 3\npushed_expiry_s = 60\n",
    );
    for cam in ["cam-a", "cam-b"] {
        let r = f
            .send(upload("secret-key-1", cam, jpeg(8, 8, [9, 9, 9])))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{cam}: {}", r.text());
    }
    let r = f
        .send(upload("secret-key-1", "cam-c", jpeg(8, 8, [9, 9, 9])))
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text());
    assert!(r.text().contains("max_pushed_streams"), "{}", r.text());
    // Streams that exist keep taking frames.
    let r = f
        .send(upload("secret-key-1", "cam-a", jpeg(8, 8, [9, 9, 9])))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let metrics = f.get("/metrics").await.text().to_string();
    assert!(
        metrics.contains("stream=\"cam-b\""),
        "series exist while the stream does"
    );
    assert!(
        !metrics.contains("stream=\"cam-c\""),
        "no series for a refused stream"
    );
    assert!(metrics.contains("reason=\"stream_limit\""));

    // After the expiry, both streams and both unregistered devices are gone, with their series
    // (declared streams are never in the pushed set: `expire` cannot touch them).
    let later = crate::clock::now().as_micros() / 1000 + 61_000;
    let removed = f.state.cameras.expire(later);
    assert_eq!(removed.len(), 2, "{removed:?}");
    assert!(f.state.bus.get("cam-a").is_none() && f.state.bus.get("cam-b").is_none());
    assert_eq!(f.get("/api/devices").await.json(), json!([]));
    let metrics = f.get("/metrics").await.text().to_string();
    assert!(
        !metrics.contains("stream=\"cam-a\""),
        "series removed with the stream"
    );
    let r = f
        .send(upload("secret-key-1", "cam-c", jpeg(8, 8, [9, 9, 9])))
        .await;
    assert_eq!(r.status, StatusCode::OK, "room again: {}", r.text());
}

/// Issue 13 (4): a real 8192x8192 JPEG was accepted, and one snapshot of it cost +340 MiB.
#[tokio::test]
async fn frames_over_max_frame_pixels_are_refused_before_decoding() {
    let f = Fixture::new("[cameras]\nmax_frame_pixels = 4096\n");
    let r = f.send(upload(KEY, "big", jpeg(128, 64, [1, 2, 3]))).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text());
    assert!(r.text().contains("128x64"), "{}", r.text());
    assert!(
        f.state.bus.get("big").is_none(),
        "no stream for a refused frame"
    );
    let r = f.send(upload(KEY, "small", jpeg(64, 64, [1, 2, 3]))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

#[tokio::test]
async fn the_device_port_serves_only_the_device_api() {
    let f = Fixture::new("");
    let port = device_port(f.state.clone()).layer(MockConnectInfo(peer()));
    let r = send(&port, get("/health")).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = send(&port, get("/api/status")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.json()["error"].is_string());
    let r = send(&port, upload("wrong-key", "x", jpeg(8, 8, [0, 0, 0]))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn seed_001_status_and_mjpeg_page() {
    let f = Fixture::new("");
    let r = f.get("/status").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.json(),
        json!({"camera_clients": 0, "viewer_clients": 0, "streaming": false})
    );
    // No camera has sent a frame: the single-camera page says so.
    let r = f.get("/mjpeg").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.json()["error"].is_string());
    // After a frame, it is the viewer of the most recently active camera.
    let r = f.send(upload(KEY, "Porch", jpeg(16, 16, [0, 0, 0]))).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = f.get("/mjpeg").await;
    assert_eq!(r.status, StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(r.header(header::LOCATION), "/streams/porch?codec=mjpeg");
}

/// A JPEG that passes the checks at ingest (SOI, EOI, a sane frame header) but does not decode:
/// its quantisation tables are left out, which only the decoder notices.
fn undecodable_jpeg(w: u32, h: u32) -> Vec<u8> {
    let j = jpeg(w, h, [10, 200, 30]);
    let mut out = j[..2].to_vec();
    let mut i = 2;
    while i + 4 < j.len() && j[i] == 0xFF && j[i + 1] != 0xDA {
        let len = usize::from(u16::from_be_bytes([j[i + 2], j[i + 3]]));
        if j[i + 1] != 0xDB {
            out.extend_from_slice(&j[i..i + 2 + len]);
        }
        i += 2 + len;
    }
    out.extend_from_slice(&j[i..]);
    out
}

#[tokio::test]
async fn snapshot_of_an_undecodable_frame_is_503() {
    // Issue 13: snapshot.png answered 500 (a bug, by the API's own rules) and snapshot.jpg 200
    // with bytes no one can show. The camera's fault, and its next frame may be fine: 503 in both.
    let f = Fixture::new("");
    let cam = f.stream("cam", StreamKind::Camera, 64, 48);
    let bad = MediaFrame::from_jpeg(Bytes::from(undecodable_jpeg(64, 48)), 0, 1)
        .expect("passes the ingest checks");
    cam.publish(bad);
    for format in ["png", "jpg"] {
        let r = f.get(&format!("/api/streams/cam/snapshot.{format}")).await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{format}");
        assert_eq!(
            r.json()["error"],
            "the newest frame of \"cam\" does not decode",
            "{format}"
        );
    }
}

#[tokio::test]
async fn mjpeg_before_the_first_frame_waits() {
    // Issue 13: a declared stream with no frame yet (right after a restart) answered 200 with the
    // boundary line alone and ended after 1 s, so reconnecting clients stopped for good. Now the
    // response stays open and the first part is the first frame.
    let f = Fixture::new("");
    let s = f.stream("cam", StreamKind::Camera, 48, 32);
    let resp = f
        .router
        .clone()
        .oneshot(get("/api/streams/cam/mjpeg"))
        .await
        .expect("infallible");
    assert_eq!(resp.status(), StatusCode::OK);
    let mut body = resp.into_body();
    let mut got = Vec::new();
    // Past the 1 s repeat interval with no frame: the body is still open, nothing but the opening.
    let waited = tokio::time::timeout(std::time::Duration::from_millis(2500), async {
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.expect("a frame").into_data() {
                got.extend_from_slice(&data);
            }
        }
    })
    .await;
    assert!(
        waited.is_err(),
        "the response ended: {:?}",
        String::from_utf8_lossy(&got)
    );
    assert_eq!(got, b"--pixelwireframe\r\n");
    let image = jpeg(48, 32, [0, 128, 255]);
    s.publish(MediaFrame::from_jpeg(Bytes::from(image.clone()), 0, 1).expect("a JPEG"));
    tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while got.len() < 18 + image.len() {
            let frame = body.frame().await.expect("more body").expect("a frame");
            if let Ok(data) = frame.into_data() {
                got.extend_from_slice(&data);
            }
        }
    })
    .await
    .expect("the first frame in time");
    assert!(
        got.windows(image.len()).any(|w| w == image.as_slice()),
        "the first part carries the frame"
    );
}

fn route_request(method: &str, path: &str, content_type: &str, body: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body.to_string()))
        .expect("request")
}

const ROUTED: &str = r#"
[[displays]]
id = "desk-1"
stream = "cpu"

[[legacy_displays]]
address = "192.168.1.50"
stream = "pattern"
"#;

/// A display's rate-control policy is switched through `PATCH /api/displays/{id}` apart from its
/// stream, a connected display's session is told through its command channel, and `null` returns
/// to the configured policy.
#[tokio::test]
async fn display_prefer_switches_through_patch_and_reaches_a_connected_display() {
    let f = Fixture::new(ROUTED);
    f.stream("cpu", StreamKind::Generated, 32, 24);
    // a connected display's command channel, as its connection task holds it
    let (tx, mut commands) = tokio::sync::mpsc::channel(4);
    f.connect_display("desk-1", tx);
    let r = f
        .send(route_request(
            "PATCH",
            "/api/displays/desk-1",
            "application/json",
            r#"{"prefer":"detail"}"#,
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    assert_eq!(
        (&v["prefer"], &v["prefer_origin"], &v["configured_prefer"]),
        (&json!("detail"), &json!("override"), &json!("motion"))
    );
    assert_eq!(
        (&v["stream"], &v["origin"]),
        (&json!("cpu"), &json!("config"))
    );
    match commands.try_recv() {
        Ok(crate::display::registry::DisplayCommand::SetPrefer(p)) => {
            assert_eq!(p, pixelwire_core::Prefer::Detail)
        }
        other => panic!("the display was not told: {:?}", other.is_ok()),
    }
    let v = f.get("/api/displays/desk-1").await.json();
    assert_eq!(v["prefer"], "detail");
    let r = f
        .send(route_request(
            "PATCH",
            "/api/displays/desk-1",
            "application/json",
            r#"{"prefer":null}"#,
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        (&r.json()["prefer"], &r.json()["prefer_origin"]),
        (&json!("motion"), &json!("config"))
    );
    assert!(matches!(
        commands.try_recv(),
        Ok(crate::display::registry::DisplayCommand::SetPrefer(
            pixelwire_core::Prefer::Motion
        ))
    ));
}

/// Issue 15, part 4: a display's stream is switched through `PUT`/`PATCH /api/displays/{id}`,
/// and a connected display's route (what its connection task watches) follows.
#[tokio::test]
async fn display_streams_switch_through_put_and_patch_and_null_returns_to_the_config() {
    let f = Fixture::new(ROUTED);
    for name in ["bios", "cpu", "pattern"] {
        f.stream(name, StreamKind::Generated, 32, 24);
    }
    let mut route = f.state.routes.subscribe("desk-1");
    assert_eq!(*route.borrow_and_update(), "cpu");
    let r = f.get("/api/displays/desk-1").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.json(),
        json!({"id": "desk-1", "stream": "cpu", "origin": "config",
               "configured_stream": "cpu", "prefer": "motion", "prefer_origin": "config",
               "configured_prefer": "motion", "connected": false, "status": null})
    );
    let json_type = "application/json";
    let r = f
        .send(route_request(
            "PUT",
            "/api/displays/desk-1",
            json_type,
            r#"{"stream":"pattern"}"#,
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    assert_eq!(
        (&v["stream"], &v["origin"]),
        (&json!("pattern"), &json!("override"))
    );
    assert_eq!(v["configured_stream"], "cpu");
    assert!(route.has_changed().unwrap());
    assert_eq!(*route.borrow_and_update(), "pattern");
    let r = f
        .send(route_request(
            "PATCH",
            "/api/displays/desk-1",
            "application/json; charset=utf-8",
            r#"{"stream":"bios"}"#,
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(*route.borrow_and_update(), "bios");
    assert_eq!(f.get("/api/displays/desk-1").await.json()["stream"], "bios");
    let r = f
        .send(route_request(
            "PUT",
            "/api/displays/desk-1",
            json_type,
            r#"{"stream":null}"#,
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        (&r.json()["stream"], &r.json()["origin"]),
        (&json!("cpu"), &json!("config"))
    );
    assert_eq!(*route.borrow_and_update(), "cpu");
    assert!(!f.state.routes.has_override("desk-1"));
    // A sketch, by the id `/api/displays` lists, when a [[legacy_displays]] entry matches it.
    let r = f
        .send(route_request(
            "PUT",
            "/api/displays/legacy-192.168.1.50-8888",
            json_type,
            r#"{"stream":"cpu"}"#,
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        (&r.json()["stream"], &r.json()["configured_stream"]),
        (&json!("cpu"), &json!("pattern"))
    );
}

/// Unknown displays and streams, malformed or non-JSON bodies: a 4xx with a JSON reason, and the
/// route (stored and watched) stays as it was.
#[tokio::test]
async fn display_route_errors_change_nothing() {
    let f = Fixture::new(ROUTED);
    for name in ["bios", "cpu", "pattern"] {
        f.stream(name, StreamKind::Generated, 32, 24);
    }
    let mut route = f.state.routes.subscribe("desk-1");
    let put = |path: &str, ct: &str, body: &str| route_request("PUT", path, ct, body);
    let ok = f
        .send(put(
            "/api/displays/desk-1",
            "application/json",
            r#"{"stream":"pattern"}"#,
        ))
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    route.borrow_and_update();
    let big = format!(r#"{{"stream":"{}"}}"#, "x".repeat(8000));
    let cases: Vec<(Request<Body>, StatusCode, &str)> = vec![
        (
            put(
                "/api/displays/desk-1",
                "application/json",
                r#"{"stream":"nope"}"#,
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "no stream \"nope\" (streams: bios, cpu, pattern)",
        ),
        (
            put(
                "/api/displays/nobody",
                "application/json",
                r#"{"stream":"cpu"}"#,
            ),
            StatusCode::NOT_FOUND,
            "no display \"nobody\"",
        ),
        (
            put(
                "/api/displays/legacy-10.0.0.1-8888",
                "application/json",
                r#"{"stream":"cpu"}"#,
            ),
            StatusCode::NOT_FOUND,
            "no display \"legacy-10.0.0.1-8888\"",
        ),
        (
            put("/api/displays/desk-1", "application/json", r#"{"stream":"#),
            StatusCode::BAD_REQUEST,
            "not valid JSON",
        ),
        (
            put(
                "/api/displays/desk-1",
                "application/json",
                r#"{"stream":["cpu"]}"#,
            ),
            StatusCode::BAD_REQUEST,
            "must be an object with \"stream\"",
        ),
        (
            put(
                "/api/displays/desk-1",
                "application/json",
                r#"{"sream":"cpu"}"#,
            ),
            StatusCode::BAD_REQUEST,
            "must be an object with \"stream\"",
        ),
        (
            put(
                "/api/displays/desk-1",
                "application/json",
                r#"{"prefer":"fast"}"#,
            ),
            StatusCode::BAD_REQUEST,
            "\"prefer\" (\"motion\", \"detail\" or null)",
        ),
        // What an HTML form on another site could send.
        (
            put(
                "/api/displays/desk-1",
                "application/x-www-form-urlencoded",
                "stream=cpu",
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "must be JSON",
        ),
        (
            put("/api/displays/desk-1", "text/plain", r#"{"stream":"cpu"}"#),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "must be JSON",
        ),
    ];
    for (req, status, reason) in cases {
        let what = format!("{} {}", req.method(), req.uri());
        let r = f.send(req).await;
        assert_eq!(r.status, status, "{what}: {}", r.text());
        let error = r.json()["error"].as_str().unwrap_or_default().to_string();
        assert!(
            error.contains(reason),
            "{what}: {error:?} should say {reason:?}"
        );
    }
    let r = f
        .send(put("/api/displays/desk-1", "application/json", &big))
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Nothing changed: the override, the watched route, and no entry for the unknown ids.
    assert!(!route.has_changed().unwrap());
    assert_eq!(f.state.routes.route("desk-1").stream, "pattern");
    assert!(!f.state.routes.has_override("nobody"));
    assert_eq!(
        f.get("/api/displays/nobody").await.status,
        StatusCode::NOT_FOUND
    );
    // POST and DELETE are not routes of a display.
    let r = f
        .send(route_request(
            "POST",
            "/api/displays/desk-1",
            "application/json",
            r#"{"stream":"cpu"}"#,
        ))
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(f.state.routes.route("desk-1").stream, "pattern");
}

/// A browser on another origin asks before a JSON `PUT` (CORS preflight): the server grants
/// nothing, so the page's API cannot be driven from someone else's site.
#[tokio::test]
async fn cross_origin_preflight_for_a_display_switch_is_not_granted() {
    let f = Fixture::new(ROUTED);
    let r = f
        .send(
            Request::builder()
                .method("OPTIONS")
                .uri("/api/displays/desk-1")
                .header(header::ORIGIN, "https://evil.example")
                .header(header::ACCESS_CONTROL_REQUEST_METHOD, "PUT")
                .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "content-type")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert!(!r.status.is_success(), "{:?}", r.status);
    assert!(
        !r.headers
            .keys()
            .any(|k| k.as_str().starts_with("access-control-")),
        "{:?}",
        r.headers
    );
}
