//! Issue 12, what the cluster keeps in NATS KV (`docs/cluster.md`, "What is cluster-wide"): a
//! device registered on node A is known on B and C (its heartbeats are accepted there, its
//! online state and its node show in their `/api/devices`), the last record written wins on
//! every node, a node joining reads the stream list from KV before any announcement, and a
//! remote stream offline past `forget_after_ms` leaves the list and the API.

use crate::cluster::{Nats, node, node_with, sample, streams, wait_online};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const KEY: &str = "dev-api-key-change-in-production";

/// `POST path` with a JSON body and the default device key; the status.
async fn post(addr: SocketAddr, path: &str, body: &Value) -> u16 {
    let body = body.to_string();
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-API-Key: {KEY}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.expect("send");
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut raw)).await;
    String::from_utf8_lossy(&raw)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

async fn devices(addr: SocketAddr) -> Vec<Value> {
    serde_json::from_slice(&crate::common::get(addr, "/api/devices").await.body).expect("JSON")
}

/// Waits until `node` lists device `id` with `field` equal to `want`.
async fn wait_device(node: SocketAddr, id: &str, field: &str, want: &Value) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let all = devices(node).await;
        if all.iter().any(|d| d["id"] == id && &d[field] == want) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{node}: device {id} never had {field} = {want}: {all:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_registered_on_one_node_is_known_online_on_the_others_and_the_last_write_wins() {
    let nats = Nats::start();
    let (a, b, c) = (
        node("a", &nats).await,
        node("b", &nats).await,
        node("c", &nats).await,
    );
    wait_online(c.http_addr, "a_pat", true, 10).await;
    let hb = json!({"deviceId": "porch", "uptime": 1000, "freeHeap": 4096, "wifiRssi": -60});
    // Unknown everywhere: a heartbeat gets 404 (the firmware then registers).
    assert_eq!(
        post(c.http_addr, "/api/v1/devices/heartbeat", &hb).await,
        404
    );
    let reg = json!({"deviceId": "porch", "deviceName": "one", "capabilities": ["streaming"]});
    assert_eq!(
        post(a.http_addr, "/api/v1/devices/register", &reg).await,
        200
    );
    // Known on c, online, last seen by a...
    wait_device(c.http_addr, "porch", "node", &json!("a")).await;
    wait_device(c.http_addr, "porch", "online", &json!(true)).await;
    wait_device(c.http_addr, "porch", "name", &json!("one")).await;
    // ...so its heartbeat there is accepted, and every node then says it talks to c.
    assert_eq!(
        post(c.http_addr, "/api/v1/devices/heartbeat", &hb).await,
        200
    );
    for n in [a.http_addr, b.http_addr, c.http_addr] {
        wait_device(n, "porch", "node", &json!("c")).await;
        wait_device(n, "porch", "rssi_dbm", &json!(-60)).await;
    }
    // Registered again on b under another name: the last record written wins on every node.
    let reg2 = json!({"deviceId": "porch", "deviceName": "two"});
    assert_eq!(
        post(b.http_addr, "/api/v1/devices/register", &reg2).await,
        200
    );
    for n in [a.http_addr, b.http_addr, c.http_addr] {
        wait_device(n, "porch", "name", &json!("two")).await;
        wait_device(n, "porch", "node", &json!("b")).await;
    }
    let m = crate::cluster::metrics(c.http_addr).await;
    assert_eq!(sample(&m, "pixelwire_cluster_kv_connected"), 1.0, "{m}");
    assert!(
        sample(&m, "pixelwire_cluster_kv_applied_total{bucket=\"devices\"}") >= 2.0,
        "{m}"
    );
    assert!(
        sample(
            &m,
            "pixelwire_cluster_kv_writes_total{bucket=\"devices\",result=\"ok\"}"
        ) >= 1.0,
        "{m}"
    );
    a.shutdown();
    b.shutdown();
    c.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_made_while_nats_is_down_reaches_the_others_when_it_is_back() {
    let mut nats = Nats::start();
    let (a, b) = (node("a", &nats).await, node("b", &nats).await);
    wait_online(b.http_addr, "a_pat", true, 10).await;
    nats.kill();
    wait_online(b.http_addr, "a_pat", false, 10).await;
    // The local path keeps working with NATS down.
    let reg = json!({"deviceId": "gate", "deviceName": "Gate"});
    assert_eq!(
        post(a.http_addr, "/api/v1/devices/register", &reg).await,
        200
    );
    wait_device(a.http_addr, "gate", "online", &json!(true)).await;
    assert!(devices(b.http_addr).await.is_empty());
    // NATS (and its KV store) back: a puts what changed while it was away.
    nats.restart();
    wait_device(b.http_addr, "gate", "name", &json!("Gate")).await;
    wait_device(b.http_addr, "gate", "node", &json!("a")).await;
    a.shutdown();
    b.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joining_node_reads_the_stream_list_from_kv_and_forgets_streams_offline_too_long() {
    let nats = Nats::start();
    // a announces only every 30 s: a node that knows a_pat within seconds read it from KV.
    let a = node_with(
        "a",
        &nats,
        "heartbeat_ms = 30000\noffline_after_ms = 60000\n",
    )
    .await;
    let kv_written = |m: &str| {
        sample(
            m,
            "pixelwire_cluster_kv_writes_total{bucket=\"streams\",result=\"ok\"}",
        )
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while kv_written(&crate::cluster::metrics(a.http_addr).await) < 1.0 {
        assert!(tokio::time::Instant::now() < deadline, "a never wrote KV");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // b misses a's first announcement (sent before b existed).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let b = node_with("b", &nats, "forget_after_ms = 1500\n").await;
    let took = wait_online(b.http_addr, "a_pat", true, 10).await;
    assert!(took < Duration::from_secs(10));
    let listed = streams(b.http_addr).await;
    let s = listed.iter().find(|s| s["name"] == "a_pat").expect("a_pat");
    assert_eq!(s["origin"], "a");
    drop(listed);

    // c knows b's stream; b is killed (no goodbye): offline on c, then gone past forget_after_ms.
    let c = node_with("c", &nats, "forget_after_ms = 1500\n").await;
    wait_online(c.http_addr, "b_pat", true, 10).await;
    drop(b);
    wait_online(c.http_addr, "b_pat", false, 10).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while streams(c.http_addr)
        .await
        .iter()
        .any(|s| s["name"] == "b_pat")
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "b_pat still listed on c"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let snap = crate::common::get(c.http_addr, "/api/streams/b_pat/snapshot.png").await;
    assert_eq!(snap.status, 404);
    let status: Value =
        serde_json::from_slice(&crate::common::get(c.http_addr, "/api/status").await.body)
            .expect("JSON");
    assert!(
        !status["streams"]
            .as_array()
            .expect("streams")
            .iter()
            .any(|s| s["name"] == "b_pat")
    );
    let m = crate::cluster::metrics(c.http_addr).await;
    assert!(
        sample(&m, "pixelwire_cluster_removed_streams_total") >= 1.0,
        "{m}"
    );
    a.shutdown();
    c.shutdown();
}
