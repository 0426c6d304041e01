//! One WHEP session, sans-IO: str0m's [`Rtc`] (ICE-lite, DTLS-SRTP, RTP/RTCP; RFC 8829's answerer,
//! RFC 8445 section 2.5 for ICE-lite) plus what this server decides around it: which payload type
//! carries the stream (H.264, packetization mode 1, RFC 6184), which units are written (none before
//! DTLS is up, then from a keyframe on, skipping to the next keyframe after a gap), when to ask
//! the encoder for a keyframe (the browser's PLI/FIR, a gap, the start), and when the session is
//! over (ICE never connected within the connect timeout, disconnected for the disconnect timeout,
//! DTLS closed, an error). The caller feeds datagrams, units and timeouts with `now` and drains
//! [`SessionOutput`]s until [`SessionOutput::Timeout`]; nothing here reads a clock or a socket.

use super::offer::{Offer, OfferError};
use crate::encoded::EncodedUnit;
use crate::metrics::WhepEnd;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use str0m::format::Codec;
use str0m::media::{MediaKind, MediaTime, Mid, Pt};
use str0m::net::Transmit;
use str0m::rtp::Extension;
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcConfig};

/// When a session gives up on ICE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// ICE must connect this soon after the answer.
    pub connect: Duration,
    /// ICE may stay disconnected this long.
    pub disconnect: Duration,
}

/// What the caller must do next.
#[derive(Debug)]
pub enum SessionOutput {
    /// Send this datagram.
    Transmit(Transmit),
    /// Ask the stream's encoder for a keyframe.
    KeyframeWanted,
    /// The session is over; drop it.
    Ended(WhepEnd),
    /// Nothing more until this time (or a datagram, or a unit).
    Timeout(Instant),
}

/// Where the session's ICE and DTLS stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// Answer sent; waiting for the browser's checks and DTLS since this time.
    Connecting(Instant),
    /// DTLS is up: media flows.
    Connected,
    /// ICE lost the browser at this time.
    Disconnected(Instant),
}

/// See the module docs.
pub struct WhepSession {
    rtc: Rtc,
    mid: Mid,
    pt: Pt,
    link: Link,
    timeouts: Timeouts,
    /// When the browser last sent anything (STUN consent checks come every ~5 s, RTCP feedback
    /// several times a second). str0m's ICE-lite agent never leaves Completed by itself, so
    /// silence for the disconnect timeout is what ends a session whose browser went away.
    last_heard: Instant,
    /// Units are dropped until a keyframe (at the start, after a gap).
    need_keyframe: bool,
    keyframe_wanted: bool,
    ended: Option<WhepEnd>,
    /// Epoch µs ↔ `Instant` of the caller's clock: a unit's capture time as an `Instant` (the
    /// wallclock of RTCP sender reports, so the browser's `captureTime` is the capture time).
    epoch: (Instant, u64),
}

impl std::fmt::Debug for WhepSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhepSession")
            .field("mid", &self.mid)
            .field("pt", &self.pt)
            .field("link", &self.link)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

/// Profiles this server's Constrained Baseline stream may go out as: Constrained Baseline and
/// Baseline at level 3.1 (`profile-level-id` 42e01f, 42001f), both packetization mode 1.
const PROFILES: [u32; 2] = [0x42e01f, 0x42001f];

/// The RtcConfig every session starts from: ICE-lite (the server has fixed host candidates and
/// answers checks, it never sends them), H.264 only.
fn rtc_config() -> RtcConfig {
    let mut cfg = RtcConfig::new()
        .set_ice_lite(true)
        .clear_codecs()
        .set_crypto_provider(std::sync::Arc::new(str0m::crypto::from_feature_flags()));
    // playout-delay 0/0 (when the browser offers the extension) asks it to show each frame as
    // soon as it is decoded, without a smoothing jitter buffer: the newest frame wins. The id is
    // a placeholder; the answer takes the offer's.
    cfg = cfg.set_extension(12, Extension::PlayoutDelay);
    // Payload types here are str0m's defaults; an answer takes the offer's numbers.
    let codecs = cfg.codec_config();
    codecs.add_h264(108.into(), Some(109.into()), true, PROFILES[0]);
    codecs.add_h264(127.into(), Some(121.into()), true, PROFILES[1]);
    cfg
}

