//! A tiny Chrome DevTools Protocol driver for integration tests: launches headless Chromium,
//! opens pages, evaluates JavaScript and takes screenshots.
//!
//! Tests use it as `crate::common::chromium`. Needs Debian's `/usr/bin/chromium` (or
//! `PIXELWIRE_CHROMIUM=/path/to/chrome`); without it [`Browser::launch`] fails with [`MISSING`].
//!
//! The DevTools WebSocket is driven with blocking `tungstenite` on a `std::net::TcpStream` inside
//! `spawn_blocking` (the crate has no `futures` dependency for the async stream API); every call
//! has its own deadline, so a hung browser fails a test instead of hanging it.
//!
//! ```ignore
//! let mut browser = chromium::Browser::launch().await?;
//! let mut page = browser.open(&format!("http://{addr}/streams/bios")).await?;
//! page.wait_for("window.pixelwireViewer?.framesPresented > 10", Duration::from_secs(10)).await?;
//! let rgb = page.eval("pixelwireViewer.sample(10, 10)").await?;
//! std::fs::write("/tmp/shot.png", page.screenshot_png().await?)?;
//! ```
#![allow(dead_code)]

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::{self, Message, WebSocket};

/// The error text when no Chromium binary is found.
pub const MISSING: &str = "chromium not installed (looked for $PIXELWIRE_CHROMIUM, /usr/bin/chromium, \
                           chromium on PATH): run scripts/setup-test-deps.sh";

/// Deadline of a single DevTools call.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How long Chromium may take to print its DevTools address.
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(30);
/// Console / log lines kept per page (newest).
const LOG_LINES: usize = 300;

/// The Chromium binary to use: `$PIXELWIRE_CHROMIUM`, `/usr/bin/chromium`, then `chromium` /
/// `chromium-browser` on `PATH`.
pub fn chromium_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PIXELWIRE_CHROMIUM") {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let fixed = PathBuf::from("/usr/bin/chromium");
    if fixed.is_file() {
        return Some(fixed);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|n| dir.join(n)))
        .find(|p| p.is_file())
}

/// Whether [`Browser::launch`] can find a browser.
pub fn available() -> bool {
    chromium_path().is_some()
}

type Ws = WebSocket<TcpStream>;

/// One DevTools WebSocket connection with request ids and an event log.
struct Conn {
    ws: Option<Ws>,
    next_id: u64,
    log: VecDeque<String>,
}

impl Conn {
    fn connect(url: &str) -> Result<Conn> {
        let rest = url
            .strip_prefix("ws://")
            .ok_or_else(|| anyhow!("not a ws:// URL: {url}"))?;
        let hostport = rest.split('/').next().unwrap_or(rest);
        let tcp = TcpStream::connect(hostport).with_context(|| format!("connect {hostport}"))?;
        tcp.set_nodelay(true).ok();
        tcp.set_read_timeout(Some(CALL_TIMEOUT))?;
        let (ws, _) = tungstenite::client(url, tcp)
            .map_err(|e| anyhow!("DevTools handshake with {url}: {e}"))?;
        Ok(Conn {
            ws: Some(ws),
            next_id: 0,
            log: VecDeque::new(),
        })
    }

    /// Sends `method` and waits for its answer; events seen meanwhile go to the log.
    async fn call(&mut self, method: &str, params: Value, timeout: Duration) -> Result<Value> {
        let mut ws = self
            .ws
            .take()
            .ok_or_else(|| anyhow!("DevTools connection lost (an earlier call failed)"))?;
        self.next_id += 1;
        let id = self.next_id;
        let name = method.to_string();
        let (ws, lines, res) = tokio::task::spawn_blocking(move || {
            let mut lines = Vec::new();
            let res = call_blocking(&mut ws, id, &name, params, timeout, &mut lines);
            (ws, lines, res)
        })
        .await
        .context("DevTools worker panicked")?;
        // Keep the socket unless it broke: a timed-out call may still be answered later (the
        // stale answer is skipped by id), but a closed socket must not be reused.
        if ws.can_read() && ws.can_write() {
            self.ws = Some(ws);
        }
        for l in lines {
            if self.log.len() == LOG_LINES {
                self.log.pop_front();
            }
            self.log.push_back(l);
        }
        res.with_context(|| format!("DevTools {method}"))
    }
}

