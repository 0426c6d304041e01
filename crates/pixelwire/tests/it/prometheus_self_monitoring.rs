//! pixelwire watched by a real Prometheus (issue 5): with a display, a camera and a viewer at
//! work so that every metric family of `docs/api.md` has series, `promtool check metrics` finds
//! nothing to complain about in `/metrics`, Prometheus scrapes it (`up == 1`), and every query of
//! the Grafana dashboard `docs/grafana/pixelwire.json` returns data from that Prometheus. A second
//! test checks the harness (`common/prometheus.rs`): a node exporter is scraped, and a stopped and
//! restarted Prometheus keeps its port and its data.
//! Needs Debian's `prometheus` package (scripts/setup-test-deps.sh; CI installs it).

use crate::common::prometheus::{
    NodeExporter, Prometheus, PrometheusApi, http_get_accept, promtool_check_metrics,
};
use crate::common::{Device, get, hello, start_with_default};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

/// A pattern stream for the display, recorded into 1-s files of which all but the open one are
/// over `max_bytes` (so the recording families, deletions included, have series), and a dashboard
/// whose Prometheus (the discard port) never answers, so the dashboard poll families have series.
const CONFIG: &str = "[recording]\nsegment_seconds = 1\nmax_bytes = 1\n\
[[streams]]\nname = \"pattern\"\nsource = \"pattern\"\nfps = 10\nrecord = \"always\"\n\
[[streams]]\nname = \"dash\"\nsource = \"dashboard\"\n\
[streams.dashboard]\nprometheus = \"http://127.0.0.1:9\"\ntimeout_ms = 200\n\
[[displays]]\nid = \"desk\"\nstream = \"pattern\"\n";

const DASHBOARD: &str = include_str!("../../../../docs/grafana/pixelwire.json");
const API_DOC: &str = include_str!("../../../../docs/api.md");

/// Prometheus 2.x's scrape `Accept` header.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// How long Prometheus gets to show data: its first scrape comes ~5 s after start, rates need two.
const PROMETHEUS_TIMEOUT: Duration = Duration::from_secs(30);

/// (metric, type) of every row of the metrics table in `docs/api.md`, but the cluster's: one
/// node has no cluster, and `cluster::` checks those with two nodes and a NATS server.
fn documented_metrics() -> Vec<(String, String)> {
    let rows: Vec<(String, String)> = API_DOC
        .lines()
        .filter(|l| l.starts_with("| `pixelwire_") && !l.starts_with("| `pixelwire_cluster_"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (cells[1].trim_matches('`').to_string(), cells[2].to_string())
        })
        .collect();
    assert!(rows.len() >= 25, "metrics table not found in docs/api.md");
    rows
}

/// Work that makes every metric family appear, until `stop`.
struct Load {
    stop: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<()>>,
    /// Keeps the dashboard polling.
    _dashboard: pixelwire_server::bus::StreamWatch,
}

impl Load {
    async fn start(running: &pixelwire_server::server::Running) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let display = running.display_addrs[0];
        let http = running.http_addr;
        let mut tasks = Vec::new();

        // A display seen before: its second connection counts as a reconnection.
        let mut first = Device::connect(display, hello("desk", 160, 120)).await;
        first.run_for(Duration::from_millis(300)).await;
        drop(first);
        // Garbage on the display port: a session ended by a protocol error.
        let mut garbage = tokio::net::TcpStream::connect(display)
            .await
            .expect("connect display port");
        garbage
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("send garbage");
        tasks.push(tokio::spawn(async move {
            let mut sink = Vec::new();
            let _ = tokio::time::timeout(
                Duration::from_secs(5),
                tokio::io::AsyncReadExt::read_to_end(&mut garbage, &mut sink),
            )
            .await;
        }));

