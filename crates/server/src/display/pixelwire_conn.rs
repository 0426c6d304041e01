//! The edge of one pixelwire display connection: owns the socket, the sans-IO
//! [`DisplaySession`], the subscription to the routed stream, the registry entry and the metrics.
//! All decisions are the session's; this task only moves bytes, frames, timers and commands.

use super::DisplayContext;
use super::connection::DisplayConnection;
use super::end::EndReason;
use super::live::{Identity, Link};
use super::registry::DisplayCommand;
use super::writer::SocketWriter;
use crate::bus::StreamWatch;
use crate::clock::{self, RealStopwatch};
use crate::metrics::Protocol;
use pixelwire_core::{Admission, DisplaySession, Refusal, SessionConfig, SessionEvent};
use pixelwire_proto::{ErrorCode, Hello};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tracing::{Instrument, info, info_span, warn};

/// What the connection task knows once the device said HELLO.
struct Identified {
    conn: DisplayConnection,
    watch: Option<StreamWatch>,
}

/// Serves one pixelwire device until it disconnects, errs, is replaced, or the server stops.
pub async fn serve(sock: TcpStream, peer: SocketAddr, first: Vec<u8>, ctx: DisplayContext) {
    let span = info_span!("display", %peer, protocol = "pixelwire");
    run(sock, peer, first, ctx).instrument(span).await;
}

fn session_config(ctx: &DisplayContext, id: &str) -> SessionConfig {
    let (_, mut t) = ctx.cfg.route_display(id);
    // The policy chosen from the page or the API, if any, over the configured one.
    t.sink.rate.prefer = ctx.routes.route(id).prefer.into();
    SessionConfig {
        keepalive: t.keepalive,
        window: t.window,
        codecs: t.codecs,
        sink: t.sink,
        ..SessionConfig::default()
    }
}

