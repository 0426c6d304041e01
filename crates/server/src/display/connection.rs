//! What both display edges do around their session, in one place: register the identified display
//! in the [`DisplayRegistry`](super::registry::DisplayRegistry) (telling the connection it replaces
//! to close), count the connection and reconnection, record frames sent and presented, device
//! figures and link state into the metric series and the status samples, and, when the connection
//! ends, unregister it and mark it disconnected. [`DisplayConnection`] does the last on drop, so no
//! way out of a connection task forgets it.

use super::DisplayContext;
use super::live::{Identity, Link, LiveDisplay};
use super::registry::{DisplayCommand, DisplayHandle, DisplayRegistry, HeldElsewhere};
use crate::bus::StreamWatch;
use crate::metrics::{DisplayMetrics, Protocol};
use pixelwire_core::FrameSent;
use pixelwire_proto::ErrorCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::warn;

/// A registered display connection; unregisters on drop.
#[derive(Debug)]
pub struct DisplayConnection {
    displays: Arc<DisplayRegistry>,
    live: Arc<LiveDisplay>,
    conn: u64,
    last_source_seq: Option<u64>,
}

impl DisplayConnection {
    /// Registers the display `identity`, identified at `now_us`, whose task takes `commands`;
    /// refused if a connection from another address holds the id.
    pub fn open(
        ctx: &DisplayContext,
        identity: Identity,
        now_us: u64,
        commands: mpsc::Sender<DisplayCommand>,
    ) -> Result<Self, HeldElsewhere> {
        let id = identity.id.clone();
        let peer = identity.address;
        let live = Arc::new(LiveDisplay::new(identity, now_us, ctx.metrics.display(&id)));
        let conn = ctx.displays.next_conn();
        let handle = DisplayHandle {
            conn,
            live: live.clone(),
            commands,
        };
        let (seen, old) = ctx.displays.register(&id, handle)?;
        if let Some(old) = old {
            let _ = old.commands.try_send(DisplayCommand::Close(
                ErrorCode::Replaced,
                format!("replaced by a new connection from {peer}"),
            ));
        }
        if seen {
            live.metrics().reconnected();
        }
        live.metrics().connected();
        Ok(Self {
            displays: ctx.displays.clone(),
            live,
            conn,
            last_source_seq: None,
        })
    }

    /// The display id.
    pub fn id(&self) -> &str {
        &self.live.identity().id
    }

    fn metrics(&self) -> &DisplayMetrics {
        self.live.metrics()
    }

    /// The session sent `f` at `now_us`. Source frames between the previous one sent and this one
    /// were replaced before the display could take them: they count as skipped.
    pub fn frame_sent(&mut self, now_us: u64, f: &FrameSent) {
        let skipped = self
            .last_source_seq
            .map_or(0, |last| f.source_seq.saturating_sub(last + 1));
        self.last_source_seq = Some(f.source_seq);
        self.metrics().frame_sent(f, skipped);
        self.live.sent(now_us, f.bytes);
    }

    /// A frame was presented (legacy: fully written) at `now_us`, `latency` after capture.
    pub fn frame_presented(&self, now_us: u64, latency: Duration) {
        self.metrics().frame_presented(latency);
        self.live.presented(now_us, latency);
    }

    /// The device reported `s`.
    pub fn device_stats(&self, s: &pixelwire_proto::Stats) {
        self.metrics().device().stats(s);
    }

    /// The display now shows `stream`; its frame numbers start afresh (nothing of it was skipped).
    pub fn set_stream(&mut self, stream: &str) {
        self.live.set_stream(stream);
        self.last_source_seq = None;
    }

    /// Watches `stream` for this display. A stream that does not exist (a stored override naming
    /// a camera stream that has not pushed since the restart) falls back to the configured route;
    /// returns the stream watched, `None` when neither exists.
    pub fn watch(&self, ctx: &DisplayContext, stream: &str) -> (String, Option<StreamWatch>) {
        if let Some(s) = ctx.bus.get(stream) {
            return (stream.to_string(), Some(s.watch()));
        }
        let configured = ctx.routes.configured(self.id());
        warn!(display = %self.id(), stream, fallback = %configured, "routed stream does not exist");
        let w = ctx.bus.get(&configured).map(|s| s.watch());
        (configured, w)
    }

    /// The session's link now: shown in the status, and exported as the link gauges for
    /// pixelwire sessions (a legacy session's link never was, and the exposition stays as it was).
    pub fn link(&self, link: Link) {
        self.live.set_link(link);
        if self.live.identity().protocol == Protocol::Pixelwire {
            self.metrics()
                .link(link.frames_in_flight, link.capacity, link.rtt);
        }
    }
}

impl Drop for DisplayConnection {
    fn drop(&mut self) {
        self.displays.unregister(self.id(), self.conn);
        self.metrics().disconnected();
    }
}
