//! HTTPS (`server.https`, issue 13): a rustls client that trusts only the server's self-signed
//! certificate reads `/api/status` over TLS; a seed 002 device uploads over it; a client hello of
//! garbage closes only that connection; the timeouts and caps of HTTP hold; and headless Chromium plays H.264 through WebCodecs from a non-localhost name
//! (`pixelwire.test`, mapped to 127.0.0.1) over HTTPS, where the same page over plain HTTP is not
//! a secure context and falls back to WebRTC (WHEP): the reason HTTPS is built in.

use crate::common::chromium;
use crate::common::{get, start_with_server_keys};
use pixelwire_server::server::Running;
use pixelwire_server::source::render::pattern::{CIRCLE_CENTER_COLOR, circle_center};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};

const STREAMS: &str = "[[streams]]\nname = \"still\"\nsource = \"pattern\"\nstill = true\n";
const HTTPS_KEYS: &str = "https = \"127.0.0.1:0\"\ntls_names = [\"pixelwire.test\"]\n";

async fn start_https() -> Running {
    start_with_server_keys("still", HTTPS_KEYS, STREAMS).await
}

/// A client that trusts the certificate in the server's `data_dir/tls/cert.pem` and nothing else.
fn client_trusting(running: &Running) -> TlsConnector {
    let pem = running.state.cfg.server.data_dir.join("tls/cert.pem");
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&pem).expect("cert.pem") {
        roots
            .add(cert.expect("PEM"))
            .expect("a usable trust anchor");
    }
    #[allow(deprecated)] // the server's provider too (`crates/server/src/tls/mod.rs`)
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    TlsConnector::from(Arc::new(config))
}

/// GET `path` over HTTPS as `name`; (status line, body).
async fn get_tls(running: &Running, name: &str, path: &str) -> (String, Vec<u8>) {
    let req = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    request_tls(running, name, req.as_bytes()).await
}

/// Sends `request` (which asks the server to close) over HTTPS as `name`; (status line, body).
async fn request_tls(running: &Running, name: &str, request: &[u8]) -> (String, Vec<u8>) {
    let addr = running.https_addr.expect("https listener");
    let tcp = TcpStream::connect(addr).await.expect("connect https");
    let name = ServerName::try_from(name.to_string()).expect("server name");
    let mut tls = tokio::time::timeout(
        Duration::from_secs(10),
        client_trusting(running).connect(name, tcp),
    )
    .await
    .expect("handshake in time")
    .expect("the certificate is trusted for this name");
    tls.write_all(request).await.expect("send");
    let mut raw = Vec::new();
    // The server closes after the response; a missing close_notify is no error for this check.
    let _ = tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut raw))
        .await
        .expect("response in time");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head.lines().next().unwrap_or_default().to_string();
    let mut body = raw[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    (status, body)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let len =
            usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap().trim(), 16).unwrap();
        if len == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + len]);
        b = &b[eol + 2 + len + 2..];
    }
}

