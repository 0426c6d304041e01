//! Exact request bytes of the seed-002 camera (`seed-protocols.md` §C.1–C.4) and the response
//! parser, including input split at every offset.

use super::http::Registration;
use super::http_wire::*;

const KEY: &str = "dev-api-key-change-in-production";
const FAKE_JPEG: &[u8] = b"\xff\xd8JPEG\xff\xd9";

#[test]
fn multipart_upload_is_byte_exact() {
    let req = http_stream_request("", &host_header("10.0.0.5", 9005), KEY, FAKE_JPEG);
    let expected = b"POST /api/v1/stream/stream HTTP/1.1\r\n\
Host: 10.0.0.5:9005\r\n\
User-Agent: ESP32HTTPClient\r\n\
Connection: keep-alive\r\n\
Accept-Encoding: identity;q=1,chunked;q=0.1,*;q=0\r\n\
X-API-Key: dev-api-key-change-in-production\r\n\
Content-Type: multipart/form-data; boundary=----ESP32CAMBoundary\r\n\
Content-Length: 156\r\n\
\r\n\
------ESP32CAMBoundary\r\n\
Content-Disposition: form-data; name=\"image\"; filename=\"frame.jpg\"\r\n\
Content-Type: image/jpeg\r\n\
\r\n\
\xff\xd8JPEG\xff\xd9\r\n\
------ESP32CAMBoundary--\r\n";
    assert_eq!(req, expected, "{}", String::from_utf8_lossy(&req));
    // 148 bytes of multipart framing around the JPEG.
    assert_eq!(multipart_body(&[]).len(), 148);
}

#[test]
fn host_header_omits_default_ports() {
    assert_eq!(host_header("cam-server", 80), "cam-server");
    assert_eq!(host_header("cam-server", 443), "cam-server");
    assert_eq!(host_header("10.0.0.5", 9003), "10.0.0.5:9003");
}

#[test]
fn register_and_heartbeat_are_byte_exact() {
    let json = register_json("ESP32-CAM-001", "Camera #1", "192.168.1.77");
    assert_eq!(
        json,
        r#"{"deviceId":"ESP32-CAM-001","deviceName":"Camera #1","deviceType":"camera","ipAddress":"192.168.1.77","capabilities":["streaming","recording","capture"]}"#
    );
    let req = json_request(REGISTER_PATH, "10.0.0.5:9005", KEY, &json);
    let expected = format!(
        "POST /api/v1/devices/register HTTP/1.1\r\nHost: 10.0.0.5:9005\r\n\
         User-Agent: ESP32HTTPClient\r\nConnection: keep-alive\r\n\
         Accept-Encoding: identity;q=1,chunked;q=0.1,*;q=0\r\n\
         Content-Type: application/json\r\nX-API-Key: {KEY}\r\nContent-Length: 153\r\n\r\n{json}"
    );
    assert_eq!(String::from_utf8(req).unwrap(), expected);

    let beat = heartbeat_json("ESP32-CAM-001", 4_294_967_295, 187_420, -58);
    assert_eq!(
        beat,
        r#"{"deviceId":"ESP32-CAM-001","uptime":4294967295,"freeHeap":187420,"wifiRssi":-58,"status":"online"}"#
    );
    let req = json_request(HEARTBEAT_PATH, "h", KEY, &beat);
    assert!(req.starts_with(b"POST /api/v1/devices/heartbeat HTTP/1.1\r\nHost: h\r\n"));
    assert!(req.ends_with(format!("Content-Length: {}\r\n\r\n{beat}", beat.len()).as_bytes()));
}

#[test]
fn boot_probe_requests_are_byte_exact() {
    let get = probe_request("", "h:9005", KEY);
    assert_eq!(
        String::from_utf8(get).unwrap(),
        format!(
            "GET /api/v1/stream/stream HTTP/1.1\r\nHost: h:9005\r\nUser-Agent: ESP32HTTPClient\r\n\
             Connection: keep-alive\r\nAccept-Encoding: identity;q=1,chunked;q=0.1,*;q=0\r\n\
             X-API-Key: {KEY}\r\n\r\n"
        )
    );
    let post = String::from_utf8(probe_post_request("/x", "h:9005", KEY, 5012)).unwrap();
    assert!(post.starts_with("POST /x/api/v1/stream/stream HTTP/1.1\r\n"));
    assert!(post.ends_with(&format!(
        "X-API-Key: {KEY}\r\nContent-Type: application/json\r\nContent-Length: 53\r\n\r\n\
         {{\"test\":\"ESP32-camera-connectivity\",\"timestamp\":5012}}"
    )));
}