        // The display, reporting its figures about twice a second.
        let s = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut dev = Device::connect(display, hello("desk", 160, 120)).await;
            let stats = pixelwire_proto::Stats {
                fps_centi: 1000,
                decode_us: 2500,
                panel_us: 1500,
                rssi_dbm: -58,
                free_heap_bytes: 150_000,
                ..Default::default()
            };
            while !s.load(Ordering::Relaxed) {
                dev.run_for(Duration::from_millis(500)).await;
                assert!(dev.closed.is_none(), "display closed: {:?}", dev.closed);
                dev.session.send_stats(&stats);
                let out = dev.session.take_transmit().to_vec();
                dev.sock.write_all(&out).await.expect("send STATS");
            }
        }));

        // A WebSocket camera: 10 frames a second, after one truncated JPEG (dropped).
        let s = stop.clone();
        tasks.push(tokio::spawn(async move {
            let (mut ws, _) =
                tokio_tungstenite::connect_async(format!("ws://{http}/ws/camera/porch"))
                    .await
                    .expect("camera connects");
            let rgba: Vec<u8> = (0..160 * 120 * 4).map(|i| (i % 251) as u8).collect();
            let jpeg = pixelwire_media::jpeg::encode_rgba(&rgba, 160, 120, 80).expect("jpeg");
            let truncated = jpeg[..jpeg.len() / 2].to_vec();
            ws.send(Message::Binary(truncated.into()))
                .await
                .expect("send truncated");
            while !s.load(Ordering::Relaxed) {
                ws.send(Message::Binary(jpeg.clone().into()))
                    .await
                    .expect("send frame");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }));

        // An H.264 viewer of the display's stream, reading everything and reporting like the
        // viewer page, after one malformed report (refused).
        let s = stop.clone();
        tasks.push(tokio::spawn(async move {
            let (mut ws, _) = tokio_tungstenite::connect_async(format!(
                "ws://{http}/api/streams/pattern/ws?codec=h264"
            ))
            .await
            .expect("viewer connects");
            let report = |text: &str| Message::Text(text.to_string().into());
            ws.send(report(r#"{"type":"report","codec":"h264","decoded":-1}"#))
                .await
                .expect("send a malformed report");
            while !s.load(Ordering::Relaxed) {
                match tokio::time::timeout(Duration::from_millis(500), ws.next()).await {
                    Ok(Some(Ok(_))) | Err(_) => {}
                    other => panic!("viewer socket ended: {other:?}"),
                }
                ws.send(report(
                    r#"{"type":"report","codec":"h264","decoded":5,"dropped":1,"latency_ms":[25,31.5]}"#,
                ))
                .await
                .expect("send a report");
            }
        }));
        // A WHEP offer that is refused, then a session that is answered and deleted (nobody does
        // ICE for it: its families appear all the same).
        tasks.push(tokio::spawn(async move {
            let path = "/api/streams/pattern/whep";
            let sdp = "application/sdp";
            let bad = crate::whep::request(http, "POST", path, sdp, "garbage").await;
            assert_eq!(bad.status, 400);
            let r = crate::whep::request(http, "POST", path, sdp, crate::whep::OFFER).await;
            assert_eq!(r.status, 201, "{}", r.body);
            let location = crate::whep::location(&r.head).expect("a Location");
            tokio::time::sleep(Duration::from_millis(300)).await;
            let d = crate::whep::request(http, "DELETE", &location, "text/plain", "").await;
            assert_eq!(d.status, 200);
        }));
        let _dashboard = running.state.bus.get("dash").expect("dash stream").watch();
        Load {
            stop,
            tasks,
            _dashboard,
        }
    }

    async fn finish(self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            tokio::time::timeout(Duration::from_secs(10), t)
                .await
                .expect("load task ends")
                .expect("load task did not panic");
        }
    }
}

