//! What every listening socket of the server shares (`docs/security.md`, "HTTP and viewers"):
//!
//! * [`accept`]: an accept that backs off on errors instead of spinning. Out of file descriptors
//!   (`EMFILE`), `accept(2)` fails at once and keeps failing; the listener then waits 100 ms,
//!   doubling up to 1 s, and logs the 1st, 2nd, 4th, 8th, … consecutive failure, so an exhausted
//!   process neither burns a core nor floods the log, and picks up again when descriptors free up.
//! * [`ConnectionGate`]: how many connections a listener holds, in all and per peer address; a
//!   connection over either cap is refused at accept.
//! * [`SendQueue`]: whether a connection's kernel send queue is backed up. Accepted HTTP sockets
//!   get `TCP_NOTSENT_LOWAT` (`server.send_queue_bytes`), so the kernel holds at most that many
//!   unsent bytes (plus one segment batch) and reports the socket writable only below it; a viewer
//!   asks before each frame and skips to a newer one instead of queueing behind the backlog.
//!   [`SharedTcp`] is the socket hyper reads and writes, shared with that handle.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// First wait after a failed accept.
pub const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(100);
/// Longest wait after failed accepts.
pub const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// The wait before the next accept after `failures` consecutive failures (1 for the first):
/// 100 ms doubling to 1 s.
pub fn accept_backoff(failures: u32) -> Duration {
    let shift = failures.saturating_sub(1).min(8);
    (ACCEPT_BACKOFF_MIN * (1u32 << shift)).min(ACCEPT_BACKOFF_MAX)
}

/// Accepts the next connection on `listener`, named `what` in the log; failures back off
/// ([`accept_backoff`]) and never end the loop. Cancel-safe: dropping it loses no connection.
pub async fn accept(listener: &TcpListener, what: &str) -> (TcpStream, SocketAddr) {
    let mut failures = 0u32;
    loop {
        match listener.accept().await {
            Ok(c) => {
                if failures > 0 {
                    tracing::info!(listener = what, failures, "accepting again");
                }
                return c;
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                let wait = accept_backoff(failures);
                if failures.is_power_of_two() {
                    tracing::warn!(listener = what, error = %e, failures, wait_ms = wait.as_millis() as u64, "accept failed; backing off");
                }
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// Why a connection was refused at accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The listener holds `max_connections`.
    ListenerFull,
    /// The peer address holds `max_connections_per_peer`.
    PeerFull,
}

/// Counts one listener's connections, in all and per peer address ([`peer_key`]: not the port,
/// so one host's connections share the cap whatever ports it uses).
#[derive(Debug)]
pub struct ConnectionGate {
    max_total: usize,
    max_per_peer: usize,
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    /// Only addresses with a connection: at most `max_total` entries.
    per_peer: HashMap<IpAddr, usize>,
}

/// One admitted connection; dropping it frees its place.
#[derive(Debug)]
pub struct Admitted {
    gate: Arc<ConnectionGate>,
    peer: IpAddr,
}

impl ConnectionGate {
    /// A gate for at most `max_total` connections, `max_per_peer` of them from one address.
    pub fn new(max_total: usize, max_per_peer: usize) -> Arc<Self> {
        Arc::new(Self {
            max_total,
            max_per_peer,
            counts: Mutex::new(Counts::default()),
        })
    }

    /// Admits a connection from `peer`, or says why not.
    pub fn admit(self: &Arc<Self>, peer: IpAddr) -> Result<Admitted, Refusal> {
        let peer = peer_key(peer);
        // A poisoned lock means a panic while counting, which the code below cannot do; the
        // counts are still consistent, so go on with them.
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if c.total >= self.max_total {
            return Err(Refusal::ListenerFull);
        }
        let n = c.per_peer.entry(peer).or_insert(0);
        if *n >= self.max_per_peer {
            return Err(Refusal::PeerFull);
        }
        *n += 1;
        c.total += 1;
        Ok(Admitted {
            gate: self.clone(),
            peer,
        })
    }

    /// Connections held now.
    pub fn connections(&self) -> usize {
        self.counts.lock().unwrap_or_else(|e| e.into_inner()).total
    }

    /// [`ConnectionGate::admit`] for a listener without an answer to give (the display and
    /// Picamera ports): a refused connection is just closed, and the 1st, 2nd, 4th, … refusal
    /// of the listener (`refused` counts them) is logged.
    pub fn admit_or_close(
        self: &Arc<Self>,
        peer: SocketAddr,
        what: &str,
        refused: &mut u64,
    ) -> Option<Admitted> {
        match self.admit(peer.ip()) {
            Ok(a) => Some(a),
            Err(reason) => {
                *refused += 1;
                if refused.is_power_of_two() {
                    tracing::warn!(listener = what, %peer, ?reason, refused = *refused, open = self.connections(), "connection refused: connection cap reached");
                }
                None
            }
        }
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut c = self.gate.counts.lock().unwrap_or_else(|e| e.into_inner());
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.per_peer.get_mut(&self.peer) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                c.per_peer.remove(&self.peer);
            }
        }
    }
}

/// The local address of the socket an HTTP request came in on (a request extension, set by
/// `http::serve`): the address the client reached this server at, which WHEP advertises as its
/// ICE candidate when `webrtc.advertise` is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalAddr(pub std::net::SocketAddr);

/// The address a peer's connections are counted under: an IPv4 address (also when it arrives
/// IPv4-mapped on an IPv6 socket) or an IPv6 /64, the block one host or one LAN usually gets (a
/// host can pick any address in it, so counting single IPv6 addresses would cap nothing).
pub fn peer_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// A TCP socket shared between the connection (hyper reads and writes it through this) and the
/// [`SendQueue`] handle its handlers keep; the socket closes when both are gone. It carries the
/// connection's place at its listener ([`Admitted`], a gauge guard): the IO object lives as long
/// as the connection, upgraded WebSockets included, so they count against the caps to the end.
pub struct SharedTcp {
    sock: Arc<TcpStream>,
    _held: Box<dyn std::any::Any + Send + Sync>,
}

impl std::fmt::Debug for SharedTcp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SharedTcp").field(&self.sock).finish()
    }
}

