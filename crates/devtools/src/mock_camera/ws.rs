//! Seed 001's camera (`seed-protocols.md` §B.2): the AtomS3R firmware's `esp_websocket_client`
//! 1.3.0 over ESP-IDF's `transport_ws`, reproduced on the wire.
//!
//! * Handshake exactly as `ws_connect` writes it: `GET <path> HTTP/1.1`, `Connection: Upgrade`,
//!   `Host: <host>:<port>` (always with the port), `User-Agent: ESP32 Websocket Client`,
//!   `Upgrade: websocket`, `Sec-WebSocket-Version: 13`, `Sec-WebSocket-Key` (16 random bytes,
//!   base64); no `Origin`, no subprotocol. The reply must carry the right `Sec-WebSocket-Accept`.
//! * Each JPEG is one binary message; above `buffer_size` (16 KiB) it is fragmented like
//!   `esp_websocket_client_send_with_exact_opcode`: BINARY with FIN=0, CONTINUATION frames of at
//!   most 16384 bytes, FIN on the last. One write per frame, each within the 1 s send timeout;
//!   a failed send aborts the connection. Every frame is masked with a fresh random key.
//! * Pings (empty) every 10 s; pings from the server are answered with their payload; no pong
//!   for 120 s after a ping aborts. A server CLOSE is echoed, then the client reconnects after
//!   5 s. Text and binary from the server are ignored.
//!
//! The bytes are built and parsed in [`super::ws_wire`]; this file does the IO and the timing.

use super::runner::Run;
use super::target::Endpoint;
pub use super::ws_wire::{DEFAULT_BUFFER_SIZE, WsError};
use super::ws_wire::{
    MaskSource, OP_CLOSE, OP_PING, OP_PONG, ServerFrame, check_upgrade, encode_binary_message,
    encode_frame, handshake_request, parse_server_frame,
};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_tungstenite::tungstenite::handshake::client::generate_key;

/// `network_timeout_ms` of seed 001 (connect and handshake).
pub const NETWORK_TIMEOUT: Duration = Duration::from_secs(15);
/// The firmware's per-send timeout (`esp_websocket_client_send_bin(.., pdMS_TO_TICKS(1000))`).
pub const SEND_TIMEOUT: Duration = Duration::from_secs(1);
/// `WEBSOCKET_PINGPONG_TIMEOUT_SEC`.
pub const PONG_TIMEOUT: Duration = Duration::from_secs(120);

/// A connected seed-001 camera.
pub struct WsCamera {
    stream: TcpStream,
    rx: Vec<u8>,
    masks: MaskSource,
    buffer_size: usize,
    ping_sent_at: Option<Instant>,
}

impl WsCamera {
    /// Connects and upgrades within [`NETWORK_TIMEOUT`].
    pub async fn connect(
        host: &str,
        port: u16,
        path: &str,
        buffer_size: usize,
    ) -> Result<Self, WsError> {
        timeout(
            NETWORK_TIMEOUT,
            Self::connect_inner(host, port, path, buffer_size),
        )
        .await
        .map_err(|_| WsError::Timeout)?
    }

