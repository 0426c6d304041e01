//! The WebRTC port: one task owns the UDP socket and every WHEP session. Each datagram goes to
//! the session that accepts it (str0m's `Rtc::accepts`: STUN by ICE ufrag, the rest by the
//! browser's address; at most `webrtc.max_sessions` are asked); each session's encoded units
//! come from a small forwarding task that holds its subscription, so a session that falls behind
//! lags on its own broadcast receiver and skips to the next keyframe, never holding back the
//! encoder or the other sessions. Deadlines are the sessions' own (`session.rs`); this task only
//! moves datagrams, units, keyframe requests and timeouts between them and the network.

use super::session::SessionOutput;
use super::table::SessionId;
use super::{Command, Whep};
use crate::encoded::{EncodedUnit, SharedEncoder, Subscription};
use crate::metrics::{Metrics, WhepEnd, WhepSessionMetrics, WhepUdpMetrics};
use crate::shutdown::ShutdownSignal;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use str0m::Input;
use str0m::net::{Protocol, Receive};
use tokio::net::UdpSocket;
use tokio::sync::{broadcast, mpsc};

/// Units in flight from the forwarders to this task, all sessions together.
const UNIT_QUEUE: usize = 256;

/// Binds `webrtc.listen` and records the bound address in `whep`.
pub async fn bind(whep: &Whep) -> anyhow::Result<UdpSocket> {
    let addr = whep.settings.listen;
    let socket = UdpSocket::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot bind the WebRTC UDP port {addr}: {e}"))?;
    let local = socket.local_addr()?;
    let _ = whep.bound.set(local);
    Ok(socket)
}

/// The socket, where it is bound, and its byte counters.
struct Port {
    socket: UdpSocket,
    local: SocketAddr,
    udp: WhepUdpMetrics,
}

/// One unit for one session; `skipped` units were lost before it.
struct Delivery {
    id: SessionId,
    unit: Arc<EncodedUnit>,
    skipped: u64,
}

/// A session as this task drives it.
struct Driven {
    session: Box<super::session::WhepSession>,
    candidates: Vec<SocketAddr>,
    encoder: Arc<SharedEncoder>,
    metrics: WhepSessionMetrics,
    stream: String,
    next: Instant,
    forwarder: tokio::task::JoinHandle<()>,
}

impl Drop for Driven {
    fn drop(&mut self) {
        // The forwarder holds the subscription (and so the consumer count): it goes with us.
        self.forwarder.abort();
    }
}

impl Driven {
    /// The candidate a datagram from `source` is taken to have arrived at: the socket is bound
    /// to one address (often the unspecified one) and does not tell; a loopback peer reached a
    /// loopback candidate, anyone else the first candidate of its address family.
    fn destination(&self, source: SocketAddr) -> SocketAddr {
        let family = |c: &&SocketAddr| c.is_ipv4() == source.ip().to_canonical().is_ipv4();
        self.candidates
            .iter()
            .filter(family)
            .find(|c| c.ip().is_loopback() == source.ip().is_loopback())
            .or_else(|| self.candidates.iter().find(family))
            .or(self.candidates.first())
            .copied()
            .unwrap_or(source)
    }
}

