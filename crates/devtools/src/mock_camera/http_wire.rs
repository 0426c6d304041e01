//! Seed 002's HTTP requests byte for byte, and a response parser; no IO (`seed-protocols.md`
//! §C.1–C.4, from `mcpe500/project-iot` `camera_network.h` at `ece346b`/`7b50e93` and
//! `camera_manager.cpp` at `95dd6cc`).
//!
//! Arduino-ESP32 `HTTPClient::sendHeader` writes `METHOD URI HTTP/1.1`, `Host` (with `:port`
//! unless 80/443), `User-Agent: ESP32HTTPClient`, `Connection: keep-alive`, `Accept-Encoding:
//! identity;q=1,chunked;q=0.1,*;q=0`, then the sketch's `addHeader` lines in call order, then
//! `Content-Length` (added by `sendRequest` when there is a payload). The sketch adds `X-API-Key`
//! before `Content-Type` for uploads and the connectivity test, and the other way round for
//! register and heartbeat. JSON bodies are string concatenations, without escaping (as in C.3).

/// The upload URL's path.
pub const STREAM_PATH: &str = "/api/v1/stream/stream";
/// Registration path.
pub const REGISTER_PATH: &str = "/api/v1/devices/register";
/// Heartbeat path.
pub const HEARTBEAT_PATH: &str = "/api/v1/devices/heartbeat";
/// Multipart boundary (the delimiter line is `--` + this, i.e. six dashes).
pub const BOUNDARY: &str = "----ESP32CAMBoundary";
/// `HTTPClient`'s default user agent.
pub const USER_AGENT: &str = "ESP32HTTPClient";
/// `HTTPClient`'s Accept-Encoding for HTTP/1.1.
pub const ACCEPT_ENCODING: &str = "identity;q=1,chunked;q=0.1,*;q=0";

/// `Host` as `HTTPClient` writes it: the URL host, plus `:port` unless the port is 80 or 443.
pub fn host_header(host: &str, port: u16) -> String {
    if port == 80 || port == 443 {
        host.to_string()
    } else {
        format!("{host}:{port}")
    }
}

/// A request as `HTTPClient::sendRequest` writes it: the head, then `body`. `headers` are the
/// sketch's `addHeader` calls in order; `Content-Length` follows when `body` is not empty.
pub fn arduino_request(
    method: &str,
    path: &str,
    host: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut out = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {USER_AGENT}\r\n\
         Connection: keep-alive\r\nAccept-Encoding: {ACCEPT_ENCODING}\r\n"
    );
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// The upload body (C.2): one part, field `image`, file `frame.jpg`, type `image/jpeg`.
pub fn multipart_body(jpeg: &[u8]) -> Vec<u8> {
    let head = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"image\"; \
         filename=\"frame.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
    );
    let tail = format!("\r\n--{BOUNDARY}--\r\n");
    let mut body = Vec::with_capacity(head.len() + jpeg.len() + tail.len());
    body.extend_from_slice(head.as_bytes());
    body.extend_from_slice(jpeg);
    body.extend_from_slice(tail.as_bytes());
    body
}

/// One frame upload (`sendFrameToServer`, C.2) to `prefix` + [`STREAM_PATH`].
pub fn http_stream_request(prefix: &str, host: &str, api_key: &str, jpeg: &[u8]) -> Vec<u8> {
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    arduino_request(
        "POST",
        &format!("{prefix}{STREAM_PATH}"),
        host,
        &[("X-API-Key", api_key), ("Content-Type", &content_type)],
        &multipart_body(jpeg),
    )
}

/// The registration JSON (C.3), e.g. `{"deviceId":"ESP32-CAM-001","deviceName":"Camera #1",
/// "deviceType":"camera","ipAddress":"10.0.0.7","capabilities":["streaming","recording","capture"]}`.
pub fn register_json(device_id: &str, device_name: &str, ip: &str) -> String {
    format!(
        "{{\"deviceId\":\"{device_id}\",\"deviceName\":\"{device_name}\",\"deviceType\":\"camera\",\
         \"ipAddress\":\"{ip}\",\"capabilities\":[\"streaming\",\"recording\",\"capture\"]}}"
    )
}

