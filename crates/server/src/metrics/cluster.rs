//! The cluster bus (`crates/server/src/cluster/`, `docs/cluster.md`): this node's link to NATS,
//! the remote streams it knows, and per stream and kind (JPEG frames, H.264 units) the messages
//! it published and received, the bytes, the messages dropped and why, and the cross-node
//! latency (origin publish to arrival here, on the two nodes' clocks).

use super::label::{Name, label_values};
use super::series::{Hist, Lazy, hist, seconds_histogram};
use super::stream::StreamLabel;
use super::{Metrics, register};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::time::Duration;

label_values! {
    /// What a media message carries.
    pub enum ClusterKind {
        /// A frame as JPEG.
        Frame => "frame",
        /// An H.264 access unit.
        H264 => "h264",
    }
}

label_values! {
    /// Why a media message was not sent or not used.
    pub enum ClusterDrop {
        /// Larger than the NATS server's `max_payload`.
        Oversize => "oversize",
        /// NATS was not connected: the newest frame waits for the next one instead.
        Disconnected => "disconnected",
        /// The publish failed.
        PublishFailed => "publish_failed",
        /// Not a pixelwire media message, or a JPEG that does not parse.
        Malformed => "malformed",
        /// An H.264 unit after a gap (skipped until the next keyframe), or a jump in the frames'
        /// numbering (one per jump: frames that never arrived here).
        Gap => "gap",
    }
}

label_values! {
    /// A NATS KV bucket of the cluster.
    pub enum KvBucket {
        /// The device registry.
        Devices => "devices",
        /// The stream list.
        Streams => "streams",
    }
}

label_values! {
    /// How a KV write went.
    pub enum KvResult {
        /// Stored.
        Ok => "ok",
        /// Refused or timed out (NATS or JetStream down).
        Failed => "failed",
    }
}

/// `{bucket}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BucketLabel {
    bucket: KvBucket,
}

/// `{bucket, result}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WriteLabel {
    bucket: KvBucket,
    result: KvResult,
}

/// `{stream, kind}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    stream: Name,
    kind: ClusterKind,
}

/// `{stream, kind, reason}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DropLabel {
    stream: Name,
    kind: ClusterKind,
    reason: ClusterDrop,
}

/// The cluster families.
pub(super) struct ClusterFamilies {
    connected: Gauge,
    remote_streams: Gauge,
    published: Family<KindLabel, Counter>,
    published_bytes: Family<KindLabel, Counter>,
    received: Family<KindLabel, Counter>,
    received_bytes: Family<KindLabel, Counter>,
    dropped: Family<DropLabel, Counter>,
    latency: Hist<KindLabel>,
    remote_watchers: Family<StreamLabel, Gauge>,
    kv_connected: Gauge,
    kv_writes: Family<WriteLabel, Counter>,
    kv_applied: Family<BucketLabel, Counter>,
    slow_consumer: Counter,
    removed_streams: Counter,
}

impl ClusterFamilies {
    pub(super) fn register(r: &mut Registry) -> Self {
        Self {
            connected: register(
                r,
                "pixelwire_cluster_connected",
                "1 while this node is connected to NATS ([cluster] configured)",
                Gauge::default(),
            ),
            remote_streams: register(
                r,
                "pixelwire_cluster_remote_streams",
                "Streams of other nodes online here",
                Gauge::default(),
            ),
            published: register(
                r,
                "pixelwire_cluster_published_messages",
                "Media messages this node published to NATS, by stream and kind",
                Family::default(),
            ),
            published_bytes: register(
                r,
                "pixelwire_cluster_published_bytes",
                "Bytes of media messages this node published to NATS",
                Family::default(),
            ),
            received: register(
                r,
                "pixelwire_cluster_received_messages",
                "Media messages this node received from NATS, by stream and kind",
                Family::default(),
            ),
            received_bytes: register(
                r,
                "pixelwire_cluster_received_bytes",
                "Bytes of media messages this node received from NATS",
                Family::default(),
            ),
            dropped: register(
                r,
                "pixelwire_cluster_dropped_messages",
                "Media messages not published or not used, by reason",
                Family::default(),
            ),
            latency: register(
                r,
                "pixelwire_cluster_latency_seconds",
                "From the origin's publish to arrival on this node (the two nodes' clocks)",
                hist(seconds_histogram),
            ),
            remote_watchers: register(
                r,
                "pixelwire_cluster_remote_watchers",
                "Other nodes watching one of this node's streams",
                Family::default(),
            ),
            kv_connected: register(
                r,
                "pixelwire_cluster_kv_connected",
                "1 while this node uses the cluster's NATS KV buckets",
                Gauge::default(),
            ),
            kv_writes: register(
                r,
                "pixelwire_cluster_kv_writes",
                "Puts and deletes this node made in the cluster's KV, by bucket and result",
                Family::default(),
            ),
            kv_applied: register(
                r,
                "pixelwire_cluster_kv_applied",
                "Other nodes' KV revisions taken into this node's state, by bucket",
                Family::default(),
            ),
            slow_consumer: register(
                r,
                "pixelwire_cluster_slow_consumer",
                "Times this node's NATS client fell behind a subscription and dropped its oldest messages",
                Counter::default(),
            ),
            removed_streams: register(
                r,
                "pixelwire_cluster_removed_streams",
                "Remote streams taken off this node (withdrawn by their origin, or offline past forget_after_ms)",
                Counter::default(),
            ),
        }
    }