    async fn connect_inner(
        host: &str,
        port: u16,
        path: &str,
        buffer_size: usize,
    ) -> Result<Self, WsError> {
        let mut stream = TcpStream::connect((host, port)).await?;
        let _ = stream.set_nodelay(true);
        let key = generate_key();
        let host_in_header = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.into()
        };
        let request = handshake_request(path, &host_in_header, port, &key);
        stream.write_all(request.as_bytes()).await?;
        let mut rx = Vec::new();
        let head_end = loop {
            if let Some(i) = rx.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if rx.len() > 16 * 1024 {
                return Err(WsError::Handshake("response head too large".into()));
            }
            let mut chunk = [0u8; 1024];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(WsError::Handshake("closed during the handshake".into()));
            }
            rx.extend_from_slice(&chunk[..n]);
        };
        check_upgrade(&String::from_utf8_lossy(&rx[..head_end]), &key)?;
        rx.drain(..head_end);
        Ok(Self {
            stream,
            rx,
            masks: MaskSource::new(),
            buffer_size,
            ping_sent_at: None,
        })
    }

    /// Sends one binary message (fragmented above the buffer size).
    pub async fn send_binary(&mut self, payload: &[u8]) -> Result<(), WsError> {
        for frame in encode_binary_message(payload, self.buffer_size, &mut self.masks) {
            self.write(&frame).await?;
        }
        Ok(())
    }

    /// Sends an empty PING and starts the pong timer unless it is running.
    pub async fn send_ping(&mut self) -> Result<(), WsError> {
        let mut frame = Vec::with_capacity(6);
        encode_frame(&mut frame, OP_PING, true, &[], self.masks.next_mask());
        self.write(&frame).await?;
        self.ping_sent_at.get_or_insert_with(Instant::now);
        Ok(())
    }

    /// True when a ping has waited longer than [`PONG_TIMEOUT`].
    pub fn pong_overdue(&self, now: Instant) -> bool {
        self.ping_sent_at.is_some_and(|t| now - t > PONG_TIMEOUT)
    }

    async fn write(&mut self, frame: &[u8]) -> Result<(), WsError> {
        timeout(SEND_TIMEOUT, self.stream.write_all(frame))
            .await
            .map_err(|_| WsError::Timeout)??;
        Ok(())
    }

    /// Reads whatever the server sent into the buffer. Cancel-safe.
    pub async fn read_more(&mut self) -> Result<(), WsError> {
        let mut chunk = [0u8; 8192];
        let n = self.stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(WsError::Closed);
        }
        self.rx.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// Handles the complete frames read so far: answers pings, notes pongs, echoes a close and
    /// returns [`WsError::Closed`] for it.
    pub async fn handle_incoming(&mut self) -> Result<(), WsError> {
        while let Some(frame) = parse_server_frame(&mut self.rx)? {
            match frame {
                ServerFrame::Ping(payload) => {
                    let mut pong = Vec::with_capacity(payload.len() + 6);
                    encode_frame(&mut pong, OP_PONG, true, &payload, self.masks.next_mask());
                    self.write(&pong).await?;
                }
                ServerFrame::Pong => self.ping_sent_at = None,
                ServerFrame::Close(payload) => {
                    let mut close = Vec::with_capacity(payload.len() + 6);
                    encode_frame(&mut close, OP_CLOSE, true, &payload, self.masks.next_mask());
                    let _ = self.write(&close).await;
                    return Err(WsError::Closed);
                }
                ServerFrame::Data => {}
            }
        }
        Ok(())
    }

    /// Ends cleanly: CLOSE 1000, up to 1 s for the server's CLOSE, then the TCP close.
    pub async fn close(mut self) {
        let mut close = Vec::with_capacity(8);
        encode_frame(
            &mut close,
            OP_CLOSE,
            true,
            &1000u16.to_be_bytes(),
            self.masks.next_mask(),
        );
        if self.write(&close).await.is_ok() {
            let wait_for_echo = async {
                loop {
                    if self.read_more().await.is_err() {
                        return;
                    }
                    while let Ok(Some(f)) = parse_server_frame(&mut self.rx) {
                        if matches!(f, ServerFrame::Close(_)) {
                            return;
                        }
                    }
                }
            };
            let _ = timeout(Duration::from_secs(1), wait_for_echo).await;
        }
        let _ = self.stream.shutdown().await;
    }
}

/// Runs the seed-001 camera until the run ends, reconnecting after errors.
pub(super) async fn run(run: &mut Run, ep: &Endpoint, path: &str) -> anyhow::Result<()> {
    let what = format!("ws://{}:{}{path}", ep.url_host(), ep.port);
    while !run.done() {
        let connect = WsCamera::connect(&ep.host, ep.port, path, run.opts.ws_buffer_size);
        let connected = tokio::select! {
            r = connect => r,
            () = run.until_done() => break,
        };
        let mut cam = match connected {
            Ok(cam) => cam,
            Err(e) => {
                if !run.connect_failed(&what, &e) || !run.backoff().await {
                    break;
                }
                continue;
            }
        };
        run.connected();
        tracing::info!("mock-camera: connected to {what}");
        match session(run, &mut cam).await? {
            None => {
                cam.close().await;
                break;
            }
            Some(e) => {
                tracing::warn!("mock-camera: connection to {what} lost: {e}");
                drop(cam);
                if !run.backoff().await {
                    break;
                }
            }
        }
    }
    Ok(())
}

/// One connection: frames when due, pings every interval, server frames as they come. `None`
/// when the run is over, `Some(error)` when the connection broke.
async fn session(run: &mut Run, cam: &mut WsCamera) -> anyhow::Result<Option<WsError>> {
    let ping_interval = Duration::from_secs_f64(run.opts.ping_interval);
    let mut next_ping = Instant::now() + ping_interval;
    // Frames that arrived together with the 101 response.
    if let Err(e) = cam.handle_incoming().await {
        return Ok(Some(e));
    }
    while !run.done() {
        let frame_at = run.pacer.next_at();
        tokio::select! {
            () = run.until_done() => break,
            r = cam.read_more() => {
                if let Err(e) = r {
                    return Ok(Some(e));
                }
                if let Err(e) = cam.handle_incoming().await {
                    return Ok(Some(e));
                }
            }
            () = sleep_until(next_ping) => {
                if cam.pong_overdue(Instant::now()) {
                    return Ok(Some(WsError::PongTimeout));
                }
                if let Err(e) = cam.send_ping().await {
                    return Ok(Some(e));
                }
                next_ping = Instant::now() + ping_interval;
            }
            () = sleep_until(frame_at) => {
                let frame = run.take_frame()?;
                if let Err(e) = cam.send_binary(&frame).await {
                    run.failed();
                    return Ok(Some(e));
                }
                run.delivered(frame.len());
            }
        }
    }
    Ok(None)
}
