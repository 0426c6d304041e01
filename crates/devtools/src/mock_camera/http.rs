//! Seed 002's camera as a client (`seed-protocols.md` §C): the sketch's device logic
//! ([`HttpCamera`]) over its one shared, kept-alive [`ArduinoHttpClient`]: optional boot probe
//! (7b50e93), register at boot, a heartbeat tick every 30 s that re-registers after any non-200
//! heartbeat, multipart uploads that succeed only on status 200, and the raw RGB565 variant of
//! 95dd6cc on a fresh connection per frame. Requests are built by [`super::http_wire`]; like the
//! sketch's `loop()`, one task does everything in turn.

use super::Format;
pub use super::http_client::{ArduinoHttpClient, HttpError};
use super::http_wire::{self as wire, Response};
use super::runner::Run;
use super::target::Endpoint;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::time::{Instant, timeout};

/// `HTTP_TIMEOUT_MS` of the seed-era sketch.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// The boot probe's timeout (7b50e93 `testServerConnectivity`).
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// The raw variant's response wait (95dd6cc `HTTP_TIMEOUT_MS`).
pub const RAW_TIMEOUT: Duration = Duration::from_secs(3);
/// `ESP.getFreeHeap()` reported in heartbeats (a typical ESP32-S3 figure with PSRAM).
pub const FREE_HEAP_BYTES: u32 = 187_420;
/// `WiFi.RSSI()` reported in heartbeats, dBm.
pub const WIFI_RSSI_DBM: i32 = -58;

/// What the heartbeat timer sends (the sketch's `deviceRegistered` flag, C.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Registration {
    registered: bool,
}

impl Registration {
    /// True once a registration got a 200 and no heartbeat has failed since.
    pub fn is_registered(&self) -> bool {
        self.registered
    }

    /// `registerDevice`'s result: 200 registers; anything else leaves the flag as it was.
    pub fn on_register(&mut self, status: Option<u16>) {
        if status == Some(200) {
            self.registered = true;
        }
    }

    /// `sendHeartbeat`'s result: anything but 200 (including no response) unregisters, so the
    /// next tick registers again.
    pub fn on_heartbeat(&mut self, status: Option<u16>) {
        if status != Some(200) {
            self.registered = false;
        }
    }
}

/// The seed-002 camera: its HTTP client, identity and registration state.
pub struct HttpCamera {
    /// The shared HTTP client.
    pub client: ArduinoHttpClient,
    prefix: String,
    host: String,
    api_key: String,
    device_id: String,
    device_name: String,
    /// Registration state.
    pub registration: Registration,
}

impl HttpCamera {
    /// A camera posting to `endpoint` with `prefix` before the sketch's paths.
    pub fn new(endpoint: Endpoint, prefix: &str, api_key: &str, id: &str, name: &str) -> Self {
        Self {
            host: endpoint.url_host(),
            client: ArduinoHttpClient::new(endpoint),
            prefix: prefix.to_string(),
            api_key: api_key.to_string(),
            device_id: id.to_string(),
            device_name: name.to_string(),
            registration: Registration::default(),
        }
    }

    fn host_header(&self) -> String {
        wire::host_header(&self.host, self.client.endpoint().port)
    }

    /// Uploads one JPEG (C.2); the caller counts it delivered only on status 200.
    pub async fn send_jpeg(&mut self, jpeg: &[u8]) -> Result<Response, HttpError> {
        let req = wire::http_stream_request(&self.prefix, &self.host_header(), &self.api_key, jpeg);
        self.client.exchange(&req, HTTP_TIMEOUT).await
    }

    /// Uploads one big-endian RGB565 frame the 95dd6cc way (C.4): its own connection with
    /// `Connection: close`, success if the first response line contains `200 OK`.
    pub async fn send_rgb565(&mut self, size: (u32, u32), be: &[u8]) -> Result<bool, HttpError> {
        // `client.connect()` on the shared WiFiClient replaces HTTPClient's kept-alive socket.
        let req = wire::rgb565_request(
            &self.prefix,
            &self.host,
            &self.api_key,
            &self.device_id,
            size,
            be,
        );
        let mut stream = self.client.connect_raw().await?;
        stream.write_all(&req).await?;
        let mut line = String::new();
        let mut reader = BufReader::new(&mut stream);
        match timeout(RAW_TIMEOUT, reader.read_line(&mut line)).await {
            Ok(Ok(_)) => Ok(wire::raw_status_ok(&line)),
            Ok(Err(e)) => Err(e.into()),
            Err(_) => Err(HttpError::Timeout),
        }
    }

    /// `registerDevice` (C.3), with the connection's local address as `ipAddress`.
    pub async fn register(&mut self) -> Result<Response, HttpError> {
        self.client.connect().await?;
        let ip = self
            .client
            .local_ip()
            .map_or_else(|| "0.0.0.0".into(), |ip| ip.to_string());
        let json = wire::register_json(&self.device_id, &self.device_name, &ip);
        let path = format!("{}{}", self.prefix, wire::REGISTER_PATH);
        let req = wire::json_request(&path, &self.host_header(), &self.api_key, &json);
        let result = self.client.exchange(&req, HTTP_TIMEOUT).await;
        self.registration
            .on_register(result.as_ref().ok().map(|r| r.status));
        result
    }

    /// `sendHeartbeat` (C.3) with the device's `millis()`.
    pub async fn heartbeat(&mut self, uptime_ms: u32) -> Result<Response, HttpError> {
        let json = wire::heartbeat_json(&self.device_id, uptime_ms, FREE_HEAP_BYTES, WIFI_RSSI_DBM);
        let path = format!("{}{}", self.prefix, wire::HEARTBEAT_PATH);
        let req = wire::json_request(&path, &self.host_header(), &self.api_key, &json);
        let result = self.client.exchange(&req, HTTP_TIMEOUT).await;
        self.registration
            .on_heartbeat(result.as_ref().ok().map(|r| r.status));
        result
    }