/// `/metrics` once every family of `docs/api.md` is there, as `# TYPE <name> <type>` of the
/// 0.0.4 text format (counters are described by their `_total` names there).
async fn metrics_with_every_family(addr: SocketAddr) -> String {
    let want = documented_metrics();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = get(addr, "/metrics").await;
        assert_eq!(r.status, 200);
        assert!(
            r.headers
                .to_ascii_lowercase()
                .contains("content-type: text/plain; version=0.0.4; charset=utf-8"),
            "without an Accept header /metrics is the 0.0.4 text format: {}",
            r.headers
        );
        let text = String::from_utf8(r.body).expect("utf-8 exposition");
        let missing: Vec<String> = want
            .iter()
            .map(|(name, kind)| format!("# TYPE {name} {kind}\n"))
            .filter(|line| !text.contains(line.as_str()))
            .collect();
        if missing.is_empty() {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "these families of docs/api.md never appeared in /metrics:\n{}\n{text}",
            missing.concat()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every `expr` of the dashboard with the panel it belongs to, rows and nested panels included.
fn dashboard_queries(dashboard: &Value) -> Vec<(String, String)> {
    fn walk(panels: &Value, out: &mut Vec<(String, String)>) {
        for p in panels.as_array().into_iter().flatten() {
            let title = p["title"].as_str().unwrap_or("?");
            for t in p["targets"].as_array().into_iter().flatten() {
                if let Some(expr) = t["expr"].as_str() {
                    out.push((title.to_string(), expr.to_string()));
                }
            }
            walk(&p["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

/// A value as Grafana writes it into a regex matcher: regex-escaped, and each backslash doubled
/// for the PromQL string.
fn regex_escape(v: &str) -> String {
    v.chars()
        .flat_map(|c| {
            let special = "\\^$*+?.()|{}[]".contains(c);
            special
                .then_some("\\\\")
                .into_iter()
                .flat_map(str::chars)
                .chain([c])
        })
        .collect()
}

/// What each query variable of the dashboard expands to with every value selected: its
/// `label_values(metric, label)` asked from Prometheus like Grafana does, as `(a|b|…)`.
fn variable_values(dashboard: &Value, api: &PrometheusApi) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    for v in dashboard["templating"]["list"]
        .as_array()
        .expect("templating")
    {
        let name = v["name"].as_str().expect("variable name");
        match v["type"].as_str() {
            Some("datasource") => continue,
            Some("query") => {}
            other => panic!("variable {name}: unexpected type {other:?}"),
        }
        let q = v["query"]["query"]
            .as_str()
            .or(v["query"].as_str())
            .expect("variable query");
        let (matcher, label) = q
            .strip_prefix("label_values(")
            .and_then(|r| r.strip_suffix(')'))
            .and_then(|r| r.rsplit_once(','))
            .unwrap_or_else(|| panic!("variable {name}: not label_values(metric, label): {q}"));
        let deadline = Instant::now() + PROMETHEUS_TIMEOUT;
        let values = loop {
            let values = api.label_values(label.trim(), matcher.trim());
            match values {
                Ok(v) if !v.is_empty() => break v,
                _ if Instant::now() > deadline => {
                    panic!("variable {name}: {q} has no values: {values:?}")
                }
                _ => std::thread::sleep(Duration::from_millis(200)),
            }
        };
        let alternatives: Vec<String> = values.iter().map(|v| regex_escape(v)).collect();
        vars.insert(name.to_string(), format!("({})", alternatives.join("|")));
    }
    vars
}

/// `expr` as Grafana sends it: `$__rate_interval` as for a 15 s scrape interval, variables
/// expanded. Panics on a variable it does not know.
fn expand(expr: &str, vars: &BTreeMap<String, String>) -> String {
    let mut e = expr.replace("$__rate_interval", "1m");
    for (name, value) in vars {
        e = e
            .replace(&format!("${{{name}}}"), value)
            .replace(&format!("${name}"), value);
    }
    assert!(!e.contains('$'), "unknown variable in `{expr}` → `{e}`");
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_pixelwire_and_every_dashboard_query_has_data() {
    let started = Instant::now();
    let running = start_with_default("pattern", CONFIG).await;
    let load = Load::start(&running).await;

    // (a) promtool lints the exposition every family is in.
    let text = metrics_with_every_family(running.http_addr).await;
    assert!(
        !text.contains("# EOF") && !text.contains("# UNIT"),
        "{text}"
    );
    let (status, out) = promtool_check_metrics(text.as_bytes());
    assert!(
        status.success() && out.trim().is_empty(),
        "promtool check metrics: {status}\n{out}\non:\n{text}"
    );

    // Prometheus is offered OpenMetrics (what it asks for first).
    let http = running.http_addr;
    let (status, head, body) = tokio::task::spawn_blocking(move || {
        http_get_accept(http, "/metrics", PROMETHEUS_ACCEPT).expect("GET /metrics")
    })
    .await
    .unwrap();
    assert_eq!(status, 200);
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/openmetrics-text; version=1.0.0"),
        "{head}"
    );
    let om = String::from_utf8_lossy(&body);
    assert!(
        om.ends_with("# EOF\n") && om.contains("# TYPE pixelwire_stream_frames counter\n"),
        "{om}"
    );

    // (c) Prometheus scrapes it.
    let prometheus = Prometheus::start(&[("pixelwire", running.http_addr)]);
    let api = prometheus.api();
    let dashboard: Value = serde_json::from_str(DASHBOARD).expect("dashboard is JSON");
    let (up, failures, checked) = tokio::task::spawn_blocking(move || {
        let up = api.wait_for("up{job=\"pixelwire\"}", PROMETHEUS_TIMEOUT, |v| v == 1.0);

        // (b) every dashboard query returns data: at least one series with a number.
        let vars = variable_values(&dashboard, &api);
        let queries: Vec<(String, String, String)> = dashboard_queries(&dashboard)
            .into_iter()
            .map(|(panel, expr)| {
                let e = expand(&expr, &vars);
                (panel, expr, e)
            })
            .collect();
        assert!(queries.len() >= 30, "only {} queries found", queries.len());
        let checked = queries.len();
        let deadline = Instant::now() + PROMETHEUS_TIMEOUT;
        let mut pending = queries;
        let mut last: BTreeMap<String, String> = BTreeMap::new();
        while !pending.is_empty() && Instant::now() < deadline {
            pending.retain(|(_, _, e)| match api.query(e) {
                Ok(series) if series.iter().any(|(_, v)| !v.is_nan()) => false,
                other => {
                    last.insert(e.clone(), format!("{other:?}"));
                    true
                }
            });
            std::thread::sleep(Duration::from_millis(250));
        }
        let failures: Vec<String> = pending
            .iter()
            .map(|(panel, expr, e)| {
                format!(
                    "  panel {panel:?}: {expr}\n    sent {e}\n    got {}",
                    last.get(e).map_or("nothing (never asked)", String::as_str)
                )
            })
            .collect();
        let failures = (!failures.is_empty()).then(|| {
            format!(
                "{}\ntargets: {}",
                failures.join("\n"),
                api.describe_targets()
            )
        });
        (up, failures, checked)
    })
    .await
    .unwrap();
    assert_eq!(up.len(), 1, "{up:?}");
    assert_eq!(
        up[0].0.get("instance").map(String::as_str),
        Some(running.http_addr.to_string().as_str())
    );
    if let Some(f) = failures {
        panic!("dashboard queries without data from Prometheus:\n{f}");
    }
    // Still up after all that (every scrape parsed).
    let still = tokio::task::block_in_place(|| {
        prometheus.query("min_over_time(up{job=\"pixelwire\"}[1m])")
    })
    .expect("query up");
    assert_eq!(still.len(), 1, "{still:?}");
    assert_eq!(
        still[0].1,
        1.0,
        "a scrape failed: {}",
        prometheus.api().describe_targets()
    );

    load.finish().await;
    drop(prometheus);
    running.shutdown();
    eprintln!(
        "{checked} dashboard queries answered; test took {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// The harness: Prometheus scrapes a node exporter; `stop` and `restart` keep the port and every
/// sample, and scraping resumes.
#[test]
fn harness_scrapes_a_node_exporter_and_keeps_data_across_a_restart() {
    let node = NodeExporter::start();
    let mut prometheus = Prometheus::start(&[("node", node.addr())]);
    let addr = prometheus.addr();
    assert_eq!(prometheus.url(), format!("http://{addr}"));
    let first = prometheus.wait_for("node_time_seconds", PROMETHEUS_TIMEOUT, |v| v > 0.0);
    assert_eq!(
        first[0].0.get("instance").map(String::as_str),
        Some(node.addr().to_string().as_str()),
        "{first:?}"
    );
    let samples = |p: &Prometheus| {
        p.query("count_over_time(up{job=\"node\"}[10m])")
            .expect("query")
            .first()
            .map_or(0.0, |s| s.1)
    };
    let before = samples(&prometheus);
    assert!(before >= 1.0);

    prometheus.stop();
    assert!(
        prometheus.query("up").is_err(),
        "a stopped server answers nothing"
    );
    prometheus.restart();
    assert_eq!(prometheus.addr(), addr, "restart keeps the port");
    // What was scraped before the stop is there at once, before the first new scrape.
    assert!(
        samples(&prometheus) >= before,
        "samples lost across the restart"
    );
    let restarted = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    prometheus.wait_for(
        "timestamp(up{job=\"node\"} == 1)",
        PROMETHEUS_TIMEOUT,
        |t| t > restarted,
    );
}