#[test]
fn rgb565_raw_upload_is_byte_exact() {
    let body = [0xF8, 0x00, 0x07, 0xE0, 0x00, 0x1F, 0xFF, 0xFF];
    let req = rgb565_request("", "10.0.0.5", KEY, "ESP32-CAM-001", (2, 2), &body);
    let mut expected = format!(
        "POST /api/v1/stream/stream HTTP/1.1\r\nHost: 10.0.0.5\r\nX-API-Key: {KEY}\r\n\
         Content-Type: application/octet-stream\r\nX-Frame-Format: RGB565\r\n\
         X-Frame-Width: 2\r\nX-Frame-Height: 2\r\nX-Device-Id: ESP32-CAM-001\r\n\
         Content-Length: 8\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    expected.extend_from_slice(&body);
    assert_eq!(req, expected);
    assert!(raw_status_ok("HTTP/1.1 200 OK\r"));
    assert!(!raw_status_ok("HTTP/1.1 201 Created"));
    assert!(!raw_status_ok("200 OK")); // index 0 does not count in the sketch
}

#[test]
fn registration_follows_the_sketch() {
    let mut r = Registration::default();
    assert!(!r.is_registered());
    r.on_register(Some(201));
    assert!(!r.is_registered());
    r.on_register(Some(200));
    r.on_heartbeat(Some(200));
    assert!(r.is_registered());
    r.on_heartbeat(Some(404));
    assert!(!r.is_registered());
    r.on_register(Some(200));
    r.on_heartbeat(None); // no response at all
    assert!(!r.is_registered());
}

fn parse_all(bytes: &[u8]) -> (Response, usize) {
    parse_response(bytes, false).unwrap().unwrap()
}

#[test]
fn parses_lengths_chunks_and_connection_close() {
    let (r, used) = parse_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}extra");
    assert_eq!(
        (r.status, &r.body[..], r.reusable, used),
        (200, &b"{}"[..], true, 40)
    );

    let chunked = b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n\
                    4;x=y\r\nabcd\r\n2\r\nef\r\n0\r\nTrailer: 1\r\n\r\n";
    let (r, used) = parse_all(chunked);
    assert_eq!(
        (r.status, &r.body[..], r.reusable, used),
        (404, &b"abcdef"[..], true, chunked.len())
    );

    let (r, _) = parse_all(b"HTTP/1.1 200 OK\r\nconnection: Close\r\ncontent-length: 0\r\n\r\n");
    assert!(!r.reusable);
    let (r, _) = parse_all(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert!(!r.reusable);
    let (r, _) = parse_all(b"HTTP/1.1 204 No Content\r\n\r\n");
    assert!(r.reusable && r.body.is_empty());

    // No length: the body runs to the close, and the connection cannot be reused.
    let no_len = b"HTTP/1.1 500 Oops\r\n\r\nboom";
    assert_eq!(parse_response(no_len, false).unwrap(), None);
    let (r, used) = parse_response(no_len, true).unwrap().unwrap();
    assert_eq!(
        (&r.body[..], r.reusable, used),
        (&b"boom"[..], false, no_len.len())
    );
}

#[test]
fn parser_waits_for_every_split_point() {
    let inputs: [&[u8]; 3] = [
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        b"HTTP/1.1 405 Method Not Allowed\nContent-Length: 0\n\n",
    ];
    for input in inputs {
        for cut in 0..input.len() {
            assert_eq!(
                parse_response(&input[..cut], false),
                Ok(None),
                "cut at {cut}"
            );
            assert_eq!(
                parse_response(&input[..cut], true),
                Err(ResponseError::Truncated)
            );
        }
        assert_eq!(parse_all(input).1, input.len());
    }
}

#[test]
fn rejects_garbage() {
    assert!(matches!(
        parse_response(b"SSH-2.0-OpenSSH\r\n\r\n", false),
        Err(ResponseError::BadStatusLine(_))
    ));
    assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", false).is_err());
    assert!(parse_response(b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", false).is_err());
    let chunk = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
    assert!(parse_response(chunk, false).is_err());
    assert_eq!(
        parse_response(&vec![b'a'; 20_000], false),
        Err(ResponseError::TooLarge)
    );
}
