//! The dashboard source against a real Prometheus that scrapes this very pixelwire's `/metrics`
//! and a real node exporter (issue 5): what the dashboard's model holds is what Prometheus
//! answers for the same instant, its graphs start backfilled, broken queries say why, the frames
//! show it, and when Prometheus stops the screen says so and recovers by itself.
//!
//! The Prometheus harness is blocking; these tests run on a multi-thread runtime and call it
//! through `spawn_blocking` so the server it scrapes keeps running.

use crate::common;

use std::net::SocketAddr;
use std::time::Duration;

use crate::common::prometheus::{NodeExporter, Prometheus, PrometheusApi};
use crate::common::{decode_png, get, temp_dir};
use pixelwire_server::config::Config;
use pixelwire_server::server::Running;
use pixelwire_server::source::dashboard::DashboardView;

/// Seed 000's error colour, used for "no data".
const ERROR: [u8; 3] = [255, 80, 80];
/// The outage banner.
const BANNER: [u8; 3] = [130, 20, 24];

/// A loopback port free right now (the server binds it a moment later).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// Starts pixelwire with HTTP on `http_port` and `streams` (TOML) after the server table.
async fn start_server(http_port: u16, streams: &str) -> Running {
    let data = temp_dir("dash-data");
    let text = format!(
        "[server]\nhttp = \"127.0.0.1:{http_port}\"\ndisplay = \"127.0.0.1:0\"\ndefault_stream = \"dash\"\ndata_dir = \"{}\"\n{}{}{streams}",
        data.display(),
        common::CAMERAS_ON_PORT_0,
        common::RTSP_ON_PORT_0,
    );
    let cfg = Config::parse(&text, None).expect("test config");
    pixelwire_server::server::start(cfg)
        .await
        .expect("server starts")
}

fn dash_stream(prometheus: &str, panels: &str) -> String {
    format!(
        "[[streams]]\nname = \"dash\"\nsource = \"dashboard\"\n[streams.dashboard]\nprometheus = \"{prometheus}\"\ninterval_ms = 500\nhistory_s = 30\n{panels}"
    )
}

/// Four panels in a 2 × 2 grid (160 × 120 cells at 320 × 240), each in its own colour.
const PANELS: &str = r##"
[[streams.dashboard.panels]]
title = "Targets up"
kind = "value"
query = "sum(up)"
color = "#00ff00"

[[streams.dashboard.panels]]
title = "Watchers"
range = [0, 4]
query = 'pixelwire_stream_watchers{stream="dash"}'
color = "#ff00ff"

[[streams.dashboard.panels]]
title = "Broken"
query = "sum(rate(up[1m]"

[[streams.dashboard.panels]]
title = "Many"
query = "up"
"##;

fn view(running: &Running, stream: &str) -> DashboardView {
    running
        .state
        .dashboards
        .get(stream)
        .unwrap_or_else(|| panic!("{stream} is a dashboard"))
}

/// Polls the dashboard's view until `pred` holds; panics with the last view after `timeout`.
async fn wait_view(
    running: &Running,
    stream: &str,
    timeout: Duration,
    what: &str,
    pred: impl Fn(&DashboardView) -> bool,
) -> DashboardView {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let v = view(running, stream);
        if pred(&v) {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}; last view: {v:#?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn value_of(v: &DashboardView, panel: usize) -> Option<f64> {
    v.panels[panel].series[0].reading.value
}

/// Starts a node exporter and a Prometheus scraping it and pixelwire's future `http_port`.
async fn start_prometheus(http_port: u16) -> (Prometheus, NodeExporter) {
    tokio::task::spawn_blocking(move || {
        let node = NodeExporter::start();
        let pixelwire: SocketAddr = ([127, 0, 0, 1], http_port).into();
        let prom = Prometheus::start(&[("pixelwire", pixelwire), ("node", node.addr())]);
        (prom, node)
    })
    .await
    .expect("harness thread")
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f)
        .await
        .expect("harness thread")
}

/// Pixels of exactly `color` in the rectangle of an RGB frame 320 px wide.
fn count(rgb: &[u8], (x0, y0, x1, y1): (usize, usize, usize, usize), color: [u8; 3]) -> usize {
    (y0..y1)
        .flat_map(|y| (x0..x1).map(move |x| (x, y)))
        .filter(|&(x, y)| rgb[(y * 320 + x) * 3..][..3] == color)
        .count()
}