impl WhepSession {
    /// A session answering `offer` (already checked by `offer::check_offer`), reachable at
    /// `candidates`; returns it with the SDP answer.
    pub fn answer(
        offer: Offer,
        candidates: &[SocketAddr],
        now: Instant,
        now_us: u64,
        timeouts: Timeouts,
    ) -> Result<(Self, String), OfferError> {
        let mut rtc = rtc_config().build(now);
        for &c in candidates {
            // An address str0m refuses (link-local, unspecified) is left out; none left is an
            // error below.
            if let Ok(c) = Candidate::host(c, "udp") {
                rtc.add_local_candidate(c);
            }
        }
        let answer = rtc
            .sdp_api()
            .accept_offer(offer.sdp)
            .map_err(|e| OfferError::Unparsable(format!("str0m cannot answer it: {e}")))?;
        let mid = Mid::from(offer.video_mid.as_str());
        match rtc.media(mid) {
            Some(m) if m.kind() == MediaKind::Video && m.direction().is_sending() => {}
            _ => return Err(OfferError::NoVideo),
        }
        let pt = rtc
            .writer(mid)
            .and_then(|w| {
                let mut best: Option<(usize, Pt)> = None;
                for p in w.payload_params() {
                    let spec = p.spec();
                    if spec.codec != Codec::H264 || spec.format.packetization_mode != Some(1) {
                        continue;
                    }
                    let rank = spec
                        .format
                        .profile_level_id
                        .and_then(|id| PROFILES.iter().position(|&x| x >> 8 == id >> 8))
                        .unwrap_or(usize::MAX);
                    if rank != usize::MAX && best.is_none_or(|(r, _)| rank < r) {
                        best = Some((rank, p.pt()));
                    }
                }
                best.map(|(_, pt)| pt)
            })
            .ok_or(OfferError::NoH264)?;
        let session = Self {
            rtc,
            mid,
            pt,
            link: Link::Connecting(now),
            last_heard: now,
            timeouts,
            need_keyframe: true,
            keyframe_wanted: false,
            ended: None,
            epoch: (now, now_us),
        };
        Ok((session, answer.to_sdp_string()))
    }

    /// Whether `input` (a datagram) belongs to this session (STUN by ICE ufrag, the rest by the
    /// browser's address).
    pub fn accepts(&self, input: &Input) -> bool {
        self.ended.is_none() && self.rtc.accepts(input)
    }

    /// Feeds a datagram or a timeout.
    pub fn handle_input(&mut self, input: Input) {
        if self.ended.is_some() {
            return;
        }
        if let Input::Receive(t, _) = &input {
            self.last_heard = self.last_heard.max(*t);
        }
        if let Err(e) = self.rtc.handle_input(input) {
            tracing::debug!(error = %e, "whep: input refused");
            // A bad datagram is dropped by str0m; an error here means the instance is unusable.
            if !self.rtc.is_alive() {
                self.ended = Some(WhepEnd::Error);
            }
        }
    }

    /// Writes the encoder's next unit, if the session can use it. `gap` says units before it were
    /// lost (the subscription lagged): the session then waits for a keyframe.
    pub fn write_unit(&mut self, now: Instant, unit: &EncodedUnit, gap: bool) {
        if self.ended.is_some() || self.link != Link::Connected {
            return;
        }
        if gap && !unit.keyframe {
            self.need_keyframe = true;
        }
        if self.need_keyframe {
            if !unit.keyframe {
                self.keyframe_wanted = true;
                return;
            }
            self.need_keyframe = false;
        }
        // RTP time: the capture time at 90 kHz (str0m sends it modulo 2^32), so the page can
        // recover the capture time of each frame from its RTP timestamp.
        let rtp = MediaTime::from_90khz(unit.capture_time_us.saturating_mul(9) / 100);
        let (at, at_us) = self.epoch;
        let wallclock = match at_us.checked_sub(unit.capture_time_us) {
            Some(ago) => at.checked_sub(Duration::from_micros(ago)).unwrap_or(at),
            None => at + Duration::from_micros(unit.capture_time_us - at_us),
        };
        let Some(writer) = self.rtc.writer(self.mid) else {
            self.ended = Some(WhepEnd::Error);
            return;
        };
        let writer = writer.playout_delay(MediaTime::from_millis(0), MediaTime::from_millis(0));
        if let Err(e) = writer.write(self.pt, wallclock.min(now), rtp, unit.annexb.to_vec()) {
            tracing::debug!(error = %e, "whep: write failed");
        }
    }