fn call_blocking(
    ws: &mut Ws,
    id: u64,
    method: &str,
    params: Value,
    timeout: Duration,
    lines: &mut Vec<String>,
) -> Result<Value> {
    let req = json!({ "id": id, "method": method, "params": params }).to_string();
    ws.send(Message::text(req)).context("send")?;
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            bail!("no answer within {timeout:?}");
        }
        ws.get_mut().set_read_timeout(Some(left))?;
        let msg = match ws.read() {
            Ok(m) => m,
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(e) => return Err(anyhow!("read: {e}")),
        };
        let text = match msg {
            Message::Text(t) => t.as_str().to_owned(),
            Message::Binary(b) => String::from_utf8_lossy(&b).into_owned(),
            Message::Close(c) => bail!("browser closed the connection ({c:?})"),
            _ => continue,
        };
        let mut v: Value = serde_json::from_str(&text).context("DevTools message is not JSON")?;
        if v.get("id").and_then(Value::as_u64) == Some(id) {
            if let Some(err) = v.get("error") {
                bail!("{err}");
            }
            return Ok(v.get_mut("result").map(Value::take).unwrap_or(Value::Null));
        }
        if let Some(line) = describe_event(&v) {
            lines.push(line);
        }
    }
}

/// A readable line for console messages, uncaught exceptions and browser log entries.
fn describe_event(v: &Value) -> Option<String> {
    let p = &v["params"];
    match v["method"].as_str()? {
        "Runtime.consoleAPICalled" => {
            let args: Vec<String> = p["args"]
                .as_array()
                .map(|a| a.iter().map(remote_object_text).collect())
                .unwrap_or_default();
            Some(format!(
                "console.{}: {}",
                p["type"].as_str().unwrap_or("log"),
                args.join(" ")
            ))
        }
        "Runtime.exceptionThrown" => {
            let d = &p["exceptionDetails"];
            let text = d["exception"]["description"]
                .as_str()
                .or_else(|| d["text"].as_str())
                .unwrap_or("?");
            Some(format!("exception: {text}"))
        }
        "Log.entryAdded" => {
            let e = &p["entry"];
            Some(format!(
                "log.{} [{}]: {} {}",
                e["level"].as_str().unwrap_or("?"),
                e["source"].as_str().unwrap_or("?"),
                e["text"].as_str().unwrap_or(""),
                e["url"].as_str().unwrap_or("")
            ))
        }
        _ => None,
    }
}

fn remote_object_text(o: &Value) -> String {
    match (&o["value"], o["description"].as_str()) {
        (Value::String(s), _) => s.clone(),
        (Value::Null, Some(d)) => d.to_string(),
        (Value::Null, None) => o["type"].as_str().unwrap_or("undefined").to_string(),
        (v, _) => v.to_string(),
    }
}

/// A headless Chromium process with a DevTools connection to the browser target. Killed (and its
/// profile directory removed) on drop. Pages opened from it must not outlive it.
pub struct Browser {
    child: Child,
    conn: Conn,
    /// `127.0.0.1:<port>` of the DevTools endpoint.
    devtools: String,
    user_data_dir: PathBuf,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
}

impl Browser {
    /// Starts headless Chromium on a fresh profile with DevTools on an ephemeral port.
    pub async fn launch() -> Result<Browser> {
        Self::launch_with(&[]).await
    }

    /// [`Browser::launch`] with `extra` command-line switches, e.g. a host resolver rule and an
    /// SPKI pin for an HTTPS test.
    pub async fn launch_with(extra: &[String]) -> Result<Browser> {
        let bin = chromium_path().ok_or_else(|| anyhow!(MISSING))?;
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let user_data_dir = std::env::temp_dir().join(format!(
            "pixelwire-chromium-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&user_data_dir);
        std::fs::create_dir_all(&user_data_dir)
            .with_context(|| format!("create {}", user_data_dir.display()))?;
        let mut child = Command::new(&bin)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--mute-audio",
                "--autoplay-policy=no-user-gesture-required",
                // keep timers and rAF running at full speed whatever the tab's visibility
                "--disable-background-timer-throttling",
                "--disable-renderer-backgrounding",
                "--disable-backgrounding-occluded-windows",
                "--window-size=1280,800",
                "--remote-debugging-port=0",
                "--remote-debugging-address=127.0.0.1",
            ])
            .arg(format!("--user-data-dir={}", user_data_dir.display()))
            .args(extra)
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("spawn {}", bin.display()))?;

