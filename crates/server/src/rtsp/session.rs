//! One RTSP control connection as a sans-IO state machine: a parsed request and what the edge
//! looked up about its stream go in; the response bytes and what to do next come out.
//!
//! Methods: OPTIONS, DESCRIBE (the SDP of `sdp.rs`), SETUP (RTP over the RTSP connection,
//! TCP-interleaved; a UDP-only SETUP gets 461 Unsupported Transport, and ffmpeg, VLC and live555
//! clients retry over TCP, as with go2rtc), PLAY, PAUSE, TEARDOWN, GET_PARAMETER and
//! SET_PARAMETER (keep-alives). Anything else is 405 or 501; a request for another session than
//! this connection's is 454.

use super::sdp::{self, ParameterSets};
use rtsp_types::headers::{self, Transport, Transports};
use rtsp_types::{Method, Request, Response, StatusCode, Url, Version};

/// What the edge found out about the stream a request names.
#[derive(Debug, Clone, Default)]
pub struct Lookup {
    /// The stream exists.
    pub exists: bool,
    /// Its parameter sets, when the request is a DESCRIBE and the encoder produced a keyframe.
    pub params: Option<ParameterSets>,
}

/// What the edge does after sending the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Nothing.
    None,
    /// Start (or resume) sending `stream` as RTP on interleaved `channel`.
    Play {
        /// The stream set up.
        stream: String,
        /// The RTP channel (RTCP, ignored, is `channel + 1`).
        channel: u8,
        /// The SSRC promised in SETUP.
        ssrc: u32,
    },
    /// Stop sending, keep the session.
    Pause,
    /// Stop sending and forget the session; the client usually closes.
    Teardown,
}

/// The answer to one request.
#[derive(Debug)]
pub struct Reply {
    /// The serialised response.
    pub bytes: Vec<u8>,
    /// Its status.
    pub status: StatusCode,
    /// What to do next.
    pub effect: Effect,
}

#[derive(Debug, Clone)]
struct Setup {
    stream: String,
    channel: u8,
}

/// One connection's RTSP session.
#[derive(Debug)]
pub struct RtspSession {
    session_id: String,
    ssrc: u32,
    origin_ip: String,
    timeout_s: u64,
    setup: Option<Setup>,
}

/// The methods in `Public:`.
const PUBLIC: &str =
    "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER";

impl RtspSession {
    /// A session with this id and SSRC, answering from `origin_ip` (the local address).
    pub fn new(session_id: String, ssrc: u32, origin_ip: String, timeout_s: u64) -> Self {
        Self {
            session_id,
            ssrc,
            origin_ip,
            timeout_s,
            setup: None,
        }
    }

    /// The stream a request names, if its URI names one.
    pub fn stream_of(req: &Request<Vec<u8>>) -> Option<String> {
        stream_name(req.request_uri()?)
    }