impl SharedTcp {
    /// Wraps an accepted socket; `held` is dropped when the connection ends.
    pub fn new(sock: TcpStream, held: impl std::any::Any + Send + Sync) -> Self {
        Self {
            sock: Arc::new(sock),
            _held: Box::new(held),
        }
    }

    /// The handle viewers ask.
    pub fn send_queue(&self) -> SendQueue {
        SendQueue(Some(self.sock.clone()))
    }
}

impl AsyncRead for SharedTcp {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            ready!(self.sock.poll_read_ready(cx))?;
            match self.sock.try_read(buf.initialize_unfilled()) {
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                // Readiness was stale; `try_read` cleared it, so the next poll waits.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for SharedTcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.sock.poll_write_ready(cx))?;
            match self.sock.try_write(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                r => return Poll::Ready(r),
            }
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.sock.poll_write_ready(cx))?;
            match self.sock.try_write_vectored(bufs) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                r => return Poll::Ready(r),
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = socket2::SockRef::from(&*self.sock).shutdown(std::net::Shutdown::Write);
        // Already closed by the peer: nothing left to shut down.
        Poll::Ready(match r {
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            r => r,
        })
    }
}

/// Whether a connection's kernel send queue is backed up; see the module docs. Handlers get it as a
/// request extension; one made with [`SendQueue::none`] (router tests, no socket) is never backed up.
#[derive(Debug, Clone, Default)]
pub struct SendQueue(Option<Arc<TcpStream>>);

impl SendQueue {
    /// No socket to ask.
    pub fn none() -> Self {
        Self(None)
    }

