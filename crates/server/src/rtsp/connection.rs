//! One RTSP connection's edge: reads requests, asks [`RtspSession`] for the answers, and while
//! playing writes the stream's shared-encoder units as interleaved RTP on the same socket.
//!
//! Newest wins here too: before each unit the socket's send queue is asked
//! ([`SendQueue::backed_up`], `server.send_queue_bytes`); while it is backed up units are skipped
//! and the client resumes at the next keyframe (asked for), counted in
//! `pixelwire_viewer_skipped_frames_total{codec="rtsp"}` (gaps in the units sent). A client that stops reading for
//! `server.stalled_viewer_timeout_ms` is cut off. A connection that is not playing and sends no
//! request for `rtsp.session_timeout_s` is closed.

use super::RtspContext;
use super::rtp::RtpStream;
use super::sdp::{PAYLOAD_TYPE, ParameterSets};
use super::session::{Effect, Lookup, RtspSession};
use crate::encoded::{EncodedUnit, Start, Subscription};
use crate::listener::{Admitted, SendQueue, SharedTcp};
use crate::metrics::{ConsumerKind, ViewerCodec};
use bytes::BytesMut;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::broadcast::error::RecvError;

/// Longest request (head and body) a client may send; RTSP requests are a few hundred bytes.
const MAX_REQUEST: usize = 64 * 1024;

/// How long DESCRIBE waits for a keyframe to take the parameter sets from.
const DESCRIBE_WAIT: Duration = Duration::from_secs(3);

struct Playing {
    sub: Subscription,
    rtp: RtpStream,
    need_keyframe: bool,
    skips: crate::viewer::SkipCounter,
    _viewer: crate::metrics::ViewerGuard,
}

/// Serves one accepted connection until it ends.
pub async fn serve(sock: TcpStream, peer: SocketAddr, ctx: RtspContext, admitted: Admitted) {
    let local_ip = sock
        .local_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|_| "0.0.0.0".into());
    if let Err(e) = crate::listener::limit_unsent(&sock, ctx.send_queue_bytes) {
        tracing::debug!(%peer, error = %e, "cannot set TCP_NOTSENT_LOWAT on an RTSP socket");
    }
    let _ = sock.set_nodelay(true);
    let shared = SharedTcp::new(sock, admitted);
    let queue = shared.send_queue();
    let (mut rd, mut wr) = tokio::io::split(shared);
    let mut session = RtspSession::new(
        format!("{:016X}", random_u64()),
        random_u64() as u32,
        local_ip,
        ctx.settings.session_timeout_s.max(1),
    );
    let mut buf = BytesMut::with_capacity(4096);
    // The subscription DESCRIBE made (it keeps the encoder running until PLAY).
    let mut described: Option<Subscription> = None;
    let mut playing: Option<Playing> = None;
    let mut idle = Box::pin(tokio::time::sleep(ctx.settings.session_timeout()));
    let mut sd = ctx.shutdown.clone();
    let mut out = BytesMut::with_capacity(64 * 1024);
    loop {
        tokio::select! {
            n = rd.read_buf(&mut buf) => {
                match n {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                idle.as_mut().reset(tokio::time::Instant::now() + ctx.settings.session_timeout());
                // Every complete message in the buffer.
                loop {
                    let parsed = rtsp_types::Message::<Vec<u8>>::parse(&buf[..]);
                    let (msg, used) = match parsed {
                        Ok(m) => m,
                        Err(rtsp_types::ParseError::Incomplete(_)) if buf.len() <= MAX_REQUEST => break,
                        Err(_) => {
                            let too_long = buf.len() > MAX_REQUEST;
                            tracing::info!(%peer, too_long, "RTSP: malformed request, closing");
                            let body = if too_long { "request too long\r\n" } else { "malformed request\r\n" };
                            let _ = wr.write_all(format!("RTSP/1.0 400 Bad Request\r\nContent-Length: {}\r\n\r\n{body}", body.len()).as_bytes()).await;
                            return;
                        }
                    };
                    let _ = buf.split_to(used);
                    let req = match msg {
                        rtsp_types::Message::Request(r) => r,
                        // Interleaved RTCP receiver reports, responses: nothing to do.
                        _ => continue,
                    };
                    let lookup = lookup(&ctx, &req, &mut described).await;
                    let reply = session.handle(&req, &lookup);
                    tracing::debug!(%peer, method = ?req.method(), status = ?reply.status, "RTSP request");
                    if !write_within(&mut wr, &reply.bytes, ctx.stalled_limit).await {
                        return;
                    }
                    match reply.effect {
                        Effect::None => {}
                        Effect::Play { stream, channel, ssrc } => {
                            if playing.is_none() {
                                playing = start_playing(&ctx, &stream, channel, ssrc);
                                described = None;
                                if playing.is_none() {
                                    tracing::info!(%peer, stream, "RTSP: the stream went away before PLAY");
                                    return;
                                }
                                tracing::info!(%peer, stream, "RTSP client playing");
                                // The units the ring gave this client start at a keyframe.
                                if let Some(p) = playing.as_mut() {
                                    let backlog = std::mem::take(&mut p.sub.backlog);
                                    for u in backlog {
                                        out.clear();
                                        if p.rtp.write_unit(&u, &mut out) {
                                            p.need_keyframe = false;
                                            if !write_within(&mut wr, &out, ctx.stalled_limit).await {
                                                return;
                                            }
                                        }
                                    }
                                }
                            }
                        }
                        Effect::Pause => playing = None,
                        Effect::Teardown => {
                            playing = None;
                            described = None;
                        }
                    }
                }
            }
            u = next_unit(&mut playing) => {
                let Some(p) = playing.as_mut() else { continue };
                let unit = match u {
                    Ok(u) => u,
                    Err(RecvError::Lagged(_)) => {
                        // The gap shows in the next unit's number (`SkipCounter::sent`).
                        p.need_keyframe = true;
                        p.sub.encoder.request_keyframe();
                        continue;
                    }
                    Err(RecvError::Closed) => break,
                };
                if p.need_keyframe && !unit.keyframe {
                    continue;
                }
                if queue.backed_up() {
                    // Written now it would wait behind the backlog: skip, resume at a keyframe.
                    p.need_keyframe = true;
                    if drained(&queue, &ctx).await.is_err() {
                        tracing::info!(%peer, "RTSP client stopped reading, cut off");
                        return;
                    }
                    p.sub.encoder.request_keyframe();
                    continue;
                }
                out.clear();
                if p.rtp.write_unit(&unit, &mut out) {
                    p.need_keyframe = false;
                    p.skips.sent(unit.seq);
                    if !write_within(&mut wr, &out, ctx.stalled_limit).await {
                        return;
                    }
                }
            }
            _ = &mut idle, if playing.is_none() => {
                tracing::debug!(%peer, "RTSP connection idle, closing");
                break;
            }
            _ = sd.wait() => break,
        }
    }
}