/// Runs the WebRTC port until shutdown.
pub async fn run(
    socket: UdpSocket,
    whep: Arc<Whep>,
    metrics: Metrics,
    mut shutdown: ShutdownSignal,
) {
    let Some(mut commands) = whep.receiver.lock().ok().and_then(|mut r| r.take()) else {
        tracing::error!("the WebRTC task started twice");
        return;
    };
    let (units_tx, mut units) = mpsc::channel::<Delivery>(UNIT_QUEUE);
    let mut sessions: HashMap<SessionId, Driven> = HashMap::new();
    let mut buf = vec![0u8; 2048];
    let local = socket
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let port = Port {
        socket,
        local,
        udp: metrics.whep_udp(),
    };
    loop {
        let deadline = sessions
            .values()
            .map(|d| d.next)
            .min()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            r = port.socket.recv_from(&mut buf) => {
                let now = Instant::now();
                match r {
                    Ok((n, source)) => {
                        port.udp.received(n);
                        // On a dual-stack socket ("[::]:8555") IPv4 peers arrive IPv4-mapped;
                        // str0m pairs them with IPv4 candidates only as plain IPv4.
                        let source = SocketAddr::new(source.ip().to_canonical(), source.port());
                        let id = timed(&port, || receive(&mut sessions, now, source, local, &buf[..n]));
                        if let Some(id) = id {
                            drive(&mut sessions, &id, now, &port, &whep, &metrics);
                        }
                    }
                    // ICMP errors from a previous send (a browser that went away) surface here.
                    Err(e) => tracing::trace!(error = %e, "whep: recv"),
                }
            }
            Some(cmd) = commands.recv() => {
                let now = Instant::now();
                match cmd {
                    Command::Add { id, stream, session, subscription, candidates } => {
                        let encoder = subscription.encoder.clone();
                        let forwarder = tokio::spawn(forward(id.clone(), subscription, units_tx.clone()));
                        tracing::info!(session = %id, stream = %stream, "whep session started");
                        sessions.insert(id.clone(), Driven {
                            session,
                            candidates,
                            encoder,
                            metrics: metrics.whep_session(&stream),
                            stream,
                            next: now,
                            forwarder,
                        });
                        drive(&mut sessions, &id, now, &port, &whep, &metrics);
                    }
                    Command::Remove(id, reason) => {
                        if let Some(d) = sessions.get_mut(&id) {
                            d.session.end(reason);
                            drive(&mut sessions, &id, now, &port, &whep, &metrics);
                        }
                    }
                }
            }
            Some(Delivery { id, unit, skipped }) = units.recv() => {
                let now = Instant::now();
                if let Some(d) = sessions.get_mut(&id) {
                    if skipped > 0 {
                        d.metrics.skipped(skipped);
                    }
                    timed(&port, || d.session.write_unit(now, &unit, skipped > 0));
                    drive(&mut sessions, &id, now, &port, &whep, &metrics);
                }
            }
            _ = tokio::time::sleep_until(deadline.into()) => {
                let now = Instant::now();
                let due: Vec<SessionId> = sessions
                    .iter()
                    .filter(|(_, d)| d.next <= now)
                    .map(|(id, _)| id.clone())
                    .collect();
                for id in due {
                    if let Some(d) = sessions.get_mut(&id) {
                        d.session.handle_input(Input::Timeout(now));
                    }
                    drive(&mut sessions, &id, now, &port, &whep, &metrics);
                }
            }
            _ = shutdown.wait() => {
                let now = Instant::now();
                let ids: Vec<SessionId> = sessions.keys().cloned().collect();
                for id in ids {
                    if let Some(d) = sessions.get_mut(&id) {
                        d.session.end(WhepEnd::Shutdown);
                    }
                    drive(&mut sessions, &id, now, &port, &whep, &metrics);
                }
                return;
            }
        }
    }
}

/// Runs `f`, counting the CPU time it takes on this thread (`pixelwire_whep_cpu_seconds_total`:
/// what WHEP costs beyond the shared encode, measured where it is spent).
fn timed<T>(port: &Port, f: impl FnOnce() -> T) -> T {
    let cpu = || {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
        Duration::new(
            t.tv_sec.max(0) as u64,
            t.tv_nsec.clamp(0, 999_999_999) as u32,
        )
    };
    let t0 = cpu();
    let out = f();
    port.udp.cpu(cpu().saturating_sub(t0));
    out
}

/// `to` as the socket at `local` can send to it: IPv4 addresses IPv4-mapped on an IPv6 socket.
fn on_socket(local: SocketAddr, to: SocketAddr) -> SocketAddr {
    match (local, to.ip()) {
        (SocketAddr::V6(_), std::net::IpAddr::V4(v4)) => {
            SocketAddr::new(std::net::IpAddr::V6(v4.to_ipv6_mapped()), to.port())
        }
        _ => to,
    }
}

