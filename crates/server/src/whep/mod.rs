//! WebRTC out via WHEP (RFC 9725): a browser POSTs an SDP offer to `/api/streams/{name}/whep`
//! and gets an answer and a session URL; the stream's shared H.264 encoder (`crate::encoded`)
//! feeds the session, which str0m (sans-IO WebRTC: ICE-lite, DTLS-SRTP, RTP) packetises; a DELETE
//! on the URL ends it. Every session shares one UDP socket (`webrtc.listen`).
//!
//! Layout: `offer.rs` (what an offer must be), `session.rs` (one session's state machine around
//! str0m, time as input), `table.rs` (session ids and the caps), `udp.rs` (the one task that owns
//! the socket and every session, and demultiplexes datagrams with str0m's `Rtc::accepts`),
//! `http.rs` (the handlers). [`Whep`] is what the HTTP side and the UDP task share.

pub mod http;
pub mod offer;
pub mod session;
pub mod table;
pub mod udp;

use crate::bus::Bus;
use crate::config::WebrtcSettings;
use crate::encoded::{SharedEncoders, Subscription};
use crate::metrics::{Metrics, WhepEnd};
use crate::shutdown::ShutdownSignal;
use session::WhepSession;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use table::{SessionId, SessionTable};
use tokio::sync::mpsc;

/// What the HTTP side tells the UDP task.
#[derive(Debug)]
pub enum Command {
    /// Drive this new session, fed by `subscription`.
    Add {
        /// Its id.
        id: SessionId,
        /// Its stream (for metrics and logs).
        stream: String,
        /// The answered session.
        session: Box<WhepSession>,
        /// Where its units come from.
        subscription: Subscription,
        /// Its candidates (the address a datagram is taken to have arrived at).
        candidates: Vec<SocketAddr>,
    },
    /// End a session.
    Remove(SessionId, WhepEnd),
}

/// Commands the UDP task may have queued before it reads them.
const COMMAND_QUEUE: usize = 64;

/// The WHEP state the HTTP handlers and the UDP task share; see the module docs.
#[derive(Debug)]
pub struct Whep {
    /// `[webrtc]`.
    pub settings: WebrtcSettings,
    table: Mutex<SessionTable>,
    commands: mpsc::Sender<Command>,
    /// Taken by the UDP task when it starts.
    receiver: Mutex<Option<mpsc::Receiver<Command>>>,
    /// Where the socket is bound, once it is.
    bound: OnceLock<SocketAddr>,
}

impl Whep {
    /// The shared state for `settings`; no socket yet (see [`udp::bind`]).
    pub fn new(settings: WebrtcSettings) -> Self {
        let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
        Self {
            table: Mutex::new(SessionTable::new(
                settings.max_sessions,
                settings.max_sessions_per_peer,
            )),
            settings,
            commands: tx,
            receiver: Mutex::new(Some(rx)),
            bound: OnceLock::new(),
        }
    }

    /// Where the UDP socket is bound, once the task runs.
    pub fn bound(&self) -> Option<SocketAddr> {
        self.bound.get().copied()
    }

    /// Sessions open.
    pub fn sessions(&self) -> usize {
        self.table.lock().map_or(0, |t| t.len())
    }

    fn table(&self) -> std::sync::MutexGuard<'_, SessionTable> {
        // A poisoned table means a panic while it was held; its data (ids and counts) is still
        // consistent, since every method leaves it so before it could panic.
        self.table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The host candidates of a session whose offer reached the server at `local` (the HTTP
    /// socket's address): `webrtc.advertise`, else `webrtc.listen`'s address if it is specific,
    /// else `local`'s address; each with the bound UDP port.
    pub fn candidates(&self, local: Option<SocketAddr>) -> Vec<SocketAddr> {
        let Some(bound) = self.bound() else {
            return Vec::new();
        };
        if !self.settings.advertise.is_empty() {
            return self
                .settings
                .advertise
                .iter()
                .map(|a| a.with_port(bound.port()))
                .collect();
        }
        if !bound.ip().is_unspecified() {
            return vec![bound];
        }
        match local {
            Some(l) => vec![SocketAddr::new(l.ip().to_canonical(), bound.port())],
            None => vec![SocketAddr::from(([127, 0, 0, 1], bound.port()))],
        }
    }
}

/// What the WHEP handlers share; cheap to clone.
#[derive(Debug, Clone)]
pub struct WhepContext {
    /// The WHEP state.
    pub whep: Arc<Whep>,
    /// Streams.
    pub bus: Arc<Bus>,
    /// The shared encoders.
    pub encoders: Arc<SharedEncoders>,
    /// Metrics.
    pub metrics: Metrics,
    /// Shutdown signal.
    pub shutdown: ShutdownSignal,
}