    /// Answers `req`.
    pub fn handle(&mut self, req: &Request<Vec<u8>>, lookup: &Lookup) -> Reply {
        let cseq = req
            .header(&headers::CSEQ)
            .map(|v| v.as_str().to_string())
            .unwrap_or_else(|| "0".into());
        let version = match req.version() {
            Version::V2_0 => Version::V2_0,
            _ => Version::V1_0,
        };
        let base = |status: StatusCode| {
            let b = Response::builder(version, status)
                .header(headers::CSEQ, cseq.as_str())
                .header(headers::SERVER, "pixelwire");
            // RFC 2326's spelling; some clients compare it.
            if status == StatusCode::Ok {
                b.reason_phrase("OK")
            } else {
                b
            }
        };
        let error = |status: StatusCode, why: &str| Reply {
            bytes: write(base(status).build(format!("{why}\r\n").into_bytes())),
            status,
            effect: Effect::None,
        };
        let session_header = format!("{};timeout={}", self.session_id, self.timeout_s);
        // A request naming a session must name this one.
        if let Some(s) = req.header(&headers::SESSION) {
            let id = s.as_str().split(';').next().unwrap_or("").trim();
            if id != self.session_id {
                return error(
                    StatusCode::SessionNotFound,
                    "no such session on this connection",
                );
            }
        }
        match req.method() {
            Method::Options => Reply {
                bytes: write(base(StatusCode::Ok).header(headers::PUBLIC, PUBLIC).empty()),
                status: StatusCode::Ok,
                effect: Effect::None,
            },
            Method::Describe => {
                let Some(stream) = Self::stream_of(req) else {
                    return error(
                        StatusCode::NotFound,
                        "the URL names no stream: rtsp://HOST:PORT/NAME",
                    );
                };
                if !lookup.exists {
                    return error(StatusCode::NotFound, &format!("no stream named {stream:?}"));
                }
                let sdp = sdp::describe(
                    &stream,
                    &self.origin_ip,
                    self.ssrc.into(),
                    lookup.params.as_ref(),
                );
                let content_base = req
                    .request_uri()
                    .map(|u| {
                        let s = u.as_str();
                        if s.ends_with('/') {
                            s.to_string()
                        } else {
                            format!("{s}/")
                        }
                    })
                    .unwrap_or_default();
                Reply {
                    bytes: write(
                        base(StatusCode::Ok)
                            .header(headers::CONTENT_TYPE, "application/sdp")
                            .header(headers::CONTENT_BASE, content_base)
                            .build(sdp.into_bytes()),
                    ),
                    status: StatusCode::Ok,
                    effect: Effect::None,
                }
            }
            Method::Setup => {
                let Some(stream) = Self::stream_of(req) else {
                    return error(StatusCode::NotFound, "the URL names no stream");
                };
                if !lookup.exists {
                    return error(StatusCode::NotFound, &format!("no stream named {stream:?}"));
                }
                if self.setup.as_ref().is_some_and(|s| s.stream != stream) {
                    return error(
                        StatusCode::AggregateOperationNotAllowed,
                        "this session already set up another stream",
                    );
                }
                let transports = match req.typed_header::<Transports>() {
                    Ok(Some(t)) => t,
                    _ => return error(StatusCode::BadRequest, "SETUP needs a Transport header"),
                };
                let Some(channel) = tcp_channel(&transports) else {
                    return error(
                        StatusCode::UnsupportedTransport,
                        "only RTP over the RTSP connection is served (RTP/AVP/TCP;interleaved=0-1); retry over TCP",
                    );
                };
                self.setup = Some(Setup { stream, channel });
                let transport = format!(
                    "RTP/AVP/TCP;unicast;interleaved={}-{};ssrc={:08X};mode=\"PLAY\"",
                    channel,
                    channel.wrapping_add(1),
                    self.ssrc
                );
                Reply {
                    bytes: write(
                        base(StatusCode::Ok)
                            .header(headers::TRANSPORT, transport)
                            .header(headers::SESSION, session_header)
                            .empty(),
                    ),
                    status: StatusCode::Ok,
                    effect: Effect::None,
                }
            }
            Method::Play => {
                let Some(setup) = self.setup.clone() else {
                    return error(StatusCode::MethodNotValidInThisState, "PLAY before SETUP");
                };
                Reply {
                    bytes: write(
                        base(StatusCode::Ok)
                            .header(headers::SESSION, session_header)
                            .header(headers::RANGE, "npt=0.000-")
                            .empty(),
                    ),
                    status: StatusCode::Ok,
                    effect: Effect::Play {
                        stream: setup.stream,
                        channel: setup.channel,
                        ssrc: self.ssrc,
                    },
                }
            }
            Method::Pause => {
                if self.setup.is_none() {
                    return error(StatusCode::MethodNotValidInThisState, "PAUSE before SETUP");
                }
                Reply {
                    bytes: write(
                        base(StatusCode::Ok)
                            .header(headers::SESSION, session_header)
                            .empty(),
                    ),
                    status: StatusCode::Ok,
                    effect: Effect::Pause,
                }
            }
            Method::Teardown => {
                self.setup = None;
                Reply {
                    bytes: write(
                        base(StatusCode::Ok)
                            .header(headers::SESSION, session_header)
                            .empty(),
                    ),
                    status: StatusCode::Ok,
                    effect: Effect::Teardown,
                }
            }
            Method::GetParameter | Method::SetParameter => Reply {
                bytes: write(
                    base(StatusCode::Ok)
                        .header(headers::SESSION, session_header)
                        .empty(),
                ),
                status: StatusCode::Ok,
                effect: Effect::None,
            },
            Method::Announce | Method::Record => error(
                StatusCode::MethodNotAllowed,
                "this server only plays streams; publish cameras over WebSocket, HTTP or TCP",
            ),
            _ => error(StatusCode::NotImplemented, "method not implemented"),
        }
    }
}

