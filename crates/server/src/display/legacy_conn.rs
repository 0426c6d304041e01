//! The edge of one seed-000 sketch connection: a small send buffer and TCP keepalive on the socket,
//! the sans-IO [`LegacySession`] paced by write completions, and the same registry, status and
//! metrics as pixelwire devices. The sketch never sends; anything it does send is read and dropped
//! (reading is how a closed connection is noticed).

use super::DisplayContext;
use super::connection::DisplayConnection;
use super::end::EndReason;
use super::live::{Identity, Link};
use super::registry::DisplayCommand;
use super::writer::SocketWriter;
use crate::clock::{self, RealStopwatch};
use crate::metrics::Protocol;
use pixelwire_core::{
    CloseReason, DisplaySink, LegacyConfig, LegacyEvent, LegacySession, PixelFormat,
};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tracing::{Instrument, info, info_span, warn};

/// What every sketch's id starts with (`legacy-{ip}-{port}`); pixelwire devices may not use it, so
/// no peer elsewhere can hold a sketch's id.
pub const ID_PREFIX: &str = "legacy-";

/// Serves one sketch until it disconnects, a write fails or stalls, it is replaced, or shutdown.
pub async fn serve(sock: TcpStream, peer: SocketAddr, port: u16, ctx: DisplayContext) {
    let id = format!("{ID_PREFIX}{}-{port}", peer.ip());
    let span = info_span!("display", %peer, protocol = "legacy", display = %id);
    run(sock, peer, port, id, ctx).instrument(span).await;
}

fn tune_socket(sock: &TcpStream, send_buffer: u32) {
    let s = socket2::SockRef::from(sock);
    let _ = s.set_send_buffer_size(send_buffer as usize);
    let ka = socket2::TcpKeepalive::new()
        .with_time(Duration::from_secs(5))
        .with_interval(Duration::from_secs(2));
    let _ = s.set_tcp_keepalive(&ka);
}

async fn run(sock: TcpStream, peer: SocketAddr, port: u16, id: String, ctx: DisplayContext) {
    let lg = &ctx.cfg.legacy;
    tune_socket(&sock, lg.send_buffer_bytes);
    let (_, width, height, mut tuning) = ctx.cfg.route_legacy(peer.ip(), port);
    // The policy chosen from the page or the API, if any, over the configured one.
    tuning.sink.rate.prefer = ctx.routes.route(&id).prefer.into();
    // The stream: the configured one unless the page or the API chose another.
    let mut rx = ctx.routes.subscribe(&id);
    let stream_name = rx.borrow_and_update().clone();
    let mut route = Some(rx);
    let cfg = LegacyConfig {
        width,
        height,
        max_payload: lg.max_payload.get(),
        keepalive: Duration::from_millis(lg.keepalive_ms),
        sink: tuning.sink,
    };
    // The panel size is configuration, but any silent peer becomes a sketch: it counts against the
    // displays' memory budget like a pixelwire HELLO.
    let need = DisplaySink::memory_bytes(width, height, &cfg.sink);
    let _reservation = match ctx
        .displays
        .memory
        .reserve(need, ctx.cfg.limits.display_memory_bytes)
    {
        Ok(r) => r,
        Err(e) => {
            warn!(
                need_bytes = e.need,
                available_bytes = e.available,
                limit_bytes = e.limit,
                "legacy display refused: display memory budget spent"
            );
            EndReason::Session(CloseReason::Refused(e.to_string()))
                .record(&ctx.metrics, Protocol::Legacy);
            return;
        }
    };
    let mut session = LegacySession::new(clock::now(), cfg, Box::new(RealStopwatch));
    let (mut rd, wr) = sock.into_split();
    // The sketch's own payload timeout is 2 s; a write stalled for 5 s means a dead or stuck peer.
    let mut writer = SocketWriter::spawn(wr, 4, Duration::from_secs(5));
    let (cmd_tx, mut cmd_rx) = mpsc::channel::<DisplayCommand>(8);
    let identity = Identity {
        id,
        protocol: Protocol::Legacy,
        address: peer,
        stream: stream_name.clone(),
        size: (width, height),
        firmware: None,
        pixel_format: PixelFormat::default(),
    };
    let mut conn = match DisplayConnection::open(&ctx, identity, clock::now().as_micros(), cmd_tx) {
        Ok(conn) => conn,
        Err(holder) => {
            // Only a race can get here: pixelwire devices may not use sketch ids.
            warn!(holder = %holder.0, "legacy display refused: its id is held by another address");
            return;
        }
    };
    let (shown, mut watch) = conn.watch(&ctx, &stream_name);
    if shown != stream_name {
        conn.set_stream(&shown);
    }
    info!(stream = %shown, width, height, "legacy display connected");
    let mut shutdown = ctx.shutdown.clone();
    let mut buf = vec![0u8; 1024];
    let end: EndReason = loop {
        if let Some(bytes) = session.poll_transmit()
            && let Err(e) = writer.send(bytes)
        {
            break EndReason::SendRefused(e);
        }
        let now = clock::now().as_micros();
        for ev in session.drain_events() {
            match ev {
                LegacyEvent::Sent(f) => conn.frame_sent(now, &f),
                LegacyEvent::Written { latency, .. } => conn.frame_presented(now, latency),
            }
        }
        conn.link(Link {
            frames_in_flight: usize::from(session.is_writing()),
            capacity: session.sink().rate().link.capacity(),
            rtt: None,
        });
        let deadline = session.poll_timeout().map(clock::to_instant);
        tokio::select! {
            r = rd.read(&mut buf) => match r {
                Ok(0) => break EndReason::PeerClosed,
                Ok(_) => {} // the sketch never sends; ignore
                Err(e) => break EndReason::ReadFailed(e),
            },
            f = async { match watch.as_mut() { Some(w) => w.next().await, None => std::future::pending().await } } => match f {
                Some(f) => {
                    // A frame that does not decode is skipped (and counted by its source).
                    if let Some(rgba) = f.rgba() {
                        session.handle_frame(clock::now(), rgba);
                    }
                }
                None => break EndReason::StreamEnded,
            },
            _ = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => {
                session.handle_timeout(clock::now());
            }
            d = writer.done.recv() => match d {
                Some(Ok(_)) => {
                    writer.completed();
                    session.handle_written(clock::now());
                }
                Some(Err(e)) => break EndReason::WriteFailed(e),
                None => break EndReason::WriterStopped,
            },
            stream = super::routes::next_route(&mut route) => {
                if watch.as_ref().is_none_or(|w| w.stream().name() != stream) {
                    // The next frame comes from the new stream; only what differs on the panel is sent.
                    let (shown, w) = conn.watch(&ctx, &stream);
                    conn.set_stream(&shown);
                    watch = w;
                    info!(stream = %shown, "legacy display switched");
                }
            }
            c = cmd_rx.recv() => match c {
                Some(DisplayCommand::Preview(reply)) => {
                    let _ = reply.send(super::registry::PanelImage {
                        image: session.shadow().clone(),
                        format: PixelFormat::default(),
                    });
                }
                Some(DisplayCommand::Close(_, text)) => break EndReason::Closed(text),
                Some(DisplayCommand::SetPrefer(prefer)) => session.set_prefer(prefer),
                None => {}
            },
            _ = shutdown.wait() => break EndReason::Shutdown,
        }
    };
    end.record(&ctx.metrics, Protocol::Legacy);
    drop(conn);
    if end.is_socket_failure() {
        warn!(reason = %end, "legacy display disconnected");
    } else {
        info!(reason = %end, "legacy display disconnected");
    }
}
