//! The origin side: while another node wants one of this node's streams, a task forwards it to
//! NATS (`docs/cluster.md`, "Subjects"). Frames go out as JPEG — a camera's bytes as received, a
//! generated or screen frame's JPEG encoded once (and shared with this node's MJPEG viewers) —
//! never raw pixels; H.264 goes out as the shared encoder's units, so a stream watched on several
//! nodes is encoded once, here.
//!
//! Newest frame wins on this hop too: a forwarder reads the stream's watch slot when it is ready,
//! so a slow NATS link makes it skip frames, never queue them; while NATS is disconnected frames
//! are dropped (counted), not buffered in the client. A frame over the server's `max_payload` is
//! refused with a log line (the 1st, 2nd, 4th, ... per stream) and counted.

use super::wire::{MediaHeader, MediaKind};
use crate::bus::Stream;
use crate::encoded::{SharedEncoder, Start};
use crate::metrics::{ClusterDrop, ClusterKind, ClusterStreamMetrics, ConsumerKind, Metrics};
use async_nats::Client;
use bytes::Bytes;
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;

/// Why a message was not published.
enum Refused {
    Disconnected,
    Oversize { size: usize, max: usize },
    Failed,
}

/// Publishes `msg` on `subject` unless NATS is down or it is too large.
async fn publish(client: &Client, subject: &str, msg: Bytes) -> Result<usize, Refused> {
    if client.connection_state() != async_nats::connection::State::Connected {
        return Err(Refused::Disconnected);
    }
    let (size, max) = (msg.len(), client.max_payload());
    if size > max {
        return Err(Refused::Oversize { size, max });
    }
    client
        .publish(subject.to_string(), msg)
        .await
        .map(|()| size)
        .map_err(|_| Refused::Failed)
}

/// Counts (and for oversize, logs) what [`publish`] did.
struct Outcome {
    metrics: ClusterStreamMetrics,
    stream: String,
    oversize: u64,
}

impl Outcome {
    fn record(&mut self, r: Result<usize, Refused>) {
        match r {
            Ok(n) => self.metrics.published(n),
            Err(Refused::Disconnected) => self.metrics.dropped(ClusterDrop::Disconnected),
            Err(Refused::Failed) => self.metrics.dropped(ClusterDrop::PublishFailed),
            Err(Refused::Oversize { size, max }) => {
                self.metrics.dropped(ClusterDrop::Oversize);
                self.oversize += 1;
                if self.oversize.is_power_of_two() {
                    tracing::warn!(stream = %self.stream, size_bytes = size, max_payload_bytes = max, refused = self.oversize,
                        "cluster: message larger than the NATS server's max_payload refused (raise max_payload in nats-server.conf, or lower the camera's resolution or quality)");
                }
            }
        }
    }
}

/// Forwards `stream`'s frames as JPEG until the task is dropped.
pub async fn forward_frames(client: Client, subject: String, stream: Arc<Stream>, m: Metrics) {
    let mut out = Outcome {
        metrics: m.cluster_stream(stream.name(), ClusterKind::Frame),
        stream: stream.name().to_string(),
        oversize: 0,
    };
    let mut watch = stream.watch();
    while let Some(f) = watch.next().await {
        let jpeg = match f.jpeg_payload() {
            Some(_) => f.jpeg(),
            // Encoding a rendered frame takes milliseconds: off the async workers.
            None => {
                let f = f.clone();
                tokio::task::spawn_blocking(move || f.jpeg())
                    .await
                    .ok()
                    .flatten()
            }
        };
        let Some(jpeg) = jpeg else {
            out.metrics.dropped(ClusterDrop::Malformed);
            continue;
        };
        let header = MediaHeader {
            kind: MediaKind::Jpeg,
            keyframe: true,
            seq: f.seq,
            capture_time_us: f.capture_time_us,
            sent_us: crate::clock::now().as_micros(),
            width: f.width,
            height: f.height,
        };
        out.record(publish(&client, &subject, header.encode(&jpeg)).await);
    }
}

/// Forwards the units of `stream`'s shared encoder until the task is dropped: first the ring's
/// newest GOP (a node that starts watching gets a picture at once), then live. After a lag it
/// skips to the next keyframe, asking for one.
pub async fn forward_units(client: Client, subject: String, enc: Arc<SharedEncoder>, m: Metrics) {
    let mut out = Outcome {
        metrics: m.cluster_stream(enc.stream(), ClusterKind::H264),
        stream: enc.stream().to_string(),
        oversize: 0,
    };
    let mut sub = enc.subscribe(ConsumerKind::Cluster, Start::LastKeyframe);
    let backlog = std::mem::take(&mut sub.backlog);
    let mut need_keyframe = backlog.is_empty();
    for u in backlog {
        out.record(publish(&client, &subject, unit_message(&u)).await);
    }
    loop {
        match sub.units.recv().await {
            Ok(u) if need_keyframe && !u.keyframe => {}
            Ok(u) => {
                need_keyframe = false;
                out.record(publish(&client, &subject, unit_message(&u)).await);
            }
            Err(RecvError::Lagged(_)) => {
                need_keyframe = true;
                enc.request_keyframe();
            }
            Err(RecvError::Closed) => return,
        }
    }
}

fn unit_message(u: &crate::encoded::EncodedUnit) -> Bytes {
    MediaHeader {
        kind: MediaKind::H264,
        keyframe: u.keyframe,
        seq: u.seq,
        capture_time_us: u.capture_time_us,
        sent_us: crate::clock::now().as_micros(),
        width: u.width,
        height: u.height,
    }
    .encode(&u.annexb)
}