    /// True while the socket holds `send_queue_bytes` or more not yet sent: the peer (or the
    /// link) is not keeping up, and a new frame written now would wait behind the backlog.
    pub fn backed_up(&self) -> bool {
        let Some(sock) = &self.0 else { return false };
        let mut fds = [rustix::event::PollFd::new(
            &**sock,
            rustix::event::PollFlags::OUT,
        )];
        let zero = rustix::event::Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        match rustix::event::poll(&mut fds, Some(&zero)) {
            // With TCP_NOTSENT_LOWAT, POLLOUT means fewer unsent bytes than the mark. A socket in
            // error or hung up is not "backed up": the next write fails and ends the connection.
            Ok(_) => !fds[0].revents().intersects(
                rustix::event::PollFlags::OUT
                    | rustix::event::PollFlags::ERR
                    | rustix::event::PollFlags::HUP,
            ),
            // Cannot tell (interrupted): do not hold frames back on a guess.
            Err(_) => false,
        }
    }

    /// Waits (checking every `every`) until the queue is no longer backed up; after `limit`
    /// backed up throughout, the peer has stopped reading: the socket is shut down ([`Self::cut_off`]).
    pub async fn drained(&self, every: Duration, limit: Duration) -> Result<(), Stalled> {
        let start = tokio::time::Instant::now();
        while self.backed_up() {
            if start.elapsed() >= limit {
                self.cut_off();
                return Err(Stalled);
            }
            tokio::time::sleep(every).await;
        }
        Ok(())
    }

    /// Shuts the socket down both ways: a write blocked on it fails, the connection ends, and its
    /// place and descriptor are freed even though the peer never reads again.
    pub fn cut_off(&self) {
        if let Some(sock) = &self.0 {
            let _ = socket2::SockRef::from(&**sock).shutdown(std::net::Shutdown::Both);
        }
    }
}

/// A peer stopped reading: its socket stayed backed up for the whole limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stalled;

/// Sets `TCP_NOTSENT_LOWAT` to `bytes` on an accepted socket ([`SendQueue`]).
pub fn limit_unsent(sock: &TcpStream, bytes: u32) -> io::Result<()> {
    socket2::SockRef::from(sock).set_tcp_notsent_lowat(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_backoff_doubles_from_100_ms_to_1_s() {
        let waits: Vec<u64> = (1..=7)
            .map(|n| accept_backoff(n).as_millis() as u64)
            .collect();
        assert_eq!(waits, [100, 200, 400, 800, 1000, 1000, 1000]);
        assert_eq!(accept_backoff(u32::MAX), ACCEPT_BACKOFF_MAX);
    }

    #[test]
    fn connections_per_peer_are_capped() {
        let gate = ConnectionGate::new(3, 2);
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let a1 = gate.admit(a).expect("first");
        let _a2 = gate.admit(a).expect("second");
        assert_eq!(gate.admit(a).unwrap_err(), Refusal::PeerFull);
        let _b1 = gate.admit(b).expect("another peer");
        assert_eq!(gate.admit(b).unwrap_err(), Refusal::ListenerFull);
        drop(a1);
        assert_eq!(gate.connections(), 2);
        let _a3 = gate.admit(a).expect("a place was freed");
    }

    #[test]
    fn ipv6_peers_are_counted_by_their_64_block() {
        let gate = ConnectionGate::new(10, 2);
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let _a = gate.admit(a).expect("first");
        let _b = gate.admit(b).expect("second, same /64");
        let c: IpAddr = "2001:db8:1:2::77".parse().unwrap();
        assert_eq!(gate.admit(c).unwrap_err(), Refusal::PeerFull);
        let _other = gate
            .admit("2001:db8:1:3::1".parse().unwrap())
            .expect("another /64");
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(peer_key(mapped), IpAddr::from([10, 0, 0, 1]));
    }

    #[test]
    fn a_peer_that_leaves_leaves_no_entry() {
        let gate = ConnectionGate::new(10, 10);
        for i in 0..5u8 {
            drop(gate.admit([10, 0, 0, i].into()).expect("admitted"));
        }
        assert_eq!(gate.connections(), 0);
        assert!(gate.counts.lock().unwrap().per_peer.is_empty());
    }
}
