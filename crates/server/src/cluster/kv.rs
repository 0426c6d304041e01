//! What the cluster keeps in NATS KV (JetStream; `docs/cluster.md`, "What is cluster-wide"):
//!
//! * `<prefix>_devices`: the device registry, one key per device (its id as a subject token),
//!   the value its [`DeviceRecord`] as JSON. This node puts its changes (registrations and
//!   heartbeats at once, frame-driven ones each heartbeat) and watches every key, so a device
//!   registered on one node is known on all: its heartbeats are accepted there and its online
//!   state shows there. The newest revision is the record (the rule is
//!   [`crate::ingest::registry::DeviceRegistry::merge_remote`]).
//! * `<prefix>_streams`: the stream list, one key `S.N` per stream `S` of node `N`, the value
//!   its [`AnnouncedStream`] as JSON, put each heartbeat and deleted when the stream goes or the
//!   node stops; the bucket's `max_age` is `offline_after`, so a dead node's entries age out. A
//!   node joining reads it to know every stream at once, before the first announcement.
//!
//! Everything here is best effort beside the node's own state: with NATS down, or a NATS server
//! without JetStream, every node serves from its local registry and the announcements; when KV
//! answers again ([`sync`] retries), each node puts what changed while it was away, creates the
//! records KV lacks, and takes the others' newest.

use super::wire::{Announce, AnnouncedStream, token};
use crate::bus::Bus;
use crate::ingest::registry::{ClusterChange, DeviceRecord, DeviceRegistry};
use crate::metrics::{KvBucket, Metrics};
use crate::shutdown::ShutdownSignal;
use async_nats::Client;
use async_nats::jetstream::kv::{Config, Operation, Store};
use futures_util::StreamExt;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How often the task looks at the registry's changes.
const TICK: Duration = Duration::from_millis(100);

/// How long to wait before trying KV again after it failed.
const RETRY: Duration = Duration::from_secs(2);

/// What the KV task needs.
pub struct KvContext {
    /// The NATS connection.
    pub client: Client,
    /// `cluster.subject_prefix`.
    pub prefix: String,
    /// This node.
    pub node: String,
    /// The stream list's source (this node's own streams).
    pub bus: Arc<Bus>,
    /// The device registry.
    pub registry: Arc<crate::ingest::CameraHub>,
    /// How often to put.
    pub heartbeat: Duration,
    /// The stream entries' age limit.
    pub offline_after: Duration,
    /// Where the stream list read at each join goes (the node task's directory).
    pub joined: mpsc::Sender<Vec<Announce>>,
    /// Metrics.
    pub metrics: Metrics,
    /// Shutdown.
    pub shutdown: ShutdownSignal,
}

/// The bucket names under `prefix`.
pub fn bucket_names(prefix: &str) -> (String, String) {
    let p = token(prefix);
    (format!("{p}_devices"), format!("{p}_streams"))
}

/// The key of stream `stream` of node `node` in the streams bucket.
pub fn stream_key(stream: &str, node: &str) -> String {
    format!("{}.{}", token(stream), token(node))
}

/// Groups the streams bucket's entries into one announcement per node (entries that do not
/// parse are skipped).
pub fn announces_from_entries(entries: &[(String, Vec<u8>)]) -> Vec<Announce> {
    let mut by_node: BTreeMap<String, Vec<AnnouncedStream>> = BTreeMap::new();
    for (key, value) in entries {
        let Some((_, node_token)) = key.split_once('.') else {
            continue;
        };
        let Ok(entry) = serde_json::from_slice::<StreamEntry>(value) else {
            continue;
        };
        if token(&entry.node) != node_token {
            continue;
        }
        by_node.entry(entry.node).or_default().push(entry.stream);
    }
    by_node
        .into_iter()
        .map(|(node, streams)| Announce {
            node,
            streams,
            leaving: false,
        })
        .collect()
}

/// One value of the streams bucket.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StreamEntry {
    /// The origin.
    pub node: String,
    /// The stream.
    #[serde(flatten)]
    pub stream: AnnouncedStream,
}

/// Opens bucket `config.bucket`, creating it if no node has yet. The bucket's stream is made
/// here, as any KV client makes it (`KV_<bucket>`, subjects `$KV.<bucket>.>`, one message per
/// key, roll-ups allowed, direct gets): the client's own `create_key_value` first asks for the
/// account's JetStream info in a form nats-server 2.9 (Debian's) does not answer with.
async fn open(js: &async_nats::jetstream::Context, config: Config) -> anyhow::Result<Store> {
    if let Ok(s) = js.get_key_value(config.bucket.clone()).await {
        return Ok(s);
    }
    let bucket = config.bucket.clone();
    // A duplicate window longer than the age limit is refused by the server.
    let duplicate_window = if config.max_age.is_zero() {
        Duration::from_secs(120)
    } else {
        config.max_age.min(Duration::from_secs(120))
    };
    let stream = async_nats::jetstream::stream::Config {
        name: format!("KV_{bucket}"),
        description: Some(config.description),
        subjects: vec![format!("$KV.{bucket}.>")],
        max_messages_per_subject: config.history.max(1),
        max_age: config.max_age,
        duplicate_window,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: async_nats::jetstream::stream::DiscardPolicy::New,
        num_replicas: 1,
        ..Default::default()
    };
    let created = js.get_or_create_stream(stream).await;
    match js.get_key_value(bucket).await {
        Ok(s) => Ok(s),
        Err(e) => match created {
            Err(c) => anyhow::bail!("cannot create the bucket's stream: {c}"),
            Ok(_) => anyhow::bail!("cannot open the bucket: {e}"),
        },
    }
}