/// Hands a datagram to the session that accepts it; returns its id.
fn receive(
    sessions: &mut HashMap<SessionId, Driven>,
    now: Instant,
    source: SocketAddr,
    local: SocketAddr,
    bytes: &[u8],
) -> Option<SessionId> {
    // Not STUN, DTLS, RTP or RTCP: dropped.
    let mut r = Receive::new(Protocol::Udp, source, local, bytes).ok()?;
    for (id, d) in sessions.iter_mut() {
        r.destination = d.destination(source);
        let input = Input::Receive(now, r);
        if d.session.accepts(&input) {
            d.session.handle_input(input);
            return Some(id.clone());
        }
        let Input::Receive(_, back) = input else {
            return None;
        };
        r = back;
    }
    None
}

/// Drains a session's outputs: datagrams out, keyframe requests to the encoder, its next
/// deadline; an ended session is dropped (and its table entry and consumer count with it).
fn drive(
    sessions: &mut HashMap<SessionId, Driven>,
    id: &SessionId,
    now: Instant,
    port: &Port,
    whep: &Whep,
    metrics: &Metrics,
) {
    timed(port, || drive_now(sessions, id, now, port, whep, metrics));
}

fn drive_now(
    sessions: &mut HashMap<SessionId, Driven>,
    id: &SessionId,
    now: Instant,
    port: &Port,
    whep: &Whep,
    metrics: &Metrics,
) {
    let Some(d) = sessions.get_mut(id) else {
        return;
    };
    // Bounded: a session never yields more than this per turn without reaching a timeout.
    for _ in 0..10_000 {
        match d.session.poll_output(now) {
            SessionOutput::Transmit(t) => {
                // Never waits: a full socket buffer drops the datagram, as the network could.
                match port
                    .socket
                    .try_send_to(&t.contents, on_socket(port.local, t.destination))
                {
                    Ok(n) => port.udp.sent(n),
                    Err(e) => tracing::trace!(error = %e, "whep: send dropped"),
                }
            }
            SessionOutput::KeyframeWanted => {
                d.metrics.keyframe_requested();
                d.encoder.request_keyframe();
            }
            SessionOutput::Timeout(t) => {
                d.next = t;
                return;
            }
            SessionOutput::Ended(reason) => {
                metrics.whep_ended(reason);
                tracing::info!(session = %id, stream = %d.stream, %reason, "whep session ended");
                whep.table().remove(id);
                sessions.remove(id);
                return;
            }
        }
    }
    // Something kept producing output: look again at once rather than spin here.
    d.next = now;
}

/// Moves a session's units to the UDP task: the ring's backlog first, then live ones; after a
/// lag, the number skipped rides on the next unit (the session then waits for a keyframe, which
/// is asked for here).
async fn forward(id: SessionId, mut sub: Subscription, to: mpsc::Sender<Delivery>) {
    // `sub` lives as long as this task: it holds the encoder and counts this consumer.
    for unit in std::mem::take(&mut sub.backlog) {
        let d = Delivery {
            id: id.clone(),
            unit,
            skipped: 0,
        };
        if to.send(d).await.is_err() {
            return;
        }
    }
    let mut skipped = 0;
    loop {
        match sub.units.recv().await {
            Ok(unit) => {
                let d = Delivery {
                    id: id.clone(),
                    unit,
                    skipped: std::mem::take(&mut skipped),
                };
                if to.send(d).await.is_err() {
                    return;
                }
            }
            Err(broadcast::error::RecvError::Lagged(n)) => {
                skipped += n;
                sub.encoder.request_keyframe();
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_peers_are_mapped_only_on_an_ipv6_socket() {
        let v4: SocketAddr = "192.0.2.7:5000".parse().unwrap();
        let any6: SocketAddr = "[::]:8555".parse().unwrap();
        let any4: SocketAddr = "0.0.0.0:8555".parse().unwrap();
        assert_eq!(on_socket(any4, v4), v4);
        assert_eq!(
            on_socket(any6, v4),
            "[::ffff:192.0.2.7]:5000".parse::<SocketAddr>().unwrap()
        );
        let v6: SocketAddr = "[2001:db8::1]:5000".parse().unwrap();
        assert_eq!(on_socket(any6, v6), v6);
    }
}
