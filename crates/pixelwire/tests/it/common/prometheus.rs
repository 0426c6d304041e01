//! A real Prometheus server and node exporter for integration tests: [`Prometheus::start`] runs
//! Debian's `/usr/bin/prometheus` on a free loopback port with its own config and TSDB in a temp
//! dir, scraping the given targets every second; [`Prometheus::query`] and
//! [`Prometheus::wait_for`] ask its HTTP API (`/api/v1/query`). [`promtool_check_metrics`] lints
//! an exposition with `promtool check metrics`. Install the tools with
//! `scripts/setup-test-deps.sh` (CI does); `$PIXELWIRE_PROMETHEUS`, `$PIXELWIRE_PROMTOOL` and
//! `$PIXELWIRE_NODE_EXPORTER` point at other binaries.
//!
//! Everything here is **blocking** (std sockets and processes). From a tokio test, call it inside
//! `tokio::task::spawn_blocking` with a [`PrometheusApi`] (cheap to clone, `'static`), or use
//! `#[tokio::test(flavor = "multi_thread")]` and `tokio::task::block_in_place`: blocking the only
//! thread of a current-thread runtime would also stop the pixelwire server Prometheus scrapes.
//!
//! Timing, measured with Prometheus 2.42:
//! * targets are first scraped about 5 s after start (and after [`Prometheus::restart`]):
//!   discovery hands targets to the scrape loops at most every 5 s; `rate(x[1m])` needs two
//!   scrapes, so about 6–7 s. Give [`Prometheus::wait_for`] 30 s.
//! * [`Prometheus::stop`] shuts down gracefully (SIGTERM): everything scraped so far is on disk and
//!   visible after [`Prometheus::restart`], which serves queries at once (before its first new
//!   scrape). No staleness markers are written across a stop: a series whose target is gone after
//!   the restart stays visible to instant queries for the lookback delta (5 min, or
//!   `--query.lookback-delta` passed to [`Prometheus::start_with`]) after its last sample, while
//!   `up` of that target turns 0. A target that vanishes while Prometheus runs gets staleness
//!   markers at its next failed scrape, so its series end at once.
//!
//! ```ignore
//! let prom = prometheus::Prometheus::start(&[("pixelwire", running.http_addr)]);
//! let api = prom.api();
//! let up = tokio::task::spawn_blocking(move || {
//!     api.wait_for("up{job=\"pixelwire\"}", Duration::from_secs(30), |v| v == 1.0)
//! })
//! .await
//! .unwrap();
//! ```
#![allow(dead_code)]

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A series of an instant query: its labels (with `__name__` when the result keeps it) and value.
pub type Series = (BTreeMap<String, String>, f64);

/// How long a server may take to become ready.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `stop` waits after SIGTERM before SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Deadline of one HTTP request to a server.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts at starting on a fresh port when the chosen one was taken meanwhile.
const PORT_ATTEMPTS: usize = 5;

/// The binary at `$<env>` if set, else `/usr/bin/<name>`, else `<name>` on `PATH`.
fn find_binary(env: &str, name: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let fixed = Path::new("/usr/bin").join(name);
    if fixed.is_file() {
        return Some(fixed);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn require_binary(env: &str, name: &str, package: &str) -> PathBuf {
    find_binary(env, name).unwrap_or_else(|| {
        panic!(
            "{name} not found (looked at ${env}, /usr/bin/{name}, PATH): install Debian's \
             `{package}` package with scripts/setup-test-deps.sh (CI does)"
        )
    })
}

/// Runs `promtool check metrics` on `exposition` (Prometheus text format 0.0.4, as promtool
/// reads it) and returns its exit status and everything it printed (stdout, then stderr). Exit
/// status 0 with empty output means no problems; lint problems exit 3 and are listed one a line.
pub fn promtool_check_metrics(exposition: &[u8]) -> (ExitStatus, String) {
    let promtool = require_binary("PIXELWIRE_PROMTOOL", "promtool", "prometheus");
    let mut child = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {}: {e}", promtool.display()));
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = exposition.to_vec();
    // Feed stdin from another thread so a promtool that talks before reading cannot deadlock us.
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().expect("wait for promtool");
    writer
        .join()
        .expect("stdin writer thread")
        .expect("write the exposition to promtool");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status, text)
}

/// A port on 127.0.0.1 that was free a moment ago (bound to :0, then released). Another process
/// may take it before we use it: callers retry on "address already in use".
fn free_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr")
}