/// The still pattern's circle centre, as the page painted it, has the circle's colour.
async fn assert_centre_painted(page: &mut chromium::Page, what: &str) {
    let (cx, cy) = circle_center(320, 240, 0);
    let s = page
        .eval(&format!(
            "JSON.stringify(pixelwireViewer.sample({cx}, {cy}))"
        ))
        .await
        .unwrap();
    let s: Vec<i64> = serde_json::from_str(s.as_str().unwrap()).unwrap();
    let c = CIRCLE_CENTER_COLOR;
    let want = [i64::from(c.r), i64::from(c.g), i64::from(c.b)];
    assert!(
        s.iter().zip(want).all(|(a, b)| (a - b).abs() <= 24),
        "{what}: centre painted {s:?}, source {want:?}"
    );
}

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_over_https_with_a_client_trusting_the_generated_certificate() {
    let running = start_https().await;
    let plain = json(&get(running.http_addr, "/api/status").await.body);
    let fp = plain["https"]["fingerprint_sha256"]
        .as_str()
        .expect("fingerprint")
        .to_string();
    assert_eq!(fp.len(), 95, "{fp}");
    assert_eq!(plain["https"]["self_signed"], true);

    for name in ["localhost", "pixelwire.test", "127.0.0.1"] {
        let (status, body) = get_tls(&running, name, "/api/status").await;
        assert!(status.contains(" 200 "), "{name}: {status}");
        let st = json(&body);
        assert_eq!(st["https"]["fingerprint_sha256"], fp.as_str(), "{name}");
        assert!(st["streams"].as_array().is_some_and(|s| !s.is_empty()));
    }
    // The device API and the page are on the same router.
    let (status, _) = get_tls(&running, "localhost", "/").await;
    assert!(status.contains(" 200 "), "{status}");
    let (status, _) = get_tls(&running, "localhost", "/health").await;
    assert!(
        status.contains(" 200 ") || status.contains(" 401 "),
        "{status}"
    );

    // A name the certificate was not made for is refused by the client.
    let tcp = TcpStream::connect(running.https_addr.unwrap())
        .await
        .unwrap();
    let wrong = ServerName::try_from("elsewhere.test").unwrap();
    assert!(client_trusting(&running).connect(wrong, tcp).await.is_err());

    running.shutdown();
    running.join(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_hello_of_garbage_closes_only_that_connection() {
    let running = start_https().await;
    let addr = running.https_addr.unwrap();
    // Plain HTTP to the TLS port, then bytes that are no TLS record at all.
    for junk in [
        &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        &[0x16, 0x03, 0x01, 0xff, 0xff, 0, 1, 2, 3][..],
        &[0xAB; 4096][..],
    ] {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let _ = s.write_all(junk).await;
        let mut buf = vec![0u8; 4096];
        // The server answers with a TLS alert at most, then closes.
        let closed = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await;
        assert!(
            closed.is_ok(),
            "the connection is closed after {:?}",
            &junk[..4]
        );
    }
    let (status, _) = get_tls(&running, "localhost", "/api/status").await;
    assert!(status.contains(" 200 "), "{status}");
    let metrics = String::from_utf8(get(running.http_addr, "/metrics").await.body).unwrap();
    let failures: f64 = metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix("pixelwire_http_tls_handshake_failures_total ")?
                .parse()
                .ok()
        })
        .expect("the failure counter");
    assert!(failures >= 3.0, "{failures}");
    running.shutdown();
    running.join(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h264_plays_over_https_from_a_lan_name() {
    assert!(
        chromium::available(),
        "chromium not installed: run scripts/setup-test-deps.sh (CI installs it)"
    );
    let running = start_https().await;
    // Watching the still stream now renders its one frame at elapsed ≈ 0, with the circle at the
    // centre (as in `browser_viewer.rs`).
    let snap = get(running.http_addr, "/api/streams/still/snapshot.png").await;
    assert_eq!(snap.status, 200);
    let st = json(&get(running.http_addr, "/api/status").await.body);
    let spki = st["https"]["spki_sha256_base64"]
        .as_str()
        .expect("SPKI pin")
        .to_string();
    // `pixelwire.test` is not localhost to Chromium: only the certificate makes the page secure.
    let mut browser = chromium::Browser::launch_with(&[
        "--host-resolver-rules=MAP pixelwire.test 127.0.0.1".to_string(),
        format!("--ignore-certificate-errors-spki-list={spki}"),
    ])
    .await
    .expect("launch chromium");

    let https = running.https_addr.unwrap().port();
    let url = format!("https://pixelwire.test:{https}/streams/still?codec=h264");
    let mut page = browser
        .open(&url)
        .await
        .expect("open the viewer over https");
    page.wait_for(
        "window.pixelwireViewer?.framesPresented > 0",
        Duration::from_secs(20),
    )
    .await
    .unwrap_or_else(|e| panic!("https: nothing painted: {e}\n{}", page.console_tail(20)));
    let v = page
        .eval("JSON.stringify({path: pixelwireViewer.path, secure: window.isSecureContext, webcodecs: typeof VideoDecoder, host: location.host, err: pixelwireViewer.error})")
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(v.as_str().unwrap()).unwrap();
    assert_eq!(v["secure"], true, "{v}");
    assert_eq!(v["webcodecs"], "function", "{v}");
    assert_eq!(v["path"], "h264", "the page fell back over https: {v}");
    assert_eq!(v["host"], format!("pixelwire.test:{https}"), "{v}");
    assert_centre_painted(&mut page, "https").await;

    // The status page over HTTPS shows the fingerprint a user compares with the browser's.
    let fp = st["https"]["fingerprint_sha256"]
        .as_str()
        .unwrap()
        .to_string();
    let mut status_page = browser
        .open(&format!("https://pixelwire.test:{https}/"))
        .await
        .expect("open the status page over https");
    status_page
        .wait_for(
            &format!("document.getElementById('https-fingerprint')?.textContent === {fp:?} && !document.getElementById('https').hidden"),
            Duration::from_secs(10),
        )
        .await
        .unwrap_or_else(|e| panic!("the page shows no fingerprint: {e}\n{}", status_page.console_tail(20)));

    // The same page over plain HTTP from that name: no secure context, no WebCodecs: the same
    // H.264 over WebRTC (WHEP), which needs no secure context.
    let http = running.http_addr.port();
    let url = format!("http://pixelwire.test:{http}/streams/still?codec=h264");
    let mut page = browser.open(&url).await.expect("open the viewer over http");
    page.wait_for(
        "window.pixelwireViewer?.framesPresented > 0",
        Duration::from_secs(20),
    )
    .await
    .unwrap_or_else(|e| panic!("http: nothing painted: {e}\n{}", page.console_tail(20)));
    let v = page
        .eval("JSON.stringify({path: pixelwireViewer.path, secure: window.isSecureContext, webcodecs: typeof VideoDecoder})")
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(v.as_str().unwrap()).unwrap();
    assert_eq!(v["secure"], false, "{v}");
    assert_eq!(v["webcodecs"], "undefined", "{v}");
    assert_eq!(
        v["path"], "whep",
        "over plain http the page falls back to WHEP: {v}"
    );
    assert_centre_painted(&mut page, "http").await;
    running.shutdown();
    running.join(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_keeps_the_header_timeout_and_the_connection_caps() {
    let keys = format!("{HTTPS_KEYS}header_read_timeout_ms = 300\nmax_connections_per_peer = 2\n");
    let running = start_with_server_keys("still", &keys, STREAMS).await;
    let addr = running.https_addr.unwrap();
    let closed_within = |mut s: TcpStream, limit: Duration| async move {
        let mut buf = [0u8; 64];
        tokio::time::timeout(limit, async {
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await
        .is_ok()
    };
    // Connected, never says hello: closed at the handshake timeout.
    let silent = TcpStream::connect(addr).await.unwrap();
    assert!(
        closed_within(silent, Duration::from_secs(3)).await,
        "a silent peer is closed"
    );

    // Handshake done, no request: hyper's header-read timeout closes it.
    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut tls = client_trusting(&running)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("handshake");
    let mut buf = [0u8; 64];
    let idle = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            match tls.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(
        idle.is_ok(),
        "an idle TLS connection is closed at the header timeout"
    );

    // Two places per peer: a third connection is closed at accept, before any TLS.
    let a = TcpStream::connect(addr).await.unwrap();
    let b = TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut third = TcpStream::connect(addr).await.unwrap();
    let mut got = Vec::new();
    let r = tokio::time::timeout(Duration::from_millis(250), third.read_to_end(&mut got)).await;
    assert!(
        matches!(r, Ok(Ok(0)) | Ok(Err(_))),
        "refused at once, no bytes: {r:?} {got:?}"
    );
    drop((a, b));
    let metrics = String::from_utf8(get(running.http_addr, "/metrics").await.body).unwrap();
    assert!(
        metrics.contains("pixelwire_http_connections_refused_total{reason=\"peer_full\"} 1"),
        "{}",
        metrics
            .lines()
            .filter(|l| l.contains("refused"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    running.shutdown();
    running.join(Duration::from_secs(5)).await;
}

/// seed 002's device API over HTTPS ("Use HTTPS endpoints when possible"): register, then upload a
/// frame as its firmware does, and the frame is the stream's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seed_002_device_uploads_over_https() {
    const KEY: &str = "dev-api-key-change-in-production";
    let running = start_https().await;
    let reg = r#"{"deviceId":"ESP32-CAM-007","deviceName":"Camera #7","deviceType":"camera","ipAddress":"127.0.0.1","capabilities":["streaming"]}"#;
    let req = format!(
        "POST /api/v1/devices/register HTTP/1.1\r\nHost: pixelwire.test\r\nConnection: close\r\nX-API-Key: {KEY}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{reg}",
        reg.len()
    );
    let (status, body) = request_tls(&running, "pixelwire.test", req.as_bytes()).await;
    assert!(
        status.contains(" 200 "),
        "{status} {}",
        String::from_utf8_lossy(&body)
    );

    let rgba: Vec<u8> = (0..64 * 48)
        .flat_map(|i| [(i % 251) as u8, 90, 200, 255])
        .collect();
    let image = pixelwire_media::jpeg::encode_rgba(&rgba, 64, 48, 90).unwrap();
    let mut body = Vec::new();
    body.extend_from_slice(b"------ESP32CAMBoundary\r\nContent-Disposition: form-data; name=\"image\"; filename=\"frame.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n");
    body.extend_from_slice(&image);
    body.extend_from_slice(b"\r\n------ESP32CAMBoundary--\r\n");
    let mut req = format!(
        "POST /api/v1/stream/stream HTTP/1.1\r\nHost: pixelwire.test\r\nConnection: close\r\nX-API-Key: {KEY}\r\n\
         X-Device-Id: ESP32-CAM-007\r\nContent-Type: multipart/form-data; boundary=----ESP32CAMBoundary\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(&body);
    let (status, answer) = request_tls(&running, "pixelwire.test", &req).await;
    assert!(
        status.contains(" 200 "),
        "{status} {}",
        String::from_utf8_lossy(&answer)
    );
    let snap = get(running.http_addr, "/api/streams/esp32-cam-007/snapshot.jpg").await;
    assert_eq!(snap.status, 200);
    assert_eq!(
        snap.body, image,
        "the frame sent over HTTPS is the stream's"
    );
    running.shutdown();
    running.join(Duration::from_secs(5)).await;
}
