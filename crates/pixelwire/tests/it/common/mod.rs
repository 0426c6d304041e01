//! Helpers shared by the integration tests: a server on port 0, a minimal HTTP client, PNG
//! decoding, and an emulated pixelwire device built on the shared proto device session.
#![allow(dead_code)]

pub mod chromium;
pub mod prometheus;
use pixelwire_proto::{
    CodecSet, DeviceSession, DoubleBuffer, Hello, PixelFormat, PixelOrder, ShortStr,
};
use pixelwire_server::config::Config;
use pixelwire_server::server::Running;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Starts a server with `extra` TOML appended to a config that binds everything to port 0 and
/// shows `default_stream` on unrouted displays.
pub async fn start_with_default(default_stream: &str, extra: &str) -> Running {
    start_with_server_keys(default_stream, "", extra).await
}

/// [`start_with_default`] with `server_keys` (TOML lines) added to its `[server]` table.
pub async fn start_with_server_keys(
    default_stream: &str,
    server_keys: &str,
    extra: &str,
) -> Running {
    let data = temp_dir("data");
    // Every listener on port 0, so tests run in parallel; a `[cameras]` table in `extra` replaces
    // these camera listeners.
    let cameras = if extra.contains("[cameras]") {
        String::new()
    } else {
        CAMERAS_ON_PORT_0.to_string()
    };
    // The WebRTC port on port 0 too, unless the test configures `[webrtc]` itself.
    let cameras = match (extra.contains("[webrtc]"), cameras.is_empty()) {
        (true, _) => cameras.replace(WEBRTC_ON_PORT_0, ""),
        (false, true) => WEBRTC_ON_PORT_0.to_string(),
        (false, false) => cameras,
    };
    // RTSP on an ephemeral port too, unless the test configures it.
    let rtsp = if extra.contains("[rtsp]") {
        ""
    } else {
        RTSP_ON_PORT_0
    };
    let text = format!(
        "[server]\nhttp = \"127.0.0.1:0\"\ndisplay = \"127.0.0.1:0\"\ndefault_stream = \"{default_stream}\"\ndata_dir = \"{}\"\n{server_keys}{cameras}{rtsp}{extra}",
        data.display()
    );
    let cfg = Config::parse(&text, None).expect("test config");
    pixelwire_server::server::start(cfg)
        .await
        .expect("server starts")
}

/// RTSP on an ephemeral loopback port (its default, 8554, would collide between tests).
pub const RTSP_ON_PORT_0: &str = "[rtsp]\nlisten = [\"127.0.0.1:0\"]\n";

/// Camera listeners and the WebRTC port on ephemeral loopback ports.
/// `[cameras]` comes last, so a test may append keys of its own to it.
pub const CAMERAS_ON_PORT_0: &str = "[webrtc]\nlisten = \"127.0.0.1:0\"\n[cameras]\nwebsocket_listen = [\"127.0.0.1:0\"]\nviewer_listen = [\"127.0.0.1:0\"]\nhttp_listen = [\"127.0.0.1:0\"]\ntcp_listen = [\"127.0.0.1:0\"]\n";

/// The WebRTC (WHEP) UDP port on an ephemeral loopback port (its default, 8555, is one port for
/// every test running at once).
pub const WEBRTC_ON_PORT_0: &str = "[webrtc]\nlisten = \"127.0.0.1:0\"\n";

/// A fresh directory under the system temp dir.
pub fn temp_dir(what: &str) -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("pixelwire-test-{}-{what}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// [`start_with_default`] with the built-in `bios` default.
pub async fn start(extra: &str) -> Running {
    start_with_default("bios", extra).await
}

/// A connection to `addr` from the loopback address `from` (every 127.x.y.z is local on Linux),
/// so that tests can be several peers.
pub async fn connect_from(from: [u8; 4], addr: SocketAddr) -> std::io::Result<TcpStream> {
    let sock = tokio::net::TcpSocket::new_v4()?;
    sock.bind(SocketAddr::from((from, 0)))?;
    sock.connect(addr).await
}

/// A response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: String,
    pub body: Vec<u8>,
}