/// The heartbeat JSON (C.3).
pub fn heartbeat_json(device_id: &str, uptime_ms: u32, free_heap: u32, rssi_dbm: i32) -> String {
    format!(
        "{{\"deviceId\":\"{device_id}\",\"uptime\":{uptime_ms},\"freeHeap\":{free_heap},\
         \"wifiRssi\":{rssi_dbm},\"status\":\"online\"}}"
    )
}

/// A register or heartbeat POST (`Content-Type` added before `X-API-Key`).
pub fn json_request(path: &str, host: &str, api_key: &str, json: &str) -> Vec<u8> {
    arduino_request(
        "POST",
        path,
        host,
        &[("Content-Type", "application/json"), ("X-API-Key", api_key)],
        json.as_bytes(),
    )
}

/// The boot connectivity GET (`testServerConnectivity`, 7b50e93).
pub fn probe_request(prefix: &str, host: &str, api_key: &str) -> Vec<u8> {
    let path = format!("{prefix}{STREAM_PATH}");
    arduino_request("GET", &path, host, &[("X-API-Key", api_key)], b"")
}

/// The boot JSON test POST (`testSimpleUpload`, 7b50e93): `X-API-Key` before `Content-Type`.
pub fn probe_post_request(prefix: &str, host: &str, api_key: &str, uptime_ms: u32) -> Vec<u8> {
    let json = format!("{{\"test\":\"ESP32-camera-connectivity\",\"timestamp\":{uptime_ms}}}");
    arduino_request(
        "POST",
        &format!("{prefix}{STREAM_PATH}"),
        host,
        &[("X-API-Key", api_key), ("Content-Type", "application/json")],
        json.as_bytes(),
    )
}

/// The raw-socket RGB565 upload of firmware `95dd6cc` (C.4), written with `client.print`:
/// `Host` without a port, `Connection: close`, body = big-endian RGB565.
pub fn rgb565_request(
    prefix: &str,
    host: &str,
    api_key: &str,
    device_id: &str,
    (width, height): (u32, u32),
    rgb565_be: &[u8],
) -> Vec<u8> {
    let head = format!(
        "POST {prefix}{STREAM_PATH} HTTP/1.1\r\nHost: {host}\r\nX-API-Key: {api_key}\r\n\
         Content-Type: application/octet-stream\r\nX-Frame-Format: RGB565\r\n\
         X-Frame-Width: {width}\r\nX-Frame-Height: {height}\r\nX-Device-Id: {device_id}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        rgb565_be.len()
    );
    let mut out = head.into_bytes();
    out.extend_from_slice(rgb565_be);
    out
}

/// The raw variant's success test: the first response line contains `200 OK` after its start.
pub fn raw_status_ok(first_line: &str) -> bool {
    first_line.find("200 OK").is_some_and(|i| i > 0)
}

/// A parsed response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Body (de-chunked).
    pub body: Vec<u8>,
    /// Whether `HTTPClient` would keep the connection: HTTP/1.1, no `Connection: close`, and a
    /// body delimited by length or chunks.
    pub reusable: bool,
}

/// Why a response could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    /// Not `HTTP/x.y CODE ...`.
    #[error("not an HTTP response: {0:?}")]
    BadStatusLine(String),
    /// A malformed header, length or chunk.
    #[error("malformed response: {0}")]
    Malformed(&'static str),
    /// Head or body beyond the limits.
    #[error("response too large")]
    TooLarge,
    /// The peer closed before the response was complete.
    #[error("connection closed mid-response")]
    Truncated,
}