/// Runs the KV side until shutdown.
pub async fn sync(ctx: KvContext) {
    let mut sd = ctx.shutdown.clone();
    let mut logged = false;
    let mut ours: BTreeSet<String> = BTreeSet::new();
    ctx.registry.registry.set_node(&ctx.node);
    loop {
        let joined = tokio::select! {
            r = session(&ctx, &mut ours) => r,
            _ = sd.wait() => {
                leave(&ctx, &ours).await;
                return;
            }
        };
        ctx.metrics.cluster_kv_connected(false);
        if let Err(e) = joined {
            if !logged {
                tracing::warn!(error = %e, "cluster: NATS KV unusable (is JetStream on: nats-server -js -sd DIR?); the device registry stays per node until it answers");
                logged = true;
            } else {
                tracing::debug!(error = %e, "cluster: NATS KV still unusable");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(RETRY) => {}
            _ = sd.wait() => return,
        }
    }
}

/// Deletes this node's stream entries (it stops).
async fn leave(ctx: &KvContext, ours: &BTreeSet<String>) {
    if ctx.client.connection_state() != async_nats::connection::State::Connected {
        return;
    }
    let js = async_nats::jetstream::new(ctx.client.clone());
    let (_, streams) = bucket_names(&ctx.prefix);
    let Ok(Ok(kv)) = tokio::time::timeout(Duration::from_secs(1), js.get_key_value(streams)).await
    else {
        return;
    };
    for key in ours {
        let _ = tokio::time::timeout(Duration::from_millis(500), kv.delete(key)).await;
    }
}

/// One joined stretch: returns when NATS or KV fails.
async fn session(ctx: &KvContext, ours: &mut BTreeSet<String>) -> anyhow::Result<()> {
    while ctx.client.connection_state() != async_nats::connection::State::Connected {
        tokio::time::sleep(TICK).await;
    }
    let js = async_nats::jetstream::new(ctx.client.clone());
    let (devices_name, streams_name) = bucket_names(&ctx.prefix);
    let devices = open(
        &js,
        Config {
            bucket: devices_name,
            description: "pixelwire device registry (docs/cluster.md)".into(),
            history: 1,
            ..Config::default()
        },
    )
    .await?;
    let streams = open(
        &js,
        Config {
            bucket: streams_name,
            description: "pixelwire stream list (docs/cluster.md)".into(),
            history: 1,
            max_age: ctx.offline_after,
            ..Config::default()
        },
    )
    .await?;
    let registry = &ctx.registry.registry;
    // The whole device bucket first (the newest of every key), then every change.
    let mut watch = devices.watch_with_history(">").await?;
    // The stream list as it is: the node task's directory takes it before any announcement.
    let mut entries = Vec::new();
    let mut keys = streams.keys().await?;
    while let Some(k) = keys.next().await {
        let k = k?;
        if let Ok(Some(v)) = streams.get(k.clone()).await {
            entries.push((k, v.to_vec()));
        }
    }
    let _ = ctx.joined.send(announces_from_entries(&entries)).await;
    for r in registry.cluster_rejoined() {
        let id = r.id.clone();
        if let Ok(json) = serde_json::to_vec(&r)
            && let Ok(rev) = devices.create(token(&id), json.into()).await
        {
            registry.cluster_sent(&id, rev);
        }
    }
    ctx.metrics.cluster_kv_connected(true);
    tracing::info!(
        node = ctx.node,
        "cluster: NATS KV joined (device registry and stream list)"
    );
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut next_heartbeat = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if ctx.client.connection_state() != async_nats::connection::State::Connected {
                    anyhow::bail!("NATS connection lost");
                }
                let all = tokio::time::Instant::now() >= next_heartbeat;
                if all {
                    next_heartbeat += ctx.heartbeat;
                    put_streams(ctx, &streams, ours).await?;
                }
                put_devices(ctx, registry, &devices, all).await?;
            }
            e = watch.next() => {
                let e = match e {
                    Some(Ok(e)) => e,
                    Some(Err(e)) => anyhow::bail!("device watch: {e}"),
                    None => anyhow::bail!("device watch ended"),
                };
                let applied = match e.operation {
                    Operation::Put => serde_json::from_slice::<DeviceRecord>(&e.value)
                        .ok()
                        .filter(|r| token(&r.id) == e.key)
                        .is_some_and(|r| registry.merge_remote(r, e.revision)),
                    Operation::Delete | Operation::Purge => {
                        // The key is the id as a token; find the device it names.
                        let id = registry.list(0).into_iter().map(|d| d.record.id).find(|id| token(id) == e.key);
                        id.is_some_and(|id| registry.remove_remote(&id, e.revision))
                    }
                };
                if applied {
                    ctx.metrics.cluster_kv_applied(KvBucket::Devices);
                }
            }
        }
    }
}

