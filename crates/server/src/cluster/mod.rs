//! Several `pixelwire serve` nodes joined through NATS (`[cluster]`, `docs/cluster.md`). Each
//! node stays a whole pixelwire: it serves its own streams with no NATS at all. The cluster adds
//! the other nodes' streams to its bus as relayed streams ([`crate::bus::Stream::new_remote`]):
//!
//! * every node announces the streams it is the origin of each heartbeat; a remote stream not
//!   announced within `offline_after_ms` goes offline here (its origin died, or NATS is down), and
//!   comes back when it is announced again ([`directory`]);
//! * a node that watches a remote stream says so on the stream's interest subject each heartbeat
//!   ([`follow`], [`remote`]); the origin forwards frames (JPEG as received) and H.264 units
//!   (from its one shared encoder) only while someone somewhere wants them ([`interest`],
//!   [`origin`]), so a generated stream renders and a stream encodes only while watched;
//! * what travels is in [`wire`]. Media go over core NATS: a late joiner gets a picture from the
//!   origin's GOP ring (the forwarder starts with it) or from a keyframe asked for in its
//!   interest, within `KEYFRAME_REQUEST_INTERVAL` plus a round trip;
//! * the device registry and the stream list are also kept in NATS KV (JetStream) by [`kv`], so
//!   a device registered on one node is known on all and a joining node knows every stream at
//!   once; a remote stream withdrawn by its origin, or offline for `forget_after_ms`, is removed.
//!
//! This file is the node's task: the NATS connection, announcements, the directory and the
//! interest table, and the forwarder and follower tasks it starts and stops.

pub mod directory;
pub mod follow;
pub mod interest;
pub mod kv;
pub mod offline;
pub mod origin;
pub mod remote;
pub mod wire;

use crate::bus::{Bus, Stream};
use crate::config::ClusterSettings;
use crate::encoded::SharedEncoders;
use crate::metrics::Metrics;
use crate::shutdown::ShutdownSignal;
use async_nats::Client;
use directory::{Change, Directory};
use futures_util::StreamExt;
use interest::InterestTable;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use wire::{Announce, AnnouncedStream, Interest, Subjects};

/// Messages the NATS client holds per subscription before it drops (a slow consumer): a few
/// frames, never an unbounded queue.
const SUBSCRIPTION_CAPACITY: usize = 64;

/// Commands (publishes) the client queues before `publish` waits: a forwarder then waits and its
/// stream's watch slot skips frames.
const CLIENT_CAPACITY: usize = 128;

/// How often the node task looks at timers.
const TICK: Duration = Duration::from_millis(100);

/// What the cluster task needs.
#[derive(Debug, Clone)]
pub struct ClusterContext {
    /// `[cluster]`.
    pub settings: ClusterSettings,
    /// This node's streams, and the remote ones it adds.
    pub bus: Arc<Bus>,
    /// The shared encoders (remote streams get relays).
    pub encoders: Arc<SharedEncoders>,
    /// The cameras and their device registry (kept cluster-wide in KV).
    pub cameras: Arc<crate::ingest::CameraHub>,
    /// Metrics.
    pub metrics: Metrics,
    /// Shutdown.
    pub shutdown: ShutdownSignal,
}

/// A task aborted when dropped.
#[derive(Debug)]
struct Owned(tokio::task::JoinHandle<()>);

impl Drop for Owned {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The forwarders of one local stream.
#[derive(Debug, Default)]
struct Forwarders {
    frames: Option<Owned>,
    units: Option<Owned>,
}

/// Connects to NATS (retrying in the background until it answers, and after every loss).
async fn connect(s: &ClusterSettings, node: &str, metrics: Metrics) -> anyhow::Result<Client> {
    let events = metrics.clone();
    let node_name = node.to_string();
    let client = async_nats::ConnectOptions::new()
        .name(format!("pixelwire {node}"))
        .retry_on_initial_connect()
        .max_reconnects(None)
        .reconnect_delay_callback(|attempts| {
            Duration::from_millis((attempts as u64).saturating_mul(250).min(2000))
        })
        .connection_timeout(Duration::from_secs(2))
        .subscription_capacity(SUBSCRIPTION_CAPACITY)
        .client_capacity(CLIENT_CAPACITY)
        .event_callback(move |e| {
            let (events, node) = (events.clone(), node_name.clone());
            async move {
                match e {
                    async_nats::Event::Connected => {
                        events.cluster_connected(true);
                        tracing::info!(node, "cluster: connected to NATS");
                    }
                    async_nats::Event::Disconnected => {
                        events.cluster_connected(false);
                        tracing::warn!(node, "cluster: NATS connection lost; local streams go on, remote ones go offline until it is back");
                    }
                    async_nats::Event::SlowConsumer(_) => {
                        events.cluster_slow_consumer();
                        tracing::debug!(node, "cluster: a subscription fell behind; its oldest messages were dropped");
                    }
                    other => tracing::debug!(node, event = %other, "cluster: NATS event"),
                }
            }
        })
        .connect(s.nats_url.as_str())
        .await?;
    Ok(client)
}

/// Runs the cluster side of this node until shutdown.
pub async fn run(ctx: ClusterContext) {
    let node = ctx.settings.node();
    let client = match connect(&ctx.settings, &node, ctx.metrics.clone()).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(url = %ctx.settings.nats_url, error = %e, "cluster: cannot use the NATS server; this node serves its own streams only");
            return;
        }
    };
    tracing::info!(node, url = %ctx.settings.nats_url, "cluster: joining");
    let (joined_tx, joined) = tokio::sync::mpsc::channel(4);
    let kv_task = Owned(tokio::spawn(kv::sync(kv::KvContext {
        client: client.clone(),
        prefix: ctx.settings.subject_prefix.clone(),
        node: node.clone(),
        bus: ctx.bus.clone(),
        registry: ctx.cameras.clone(),
        heartbeat: ctx.settings.heartbeat(),
        offline_after: ctx.settings.offline_after(),
        joined: joined_tx,
        metrics: ctx.metrics.clone(),
        shutdown: ctx.shutdown.clone(),
    })));
    let mut node_task = Node::new(ctx, node, client);
    node_task.run(joined).await;
    // The KV task deletes this node's stream entries on shutdown; give it a moment.
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while !kv_task.0.is_finished() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