    /// Ends the session now (DELETE, shutdown): DTLS close_notify goes out on the next polls.
    pub fn end(&mut self, reason: WhepEnd) {
        if self.ended.is_none() {
            self.ended = Some(reason);
            let _ = self.rtc.close();
        }
    }

    /// The next thing to do; call until it is [`SessionOutput::Timeout`] or `Ended`.
    pub fn poll_output(&mut self, now: Instant) -> SessionOutput {
        if std::mem::take(&mut self.keyframe_wanted) {
            return SessionOutput::KeyframeWanted;
        }
        if let Some(reason) = self.ended {
            // Drain what a close queued (DTLS close_notify), then report the end once.
            if self.rtc.is_alive()
                && let Ok(Output::Transmit(t)) = self.rtc.poll_output()
            {
                return SessionOutput::Transmit(t);
            }
            return SessionOutput::Ended(reason);
        }
        match self.link {
            Link::Connecting(since) if now >= since + self.timeouts.connect => {
                self.end(WhepEnd::ConnectTimeout);
                return self.poll_output(now);
            }
            Link::Disconnected(since) if now >= since + self.timeouts.disconnect => {
                self.end(WhepEnd::Disconnected);
                return self.poll_output(now);
            }
            Link::Connected if now >= self.last_heard + self.timeouts.disconnect => {
                self.end(WhepEnd::Disconnected);
                return self.poll_output(now);
            }
            _ => {}
        }
        loop {
            let out = match self.rtc.poll_output() {
                Ok(o) => o,
                Err(e) => {
                    tracing::debug!(error = %e, "whep: str0m failed");
                    self.end(WhepEnd::Error);
                    return self.poll_output(now);
                }
            };
            match out {
                Output::Transmit(t) => return SessionOutput::Transmit(t),
                Output::Timeout(t) => {
                    let own = match self.link {
                        Link::Connecting(s) => Some(s + self.timeouts.connect),
                        Link::Disconnected(s) => Some(s + self.timeouts.disconnect),
                        Link::Connected => Some(self.last_heard + self.timeouts.disconnect),
                    };
                    return SessionOutput::Timeout(own.map_or(t, |o| o.min(t)));
                }
                Output::Event(e) => {
                    if let Some(o) = self.on_event(now, e) {
                        return o;
                    }
                }
            }
        }
    }

    fn on_event(&mut self, now: Instant, e: Event) -> Option<SessionOutput> {
        match e {
            Event::Connected => {
                self.link = Link::Connected;
                self.need_keyframe = true;
                Some(SessionOutput::KeyframeWanted)
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                if !matches!(self.link, Link::Connecting(_)) {
                    self.link = Link::Disconnected(now);
                }
                None
            }
            Event::IceConnectionStateChange(
                IceConnectionState::Connected | IceConnectionState::Completed,
            ) => {
                if let Link::Disconnected(_) = self.link {
                    self.link = Link::Connected;
                }
                None
            }
            Event::KeyframeRequest(_) => Some(SessionOutput::KeyframeWanted),
            Event::Closed => {
                self.ended = Some(WhepEnd::Closed);
                None
            }
            _ => None,
        }
    }