/// GET over plain HTTP/1.1.
pub async fn get(addr: SocketAddr, path: &str) -> Response {
    let mut s = TcpStream::connect(addr).await.expect("connect http");
    let req = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("send request");
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut raw))
        .await
        .expect("response in time")
        .expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let mut body = raw[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    Response {
        status,
        headers: head,
        body,
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let n = usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap_or("0").trim(), 16)
            .unwrap_or(0);
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + n]);
        b = &b[eol + 2 + n + 2..];
    }
}

/// Decodes a PNG into (width, height, RGB bytes).
pub fn decode_png(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    pixelwire_media::png::decode_rgb(bytes).expect("an 8-bit RGB(A) PNG")
}

/// A HELLO for an emulated device.
pub fn hello(id: &str, w: u16, h: u16) -> Hello {
    Hello {
        version: 1,
        width: w,
        height: h,
        pixel_format: PixelFormat::Rgb565(PixelOrder::BigEndian),
        codecs: CodecSet::all(),
        max_packet_bytes: 4096,
        frame_buffer_bytes: 0,
        window: 2,
        device_id: ShortStr::new(id).expect("short id"),
        firmware: ShortStr::new("test-device").expect("short"),
    }
}

/// An emulated pixelwire device on a real socket.
pub struct Device {
    pub sock: TcpStream,
    pub session: DeviceSession,
    pub panel: DoubleBuffer<Vec<u8>>,
    pub width: u16,
    pub height: u16,
    pub closed: Option<String>,
}

fn now_us() -> u64 {
    pixelwire_server::clock::now().as_micros()
}

impl Device {
    /// Connects and says HELLO.
    pub async fn connect(addr: SocketAddr, hello: Hello) -> Device {
        let mut sock = TcpStream::connect(addr)
            .await
            .expect("connect display port");
        sock.set_nodelay(true).ok();
        let mut session = DeviceSession::new(hello, now_us());
        let first = session.take_transmit().to_vec();
        sock.write_all(&first).await.expect("send hello");
        let format = hello.pixel_format;
        let n = format.frame_bytes(usize::from(hello.width), usize::from(hello.height));
        Device {
            sock,
            session,
            panel: DoubleBuffer::with_format(
                hello.width,
                hello.height,
                format,
                vec![0; n],
                vec![0; n],
            ),
            width: hello.width,
            height: hello.height,
            closed: None,
        }
    }

    /// Runs the device for `d` (or until the connection ends): reads, decodes, acks.
    pub async fn run_for(&mut self, d: Duration) {
        let end = tokio::time::Instant::now() + d;
        let mut buf = vec![0u8; 8192];
        while self.closed.is_none() {
            let r = tokio::time::timeout_at(end, self.sock.read(&mut buf)).await;
            match r {
                Err(_) => return,
                Ok(Ok(0)) => self.closed = Some("server closed".into()),
                Ok(Err(e)) => self.closed = Some(format!("read error: {e}")),
                Ok(Ok(n)) => {
                    if let Err(e) = self
                        .session
                        .handle_input(now_us(), &buf[..n], &mut self.panel)
                    {
                        self.closed = Some(e.to_string());
                    }
                    let _ = self.session.handle_timeout(now_us());
                    if self.session.has_transmit() {
                        let out = self.session.take_transmit().to_vec();
                        if self.sock.write_all(&out).await.is_err() {
                            self.closed = Some("write failed".into());
                        }
                    }
                }
            }
        }
    }

    /// Frames presented so far.
    pub fn frames(&self) -> u32 {
        self.session.frames_presented()
    }

    /// The front buffer of a grey panel as 8-bit grey, one byte per pixel.
    pub fn front_gray8(&self) -> Vec<u8> {
        let format = self.session.hello().pixel_format;
        let stride = format.row_bytes(usize::from(self.width));
        let mut out = Vec::new();
        for row in self.panel.front.chunks(stride) {
            out.extend(
                (0..usize::from(self.width)).map(|x| format.gray_to_8bit(format.unpack(row, x))),
            );
        }
        out
    }

    /// The front buffer as RGB888.
    pub fn front_rgb(&self) -> Vec<u8> {
        self.panel
            .front
            .chunks_exact(2)
            .flat_map(|p| pixelwire_proto::rgb565_to_rgb888(u16::from_be_bytes([p[0], p[1]])))
            .collect()
    }
}
