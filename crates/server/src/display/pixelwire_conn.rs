//! The edge of one pixelwire display connection: owns the socket, the sans-IO
//! [`DisplaySession`], the subscription to the routed stream, the registry entry and the metrics.
//! All decisions are the session's; this task only moves bytes, frames, timers and commands.

use super::DisplayContext;
use super::registry::{DisplayCommand, DisplayHandle};
use super::status::{DeviceFigures, DisplayStatus, Rolling};
use super::writer::SocketWriter;
use crate::bus::StreamWatch;
use crate::clock::{self, RealStopwatch};
use pixelwire_core::{CloseReason, DisplaySession, SessionConfig, SessionEvent};
use pixelwire_proto::ErrorCode;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tracing::{Instrument, info, info_span, warn};

/// What the connection task knows once the device said HELLO.
struct Identified {
    id: String,
    conn: u64,
    status: Arc<Mutex<DisplayStatus>>,
    watch: Option<StreamWatch>,
    last_source_seq: Option<u64>,
}

/// Serves one pixelwire device until it disconnects, errs, is replaced, or the server stops.
pub async fn serve(sock: TcpStream, peer: SocketAddr, first: Vec<u8>, ctx: DisplayContext) {
    let span = info_span!("display", %peer, protocol = "pixelwire");
    run(sock, peer, first, ctx).instrument(span).await;
}

fn session_config(ctx: &DisplayContext, id: &str) -> SessionConfig {
    let (_, t) = ctx.cfg.route_display(id);
    SessionConfig {
        keepalive: t.keepalive,
        window: t.window,
        codecs: t.codecs,
        sink: t.sink,
        ..SessionConfig::default()
    }
}

async fn next_frame(watch: &mut Option<Identified>) -> Option<Arc<pixelwire_media::MediaFrame>> {
    match watch.as_mut().and_then(|i| i.watch.as_mut()) {
        Some(w) => w.next().await,
        None => std::future::pending().await,
    }
}

async fn run(sock: TcpStream, peer: SocketAddr, first: Vec<u8>, ctx: DisplayContext) {
    let (mut rd, wr) = sock.into_split();
    let mut writer = SocketWriter::spawn(wr, 64, Duration::from_secs(10));
    let cfg_state = ctx.clone();
    let mut session = DisplaySession::new(
        clock::now(),
        SessionConfig::default(),
        Box::new(RealStopwatch),
    )
    .with_router(Box::new(move |hello| {
        session_config(&cfg_state, hello.device_id.as_str())
    }));
    let (cmd_tx, mut cmd_rx) = mpsc::channel::<DisplayCommand>(8);
    let mut me: Option<Identified> = None;
    let mut rolling = Rolling::default();
    let mut shutdown = ctx.shutdown.clone();
    let mut buf = vec![0u8; 16 * 1024];
    let mut end: Option<String> = None;
    session.handle_input(clock::now(), &first);
    loop {
        // Move everything the session produced.
        while let Some(bytes) = session.poll_transmit() {
            if let Err(e) = writer.send(bytes) {
                session.close(ErrorCode::Timeout, e);
                end.get_or_insert_with(|| e.to_string());
                ctx.metrics.error("pixelwire", "write");
            }
        }
        while let Some(ev) = session.poll_event() {
            on_event(
                ev,
                &session,
                &ctx,
                &mut me,
                &mut rolling,
                &cmd_tx,
                peer,
                &mut end,
            );
        }
        if let Some(i) = &me {
            if let Ok(mut s) = i.status.lock() {
                rolling.fill(clock::now().as_micros(), &mut s);
                s.frames_in_flight = session.frames_in_flight();
            }
            if let Some(sink) = session.sink() {
                let link = &sink.rate().link;
                ctx.metrics.link(
                    &i.id,
                    session.frames_in_flight(),
                    link.capacity(),
                    link.min_rtt(),
                );
            }
        }
        if session.is_closed() || end.is_some() {
            writer.flush(Duration::from_secs(1)).await;
            break;
        }
        let deadline = session.poll_timeout().map(clock::to_instant);
        tokio::select! {
            r = rd.read(&mut buf) => match r {
                Ok(0) => { end = Some("peer closed the connection".into()); }
                Ok(n) => session.handle_input(clock::now(), &buf[..n]),
                Err(e) => {
                    end = Some(format!("read failed: {e}"));
                    ctx.metrics.error("pixelwire", "read");
                }
            },
            f = next_frame(&mut me) => match f {
                Some(f) => {
                    // A frame that does not decode is skipped (and counted by its source).
                    if let Some(rgba) = f.rgba() {
                        session.handle_frame(clock::now(), rgba);
                    }
                }
                None => { end = Some("stream ended".into()); }
            },
            _ = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => {
                session.handle_timeout(clock::now());
            }
            d = writer.done.recv() => match d {
                Some(Ok(_)) => writer.completed(),
                Some(Err(e)) => {
                    end = Some(format!("write failed: {e}"));
                    ctx.metrics.error("pixelwire", "write");
                }
                None => { end = Some("socket writer stopped".into()); }
            },
            c = cmd_rx.recv() => match c {
                Some(DisplayCommand::Preview(reply)) => {
                    if let Some(img) = session.shadow() {
                        let _ = reply.send(img.clone());
                    }
                }
                Some(DisplayCommand::Close(code, text)) => session.close(code, &text),
                None => {}
            },
            _ = shutdown.wait() => session.close(ErrorCode::Shutdown, "server shutting down"),
        }
    }
    if let Some(i) = me {
        ctx.displays.unregister(&i.id, i.conn);
        ctx.metrics.set_connected(&i.id, false);
        info!(display = %i.id, reason = end.as_deref().unwrap_or("closed"), "display disconnected");
    } else if let Some(reason) = &end {
        info!(reason = %reason, "connection ended before HELLO");
    }
}