        // Read stderr on a thread for the whole life of the process (a full pipe would block
        // Chromium); the DevTools address goes through a channel, the last lines to a buffer.
        let stderr = child.stderr.take().expect("piped stderr");
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        let (tx, rx) = mpsc::channel::<String>();
        {
            let tail = stderr_tail.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if let Some(url) = line.trim().strip_prefix("DevTools listening on ") {
                        let _ = tx.send(url.trim().to_string());
                    }
                    let mut t = tail.lock().unwrap_or_else(|e| e.into_inner());
                    if t.len() == 40 {
                        t.pop_front();
                    }
                    t.push_back(line);
                }
            });
        }
        let tail_text = |tail: &Arc<Mutex<VecDeque<String>>>| {
            let t = tail.lock().unwrap_or_else(|e| e.into_inner());
            t.iter().cloned().collect::<Vec<_>>().join("\n")
        };
        let started = Instant::now();
        let ws_url = loop {
            match rx.try_recv() {
                Ok(url) => break url,
                Err(mpsc::TryRecvError::Empty) => {}
                Err(mpsc::TryRecvError::Disconnected) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let _ = std::fs::remove_dir_all(&user_data_dir);
                    bail!(
                        "{} exited before DevTools was ready; stderr:\n{}",
                        bin.display(),
                        tail_text(&stderr_tail)
                    );
                }
            }
            if started.elapsed() > LAUNCH_TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                let _ = std::fs::remove_dir_all(&user_data_dir);
                bail!(
                    "{} printed no DevTools address within {LAUNCH_TIMEOUT:?}; stderr:\n{}",
                    bin.display(),
                    tail_text(&stderr_tail)
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let devtools = ws_url
            .strip_prefix("ws://")
            .and_then(|r| r.split('/').next())
            .ok_or_else(|| anyhow!("unexpected DevTools address {ws_url}"))?
            .to_string();
        let conn = match tokio::task::spawn_blocking({
            let u = ws_url.clone();
            move || Conn::connect(&u)
        })
        .await
        .context("connect worker panicked")
        .and_then(|r| r)
        {
            Ok(c) => c,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                let _ = std::fs::remove_dir_all(&user_data_dir);
                return Err(e);
            }
        };
        Ok(Browser {
            child,
            conn,
            devtools,
            user_data_dir,
            stderr_tail,
        })
    }

    /// Opens `url` in a new tab and connects to it.
    pub async fn open(&mut self, url: &str) -> Result<Page> {
        let r = self
            .conn
            .call(
                "Target.createTarget",
                json!({ "url": "about:blank" }),
                CALL_TIMEOUT,
            )
            .await?;
        let target = r["targetId"]
            .as_str()
            .ok_or_else(|| anyhow!("createTarget returned no targetId: {r}"))?
            .to_string();
        let page_url = format!("ws://{}/devtools/page/{target}", self.devtools);
        let conn = tokio::task::spawn_blocking(move || Conn::connect(&page_url))
            .await
            .context("connect worker panicked")??;
        let mut page = Page { conn, target };
        // Events for the log, a visible focused tab (no throttling), then navigate, so that
        // console output of the page's first script is captured too.
        page.call("Runtime.enable", json!({})).await?;
        page.call("Log.enable", json!({})).await?;
        page.call("Page.enable", json!({})).await?;
        page.call("Page.bringToFront", json!({})).await?;
        page.call(
            "Emulation.setFocusEmulationEnabled",
            json!({ "enabled": true }),
        )
        .await?;
        page.goto(url).await?;
        Ok(page)
    }

    /// The last lines Chromium wrote to stderr.
    pub fn stderr_tail(&self) -> String {
        let t = self.stderr_tail.lock().unwrap_or_else(|e| e.into_inner());
        t.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    /// The browser's version string, e.g. "Chrome/148.0.7778.167".
    pub async fn version(&mut self) -> Result<String> {
        let r = self
            .conn
            .call("Browser.getVersion", json!({}), CALL_TIMEOUT)
            .await?;
        Ok(r["product"].as_str().unwrap_or("?").to_string())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ask politely (Chromium then takes its helper processes down), then kill.
        if let Some(ws) = self.conn.ws.as_mut() {
            let _ = ws.send(Message::text(
                json!({ "id": u64::MAX >> 12, "method": "Browser.close" }).to_string(),
            ));
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break;
                }
            }
        }
        remove_dir_retrying(&self.user_data_dir);
    }
}

