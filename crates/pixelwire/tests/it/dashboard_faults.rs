//! The dashboard source against servers that are not a healthy Prometheus: one that answers
//! garbage, one that never answers, nobody listening, and one whose queries Prometheus rejects.
//! The screen keeps streaming, says what is wrong, backs off, and recovers when the server heals.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use crate::common::{decode_png, get, start_with_default};
use pixelwire_server::server::Running;
use pixelwire_server::source::dashboard::DashboardView;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// How the fake server answers.
const GARBAGE: u8 = 0;
const SILENT: u8 = 1;
const HEALTHY: u8 = 2;
const REJECTS: u8 = 3;

/// A fake "Prometheus" on loopback whose behaviour the test switches at run time.
async fn fake_prometheus(mode: Arc<AtomicU8>) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mode = mode.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let mut have = 0;
                // Read one request (headers and the form body of the declared length).
                loop {
                    let Ok(n) = sock.read(&mut buf[have..]).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    have += n;
                    let text = String::from_utf8_lossy(&buf[..have]).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if have >= end + 4 + len {
                            break;
                        }
                    }
                }
                let request = String::from_utf8_lossy(&buf[..have]).to_string();
                let form = request.split("\r\n\r\n").nth(1).unwrap_or("");
                let form: Vec<(String, String)> =
                    serde_urlencoded::from_str(form).unwrap_or_default();
                let end = form
                    .iter()
                    .find(|(k, _)| k == "end")
                    .map(|(_, v)| v.clone());
                let body = match mode.load(Ordering::SeqCst) {
                    // A range query (the backfill) gets a matrix ending at its `end`.
                    HEALTHY if request.starts_with("POST /api/v1/query_range") => format!(
                        r#"{{"status":"success","data":{{"resultType":"matrix","result":[{{"metric":{{}},"values":[[{},"42"]]}}]}}}}"#,
                        end.unwrap_or_default()
                    ),
                    GARBAGE => "<html>this is not Prometheus</html>".to_string(),
                    SILENT => {
                        tokio::time::sleep(Duration::from_secs(60)).await;
                        return;
                    }
                    HEALTHY => r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"42"]}]}}"#.to_string(),
                    _ => r#"{"status":"error","errorType":"bad_data","error":"parse error: unexpected end of input"}"#.to_string(),
                };
                let status = if mode.load(Ordering::SeqCst) == REJECTS {
                    "400 Bad Request"
                } else {
                    "200 OK"
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(response.as_bytes()).await;
            });
        }
    });
    addr
}

async fn start_dashboard(prometheus: &str) -> Running {
    let streams = format!(
        "[[streams]]\nname = \"dash\"\nsource = \"dashboard\"\n[streams.dashboard]\nprometheus = \"{prometheus}\"\ninterval_ms = 200\nhistory_s = 10\ntimeout_ms = 300\n[[streams.dashboard.panels]]\ntitle = \"Answer\"\nquery = \"the_answer\"\n"
    );
    start_with_default("dash", &streams).await
}

async fn wait_view(
    running: &Running,
    timeout: Duration,
    what: &str,
    pred: impl Fn(&DashboardView) -> bool,
) -> DashboardView {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let v = running.state.dashboards.get("dash").expect("dashboard");
        if pred(&v) {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}; last view: {v:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn reason(v: &DashboardView) -> Option<&str> {
    v.panels[0].series[0].reading.reason.as_deref()
}

#[tokio::test]
async fn garbage_then_healthy() {
    let mode = Arc::new(AtomicU8::new(GARBAGE));
    let addr = fake_prometheus(mode.clone()).await;
    let running = start_dashboard(&format!("http://{addr}")).await;
    let _watch = running.state.bus.get("dash").expect("dash").watch();
    let v = wait_view(&running, Duration::from_secs(5), "failing", |v| {
        v.connection == "failing"
    })
    .await;
    assert_eq!(
        v.error.as_deref(),
        Some("not a Prometheus answer (body is not the API's JSON)")
    );
    assert_eq!(reason(&v), v.error.as_deref());
    // The stream still serves frames (with the banner).
    let r = get(running.http_addr, "/api/streams/dash/snapshot.png").await;
    assert_eq!(r.status, 200);
    let (_, _, rgb) = decode_png(&r.body);
    assert!(
        rgb[(235 * 320 + 300) * 3..][..3] == [130, 20, 24],
        "banner in the bottom right"
    );
    // Back-off: consecutive failures, spaced 1 s, 2 s, ... (not every 200 ms tick).
    let v = wait_view(&running, Duration::from_secs(5), "two failures", |v| {
        v.failures >= 2
    })
    .await;
    assert!(v.failures <= 3, "backed off: {} failures", v.failures);
    // Healed: recovers by itself within the next back-off.
    mode.store(HEALTHY, Ordering::SeqCst);
    let v = wait_view(&running, Duration::from_secs(10), "recovered", |v| {
        v.connection == "ok"
    })
    .await;
    assert_eq!(v.panels[0].series[0].reading.value, Some(42.0));
    assert_eq!(v.panels[0].series[0].reading.text, "42.0");
    running.shutdown();
}

#[tokio::test]
async fn silent_server_times_out() {
    let mode = Arc::new(AtomicU8::new(SILENT));
    let addr = fake_prometheus(mode.clone()).await;
    let running = start_dashboard(&format!("http://{addr}")).await;
    let _watch = running.state.bus.get("dash").expect("dash").watch();
    let v = wait_view(&running, Duration::from_secs(5), "failing", |v| {
        v.connection == "failing"
    })
    .await;
    assert_eq!(v.error.as_deref(), Some("no answer within 0.3 s"));
    // The server is not stuck behind the silent Prometheus.
    assert_eq!(get(running.http_addr, "/api/status").await.status, 200);
    running.shutdown();
}

#[tokio::test]
async fn nobody_listening_is_connection_refused() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let running = start_dashboard(&format!("http://127.0.0.1:{port}")).await;
    let _watch = running.state.bus.get("dash").expect("dash").watch();
    let v = wait_view(&running, Duration::from_secs(5), "failing", |v| {
        v.connection == "failing"
    })
    .await;
    assert_eq!(v.error.as_deref(), Some("connection refused"));
    running.shutdown();
}

#[tokio::test]
async fn rejected_query_marks_its_panel_only() {
    let mode = Arc::new(AtomicU8::new(REJECTS));
    let addr = fake_prometheus(mode.clone()).await;
    let running = start_dashboard(&format!("http://{addr}")).await;
    let _watch = running.state.bus.get("dash").expect("dash").watch();
    let v = wait_view(&running, Duration::from_secs(5), "an answer", |v| {
        v.connection == "ok"
    })
    .await;
    assert_eq!(
        reason(&v),
        Some("bad_data: parse error: unexpected end of input")
    );
    assert_eq!(v.panels[0].series[0].reading.state, "no_data");
    running.shutdown();
}