/// Puts this node's streams and deletes the entries of streams it no longer has.
async fn put_streams(
    ctx: &KvContext,
    kv: &Store,
    ours: &mut BTreeSet<String>,
) -> anyhow::Result<()> {
    let mut now = BTreeSet::new();
    for s in ctx.bus.all().iter().filter(|s| s.origin().is_none()) {
        let key = stream_key(s.name(), &ctx.node);
        let entry = StreamEntry {
            node: ctx.node.clone(),
            stream: AnnouncedStream {
                name: s.name().to_string(),
                description: s.description().clone(),
            },
        };
        let json = serde_json::to_vec(&entry)?;
        let r = kv.put(&key, json.into()).await;
        ctx.metrics.cluster_kv_write(KvBucket::Streams, r.is_ok());
        r?;
        now.insert(key);
    }
    for gone in ours.difference(&now) {
        let r = kv.delete(gone).await;
        ctx.metrics.cluster_kv_write(KvBucket::Streams, r.is_ok());
        r?;
    }
    *ours = now;
    Ok(())
}

/// Puts the registry's changes (all of them when `all`, else registrations and heartbeats).
async fn put_devices(
    ctx: &KvContext,
    registry: &DeviceRegistry,
    kv: &Store,
    all: bool,
) -> anyhow::Result<()> {
    let changes = registry.take_cluster_changes(all);
    let mut failed = None;
    for c in changes {
        match c {
            ClusterChange::Put(r) if failed.is_none() => {
                let json = serde_json::to_vec(&r)?;
                match kv.put(token(&r.id), json.into()).await {
                    Ok(rev) => {
                        registry.cluster_sent(&r.id, rev);
                        ctx.metrics.cluster_kv_write(KvBucket::Devices, true);
                    }
                    Err(e) => {
                        registry.cluster_unsent(&r.id);
                        ctx.metrics.cluster_kv_write(KvBucket::Devices, false);
                        failed = Some(e.to_string());
                    }
                }
            }
            ClusterChange::Put(r) => registry.cluster_unsent(&r.id),
            ClusterChange::Delete(id) if failed.is_none() => {
                let r = kv.delete(token(&id)).await;
                ctx.metrics.cluster_kv_write(KvBucket::Devices, r.is_ok());
                if let Err(e) = r {
                    failed = Some(e.to_string());
                }
            }
            // A delete that could not go out: the other nodes expire the device themselves.
            ClusterChange::Delete(_) => {}
        }
    }
    match failed {
        Some(e) => anyhow::bail!("device put: {e}"),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::{StreamDescription, StreamKind};

    fn entry(stream: &str, node: &str) -> (String, Vec<u8>) {
        let e = StreamEntry {
            node: node.into(),
            stream: AnnouncedStream {
                name: stream.into(),
                description: StreamDescription {
                    kind: StreamKind::Camera,
                    source: "camera".into(),
                    width: 64,
                    height: 48,
                    nominal_fps: 10.0,
                },
            },
        };
        (
            stream_key(stream, node),
            serde_json::to_vec(&e).expect("json"),
        )
    }

    #[test]
    fn stream_entries_become_one_announcement_per_node() {
        let mut all = vec![
            entry("door", "a"),
            entry("front gate", "b"),
            entry("pat", "a"),
        ];
        all.push(("junk".into(), b"{".to_vec()));
        all.push(("x.y".into(), b"not json".to_vec()));
        // A value that names another node than its key is not believed.
        let (_, v) = entry("spoof", "c");
        all.push((stream_key("spoof", "a"), v));
        let a = announces_from_entries(&all);
        let got: Vec<(String, Vec<String>)> = a
            .iter()
            .map(|a| {
                (
                    a.node.clone(),
                    a.streams.iter().map(|s| s.name.clone()).collect(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("a".to_string(), vec!["door".to_string(), "pat".to_string()]),
                ("b".to_string(), vec!["front gate".to_string()]),
            ]
        );
        assert_eq!(stream_key("front gate", "b"), "x66726f6e742067617465.b");
        assert_eq!(bucket_names("pixelwire").0, "pixelwire_devices");
    }
}