/// Decides on a HELLO from `peer` before anything is allocated for its panel: the id must not be
/// held by a connection from another address, and the panel's memory must fit the displays' budget
/// (the reservation is the session's lease, released with its sink). Refusals are logged here, with
/// the peer's strings escaped.
fn admit(ctx: &DisplayContext, peer: SocketAddr, hello: &Hello) -> Result<Admission, Refusal> {
    let id = hello.device_id.as_str();
    if id.starts_with(super::legacy_conn::ID_PREFIX) {
        warn!(display = ?id, "display refused: ids starting with \"legacy-\" name sketches");
        return Err(Refusal {
            code: ErrorCode::Refused,
            text: format!("device id {id:?}: ids starting with \"legacy-\" name seed-000 sketches"),
        });
    }
    if let Some(holder) = ctx.displays.holder_elsewhere(id, peer.ip()) {
        warn!(display = ?id, holder = %holder.0, "display refused: its id is connected from another address");
        return Err(Refusal {
            code: ErrorCode::Refused,
            text: format!("device id {id:?} is connected from another address"),
        });
    }
    let cfg = session_config(ctx, id);
    let need = pixelwire_core::display_memory_bytes(hello, &cfg);
    match ctx
        .displays
        .memory
        .reserve(need, ctx.cfg.limits.display_memory_bytes)
    {
        Ok(reservation) => Ok(Admission {
            cfg,
            lease: Some(Box::new(reservation)),
        }),
        Err(e) => {
            warn!(
                display = ?id,
                width = hello.width,
                height = hello.height,
                need_bytes = e.need,
                available_bytes = e.available,
                limit_bytes = e.limit,
                "display refused: display memory budget spent"
            );
            Err(Refusal {
                code: ErrorCode::Refused,
                text: format!("{}x{} panel: {e}", hello.width, hello.height),
            })
        }
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
    .with_router(Box::new(move |hello| admit(&cfg_state, peer, hello)));
    let (cmd_tx, mut cmd_rx) = mpsc::channel::<DisplayCommand>(8);
    let mut me: Option<Identified> = None;
    // The stream the display should show; changes when the page or the API switches it.
    let mut route: Option<watch::Receiver<String>> = None;
    let mut shutdown = ctx.shutdown.clone();
    let mut buf = vec![0u8; 16 * 1024];
    // The first reason the connection ends for; later ones are consequences.
    let mut end: Option<EndReason> = None;
    session.handle_input(clock::now(), &first);
    loop {
        // Move everything the session produced.
        while let Some(bytes) = session.poll_transmit() {
            if let Err(e) = writer.send(bytes) {
                session.close(ErrorCode::Timeout, e);
                end.get_or_insert(EndReason::SendRefused(e));
            }
        }
        while let Some(ev) = session.poll_event() {
            if let Err(text) = on_event(ev, &ctx, (&mut me, &mut route), &cmd_tx, peer, &mut end) {
                session.close(ErrorCode::Refused, &text);
            }
        }
        if let (Some(i), Some(sink)) = (&me, session.sink()) {
            let link = &sink.rate().link;
            i.conn.link(Link {
                frames_in_flight: session.frames_in_flight(),
                capacity: link.capacity(),
                rtt: link.min_rtt(),
            });
        }
        if session.is_closed() || end.is_some() {
            if let Some(end) = &end {
                end.record(&ctx.metrics, Protocol::Pixelwire);
            }
            writer.flush(Duration::from_secs(1)).await;
            break;
        }
        let deadline = session.poll_timeout().map(clock::to_instant);
        tokio::select! {
            r = rd.read(&mut buf) => match r {
                Ok(0) => { end = Some(EndReason::PeerClosed); }
                Ok(n) => session.handle_input(clock::now(), &buf[..n]),
                Err(e) => { end = Some(EndReason::ReadFailed(e)); }
            },
            f = next_frame(&mut me) => match f {
                Some(f) => {
                    // A frame that does not decode is skipped (and counted by its source).
                    if let Some(rgba) = f.rgba() {
                        session.handle_frame(clock::now(), rgba);
                    }
                }
                None => { end = Some(EndReason::StreamEnded); }
            },
            _ = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => {
                session.handle_timeout(clock::now());
            }
            d = writer.done.recv() => match d {
                Some(Ok(_)) => writer.completed(),
                Some(Err(e)) => { end = Some(EndReason::WriteFailed(e)); }
                None => { end = Some(EndReason::WriterStopped); }
            },
            stream = super::routes::next_route(&mut route) => {
                if let Some(i) = me.as_mut()
                    && i.watch.as_ref().is_none_or(|w| w.stream().name() != stream)
                {
                    // The next frame comes from the new stream; the sink diffs it against the
                    // shadow, so only what differs on the panel is sent.
                    let (shown, w) = i.conn.watch(&ctx, &stream);
                    i.conn.set_stream(&shown);
                    i.watch = w;
                    info!(display = %i.conn.id(), stream = %shown, "display switched");
                }
            }
            c = cmd_rx.recv() => match c {
                Some(DisplayCommand::Preview(reply)) => {
                    if let Some(sink) = session.sink() {
                        let _ = reply.send(super::registry::PanelImage {
                            image: sink.shadow().clone(),
                            format: sink.format(),
                        });
                    }
                }
                Some(DisplayCommand::Close(code, text)) => session.close(code, &text),
                Some(DisplayCommand::SetPrefer(prefer)) => session.set_prefer(prefer),
                None => {}
            },
            _ = shutdown.wait() => session.close(ErrorCode::Shutdown, "server shutting down"),
        }
    }
    if let Some(i) = me {
        let reason = end
            .as_ref()
            .map_or("closed".to_string(), EndReason::to_string);
        info!(display = %i.conn.id(), reason, "display disconnected");
    } else if let Some(reason) = &end {
        info!(reason = %reason, "connection ended before HELLO");
    }
}

/// Moves one session event to the registry, metrics and log. `Err`: the session must be closed
/// with ERROR `refused` and this text (another address took the id between HELLO and now).
fn on_event(
    ev: SessionEvent,
    ctx: &DisplayContext,
    (me, route_slot): (
        &mut Option<Identified>,
        &mut Option<watch::Receiver<String>>,
    ),
    cmd_tx: &mpsc::Sender<DisplayCommand>,
    peer: SocketAddr,
    end: &mut Option<EndReason>,
) -> Result<(), String> {
    let now = clock::now().as_micros();
    match ev {
        SessionEvent::Ready(hello) => {
            let id = hello.device_id.as_str().to_string();
            let id_for_log = id.clone();
            let mut route = ctx.routes.subscribe(&id);
            let stream_name = route.borrow_and_update().clone();
            let identity = Identity {
                id,
                protocol: Protocol::Pixelwire,
                address: peer,
                stream: stream_name.clone(),
                size: (u32::from(hello.width), u32::from(hello.height)),
                firmware: Some(hello.firmware.as_str().to_string()),
                pixel_format: hello.pixel_format,
            };
            let mut conn = match DisplayConnection::open(ctx, identity, now, cmd_tx.clone()) {
                Ok(conn) => conn,
                Err(holder) => {
                    warn!(display = ?id_for_log, holder = %holder.0, "display refused: its id is connected from another address");
                    return Err(format!(
                        "device id {id_for_log:?} is connected from another address"
                    ));
                }
            };
            let (shown, watch) = conn.watch(ctx, &stream_name);
            if shown != stream_name {
                conn.set_stream(&shown);
            }
            info!(display = %conn.id(), stream = %shown, width = hello.width, height = hello.height, firmware = ?hello.firmware.as_str(), "display connected");
            *me = Some(Identified { conn, watch });
            *route_slot = Some(route);
        }
        SessionEvent::Sent(f) => {
            if let Some(i) = me {
                i.conn.frame_sent(now, &f);
            }
        }
        SessionEvent::Presented(r) => {
            if let Some(i) = me {
                i.conn.frame_presented(now, r.latency);
            }
        }
        SessionEvent::DeviceStats(st) => {
            if let Some(i) = me {
                i.conn.device_stats(&st);
            }
        }
        SessionEvent::Closed(reason) => {
            let reason = EndReason::Session(reason);
            if reason.error_kind().is_some() {
                warn!(reason = %reason, "closing display session");
            }
            end.get_or_insert(reason);
        }
    }
    Ok(())
}