    pub(super) fn forget(&self, l: &StreamLabel) {
        self.remote_watchers.remove(l);
        for &kind in ClusterKind::ALL {
            let k = KindLabel {
                stream: l.stream.clone(),
                kind,
            };
            self.published.remove(&k);
            self.published_bytes.remove(&k);
            self.received.remove(&k);
            self.received_bytes.remove(&k);
            self.latency.remove(&k);
            for &reason in ClusterDrop::ALL {
                self.dropped.remove(&DropLabel {
                    stream: l.stream.clone(),
                    kind,
                    reason,
                });
            }
        }
    }
}

/// What one stream's publisher or receiver of one kind records; made once per task.
#[derive(Debug)]
pub struct ClusterStreamMetrics {
    stream: Name,
    kind: ClusterKind,
    dropped: Family<DropLabel, Counter>,
    published: Lazy<KindLabel, Counter>,
    published_bytes: Lazy<KindLabel, Counter>,
    received: Lazy<KindLabel, Counter>,
    received_bytes: Lazy<KindLabel, Counter>,
    latency: Lazy<KindLabel, Histogram, fn() -> Histogram>,
}

impl ClusterStreamMetrics {
    /// A message of `bytes` went out.
    pub fn published(&self, bytes: usize) {
        self.published.get().inc();
        self.published_bytes.get().inc_by(bytes as u64);
    }

    /// A message of `bytes` arrived `latency` after the origin sent it.
    pub fn received(&self, bytes: usize, latency: Duration) {
        self.received.get().inc();
        self.received_bytes.get().inc_by(bytes as u64);
        self.latency.get().observe(latency.as_secs_f64());
    }

    /// A message was dropped (rare: resolved when it happens).
    pub fn dropped(&self, reason: ClusterDrop) {
        self.dropped
            .get_or_create(&DropLabel {
                stream: self.stream.clone(),
                kind: self.kind,
                reason,
            })
            .inc();
    }
}

impl Metrics {
    /// The handle for `stream`'s `kind` messages over the cluster.
    pub fn cluster_stream(&self, stream: &str, kind: ClusterKind) -> ClusterStreamMetrics {
        let f = &self.inner.cluster;
        let l = KindLabel {
            stream: stream.into(),
            kind,
        };
        ClusterStreamMetrics {
            stream: stream.into(),
            kind,
            dropped: f.dropped.clone(),
            published: Lazy::new(&f.published, l.clone()),
            published_bytes: Lazy::new(&f.published_bytes, l.clone()),
            received: Lazy::new(&f.received, l.clone()),
            received_bytes: Lazy::new(&f.received_bytes, l.clone()),
            latency: Lazy::new(&f.latency, l),
        }
    }

    /// Whether this node is connected to NATS.
    pub fn cluster_connected(&self, connected: bool) {
        self.inner.cluster.connected.set(i64::from(connected));
    }

    /// How many remote streams are online here.
    pub fn cluster_remote_streams(&self, n: usize) {
        self.inner.cluster.remote_streams.set(n as i64);
    }

    /// Whether this node uses the cluster's KV.
    pub fn cluster_kv_connected(&self, connected: bool) {
        self.inner.cluster.kv_connected.set(i64::from(connected));
    }

    /// A KV write to `bucket` succeeded or not.
    pub fn cluster_kv_write(&self, bucket: KvBucket, ok: bool) {
        let result = if ok { KvResult::Ok } else { KvResult::Failed };
        self.inner
            .cluster
            .kv_writes
            .get_or_create(&WriteLabel { bucket, result })
            .inc();
    }

    /// Another node's KV revision in `bucket` was taken here.
    pub fn cluster_kv_applied(&self, bucket: KvBucket) {
        self.inner
            .cluster
            .kv_applied
            .get_or_create(&BucketLabel { bucket })
            .inc();
    }

    /// The NATS client reported a slow consumer (messages dropped on this node).
    pub fn cluster_slow_consumer(&self) {
        self.inner.cluster.slow_consumer.inc();
    }

    /// A remote stream was taken off this node.
    pub fn cluster_stream_removed(&self) {
        self.inner.cluster.removed_streams.inc();
    }

    /// How many other nodes watch this node's `stream`.
    pub fn cluster_remote_watchers(&self, stream: &str, n: usize) {
        self.inner
            .cluster
            .remote_watchers
            .get_or_create(&StreamLabel::new(stream))
            .set(n as i64);
    }
}