    /// One heartbeat tick: heartbeat if registered, else register. Returns the request kind
    /// (`"heartbeat"` or `"register"`) and its result.
    pub async fn tick(&mut self, uptime_ms: u32) -> (&'static str, Result<Response, HttpError>) {
        if self.registration.is_registered() {
            ("heartbeat", self.heartbeat(uptime_ms).await)
        } else {
            ("register", self.register().await)
        }
    }

    /// 7b50e93's boot connectivity test: the GET passes on 200, 404 or 405; then the JSON test
    /// POST (its result only logged). Returns whether the GET passed.
    pub async fn boot_probe(&mut self, uptime_ms: u32) -> bool {
        let req = wire::probe_request(&self.prefix, &self.host_header(), &self.api_key);
        let passed = match self.client.exchange(&req, PROBE_TIMEOUT).await {
            Ok(r) => matches!(r.status, 200 | 404 | 405),
            Err(e) => {
                tracing::warn!("mock-camera: connectivity test failed: {e}");
                false
            }
        };
        if passed {
            let req = wire::probe_post_request(
                &self.prefix,
                &self.host_header(),
                &self.api_key,
                uptime_ms,
            );
            if let Err(e) = self.client.exchange(&req, HTTP_TIMEOUT).await {
                tracing::warn!("mock-camera: simple POST test failed: {e}");
            }
        }
        passed
    }
}

/// Runs the seed-002 camera until the run ends.
pub(super) async fn run(run: &mut Run, endpoint: &Endpoint, prefix: &str) -> anyhow::Result<()> {
    let o = &run.opts;
    let mut cam = HttpCamera::new(
        endpoint.clone(),
        prefix,
        &o.api_key,
        &o.device_id,
        &o.device_name,
    );
    let beats = !o.no_register;
    let interval = Duration::from_secs_f64(o.heartbeat_interval);
    let mut refused = false;
    if beats {
        // setup(): register at boot, after the connectivity test when that is enabled.
        let register_now = !run.opts.boot_probe || cam.boot_probe(run.uptime_ms()).await;
        if register_now {
            let result = cam.register().await;
            refused = book_beat(run, "register", &result);
        }
    }
    let mut connects_seen = 0;
    let mut next_beat = Instant::now() + interval;
    loop {
        for _ in connects_seen..cam.client.connects() {
            run.connected();
        }
        connects_seen = cam.client.connects();
        if refused && (run.summary.gave_up || !run.backoff().await) {
            break;
        }
        if run.done() {
            break;
        }
        // loop(): a frame when one is due, then the heartbeat when it is due.
        let wake = if beats {
            run.pacer.next_at().min(next_beat)
        } else {
            run.pacer.next_at()
        };
        tokio::select! {
            () = run.until_done() => break,
            () = tokio::time::sleep_until(wake) => {}
        }
        refused = false;
        if Instant::now() >= run.pacer.next_at() {
            let frame = run.take_frame()?;
            refused = send_frame(run, &mut cam, &frame).await;
        }
        if beats && !refused && Instant::now() >= next_beat {
            let started = Instant::now();
            let (kind, result) = cam.tick(run.uptime_ms()).await;
            refused = book_beat(run, kind, &result);
            next_beat = started + interval;
        }
    }
    Ok(())
}

/// Sends one frame and books the outcome. Returns true when the connection was refused.
async fn send_frame(run: &mut Run, cam: &mut HttpCamera, frame: &[u8]) -> bool {
    let result = match run.opts.format {
        Format::Rgb565 => cam
            .send_rgb565(run.opts.size, frame)
            .await
            .map(|ok| (ok, None)),
        _ => cam
            .send_jpeg(frame)
            .await
            .map(|r| (r.status == 200, Some(r))),
    };
    match result {
        Ok((true, _)) => {
            run.delivered(frame.len());
            false
        }
        Ok((false, response)) => {
            run.failed();
            let detail = response.map_or_else(
                || "no \"200 OK\" status line".to_string(),
                |r| format!("HTTP {}: {}", r.status, body_text(&r)),
            );
            run.warn_throttled(&format!("frame rejected: {detail}"));
            false
        }
        Err(e) => {
            run.failed();
            if let HttpError::Connect(_) = e {
                run.connect_failed("the HTTP server", &e);
                true
            } else {
                run.warn_throttled(&format!("frame upload failed: {e}"));
                false
            }
        }
    }
}

/// Books a register or heartbeat outcome. Returns true when the connection was refused.
fn book_beat(run: &mut Run, kind: &str, result: &Result<Response, HttpError>) -> bool {
    match result {
        Ok(r) if r.status == 200 => {
            match kind {
                "register" => run.summary.registrations += 1,
                _ => run.summary.heartbeats += 1,
            }
            tracing::info!("mock-camera: {kind} OK");
        }
        Ok(r) => tracing::warn!(
            "mock-camera: {kind} failed: HTTP {}: {}",
            r.status,
            body_text(r)
        ),
        Err(e @ HttpError::Connect(_)) => {
            run.connect_failed("the HTTP server", e);
            return true;
        }
        Err(e) => tracing::warn!("mock-camera: {kind} failed: {e}"),
    }
    false
}

/// The start of a response body, for logs (7b50e93 prints error bodies).
fn body_text(r: &Response) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(&r.body[..r.body.len().min(300)])
}