fn remove_dir_retrying(dir: &Path) {
    for _ in 0..10 {
        if std::fs::remove_dir_all(dir).is_ok() || !dir.exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One tab, with its own DevTools connection.
pub struct Page {
    conn: Conn,
    target: String,
}

impl Page {
    /// A raw DevTools call on this page (`Page.*`, `Runtime.*`, `Emulation.*`, …).
    pub async fn call(&mut self, method: &str, params: Value) -> Result<Value> {
        self.conn.call(method, params, CALL_TIMEOUT).await
    }

    /// Navigates to `url` (and waits until the navigation is committed, not for the load).
    pub async fn goto(&mut self, url: &str) -> Result<()> {
        let r = self.call("Page.navigate", json!({ "url": url })).await?;
        if let Some(e) = r["errorText"].as_str() {
            bail!("navigate to {url}: {e}");
        }
        Ok(())
    }

    /// Evaluates `js` in the page (promises are awaited) and returns its value as JSON
    /// (`undefined` becomes `null`). A thrown exception is an error.
    pub async fn eval(&mut self, js: &str) -> Result<Value> {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({
                    "expression": js,
                    "returnByValue": true,
                    "awaitPromise": true,
                    "userGesture": true,
                }),
            )
            .await?;
        if let Some(d) = r.get("exceptionDetails") {
            let text = d["exception"]["description"]
                .as_str()
                .or_else(|| d["text"].as_str())
                .unwrap_or("exception");
            bail!("`{js}` threw: {text}");
        }
        Ok(r["result"].get("value").cloned().unwrap_or(Value::Null))
    }

    /// Evaluates `js_condition` every 50 ms until it is truthy (JavaScript rules) and returns that
    /// value. Exceptions count as "not yet" (e.g. hooks not installed). On timeout the error
    /// carries the last value or exception and the page's recent console output.
    pub async fn wait_for(&mut self, js_condition: &str, timeout: Duration) -> Result<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let last = match self.eval(js_condition).await {
                Ok(v) if truthy(&v) => return Ok(v),
                Ok(v) => format!("value {v}"),
                Err(e) => format!("error {e:#}"),
            };
            if Instant::now() >= deadline {
                bail!(
                    "timed out after {timeout:?} waiting for `{js_condition}`; last {last}\nrecent console:\n{}",
                    self.console_tail(30)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A PNG of the viewport.
    pub async fn screenshot_png(&mut self) -> Result<Vec<u8>> {
        let r = self
            .call("Page.captureScreenshot", json!({ "format": "png" }))
            .await?;
        let data = r["data"]
            .as_str()
            .ok_or_else(|| anyhow!("captureScreenshot returned no data"))?;
        base64_decode(data)
    }

    /// Console messages, uncaught exceptions and browser log entries seen so far (events are
    /// collected while calls are in flight, so call this after some `eval`/`wait_for`).
    pub fn console(&self) -> Vec<String> {
        self.conn.log.iter().cloned().collect()
    }

    /// The last `n` lines of [`Page::console`], joined.
    pub fn console_tail(&self, n: usize) -> String {
        let skip = self.conn.log.len().saturating_sub(n);
        let lines: Vec<&str> = self
            .conn
            .log
            .iter()
            .skip(skip)
            .map(String::as_str)
            .collect();
        if lines.is_empty() {
            "(none)".into()
        } else {
            lines.join("\n")
        }
    }

    /// The DevTools target id of this tab.
    pub fn target_id(&self) -> &str {
        &self.target
    }
}

/// JavaScript truthiness of a JSON value.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// Standard base64 (RFC 4648, `+/`, padding optional, whitespace ignored).
pub fn base64_decode(s: &str) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            b' ' | b'\n' | b'\r' | b'\t' => continue,
            _ => bail!("invalid base64 byte {c:#04x}"),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_roundtrip_known_vectors() {
        for (enc, dec) in [
            ("", ""),
            ("Zg==", "f"),
            ("Zm8=", "fo"),
            ("Zm9v", "foo"),
            ("Zm9vYg==", "foob"),
            ("Zm9vYmE=", "fooba"),
            ("Zm9vYmFy", "foobar"),
            ("Zm9v\nYmFy", "foobar"),
        ] {
            assert_eq!(base64_decode(enc).unwrap(), dec.as_bytes(), "{enc}");
        }
        assert!(base64_decode("Zm9v!").is_err());
    }
}