/// What the session needs to know about the stream a request names. A DESCRIBE starts (or
/// joins) the stream's encoder and waits up to [`DESCRIBE_WAIT`] for a keyframe's parameter sets.
async fn lookup(
    ctx: &RtspContext,
    req: &rtsp_types::Request<Vec<u8>>,
    described: &mut Option<Subscription>,
) -> Lookup {
    let Some(name) = RtspSession::stream_of(req) else {
        return Lookup::default();
    };
    let Some(stream) = ctx.bus.get(&name) else {
        return Lookup::default();
    };
    let mut l = Lookup {
        exists: true,
        params: None,
    };
    if *req.method() != rtsp_types::Method::Describe {
        return l;
    }
    let mut sub = ctx
        .encoders
        .get(&stream, &ctx.metrics)
        .subscribe(ConsumerKind::Rtsp, Start::LastKeyframe);
    l.params = sub
        .backlog
        .iter()
        .find(|u| u.keyframe)
        .and_then(|u| ParameterSets::find(u.nal_units()));
    if l.params.is_none() {
        let wait = async {
            loop {
                match sub.units.recv().await {
                    Ok(u) if u.keyframe => return ParameterSets::find(u.nal_units()),
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return None,
                }
            }
        };
        l.params = tokio::time::timeout(DESCRIBE_WAIT, wait)
            .await
            .ok()
            .flatten();
    }
    *described = Some(sub);
    l
}

fn start_playing(ctx: &RtspContext, name: &str, channel: u8, ssrc: u32) -> Option<Playing> {
    let stream = ctx.bus.get(name)?;
    let sub = ctx
        .encoders
        .get(&stream, &ctx.metrics)
        .subscribe(ConsumerKind::Rtsp, Start::Live);
    Some(Playing {
        sub,
        rtp: RtpStream::new(channel, PAYLOAD_TYPE, ssrc, random_u64() as u32),
        need_keyframe: true,
        skips: crate::viewer::SkipCounter::new(ctx.metrics.viewer_skips(name, ViewerCodec::Rtsp)),
        _viewer: ctx.metrics.viewer(name, ViewerCodec::Rtsp),
    })
}

async fn next_unit(playing: &mut Option<Playing>) -> Result<Arc<EncodedUnit>, RecvError> {
    match playing {
        Some(p) => p.sub.units.recv().await,
        None => std::future::pending().await,
    }
}

async fn drained(queue: &SendQueue, ctx: &RtspContext) -> Result<(), crate::listener::Stalled> {
    queue
        .drained(crate::viewer::DRAIN_POLL, ctx.stalled_limit)
        .await
}

/// Writes `bytes`; false if the write failed or took longer than `limit` (the peer stopped
/// reading).
async fn write_within(wr: &mut WriteHalf<SharedTcp>, bytes: &[u8], limit: Duration) -> bool {
    matches!(
        tokio::time::timeout(limit, wr.write_all(bytes)).await,
        Ok(Ok(()))
    )
}

fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    // The system RNG only fails on a broken system; a fixed id then still works (ids are only
    // compared within one connection).
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b);
    u64::from_le_bytes(b)
}