const MAX_HEAD_BYTES: usize = 16 * 1024;
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Parses one response from the start of `buf`: `Some((response, bytes used))`, or `None` when
/// more bytes are needed. `eof` means the peer has closed, which ends a body without a length.
pub fn parse_response(buf: &[u8], eof: bool) -> Result<Option<(Response, usize)>, ResponseError> {
    let need_more = |eof: bool| {
        if eof {
            Err(ResponseError::Truncated)
        } else {
            Ok(None)
        }
    };
    let Some((lines, head_len)) = split_head(buf)? else {
        return need_more(eof);
    };
    let status_line = lines[0];
    let mut parts = status_line.splitn(3, ' ');
    let (version, code) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let status: u16 = match (version.starts_with("HTTP/"), code.parse()) {
        (true, Ok(c)) if (100..1000).contains(&c) => c,
        _ => return Err(ResponseError::BadStatusLine(status_line.to_string())),
    };
    let mut reusable = version.starts_with("HTTP/1.") && version != "HTTP/1.0";
    let (mut length, mut chunked) = (None, false);
    for line in &lines[1..] {
        let (name, value) = line
            .split_once(':')
            .ok_or(ResponseError::Malformed("header line without ':'"))?;
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("content-length") {
            let n: usize = value
                .parse()
                .map_err(|_| ResponseError::Malformed("bad Content-Length"))?;
            length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            let v = value.to_ascii_lowercase();
            if v.contains("close") && !v.contains("keep-alive") {
                reusable = false;
            }
        }
    }
    let rest = &buf[head_len..];
    let no_body = (100..200).contains(&status) || status == 204 || status == 304;
    let (body, body_len) = if no_body {
        (Vec::new(), 0)
    } else if chunked {
        match parse_chunked(rest)? {
            Some(v) => v,
            None => return need_more(eof),
        }
    } else if let Some(n) = length {
        if n > MAX_BODY_BYTES {
            return Err(ResponseError::TooLarge);
        }
        if rest.len() < n {
            return need_more(eof);
        }
        (rest[..n].to_vec(), n)
    } else if eof {
        reusable = false;
        (rest.to_vec(), rest.len())
    } else if rest.len() > MAX_BODY_BYTES {
        return Err(ResponseError::TooLarge);
    } else {
        return Ok(None);
    };
    let response = Response {
        status,
        body,
        reusable,
    };
    Ok(Some((response, head_len + body_len)))
}

/// The head's lines (without line ends) and its length including the blank line.
fn split_head(buf: &[u8]) -> Result<Option<(Vec<&str>, usize)>, ResponseError> {
    let mut lines = Vec::new();
    let mut pos = 0;
    while let Some(i) = buf[pos..].iter().position(|&b| b == b'\n') {
        let raw = &buf[pos..pos + i];
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        pos += i + 1;
        if line.is_empty() {
            if lines.is_empty() {
                continue; // tolerate stray blank lines before the status line
            }
            return Ok(Some((lines, pos)));
        }
        let line =
            std::str::from_utf8(line).map_err(|_| ResponseError::Malformed("non-UTF-8 head"))?;
        lines.push(line);
        if pos > MAX_HEAD_BYTES {
            return Err(ResponseError::TooLarge);
        }
    }
    if buf.len() > MAX_HEAD_BYTES {
        return Err(ResponseError::TooLarge);
    }
    Ok(None)
}

/// A chunked body: the data and the bytes used (through the trailers' blank line).
fn parse_chunked(buf: &[u8]) -> Result<Option<(Vec<u8>, usize)>, ResponseError> {
    let mut body = Vec::new();
    let mut pos = 0;
    loop {
        let Some(i) = buf[pos..].iter().position(|&b| b == b'\n') else {
            return Ok(None);
        };
        let line = std::str::from_utf8(&buf[pos..pos + i])
            .map_err(|_| ResponseError::Malformed("bad chunk size"))?;
        let hex = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(hex, 16)
            .map_err(|_| ResponseError::Malformed("bad chunk size"))?;
        pos += i + 1;
        if size == 0 {
            // Trailers, then a blank line.
            loop {
                let Some(i) = buf[pos..].iter().position(|&b| b == b'\n') else {
                    return Ok(None);
                };
                let blank = buf[pos..pos + i].iter().all(|&b| b == b'\r');
                pos += i + 1;
                if blank {
                    return Ok(Some((body, pos)));
                }
            }
        }
        if body.len() + size > MAX_BODY_BYTES {
            return Err(ResponseError::TooLarge);
        }
        let Some(data) = buf.get(pos..pos + size) else {
            return Ok(None);
        };
        body.extend_from_slice(data);
        pos += size;
        match buf.get(pos..pos + 2) {
            None => return Ok(None),
            Some(b"\r\n") => pos += 2,
            Some([b'\n', _]) => pos += 1,
            Some(_) => return Err(ResponseError::Malformed("chunk without CRLF")),
        }
    }
}