/// The node's state.
struct Node {
    ctx: ClusterContext,
    node: String,
    client: Client,
    subjects: Subjects,
    directory: Directory,
    interest: InterestTable,
    forwarders: HashMap<String, Forwarders>,
    followers: HashMap<String, Owned>,
}

impl Node {
    fn new(ctx: ClusterContext, node: String, client: Client) -> Self {
        let offline_ms =
            u64::try_from(ctx.settings.offline_after().as_millis()).unwrap_or(u64::MAX);
        let forget_ms = u64::try_from(ctx.settings.forget_after().as_millis()).unwrap_or(u64::MAX);
        Self {
            subjects: Subjects::new(&ctx.settings.subject_prefix),
            directory: Directory::new(&node, offline_ms, forget_ms),
            interest: InterestTable::new(offline_ms),
            forwarders: HashMap::new(),
            followers: HashMap::new(),
            ctx,
            node,
            client,
        }
    }

    async fn run(&mut self, mut joined: tokio::sync::mpsc::Receiver<Vec<Announce>>) {
        let (Ok(mut announces), Ok(mut interests)) = (
            self.client.subscribe(self.subjects.announce_all()).await,
            self.client.subscribe(self.subjects.interest_all()).await,
        ) else {
            tracing::error!("cluster: cannot subscribe (the NATS client stopped)");
            return;
        };
        let mut sd = self.ctx.shutdown.clone();
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let heartbeat_ms = u64::try_from(self.ctx.settings.heartbeat().as_millis()).unwrap_or(1000);
        let mut next_announce_ms = 0;
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    let now = now_ms();
                    if now >= next_announce_ms {
                        self.announce(false).await;
                        next_announce_ms = now + heartbeat_ms;
                    }
                    let changes = self.directory.poll(now);
                    self.apply(changes);
                    self.interest.expire(now);
                    let wanted: Vec<String> = self.forwarders.keys().cloned().collect();
                    for s in wanted {
                        self.reconcile(&s);
                    }
                }
                Some(list) = joined.recv() => {
                    // The stream list from KV, read as this node (re)joined.
                    for a in list {
                        let bus = self.ctx.bus.clone();
                        let local = move |n: &str| bus.get(n).is_some_and(|s| s.origin().is_none());
                        let changes = self.directory.handle_listed(now_ms(), a, local);
                        self.apply(changes);
                    }
                }
                Some(m) = announces.next() => match serde_json::from_slice::<Announce>(&m.payload) {
                    Ok(a) => self.handle_announce(a),
                    Err(e) => tracing::debug!(subject = %m.subject, error = %e, "cluster: unreadable announcement ignored"),
                },
                Some(m) = interests.next() => match serde_json::from_slice::<Interest>(&m.payload) {
                    Ok(i) => self.handle_interest(i),
                    Err(e) => tracing::debug!(subject = %m.subject, error = %e, "cluster: unreadable interest ignored"),
                },
                _ = sd.wait() => {
                    // Tell the others at once that this node's streams are gone.
                    self.announce(true).await;
                    let _ = tokio::time::timeout(Duration::from_secs(1), self.client.flush()).await;
                    return;
                }
            }
        }
    }

    fn handle_announce(&mut self, a: Announce) {
        let bus = self.ctx.bus.clone();
        let local = move |n: &str| bus.get(n).is_some_and(|s| s.origin().is_none());
        let changes = self.directory.handle_announce(now_ms(), a, local);
        self.apply(changes);
    }

    /// Publishes this node's streams (none when `leaving`).
    async fn announce(&self, leaving: bool) {
        if self.client.connection_state() != async_nats::connection::State::Connected {
            return;
        }
        let streams = if leaving {
            Vec::new()
        } else {
            self.ctx
                .bus
                .all()
                .iter()
                .filter(|s| s.origin().is_none())
                .map(|s| AnnouncedStream {
                    name: s.name().to_string(),
                    description: s.description().clone(),
                })
                .collect()
        };
        let a = Announce {
            node: self.node.clone(),
            streams,
            leaving,
        };
        if let Ok(json) = serde_json::to_vec(&a) {
            let _ = self
                .client
                .publish(self.subjects.announce(&self.node), json.into())
                .await;
        }
    }

    fn handle_interest(&mut self, i: Interest) {
        if i.node == self.node {
            return;
        }
        // Only the origin answers interest in a stream.
        let local = self.ctx.bus.get(&i.stream);
        if local.is_none_or(|s| s.origin().is_some()) {
            return;
        }
        self.interest
            .handle_interest(now_ms(), &i.stream, &i.node, i.want);
        if i.want.keyframe
            && let Some(enc) = self.ctx.encoders.running(&i.stream)
        {
            enc.request_keyframe();
        }
        self.forwarders.entry(i.stream.clone()).or_default();
        self.reconcile(&i.stream);
    }

    /// Starts or stops the forwarders of a local stream as the cluster wants it.
    fn reconcile(&mut self, name: &str) {
        let want = self.interest.wanted(now_ms(), name);
        self.ctx
            .metrics
            .cluster_remote_watchers(name, self.interest.watchers(name));
        let stream = self.ctx.bus.get(name).filter(|s| s.origin().is_none());
        let Some(stream) = stream.filter(|_| !want.none()) else {
            self.forwarders.remove(name);
            return;
        };
        let f = self.forwarders.entry(name.to_string()).or_default();
        if want.frames != f.frames.is_some() {
            f.frames = want.frames.then(|| {
                Owned(tokio::spawn(origin::forward_frames(
                    self.client.clone(),
                    self.subjects.frames(name),
                    stream.clone(),
                    self.ctx.metrics.clone(),
                )))
            });
        }
        if want.h264 != f.units.is_some() {
            f.units = want.h264.then(|| {
                let enc = self.ctx.encoders.get(&stream, &self.ctx.metrics);
                Owned(tokio::spawn(origin::forward_units(
                    self.client.clone(),
                    self.subjects.h264(name),
                    enc,
                    self.ctx.metrics.clone(),
                )))
            });
        }
    }

    /// Brings the bus in line with the directory.
    fn apply(&mut self, changes: Vec<Change>) {
        if changes.is_empty() {
            return;
        }
        for c in changes {
            match c {
                Change::Online {
                    stream,
                    origin,
                    description,
                } => {
                    let s = match self.ctx.bus.get(&stream) {
                        Some(s) if s.origin().is_some() => s,
                        // A local stream of that name: it wins (the directory skips these too).
                        Some(_) => continue,
                        None => {
                            let s = Stream::new_remote(&stream, description, &origin);
                            self.ctx.encoders.set_relayed(&stream, true);
                            self.ctx.bus.insert(s.clone());
                            s
                        }
                    };
                    if s.set_online(true) {
                        tracing::info!(stream, origin, "cluster: remote stream online");
                    }
                    self.followers.entry(stream).or_insert_with(|| {
                        let ctx = remote::FollowContext {
                            client: self.client.clone(),
                            subjects: self.subjects.clone(),
                            node: self.node.clone(),
                            encoders: self.ctx.encoders.clone(),
                            metrics: self.ctx.metrics.clone(),
                            heartbeat: self.ctx.settings.heartbeat(),
                        };
                        Owned(tokio::spawn(remote::follow(ctx, s)))
                    });
                }
                Change::Removed { stream } => {
                    if self
                        .ctx
                        .bus
                        .get(&stream)
                        .is_some_and(|s| s.origin().is_some())
                    {
                        self.followers.remove(&stream);
                        self.ctx.bus.remove(&stream);
                        self.ctx.encoders.set_relayed(&stream, false);
                        self.ctx.metrics.cluster_stream_removed();
                        self.ctx.metrics.forget_stream(&stream);
                        tracing::info!(
                            stream,
                            "cluster: remote stream removed (withdrawn by its node, or offline past forget_after_ms)"
                        );
                    }
                }
                Change::Offline { stream } => {
                    let Some(s) = self.ctx.bus.get(&stream).filter(|s| s.origin().is_some()) else {
                        continue;
                    };
                    if s.set_online(false) {
                        tracing::warn!(
                            stream,
                            origin = s.origin(),
                            "cluster: remote stream offline (its node is unreachable)"
                        );
                        let (w, h) = s
                            .latest()
                            .map_or((s.description().width, s.description().height), |f| {
                                (f.width, f.height)
                            });
                        s.publish(offline::card(
                            &stream,
                            s.origin().unwrap_or_default(),
                            w,
                            h,
                            s.next_seq(),
                            crate::clock::now().as_micros(),
                        ));
                    }
                }
            }
        }
        let online = self
            .ctx
            .bus
            .all()
            .iter()
            .filter(|s| s.origin().is_some() && s.online())
            .count();
        self.ctx.metrics.cluster_remote_streams(online);
    }
}

fn now_ms() -> u64 {
    crate::clock::now().as_micros() / 1000
}
