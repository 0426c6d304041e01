//! The edge of one seed-000 sketch connection: a small send buffer and TCP keepalive on the socket,
//! the sans-IO [`LegacySession`] paced by write completions, and the same registry, status and
//! metrics as pixelwire devices. The sketch never sends; anything it does send is read and dropped
//! (reading is how a closed connection is noticed).

use super::DisplayContext;
use super::registry::{DisplayCommand, DisplayHandle};
use super::status::{DisplayStatus, Rolling};
use super::writer::SocketWriter;
use crate::clock::{self, RealStopwatch};
use pixelwire_core::{LegacyConfig, LegacyEvent, LegacySession};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tracing::{Instrument, info, info_span, warn};

/// Serves one sketch until it disconnects, a write fails or stalls, it is replaced, or shutdown.
pub async fn serve(sock: TcpStream, peer: SocketAddr, port: u16, ctx: DisplayContext) {
    let id = format!("legacy-{}-{port}", peer.ip());
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
    let (stream_name, width, height, tuning) = ctx.cfg.route_legacy(peer.ip(), port);
    let cfg = LegacyConfig {
        width,
        height,
        max_payload: lg.max_payload.get(),
        keepalive: Duration::from_millis(lg.keepalive_ms),
        sink: tuning.sink,
    };
    let mut session = LegacySession::new(clock::now(), cfg, Box::new(RealStopwatch));
    let (mut rd, wr) = sock.into_split();
    // The sketch's own payload timeout is 2 s; a write stalled for 5 s means a dead or stuck peer.
    let mut writer = SocketWriter::spawn(wr, 4, Duration::from_secs(5));
    let (cmd_tx, mut cmd_rx) = mpsc::channel::<DisplayCommand>(8);
    let now = clock::now().as_micros();
    let status = Arc::new(Mutex::new(DisplayStatus::connected(
        &id,
        "legacy",
        peer,
        &stream_name,
        (width, height),
        None,
    )));
    let conn = ctx.displays.next_conn();
    let (seen, old) = ctx.displays.register(
        &id,
        DisplayHandle {
            conn,
            status: status.clone(),
            commands: cmd_tx,
            connected_at_us: now,
        },
    );
    if let Some(old) = old {
        let _ = old.commands.try_send(DisplayCommand::Close(
            pixelwire_proto::ErrorCode::Replaced,
            "replaced by a new connection".into(),
        ));
    }
    if seen {
        ctx.metrics.reconnection(&id);
    }
    ctx.metrics.set_connected(&id, true);
    info!(stream = %stream_name, width, height, "legacy display connected");
    let mut watch = ctx.bus.get(&stream_name).map(|s| s.watch());
    let mut rolling = Rolling::default();
    let mut shutdown = ctx.shutdown.clone();
    let mut last_seq: Option<u64> = None;
    let mut buf = vec![0u8; 1024];
    let end: String = loop {
        if let Some(bytes) = session.poll_transmit()
            && let Err(e) = writer.send(bytes)
        {
            ctx.metrics.error("legacy", "write");
            break e.to_string();
        }
        let now = clock::now().as_micros();
        for ev in session.drain_events() {
            match ev {
                LegacyEvent::Sent(f) => {
                    let skipped = last_seq.map_or(0, |l| f.source_seq.saturating_sub(l + 1));
                    last_seq = Some(f.source_seq);
                    ctx.metrics.frame_sent(&id, &f, skipped);
                    rolling.sent(now, f.bytes);
                    if let Ok(mut s) = status.lock() {
                        s.frames_sent += 1;
                        s.bytes_sent += f.bytes;
                        s.quality_level = f.level;
                    }
                }
                LegacyEvent::Written { latency, .. } => {
                    ctx.metrics.frame_presented(&id, latency);
                    rolling.presented(now, latency.as_secs_f64() * 1e3);
                    if let Ok(mut s) = status.lock() {
                        s.frames_presented += 1;
                    }
                }
            }
        }
        if let Ok(mut s) = status.lock() {
            rolling.fill(now, &mut s);
            s.frames_in_flight = usize::from(session.is_writing());
            s.capacity_kbytes_per_s = session.sink().rate().link.capacity().map(|c| c / 1000.0);
        }
        let deadline = session.poll_timeout().map(clock::to_instant);
        tokio::select! {
            r = rd.read(&mut buf) => match r {
                Ok(0) => break "peer closed the connection".into(),
                Ok(_) => {} // the sketch never sends; ignore
                Err(e) => {
                    ctx.metrics.error("legacy", "read");
                    break format!("read failed: {e}");
                }
            },
            f = async { match watch.as_mut() { Some(w) => w.next().await, None => std::future::pending().await } } => match f {
                Some(f) => {
                    // A frame that does not decode is skipped (and counted by its source).
                    if let Some(rgba) = f.rgba() {
                        session.handle_frame(clock::now(), rgba);
                    }
                }
                None => break "stream ended".into(),
            },
            _ = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => {
                session.handle_timeout(clock::now());
            }
            d = writer.done.recv() => match d {
                Some(Ok(_)) => {
                    writer.completed();
                    session.handle_written(clock::now());
                }
                Some(Err(e)) => {
                    ctx.metrics.error("legacy", "write");
                    break format!("write failed: {e}");
                }
                None => break "socket writer stopped".into(),
            },
            c = cmd_rx.recv() => match c {
                Some(DisplayCommand::Preview(reply)) => { let _ = reply.send(session.shadow().clone()); }
                Some(DisplayCommand::Close(_, text)) => break text,
                None => {}
            },
            _ = shutdown.wait() => break "server shutting down".into(),
        }
    };
    ctx.displays.unregister(&id, conn);
    ctx.metrics.set_connected(&id, false);
    if end.contains("failed") || end.contains("stalled") {
        warn!(reason = %end, "legacy display disconnected");
    } else {
        info!(reason = %end, "legacy display disconnected");
    }
}