/// The stream named by an RTSP URL: its path without the track's control suffix
/// (`rtsp://h:8554/cam/trackID=0` → `cam`), percent-decoded.
pub fn stream_name(url: &Url) -> Option<String> {
    let mut segments: Vec<&str> = url.path_segments()?.filter(|s| !s.is_empty()).collect();
    if segments.last().is_some_and(|s| s.starts_with("trackID=")) {
        segments.pop();
    }
    if segments.is_empty() {
        return None;
    }
    let joined = segments.join("/");
    Some(percent_decode(&joined))
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(v) = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The interleaved RTP channel of the first TCP transport offered, 0 if it names none.
fn tcp_channel(t: &Transports) -> Option<u8> {
    t.iter().find_map(|t| match t {
        Transport::Rtp(rtp) if rtp.lower_transport == Some(headers::RtpLowerTransport::Tcp) => {
            Some(rtp.params.interleaved.map_or(0, |(a, _)| a))
        }
        _ => None,
    })
}

fn write<B: AsRef<[u8]>>(r: Response<B>) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    // Writing to a Vec cannot fail.
    let _ = r.write(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Request<Vec<u8>> {
        match rtsp_types::Message::<Vec<u8>>::parse(text.as_bytes()) {
            Ok((rtsp_types::Message::Request(r), _)) => r,
            other => panic!("{other:?}"),
        }
    }

    fn reply_text(r: &Reply) -> String {
        String::from_utf8_lossy(&r.bytes).into_owned()
    }

    fn session() -> RtspSession {
        RtspSession::new("abc123".into(), 0x1234_5678, "127.0.0.1".into(), 60)
    }

    const EXISTS: Lookup = Lookup {
        exists: true,
        params: None,
    };

    #[test]
    fn a_tcp_client_goes_from_options_to_play() {
        let mut s = session();
        let r = s.handle(
            &parse("OPTIONS rtsp://h:8554/cam RTSP/1.0\r\nCSeq: 1\r\n\r\n"),
            &EXISTS,
        );
        let t = reply_text(&r);
        assert!(
            t.starts_with("RTSP/1.0 200 OK\r\n")
                && t.contains("CSeq: 1\r\n")
                && t.contains("DESCRIBE"),
            "{t}"
        );
        let r = s.handle(
            &parse(
                "DESCRIBE rtsp://h:8554/cam RTSP/1.0\r\nCSeq: 2\r\nAccept: application/sdp\r\n\r\n",
            ),
            &EXISTS,
        );
        let t = reply_text(&r);
        assert!(
            t.contains("Content-Type: application/sdp\r\n")
                && t.contains("Content-Base: rtsp://h:8554/cam/\r\n")
                && t.contains("m=video 0 RTP/AVP 96"),
            "{t}"
        );
        let r = s.handle(
            &parse("SETUP rtsp://h:8554/cam/trackID=0 RTSP/1.0\r\nCSeq: 3\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n"),
            &EXISTS,
        );
        let t = reply_text(&r);
        assert_eq!(r.status, StatusCode::Ok, "{t}");
        assert!(
            t.contains("Transport: RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=12345678"),
            "{t}"
        );
        assert!(t.contains("Session: abc123;timeout=60\r\n"), "{t}");
        let r = s.handle(&parse("PLAY rtsp://h:8554/cam/ RTSP/1.0\r\nCSeq: 4\r\nSession: abc123\r\nRange: npt=0.000-\r\n\r\n"), &EXISTS);
        assert_eq!(
            r.effect,
            Effect::Play {
                stream: "cam".into(),
                channel: 0,
                ssrc: 0x1234_5678
            }
        );
        let r = s.handle(
            &parse(
                "GET_PARAMETER rtsp://h:8554/cam/ RTSP/1.0\r\nCSeq: 5\r\nSession: abc123\r\n\r\n",
            ),
            &EXISTS,
        );
        assert_eq!(r.status, StatusCode::Ok);
        let r = s.handle(
            &parse("TEARDOWN rtsp://h:8554/cam/ RTSP/1.0\r\nCSeq: 6\r\nSession: abc123\r\n\r\n"),
            &EXISTS,
        );
        assert_eq!(r.effect, Effect::Teardown);
    }

    #[test]
    fn udp_gets_461_so_clients_retry_over_tcp() {
        let mut s = session();
        let r = s.handle(
            &parse("SETUP rtsp://h/cam/trackID=0 RTSP/1.0\r\nCSeq: 3\r\nTransport: RTP/AVP/UDP;unicast;client_port=5000-5001\r\n\r\n"),
            &EXISTS,
        );
        assert_eq!(r.status, StatusCode::UnsupportedTransport);
        assert!(reply_text(&r).starts_with("RTSP/1.0 461 "));
        // A list offering TCP second is served over TCP; no interleaved channel means 0-1.
        let r = s.handle(
            &parse("SETUP rtsp://h/cam/trackID=0 RTSP/1.0\r\nCSeq: 4\r\nTransport: RTP/AVP;unicast;client_port=5000-5001,RTP/AVP/TCP;unicast\r\n\r\n"),
            &EXISTS,
        );
        assert_eq!(r.status, StatusCode::Ok, "{}", reply_text(&r));
        assert!(reply_text(&r).contains("interleaved=0-1"));
    }

    #[test]
    fn wrong_requests_get_clear_errors() {
        let mut s = session();
        let missing = Lookup::default();
        let r = s.handle(
            &parse("DESCRIBE rtsp://h/nope RTSP/1.0\r\nCSeq: 1\r\n\r\n"),
            &missing,
        );
        assert_eq!(r.status, StatusCode::NotFound);
        assert!(reply_text(&r).contains("no stream named \"nope\""));
        let r = s.handle(
            &parse("PLAY rtsp://h/cam RTSP/1.0\r\nCSeq: 2\r\n\r\n"),
            &EXISTS,
        );
        assert_eq!(r.status, StatusCode::MethodNotValidInThisState);
        let r = s.handle(
            &parse("PLAY rtsp://h/cam RTSP/1.0\r\nCSeq: 3\r\nSession: other\r\n\r\n"),
            &EXISTS,
        );
        assert_eq!(r.status, StatusCode::SessionNotFound);
        let r = s.handle(
            &parse("ANNOUNCE rtsp://h/cam RTSP/1.0\r\nCSeq: 4\r\n\r\n"),
            &EXISTS,
        );
        assert_eq!(r.status, StatusCode::MethodNotAllowed);
        let r = s.handle(
            &parse("SETUP rtsp://h/cam RTSP/1.0\r\nCSeq: 5\r\n\r\n"),
            &EXISTS,
        );
        assert_eq!(r.status, StatusCode::BadRequest);
    }

    #[test]
    fn stream_names_come_from_the_path() {
        let n = |u: &str| stream_name(&Url::parse(u).unwrap());
        assert_eq!(n("rtsp://h:8554/cam").as_deref(), Some("cam"));
        assert_eq!(n("rtsp://h:8554/cam/").as_deref(), Some("cam"));
        assert_eq!(n("rtsp://h:8554/cam/trackID=0").as_deref(), Some("cam"));
        assert_eq!(n("rtsp://h:8554/my%20cam").as_deref(), Some("my cam"));
        assert_eq!(n("rtsp://h:8554/"), None);
    }
}