#[allow(clippy::too_many_arguments)]
fn on_event(
    ev: SessionEvent,
    session: &DisplaySession,
    ctx: &DisplayContext,
    me: &mut Option<Identified>,
    rolling: &mut Rolling,
    cmd_tx: &mpsc::Sender<DisplayCommand>,
    peer: SocketAddr,
    end: &mut Option<String>,
) {
    let now = clock::now().as_micros();
    match ev {
        SessionEvent::Ready(hello) => {
            let id = hello.device_id.as_str().to_string();
            let (stream_name, _) = ctx.cfg.route_display(&id);
            let status = Arc::new(Mutex::new(DisplayStatus::connected(
                &id,
                "pixelwire",
                peer,
                &stream_name,
                (u32::from(hello.width), u32::from(hello.height)),
                Some(hello.firmware.as_str().to_string()),
            )));
            let conn = ctx.displays.next_conn();
            let handle = DisplayHandle {
                conn,
                status: status.clone(),
                commands: cmd_tx.clone(),
                connected_at_us: now,
            };
            let (seen, old) = ctx.displays.register(&id, handle);
            if let Some(old) = old {
                let _ = old.commands.try_send(DisplayCommand::Close(
                    ErrorCode::Replaced,
                    format!("replaced by a new connection from {peer}"),
                ));
            }
            if seen {
                ctx.metrics.reconnection(&id);
            }
            ctx.metrics.set_connected(&id, true);
            let watch = ctx.bus.get(&stream_name).map(|s| s.watch());
            if watch.is_none() {
                warn!(display = %id, stream = %stream_name, "routed stream does not exist");
            }
            info!(display = %id, stream = %stream_name, width = hello.width, height = hello.height, firmware = %hello.firmware, "display connected");
            *me = Some(Identified {
                id,
                conn,
                status,
                watch,
                last_source_seq: None,
            });
        }
        SessionEvent::Sent(f) => {
            if let Some(i) = me {
                let skipped = i
                    .last_source_seq
                    .map_or(0, |last| f.source_seq.saturating_sub(last + 1));
                i.last_source_seq = Some(f.source_seq);
                ctx.metrics.frame_sent(&i.id, &f, skipped);
                rolling.sent(now, f.bytes);
                if let Ok(mut s) = i.status.lock() {
                    s.frames_sent += 1;
                    s.bytes_sent += f.bytes;
                    s.quality_level = f.level;
                    if let Some(sink) = session.sink() {
                        s.capacity_kbytes_per_s = sink.rate().link.capacity().map(|c| c / 1000.0);
                        s.rtt_ms = sink.rate().link.min_rtt().map(|r| r.as_secs_f64() * 1e3);
                    }
                }
            }
        }
        SessionEvent::Presented(r) => {
            if let Some(i) = me {
                ctx.metrics.frame_presented(&i.id, r.latency);
                rolling.presented(now, r.latency.as_secs_f64() * 1e3);
                if let Ok(mut s) = i.status.lock() {
                    s.frames_presented += 1;
                }
            }
        }
        SessionEvent::DeviceStats(st) => {
            if let Some(i) = me {
                ctx.metrics.device_stats(&i.id, &st);
                if let Ok(mut s) = i.status.lock() {
                    s.device = Some(DeviceFigures {
                        fps: f64::from(st.fps_centi) / 100.0,
                        rssi_dbm: i32::from(st.rssi_dbm),
                        free_heap_bytes: u64::from(st.free_heap_bytes),
                        decode_ms: f64::from(st.decode_us) / 1e3,
                    });
                }
            }
        }
        SessionEvent::Closed(reason) => {
            let kind = match &reason {
                CloseReason::Protocol(_) => Some("protocol"),
                CloseReason::Timeout => Some("timeout"),
                CloseReason::PeerError(_) => Some("peer"),
                CloseReason::Local(_) => None,
            };
            if let Some(kind) = kind {
                ctx.metrics.error("pixelwire", kind);
                warn!(reason = %reason, "closing display session");
            }
            end.get_or_insert_with(|| reason.to_string());
        }
    }
}