    /// True once DTLS is up (until ICE is lost).
    pub fn is_connected(&self) -> bool {
        self.link == Link::Connected
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::whep::offer::{check_offer, tests::CHROMIUM_OFFER};

    const T: Timeouts = Timeouts {
        connect: Duration::from_secs(10),
        disconnect: Duration::from_secs(5),
    };

    fn session(now: Instant) -> (WhepSession, String) {
        let offer = check_offer(CHROMIUM_OFFER.as_bytes()).unwrap();
        WhepSession::answer(offer, &["127.0.0.1:8555".parse().unwrap()], now, 0, T).unwrap()
    }

    /// Drains outputs until a timeout (or an end), returning it.
    fn settle(s: &mut WhepSession, now: Instant) -> SessionOutput {
        for _ in 0..1000 {
            if let o @ (SessionOutput::Timeout(_) | SessionOutput::Ended(_)) = s.poll_output(now) {
                return o;
            }
        }
        panic!("no timeout after 1000 outputs");
    }

    #[test]
    fn the_answer_sends_h264_on_the_offered_payload_type() {
        let (s, answer) = session(Instant::now());
        assert_eq!(s.pt, Pt::from(102));
        assert!(answer.contains("a=sendonly"), "{answer}");
        assert!(answer.contains("a=ice-lite"), "{answer}");
        assert!(answer.contains("H264/90000"), "{answer}");
        assert!(
            answer.contains("a=candidate:") && answer.contains("127.0.0.1 8555 typ host"),
            "{answer}"
        );
        assert!(!answer.contains("VP8"), "{answer}");
    }

    #[test]
    fn playout_delay_is_answered_when_offered() {
        let offered = CHROMIUM_OFFER.replace(
            "a=recvonly\r\n",
            "a=extmap:12 http://www.webrtc.org/experiments/rtp-hdrext/playout-delay\r\na=recvonly\r\n",
        );
        let offer = check_offer(offered.as_bytes()).unwrap();
        let (_, answer) = WhepSession::answer(
            offer,
            &["127.0.0.1:8555".parse().unwrap()],
            Instant::now(),
            0,
            T,
        )
        .unwrap();
        assert!(answer.contains("rtp-hdrext/playout-delay"), "{answer}");
    }

    #[test]
    fn ice_that_never_connects_times_out() {
        let t0 = Instant::now();
        let (mut s, _) = session(t0);
        let SessionOutput::Timeout(next) = settle(&mut s, t0) else {
            panic!("ended at once")
        };
        assert!(next <= t0 + T.connect);
        // Just before the timeout it lives on; at it, it ends with the reason.
        let before = t0 + T.connect - Duration::from_millis(1);
        s.handle_input(Input::Timeout(before));
        assert!(matches!(settle(&mut s, before), SessionOutput::Timeout(_)));
        let at = t0 + T.connect;
        s.handle_input(Input::Timeout(at));
        assert!(matches!(
            settle(&mut s, at),
            SessionOutput::Ended(WhepEnd::ConnectTimeout)
        ));
    }

    #[test]
    fn units_before_the_link_is_up_are_not_written_and_an_end_is_reported_once() {
        let t0 = Instant::now();
        let (mut s, _) = session(t0);
        let u = EncodedUnit::new(0, true, 64, 48, 1_000, &[0, 0, 0, 1, 0x65, 1]);
        s.write_unit(t0, &u, false);
        assert!(matches!(settle(&mut s, t0), SessionOutput::Timeout(_)));
        s.end(WhepEnd::Deleted);
        assert!(matches!(
            settle(&mut s, t0),
            SessionOutput::Ended(WhepEnd::Deleted)
        ));
        assert!(!s.accepts(&Input::Timeout(t0)));
    }

    #[test]
    fn a_browser_silent_for_the_disconnect_timeout_ends_the_session() {
        let t0 = Instant::now();
        let (mut s, _) = session(t0);
        // As if DTLS came up at t0 and the browser then went quiet.
        s.link = Link::Connected;
        let SessionOutput::Timeout(next) = settle(&mut s, t0) else {
            panic!("ended at once")
        };
        assert!(next <= t0 + T.disconnect);
        let at = t0 + T.disconnect;
        s.handle_input(Input::Timeout(at));
        assert!(matches!(
            settle(&mut s, at),
            SessionOutput::Ended(WhepEnd::Disconnected)
        ));
    }

    #[test]
    fn a_gap_waits_for_a_keyframe_and_asks_for_one() {
        let t0 = Instant::now();
        let (mut s, _) = session(t0);
        // As if DTLS came up.
        s.link = Link::Connected;
        s.need_keyframe = false;
        let delta = EncodedUnit::new(5, false, 64, 48, 1_000, &[0, 0, 0, 1, 0x41, 1]);
        s.write_unit(t0, &delta, true);
        assert!(s.need_keyframe);
        assert!(matches!(s.poll_output(t0), SessionOutput::KeyframeWanted));
        let key = EncodedUnit::new(6, true, 64, 48, 2_000, &[0, 0, 0, 1, 0x65, 1]);
        s.write_unit(t0, &key, false);
        assert!(!s.need_keyframe);
    }
}