/// The last `n` lines of a log file from byte `from` on.
fn log_tail(path: &Path, from: u64, n: usize) -> String {
    let mut text = String::new();
    if let Ok(mut f) = File::open(path) {
        let _ = f.seek(SeekFrom::Start(from));
        let _ = f.read_to_string(&mut text);
    }
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// GET `path` (with its query string) over HTTP/1.0, so the body is neither chunked nor kept
/// alive: returns the status and the body.
pub fn http_get(addr: SocketAddr, path: &str) -> Result<(u16, Vec<u8>)> {
    http_get_accept(addr, path, "application/json, */*").map(|(status, _, body)| (status, body))
}

/// [`http_get`] with an `Accept` header; returns the status, the response head and the body.
pub fn http_get_accept(
    addr: SocketAddr,
    path: &str,
    accept: &str,
) -> Result<(u16, String, Vec<u8>)> {
    let mut s = TcpStream::connect_timeout(&addr, HTTP_TIMEOUT)
        .with_context(|| format!("connect to {addr}"))?;
    s.set_read_timeout(Some(HTTP_TIMEOUT))?;
    s.set_write_timeout(Some(HTTP_TIMEOUT))?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nAccept: {accept}\r\n\r\n"
    )
    .with_context(|| format!("send GET {path} to {addr}"))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)
        .with_context(|| format!("read the answer to GET {path} from {addr}"))?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| anyhow!("GET {path}: no end of headers in {} bytes", raw.len()))?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("GET {path}: bad status line {head:?}"))?;
    Ok((status, head.into_owned(), raw[split + 4..].to_vec()))
}

/// A started process with its port, temp dir and log.
struct Daemon {
    what: &'static str,
    binary: PathBuf,
    dir: PathBuf,
    log: PathBuf,
    addr: SocketAddr,
    child: Option<Child>,
}

