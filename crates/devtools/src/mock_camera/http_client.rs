//! Arduino-ESP32's `HTTPClient` as seed 002's sketch uses it (`seed-protocols.md` §C.1): one
//! global `WiFiClient` shared by every request, kept alive between requests (`setReuse(true)` is
//! the default), checked before each request (`HTTPClient::connect`: stray bytes are discarded, a
//! connection the server has closed is replaced), and closed after an error or when the response
//! says `Connection: close`, is HTTP/1.0 or has no length. Responses are read completely (status
//! line, headers, Content-Length or chunked body) with [`super::http_wire::parse_response`].

use super::http_wire::{self as wire, Response, ResponseError};
use super::target::Endpoint;
use std::net::IpAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// `HTTPClient`'s connect timeout.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a request failed (the sketch sees a negative `httpCode`).
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// TCP connect failed or timed out (`HTTPC_ERROR_CONNECTION_REFUSED`).
    #[error("connect failed: {0}")]
    Connect(std::io::Error),
    /// Write or read failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// No complete response in time (`HTTPC_ERROR_READ_TIMEOUT`).
    #[error("timed out")]
    Timeout,
    /// The response could not be parsed.
    #[error(transparent)]
    Response(#[from] ResponseError),
}

struct Conn {
    stream: TcpStream,
    rx: Vec<u8>,
}

/// One `HTTPClient` with its global `WiFiClient`: reuses the connection while the server keeps
/// it open, reconnects when the server has closed it, drops it on any error.
pub struct ArduinoHttpClient {
    endpoint: Endpoint,
    conn: Option<Conn>,
    connects: u64,
}

impl ArduinoHttpClient {
    /// A client for `endpoint` (not connected yet).
    pub fn new(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            conn: None,
            connects: 0,
        }
    }

    /// TCP connections opened so far.
    pub fn connects(&self) -> u64 {
        self.connects
    }

    /// The local address of the open connection (the sketch's `WiFi.localIP()`).
    pub fn local_ip(&self) -> Option<IpAddr> {
        self.conn.as_ref()?.stream.local_addr().ok().map(|a| a.ip())
    }

    /// The server's endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Opens a new TCP connection within 5 s.
    async fn open(&mut self) -> Result<TcpStream, HttpError> {
        let addr = (self.endpoint.host.as_str(), self.endpoint.port);
        let stream = match timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(HttpError::Connect(e)),
            Err(_) => return Err(HttpError::Connect(std::io::ErrorKind::TimedOut.into())),
        };
        let _ = stream.set_nodelay(true);
        self.connects += 1;
        Ok(stream)
    }

    /// `WiFiClient::connect` used directly (the 95dd6cc raw upload): a fresh connection for the
    /// caller, replacing the kept-alive one.
    pub async fn connect_raw(&mut self) -> Result<TcpStream, HttpError> {
        self.conn = None;
        self.open().await
    }

    /// Closes the connection.
    pub fn disconnect(&mut self) {
        self.conn = None;
    }

    /// `HTTPClient::connect`: keeps an open connection (discarding stray bytes), or opens one.
    pub async fn connect(&mut self) -> Result<(), HttpError> {
        if let Some(c) = &mut self.conn {
            c.rx.clear();
            let mut scratch = [0u8; 4096];
            loop {
                match c.stream.try_read(&mut scratch) {
                    Ok(0) => break self.conn = None, // the server closed it
                    Ok(_) => continue,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
                    Err(_) => break self.conn = None,
                }
            }
        }
        let stream = self.open().await?;
        self.conn = Some(Conn {
            stream,
            rx: Vec::new(),
        });
        Ok(())
    }

    /// Sends `request` and reads the whole response within `limit`. Keeps the connection when
    /// the response allows it; closes it otherwise or on any error.
    pub async fn exchange(
        &mut self,
        request: &[u8],
        limit: Duration,
    ) -> Result<Response, HttpError> {
        self.connect().await?;
        let result = match timeout(limit, self.exchange_inner(request)).await {
            Ok(r) => r,
            Err(_) => Err(HttpError::Timeout),
        };
        if !result.as_ref().is_ok_and(|r| r.reusable) {
            self.conn = None;
        }
        result
    }

    async fn exchange_inner(&mut self, request: &[u8]) -> Result<Response, HttpError> {
        let Some(c) = &mut self.conn else {
            return Err(HttpError::Io(std::io::ErrorKind::NotConnected.into()));
        };
        c.stream.write_all(request).await?;
        let mut eof = false;
        loop {
            if let Some((response, used)) = wire::parse_response(&c.rx, eof)? {
                c.rx.drain(..used);
                return Ok(response);
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = c.stream.read(&mut chunk).await?;
            eof = n == 0;
            c.rx.extend_from_slice(&chunk[..n]);
        }
    }
}
