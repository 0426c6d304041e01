//! The following side: one task per remote stream known here. While something on this node
//! watches the stream (a display, an MJPEG or JPEG viewer, a snapshot) it subscribes to the
//! stream's frames and publishes them on the local [`Stream`]; while its relay encoder is held (a
//! WebCodecs viewer, an RTSP client) it subscribes to the origin's H.264 units and feeds the relay
//! ([`crate::encoded::SharedEncoder::relay_unit`]). What it wants goes to the origin as interest
//! ([`Follow`]), so the origin renders and encodes only while someone somewhere watches.
//!
//! Newest frame wins here as everywhere: the local stream is a one-slot watch, and the NATS
//! client's queue per subscription is small and drops (as a slow consumer) rather than grows.

use super::follow::{Follow, UnitVerdict};
use super::wire::{Interest, MediaHeader, MediaKind, Subjects, Want};
use crate::bus::Stream;
use crate::encoded::{EncodedUnit, SharedEncoder, SharedEncoders};
use crate::metrics::{ClusterDrop, ClusterKind, Metrics};
use async_nats::{Client, Subscriber};
use futures_util::StreamExt;
use pixelwire_media::MediaFrame;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// How often a follower looks at its local consumers.
const POLL: Duration = Duration::from_millis(50);

/// What every follower of a node shares.
#[derive(Debug, Clone)]
pub struct FollowContext {
    /// The NATS connection.
    pub client: Client,
    /// The cluster's subjects.
    pub subjects: Subjects,
    /// This node's name.
    pub node: String,
    /// This node's encoders (remote streams get relays).
    pub encoders: Arc<SharedEncoders>,
    /// Metrics.
    pub metrics: Metrics,
    /// How often interest is repeated.
    pub heartbeat: Duration,
}

/// The next message of an optional subscription (pending without one).
async fn next(sub: &mut Option<Subscriber>) -> Option<async_nats::Message> {
    match sub {
        Some(s) => s.next().await,
        None => std::future::pending().await,
    }
}

/// Follows `stream` until the task is dropped.
pub async fn follow(ctx: FollowContext, stream: Arc<Stream>) {
    let name = stream.name().to_string();
    let heartbeat_ms = u64::try_from(ctx.heartbeat.as_millis()).unwrap_or(u64::MAX);
    let mut state = Follow::new(heartbeat_ms);
    let frame_metrics = ctx.metrics.cluster_stream(&name, ClusterKind::Frame);
    let unit_metrics = ctx.metrics.cluster_stream(&name, ClusterKind::H264);
    let (mut frames, mut units): (Option<Subscriber>, Option<Subscriber>) = (None, None);
    let mut relay: Weak<SharedEncoder> = Weak::new();
    let mut ask_keyframe = false;
    // The origin's sequence number of the last frame used: a jump is frames that never arrived
    // (skipped at the origin while its link was busy, or lost on the way to a slow node).
    let mut last_frame_seq: Option<u64> = None;
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let enc = ctx.encoders.running(&name).filter(|e| e.is_relay());
                let want = Want {
                    frames: stream.watchers() > 0,
                    h264: enc.is_some(),
                    keyframe: enc.as_ref().is_some_and(|e| e.take_keyframe_request()) | std::mem::take(&mut ask_keyframe),
                };
                relay = enc.as_ref().map(Arc::downgrade).unwrap_or_default();
                if want.frames != frames.is_some() {
                    last_frame_seq = None;
                    frames = if want.frames { ctx.client.subscribe(ctx.subjects.frames(&name)).await.ok() } else { None };
                }
                if want.h264 != units.is_some() {
                    units = if want.h264 { ctx.client.subscribe(ctx.subjects.h264(&name)).await.ok() } else { None };
                    state.restart_units();
                }
                let now_ms = crate::clock::now().as_micros() / 1000;
                // While NATS is down nothing is queued: the first heartbeat after the reconnect
                // says it all again (the origin's table forgot it by then).
                let connected = ctx.client.connection_state() == async_nats::connection::State::Connected;
                if connected && let Some(want) = state.poll_interest(now_ms, want) {
                    let i = Interest { node: ctx.node.clone(), stream: name.clone(), want };
                    if let Ok(json) = serde_json::to_vec(&i) {
                        let _ = ctx.client.publish(ctx.subjects.interest(&name), json.into()).await;
                    }
                }
            }
            Some(msg) = next(&mut frames) => {
                let len = msg.payload.len();
                let frame = match MediaHeader::decode(&msg.payload) {
                    Ok((h, jpeg)) if h.kind == MediaKind::Jpeg => MediaFrame::from_jpeg(jpeg, h.seq, h.capture_time_us).ok().map(|f| (h, f)),
                    _ => None,
                };
                match frame {
                    Some((h, f)) => {
                        frame_metrics.received(len, latency(h.sent_us));
                        if last_frame_seq.is_some_and(|l| h.seq > l.saturating_add(1)) {
                            frame_metrics.dropped(ClusterDrop::Gap);
                        }
                        last_frame_seq = Some(h.seq);
                        stream.publish(f);
                    }
                    None => frame_metrics.dropped(ClusterDrop::Malformed),
                }
            }
            Some(msg) = next(&mut units) => {
                let len = msg.payload.len();
                let Ok((h, annexb)) = MediaHeader::decode(&msg.payload) else {
                    unit_metrics.dropped(ClusterDrop::Malformed);
                    continue;
                };
                if h.kind != MediaKind::H264 {
                    unit_metrics.dropped(ClusterDrop::Malformed);
                    continue;
                }
                unit_metrics.received(len, latency(h.sent_us));
                match state.handle_unit(h.seq, h.keyframe) {
                    UnitVerdict::Use => {
                        if let Some(r) = relay.upgrade() {
                            r.relay_unit(EncodedUnit::new(h.seq, h.keyframe, h.width, h.height, h.capture_time_us, &annexb));
                        }
                    }
                    UnitVerdict::Skip { ask } => {
                        unit_metrics.dropped(ClusterDrop::Gap);
                        ask_keyframe |= ask;
                    }
                }
            }
        }
    }
}

/// From the origin's `sent_us` to now (zero if the clocks disagree the other way).
fn latency(sent_us: u64) -> Duration {
    Duration::from_micros(crate::clock::now().as_micros().saturating_sub(sent_us))
}