/// Whether the view's readings equal what Prometheus answers for the same instant, per series.
fn mismatches(api: &PrometheusApi, v: &DashboardView) -> Vec<String> {
    let at_s = v.tick_ms.expect("a tick") as f64 / 1000.0;
    let mut out = Vec::new();
    for p in &v.panels {
        for s in &p.series {
            let Some(shown) = s.reading.value else {
                continue;
            };
            match api.query_at(&s.query, at_s).as_deref() {
                Ok([(_, held)]) if *held == shown => {}
                other => out.push(format!(
                    "{}: dashboard {shown}, Prometheus {other:?}",
                    s.query
                )),
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_shows_what_prometheus_holds() {
    let http_port = free_port();
    let (prom, _node) = start_prometheus(http_port).await;
    let url = prom.url();
    let streams = format!(
        "{}\n[[streams]]\nname = \"sys\"\nsource = \"dashboard\"\n[streams.dashboard]\nprometheus = \"{url}\"\npreset = \"node\"\n",
        dash_stream(&url, PANELS)
    );
    let running = start_server(http_port, &streams).await;
    let api = prom.api();
    // Both targets scraped, and a few seconds of history before anyone watches the dashboard.
    blocking({
        let api = api.clone();
        move || api.wait_for("sum(up)", Duration::from_secs(30), |v| v == 2.0)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        view(&running, "dash").connection,
        "idle",
        "nobody watches yet"
    );

    // A real display watches "dash" (the default stream).
    let mut device =
        common::Device::connect(running.display_addrs[0], common::hello("desk", 320, 240)).await;
    let device_task = tokio::spawn(async move {
        loop {
            device.run_for(Duration::from_millis(500)).await;
            if device.closed.is_some() {
                return device;
            }
        }
    });

    let first = wait_view(
        &running,
        "dash",
        Duration::from_secs(15),
        "first answers",
        |v| v.connection == "ok" && value_of(v, 0).is_some(),
    )
    .await;
    // The graphs start full: many samples from before the first poll, from the range query.
    let backfilled = first.panels[0].series[0]
        .history
        .iter()
        .filter(|s| **s == Some(2.0))
        .count();
    assert!(
        backfilled >= 6,
        "backfilled samples: {backfilled} in {first:#?}"
    );

    // Watchers is 1 once Prometheus has scraped the display's watch.
    let v = wait_view(
        &running,
        "dash",
        Duration::from_secs(15),
        "watchers = 1",
        |v| value_of(v, 1) == Some(1.0) && value_of(v, 0) == Some(2.0),
    )
    .await;
    let bad = blocking({
        let (api, v) = (api.clone(), v.clone());
        move || mismatches(&api, &v)
    })
    .await;
    assert!(
        bad.is_empty(),
        "dashboard and Prometheus disagree: {bad:#?}"
    );
    // Broken queries say why, in Prometheus's words; a query with many series asks to aggregate.
    let broken = &v.panels[2].series[0].reading;
    assert_eq!(broken.state, "no_data");
    assert!(
        broken
            .reason
            .as_deref()
            .is_some_and(|r| r.starts_with("bad_data")),
        "{broken:?}"
    );
    let many = &v.panels[3].series[0].reading;
    assert!(
        many.reason
            .as_deref()
            .is_some_and(|r| r.starts_with("2 series")),
        "{many:?}"
    );
    assert_eq!(v.panels[0].series[0].reading.text, "2.00");
    assert_eq!(v.panels[1].series[0].reading.text, "1.00");

    // The frame shows it: green value and magenta line where there is data, red "no data" only
    // in the broken panels.
    let r = get(running.http_addr, "/api/streams/dash/snapshot.png").await;
    assert_eq!(r.status, 200);
    let (w, h, rgb) = decode_png(&r.body);
    assert_eq!((w, h), (320, 240));
    let cells = [
        (0, 0, 160, 120),
        (160, 0, 320, 120),
        (0, 120, 160, 240),
        (160, 120, 320, 240),
    ];
    assert!(count(&rgb, cells[0], [0, 255, 0]) > 100, "green value");
    assert!(count(&rgb, cells[1], [255, 0, 255]) > 30, "magenta line");
    assert_eq!(
        count(&rgb, cells[0], ERROR) + count(&rgb, cells[1], ERROR),
        0
    );
    assert!(
        count(&rgb, cells[2], ERROR) > 50,
        "broken panel says no data"
    );
    assert!(
        count(&rgb, cells[3], ERROR) > 50,
        "many-series panel says no data"
    );
    // The JSON API serves the same model.
    let r = get(running.http_addr, "/api/streams/dash/dashboard").await;
    assert_eq!(r.status, 200);
    let json: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(json["panels"][0]["title"], "Targets up");
    assert_eq!(json["connection"], "ok");
    assert_eq!(
        get(running.http_addr, "/api/streams/bios/dashboard")
            .await
            .status,
        404
    );

    // A second watcher: Prometheus sees 2, the dashboard follows and draws a new frame.
    let frames_before = view(&running, "dash").frames;
    let _second = running.state.bus.get("dash").expect("dash").watch();
    wait_view(
        &running,
        "dash",
        Duration::from_secs(15),
        "watchers = 2",
        |v| value_of(v, 1) == Some(2.0),
    )
    .await;
    assert!(view(&running, "dash").frames > frames_before);

    // The node preset shows this machine: every panel that node_exporter can feed here has a
    // value equal to Prometheus's (temperature sensors are absent in most VMs and containers).
    let _sys_watch = running.state.bus.get("sys").expect("sys").watch();
    let sys = wait_view(
        &running,
        "sys",
        Duration::from_secs(20),
        "node preset values",
        |v| v.connection == "ok" && (0..3).all(|p| value_of(v, p).is_some()),
    )
    .await;
    let titles: Vec<&str> = sys.panels.iter().map(|p| p.title.as_str()).collect();
    assert_eq!(
        titles,
        ["CPU", "Memory", "Load", "Disk", "Network", "Temperature"]
    );
    let cpu = value_of(&sys, 0).unwrap_or(-1.0);
    assert!((0.0..=100.0).contains(&cpu), "cpu {cpu}");
    assert!(
        sys.panels[1]
            .max
            .as_ref()
            .and_then(|m| m.value)
            .is_some_and(|m| m > 0.0)
    );
    assert!(
        sys.panels[1].series[0].reading.text.ends_with("iB"),
        "{:?}",
        sys.panels[1]
    );
    // Instant answers can race a scrape that lands just after the poll: agree within 3 tries.
    let mut bad = Vec::new();
    for _ in 0..3 {
        let v = view(&running, "sys");
        bad = blocking({
            let api = api.clone();
            move || mismatches(&api, &v)
        })
        .await;
        if bad.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    assert!(
        bad.is_empty(),
        "node preset and Prometheus disagree: {bad:#?}"
    );

    device_task.abort();
    running.shutdown();
    drop(prom);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_outage_shows_no_data_and_recovers() {
    let http_port = free_port();
    let (mut prom, _node) = start_prometheus(http_port).await;
    let panels = r##"
[[streams.dashboard.panels]]
title = "Targets up"
query = "sum(up)"
range = [0, 3]
color = "#00ff00"
"##;
    let running = start_server(http_port, &dash_stream(&prom.url(), panels)).await;
    let api = prom.api();
    blocking(move || api.wait_for("sum(up)", Duration::from_secs(30), |v| v == 2.0)).await;
    let _watch = running.state.bus.get("dash").expect("dash").watch();
    let before = wait_view(&running, "dash", Duration::from_secs(15), "values", |v| {
        v.connection == "ok" && value_of(v, 0) == Some(2.0)
    })
    .await;
    let samples_before = before.panels[0].series[0].history.iter().flatten().count();

    // Prometheus goes away mid-stream.
    let mut prom = blocking(move || {
        prom.stop();
        prom
    })
    .await;
    let down = wait_view(&running, "dash", Duration::from_secs(10), "failing", |v| {
        v.connection == "failing"
    })
    .await;
    assert_eq!(down.error.as_deref(), Some("connection refused"));
    let reading = &down.panels[0].series[0].reading;
    assert_eq!(
        (reading.state, reading.reason.as_deref()),
        ("no_data", Some("connection refused"))
    );
    // The screen keeps streaming while it waits: the graph moves on with a gap.
    let frames_down = down.frames;
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let later = view(&running, "dash");
    assert!(
        later.frames > frames_down,
        "frames keep coming: {} -> {}",
        frames_down,
        later.frames
    );
    assert!(
        later.panels[0].series[0].history.last() == Some(&None),
        "a gap at the newest tick"
    );
    // The frame says so: a red banner along the bottom and "no data" in the panel.
    let r = get(running.http_addr, "/api/streams/dash/snapshot.png").await;
    assert_eq!(r.status, 200);
    let (_, _, rgb) = decode_png(&r.body);
    assert!(count(&rgb, (0, 228, 320, 240), BANNER) > 1000, "banner");
    assert!(count(&rgb, (0, 0, 320, 120), ERROR) > 50, "no data");
    // Everyone else is still served.
    assert_eq!(get(running.http_addr, "/api/status").await.status, 200);

    // Prometheus comes back: the dashboard recovers by itself (backoff is at most 30 s, here
    // a few seconds), the banner goes, and the graph is backfilled.
    // Keep the restarted server: dropping the harness stops it.
    let prom = blocking(move || {
        prom.restart();
        prom
    })
    .await;
    let up = wait_view(
        &running,
        "dash",
        Duration::from_secs(40),
        "recovered",
        |v| v.connection == "ok" && value_of(v, 0).is_some(),
    )
    .await;
    assert_eq!(up.failures, 0);
    let samples_after = up.panels[0].series[0].history.iter().flatten().count();
    assert!(
        samples_after >= samples_before,
        "history backfilled after the outage: {samples_before} -> {samples_after}"
    );
    // The frame drawn for that view has no banner.
    let r = get(running.http_addr, "/api/streams/dash/snapshot.png").await;
    let (_, _, rgb) = decode_png(&r.body);
    assert_eq!(count(&rgb, (0, 228, 320, 240), BANNER), 0, "banner gone");
    running.shutdown();
    drop(prom);
}