impl Daemon {
    /// Spawns `args` and waits until `ready(addr)`, which must also tell our process from another
    /// one that got the port first. `Err(None)` means the port was taken (retry elsewhere);
    /// `Err(Some(reason))` any other failure.
    fn spawn(
        &mut self,
        args: &[String],
        ready: &dyn Fn(SocketAddr) -> bool,
    ) -> std::result::Result<(), Option<String>> {
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| Some(format!("open {}: {e}", self.log.display())))?;
        let from = log.metadata().map(|m| m.len()).unwrap_or(0);
        let mut child = Command::new(&self.binary)
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| Some(e.to_string()))?)
            .stderr(log)
            .spawn()
            .map_err(|e| Some(format!("spawn {}: {e}", self.binary.display())))?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let tail = log_tail(&self.log, from, 30);
                if tail.contains("address already in use") {
                    return Err(None);
                }
                return Err(Some(format!(
                    "{} exited with {status} before it was ready; its log:\n{tail}",
                    self.what
                )));
            }
            if ready(self.addr) {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Some(format!(
                    "{} on {} not ready within {START_TIMEOUT:?}; its log:\n{}",
                    self.what,
                    self.addr,
                    log_tail(&self.log, from, 30)
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts on a free port, retrying when the port got taken between choosing and binding.
    fn start_anywhere(
        &mut self,
        args: impl Fn(SocketAddr) -> Vec<String>,
        ready: &dyn Fn(SocketAddr) -> bool,
    ) {
        for _ in 0..PORT_ATTEMPTS {
            self.addr = free_port();
            match self.spawn(&args(self.addr), ready) {
                Ok(()) => return,
                Err(None) => continue,
                Err(Some(reason)) => panic!("{reason}"),
            }
        }
        panic!(
            "{}: every port tried was taken ({PORT_ATTEMPTS} attempts)",
            self.what
        );
    }

    /// SIGTERM, wait up to [`STOP_TIMEOUT`], then SIGKILL.
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "{}: kept {} for a look (log: {})",
                self.what,
                self.dir.display(),
                self.log.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A Prometheus server on loopback; killed and its temp dir removed on drop (the dir is kept, and
/// its path printed, when the test is panicking).
pub struct Prometheus {
    daemon: Daemon,
    args: Vec<String>,
}

impl Prometheus {
    /// Starts `prometheus` on 127.0.0.1:<free port> with a temp config and TSDB dir, scraping every
    /// target in `targets` (job name, host:port) every 1 s at `/metrics`; waits until `/-/ready`.
    /// Targets with the same job name form one job. Panics, naming
    /// `scripts/setup-test-deps.sh`, when the binary is missing.
    pub fn start(targets: &[(&str, SocketAddr)]) -> Prometheus {
        Self::start_with(targets, &[])
    }

    /// [`Prometheus::start`] with extra command-line flags, e.g. `--query.lookback-delta=10s`;
    /// [`Prometheus::restart`] passes them again.
    pub fn start_with(targets: &[(&str, SocketAddr)], extra_args: &[&str]) -> Prometheus {
        let binary = require_binary("PIXELWIRE_PROMETHEUS", "prometheus", "prometheus");
        let dir = super::temp_dir("prometheus");
        let mut jobs: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (job, addr) in targets {
            jobs.entry(job).or_default().push(addr.to_string());
        }
        let scrape_configs: Vec<Value> = jobs
            .iter()
            .map(|(job, addrs)| {
                json!({
                    "job_name": job,
                    "metrics_path": "/metrics",
                    "static_configs": [{ "targets": addrs }],
                })
            })
            .collect();
        // JSON is YAML, and serde_json quotes every name correctly.
        let config = json!({
            "global": {
                "scrape_interval": "1s",
                "scrape_timeout": "1s",
                "evaluation_interval": "1s",
            },
            "scrape_configs": scrape_configs,
        });
        let config_path = dir.join("prometheus.yml");
        std::fs::write(
            &config_path,
            serde_json::to_string_pretty(&config).expect("json"),
        )
        .expect("write prometheus.yml");
        let data = dir.join("data");
        let mut args = vec![
            format!("--config.file={}", config_path.display()),
            format!("--storage.tsdb.path={}", data.display()),
            "--storage.tsdb.retention.time=1d".to_string(),
            "--log.level=warn".to_string(),
        ];
        args.extend(extra_args.iter().map(|a| a.to_string()));
        let mut prometheus = Prometheus {
            daemon: Daemon {
                what: "prometheus",
                binary,
                log: dir.join("prometheus.log"),
                dir,
                addr: free_port(),
                child: None,
            },
            args,
        };
        let base = prometheus.args.clone();
        let ready = prometheus.ready_probe();
        prometheus.daemon.start_anywhere(
            |addr| {
                let mut a = base.clone();
                a.push(format!("--web.listen-address={addr}"));
                a
            },
            &ready,
        );
        prometheus
    }

    /// Ready (`/-/ready` answers 200) and ours: its TSDB is our data dir.
    fn ready_probe(&self) -> impl Fn(SocketAddr) -> bool + use<> {
        let data = self.daemon.dir.join("data").display().to_string();
        move |addr| {
            matches!(http_get(addr, "/-/ready"), Ok((200, _)))
                && http_get(addr, "/api/v1/status/flags")
                    .ok()
                    .and_then(|(_, body)| serde_json::from_slice::<Value>(&body).ok())
                    .is_some_and(|v| v["data"]["storage.tsdb.path"] == data.as_str())
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.daemon.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.daemon.addr)
    }

    /// A `'static` handle on the HTTP API, for `spawn_blocking`.
    pub fn api(&self) -> PrometheusApi {
        PrometheusApi {
            addr: self.daemon.addr,
            log: self.daemon.log.clone(),
        }
    }

    /// Stops the server (SIGTERM, SIGKILL after 10 s) and waits for it; keeps the data dir and
    /// the port for [`Prometheus::restart`]. See the module docs for what queries see afterwards.
    pub fn stop(&mut self) {
        self.daemon.stop();
    }

    /// Starts again (stopping first if running) on the same port with the same data dir and
    /// config, and waits until ready. Panics if the port was taken meanwhile.
    pub fn restart(&mut self) {
        self.stop();
        let mut args = self.args.clone();
        args.push(format!("--web.listen-address={}", self.daemon.addr));
        let ready = self.ready_probe();
        match self.daemon.spawn(&args, &ready) {
            Ok(()) => {}
            Err(None) => panic!(
                "prometheus restart: port {} was taken by another process while stopped",
                self.daemon.addr
            ),
            Err(Some(reason)) => panic!("prometheus restart: {reason}"),
        }
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        self.daemon
            .child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Blocking: [`PrometheusApi::query`].
    pub fn query(&self, expr: &str) -> Result<Vec<Series>> {
        self.api().query(expr)
    }

    /// Blocking: [`PrometheusApi::wait_for`].
    pub fn wait_for(
        &self,
        expr: &str,
        timeout: Duration,
        pred: impl Fn(f64) -> bool,
    ) -> Vec<Series> {
        self.api().wait_for(expr, timeout, pred)
    }

    /// Blocking: [`PrometheusApi::label_values`].
    pub fn label_values(&self, label: &str, matcher: &str) -> Result<Vec<String>> {
        self.api().label_values(label, matcher)
    }

    /// Blocking: [`PrometheusApi::targets`].
    pub fn targets(&self) -> Result<Vec<Target>> {
        self.api().targets()
    }
}

/// A scrape target as `/api/v1/targets` reports it.
#[derive(Debug, Clone)]
pub struct Target {
    /// Its job.
    pub job: String,
    /// host:port.
    pub instance: String,
    /// "up", "down" or "unknown" (not scraped yet).
    pub health: String,
    /// Why the last scrape failed, empty if it did not.
    pub last_error: String,
}

/// The HTTP API of a [`Prometheus`]; every call blocks.
#[derive(Debug, Clone)]
pub struct PrometheusApi {
    addr: SocketAddr,
    log: PathBuf,
}

impl PrometheusApi {
    /// GETs an API path and returns `data` of a `"status": "success"` answer.
    fn call(&self, path: &str) -> Result<Value> {
        let (status, body) = http_get(self.addr, path)?;
        let v: Value = serde_json::from_slice(&body).with_context(|| {
            format!(
                "GET {path}: HTTP {status}, not JSON: {}",
                String::from_utf8_lossy(&body)
            )
        })?;
        if status != 200 || v["status"] != "success" {
            bail!(
                "GET {path}: HTTP {status}, {}: {}",
                v["errorType"].as_str().unwrap_or("no errorType"),
                v["error"].as_str().unwrap_or("no error text")
            );
        }
        Ok(v["data"].clone())
    }

    /// Instant query via `/api/v1/query`: (labels, value) per series (one unlabelled series for
    /// a scalar). `Err` on HTTP, JSON and PromQL errors, and for range-vector results.
    pub fn query(&self, expr: &str) -> Result<Vec<Series>> {
        self.query_params(expr, &[("query", expr)])
    }

    /// [`PrometheusApi::query`] evaluated at `time_s` (Unix seconds) instead of now.
    pub fn query_at(&self, expr: &str, time_s: f64) -> Result<Vec<Series>> {
        self.query_params(expr, &[("query", expr), ("time", &format!("{time_s:.3}"))])
    }

    fn query_params(&self, expr: &str, params: &[(&str, &str)]) -> Result<Vec<Series>> {
        let qs = serde_urlencoded::to_string(params).context("encode query")?;
        let data = self
            .call(&format!("/api/v1/query?{qs}"))
            .with_context(|| format!("query {expr}"))?;
        let value = |v: &Value| -> Result<f64> {
            let s = v[1]
                .as_str()
                .ok_or_else(|| anyhow!("query {expr}: sample without a value: {v}"))?;
            s.parse()
                .with_context(|| format!("query {expr}: bad value {s:?}"))
        };
        match data["resultType"].as_str() {
            Some("vector") => data["result"]
                .as_array()
                .ok_or_else(|| anyhow!("query {expr}: no result array: {data}"))?
                .iter()
                .map(|s| {
                    let labels = s["metric"]
                        .as_object()
                        .map(|m| {
                            m.iter()
                                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                                .collect()
                        })
                        .unwrap_or_default();
                    Ok((labels, value(&s["value"])?))
                })
                .collect(),
            Some("scalar") => Ok(vec![(BTreeMap::new(), value(&data["result"])?)]),
            other => {
                bail!("query {expr}: result type {other:?} is not an instant vector or scalar")
            }
        }
    }

    /// Polls [`PrometheusApi::query`] every 200 ms until it returns at least one series whose
    /// value satisfies `pred`, and returns the whole answer. Panics after `timeout` with the last
    /// answer or error, the targets' health and Prometheus's log.
    pub fn wait_for(
        &self,
        expr: &str,
        timeout: Duration,
        pred: impl Fn(f64) -> bool,
    ) -> Vec<Series> {
        let deadline = Instant::now() + timeout;
        loop {
            let last = self.query(expr);
            if let Ok(series) = &last
                && series.iter().any(|(_, v)| pred(*v))
            {
                return series.clone();
            }
            if Instant::now() > deadline {
                panic!(
                    "prometheus: no series of `{expr}` satisfied the condition within {timeout:?}\n\
                     last answer: {last:?}\ntargets: {}\nlog:\n{}",
                    self.describe_targets(),
                    log_tail(&self.log, 0, 20)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Values of `label` on the series that `matcher` selects (`/api/v1/label/<label>/values`,
    /// what Grafana's `label_values(matcher, label)` asks), sorted.
    pub fn label_values(&self, label: &str, matcher: &str) -> Result<Vec<String>> {
        let qs = serde_urlencoded::to_string([("match[]", matcher)]).context("encode matcher")?;
        let data = self.call(&format!("/api/v1/label/{label}/values?{qs}"))?;
        Ok(data
            .as_array()
            .ok_or_else(|| anyhow!("label values of {label}: not an array: {data}"))?
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect())
    }

    /// The active scrape targets.
    pub fn targets(&self) -> Result<Vec<Target>> {
        let data = self.call("/api/v1/targets?state=active")?;
        let s = |v: &Value| v.as_str().unwrap_or("").to_string();
        Ok(data["activeTargets"]
            .as_array()
            .ok_or_else(|| anyhow!("targets: no activeTargets: {data}"))?
            .iter()
            .map(|t| Target {
                job: s(&t["labels"]["job"]),
                instance: s(&t["labels"]["instance"]),
                health: s(&t["health"]),
                last_error: s(&t["lastError"]),
            })
            .collect())
    }

    /// One line per target, for failure messages.
    pub fn describe_targets(&self) -> String {
        match self.targets() {
            Ok(ts) if ts.is_empty() => "none yet (the first scrape comes ~5 s after start)".into(),
            Ok(ts) => ts
                .iter()
                .map(|t| format!("{}/{} {} {}", t.job, t.instance, t.health, t.last_error))
                .collect::<Vec<_>>()
                .join("; "),
            Err(e) => format!("unknown ({e:#})"),
        }
    }
}

/// Debian's `prometheus-node-exporter` on loopback; killed and its temp dir removed on drop.
pub struct NodeExporter {
    daemon: Daemon,
}

impl NodeExporter {
    /// Starts `/usr/bin/prometheus-node-exporter` on 127.0.0.1:<free port> and waits until
    /// `/metrics` answers. Panics, naming `scripts/setup-test-deps.sh`, when it is missing. Its
    /// textfile collector reads the temp dir, which holds one extra gauge,
    /// `pixelwire_test_node_exporter{dir="<temp dir>"} 1`, by which the harness knows it is ours.
    pub fn start() -> NodeExporter {
        let binary = require_binary(
            "PIXELWIRE_NODE_EXPORTER",
            "prometheus-node-exporter",
            "prometheus-node-exporter",
        );
        let dir = super::temp_dir("node-exporter");
        let marker = format!(
            "pixelwire_test_node_exporter{{dir=\"{}\"}} 1",
            dir.display()
        );
        std::fs::write(
            dir.join("pixelwire_test.prom"),
            format!(
                "# HELP pixelwire_test_node_exporter The test that started this exporter.\n\
                 # TYPE pixelwire_test_node_exporter gauge\n{marker}\n"
            ),
        )
        .expect("write the textfile marker");
        let textfile = format!("--collector.textfile.directory={}", dir.display());
        let mut exporter = NodeExporter {
            daemon: Daemon {
                what: "prometheus-node-exporter",
                binary,
                log: dir.join("node-exporter.log"),
                dir,
                addr: free_port(),
                child: None,
            },
        };
        exporter.daemon.start_anywhere(
            |addr| {
                vec![
                    format!("--web.listen-address={addr}"),
                    textfile.clone(),
                    "--log.level=warn".to_string(),
                ]
            },
            &|addr| {
                matches!(http_get(addr, "/metrics"),
                    Ok((200, body)) if String::from_utf8_lossy(&body).contains(&marker))
            },
        );
        exporter
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.daemon.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.daemon.addr)
    }
}
