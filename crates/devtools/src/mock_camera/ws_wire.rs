//! The byte level of seed 001's WebSocket camera (`seed-protocols.md` §B.2), without IO: the
//! upgrade request ESP-IDF's `transport_ws` writes (`ws_connect`), masked client frames as
//! `_ws_write` builds them (RFC 6455 §5.2), `esp_websocket_client`'s fragmentation of large
//! messages, masking keys, the upgrade check, and parsing of server frames (with tungstenite's
//! `FrameHeader::parse`).

use std::io::Cursor;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Control, Data, OpCode};

/// `esp_websocket_client`'s `buffer_size` in seed 001 (largest frame payload sent).
pub const DEFAULT_BUFFER_SIZE: usize = 16 * 1024;
/// esp-transport's default user agent.
pub const USER_AGENT: &str = "ESP32 Websocket Client";
/// Opcodes (RFC 6455 §5.2).
pub const OP_CONTINUATION: u8 = 0x0;
/// BINARY.
pub const OP_BINARY: u8 = 0x2;
/// CLOSE.
pub const OP_CLOSE: u8 = 0x8;
/// PING.
pub const OP_PING: u8 = 0x9;
/// PONG.
pub const OP_PONG: u8 = 0xA;
const MAX_SERVER_FRAME_BYTES: u64 = 16 * 1024 * 1024;

/// Why the connection ended.
#[derive(Debug, thiserror::Error)]
pub enum WsError {
    /// Socket error.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Connect, handshake or send took too long.
    #[error("timed out")]
    Timeout,
    /// The server refused the upgrade.
    #[error("handshake failed: {0}")]
    Handshake(String),
    /// The server broke the framing.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The server sent CLOSE or closed the socket.
    #[error("closed by the server")]
    Closed,
    /// No pong within `ws::PONG_TIMEOUT` (120 s) of a ping.
    #[error("no PONG within 120 s of a PING")]
    PongTimeout,
}

/// The upgrade request `transport_ws` writes.
pub fn handshake_request(path: &str, host: &str, port: u16, key: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nConnection: Upgrade\r\nHost: {host}:{port}\r\n\
         User-Agent: {USER_AGENT}\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: {key}\r\n\r\n"
    )
}

/// Appends one masked client frame: FIN/opcode byte, MASK|length (7 bits, or 126 + u16 BE, or
/// 127 + u64 BE), the masking key, the masked payload.
pub fn encode_frame(out: &mut Vec<u8>, opcode: u8, fin: bool, payload: &[u8], mask: [u8; 4]) {
    out.push(if fin { 0x80 } else { 0 } | (opcode & 0x0F));
    let len = payload.len();
    if len <= 125 {
        out.push(0x80 | len as u8);
    } else if len < 65536 {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
}

/// A binary message as `esp_websocket_client` sends it: one encoded frame per element
/// (BINARY FIN=0, CONTINUATION…, FIN on the last; one BINARY FIN frame when it fits).
pub fn encode_binary_message(
    payload: &[u8],
    buffer_size: usize,
    masks: &mut MaskSource,
) -> Vec<Vec<u8>> {
    let size = buffer_size.max(1);
    let count = payload.len().div_ceil(size).max(1);
    (0..count)
        .map(|i| {
            let part = &payload[(i * size).min(payload.len())..((i + 1) * size).min(payload.len())];
            let opcode = if i == 0 { OP_BINARY } else { OP_CONTINUATION };
            let mut frame = Vec::with_capacity(part.len() + 14);
            encode_frame(&mut frame, opcode, i + 1 == count, part, masks.next_mask());
            frame
        })
        .collect()
}

/// Random masking keys (xorshift64*, seeded per instance from the process's hash seed and the
/// clock; masking only has to be unpredictable to proxies, not cryptographic).
#[derive(Debug, Clone)]
pub struct MaskSource(u64);

impl MaskSource {
    /// A freshly seeded source.
    pub fn new() -> Self {
        use std::hash::BuildHasher;
        let seed =
            std::collections::hash_map::RandomState::new().hash_one(std::time::SystemTime::now());
        Self(seed | 1)
    }

    /// The next key.
    pub fn next_mask(&mut self) -> [u8; 4] {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        ((x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as u32).to_be_bytes()
    }
}

impl Default for MaskSource {
    fn default() -> Self {
        Self::new()
    }
}

/// A frame from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerFrame {
    /// PING with its payload.
    Ping(Vec<u8>),
    /// PONG.
    Pong,
    /// CLOSE with its payload (status code and reason).
    Close(Vec<u8>),
    /// Text, binary or continuation (ignored by the camera).
    Data,
}

/// Takes one complete frame off the front of `rx`, if there is one.
pub fn parse_server_frame(rx: &mut Vec<u8>) -> Result<Option<ServerFrame>, WsError> {
    let mut cursor = Cursor::new(&rx[..]);
    let parsed = FrameHeader::parse(&mut cursor).map_err(|e| WsError::Protocol(e.to_string()))?;
    let Some((header, len)) = parsed else {
        return Ok(None);
    };
    if len > MAX_SERVER_FRAME_BYTES {
        return Err(WsError::Protocol(format!("{len}-byte frame")));
    }
    let start = cursor.position() as usize;
    let end = start + len as usize;
    if rx.len() < end {
        return Ok(None);
    }
    let mut payload = rx[start..end].to_vec();
    rx.drain(..end);
    if let Some(mask) = header.mask {
        payload
            .iter_mut()
            .zip(mask.iter().cycle())
            .for_each(|(b, m)| *b ^= m);
    }
    Ok(Some(match header.opcode {
        OpCode::Control(Control::Ping) => ServerFrame::Ping(payload),
        OpCode::Control(Control::Pong) => ServerFrame::Pong,
        OpCode::Control(Control::Close) => ServerFrame::Close(payload),
        OpCode::Data(Data::Text | Data::Binary | Data::Continue) => ServerFrame::Data,
        op => return Err(WsError::Protocol(format!("reserved opcode {op}"))),
    }))
}

/// Checks the `101` status and `Sec-WebSocket-Accept` of the upgrade response head like
/// `ws_connect`.
pub fn check_upgrade(head: &str, key: &str) -> Result<(), WsError> {
    let status_line = head.lines().next().unwrap_or("");
    if status_line.split(' ').nth(1) != Some("101") {
        return Err(WsError::Handshake(format!(
            "server answered {status_line:?}"
        )));
    }
    let accept = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("sec-websocket-accept")
            .then(|| value.trim())
    });
    if accept != Some(derive_accept_key(key.as_bytes()).as_str()) {
        return Err(WsError::Handshake("invalid Sec-WebSocket-Accept".into()));
    }
    Ok(())
}
