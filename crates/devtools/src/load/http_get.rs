//! The generator's HTTP/1.1 GET: one request on a fresh connection, the response head read and its
//! status parsed, the body left on the socket for the caller. Enough for the MJPEG and snapshot
//! endpoints of one server on loopback; not a general HTTP client.

use anyhow::Context;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest response head accepted.
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// An answered GET: the status, and body bytes that came with the head.
#[derive(Debug)]
pub struct Response {
    /// The socket, positioned after `body_start`.
    pub socket: TcpStream,
    /// The status code.
    pub status: u16,
    /// Body bytes read together with the head.
    pub body_start: Vec<u8>,
}

/// Parses `HTTP/1.1 200 OK` into 200.
pub fn status_of(head: &[u8]) -> Option<u16> {
    let line = head.split(|b| *b == b'\r').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split(' ');
    let version = parts.next()?;
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    parts.next()?.parse().ok()
}

/// Sends `GET path` (`Connection: close` if `close`) and reads the response head.
pub async fn get(server: SocketAddr, path: &str, close: bool) -> anyhow::Result<Response> {
    let mut socket = TcpStream::connect(server).await?;
    socket.set_nodelay(true)?;
    let connection = if close { "close" } else { "keep-alive" };
    socket
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {server}\r\nConnection: {connection}\r\n\r\n")
                .as_bytes(),
        )
        .await?;
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let end = loop {
        let n = socket.read(&mut chunk).await?;
        anyhow::ensure!(n > 0, "closed before the response head");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        anyhow::ensure!(buf.len() <= MAX_HEAD_BYTES, "response head over 16 KiB");
    };
    let status = status_of(&buf).context("no HTTP status line")?;
    Ok(Response {
        socket,
        status,
        body_start: buf.split_off(end),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(status_of(b"HTTP/1.1 200 OK\r\n"), Some(200));
        assert_eq!(
            status_of(b"HTTP/1.0 503 Service Unavailable\r\n"),
            Some(503)
        );
        assert_eq!(status_of(b"SSH-2.0\r\n"), None);
        assert_eq!(status_of(b""), None);
    }
}
