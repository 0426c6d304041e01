//! What a WHEP offer must be before a session is made for it (RFC 9725, WHEP, section 4.2: the
//! client POSTs an SDP offer, RFC 8866, as `application/sdp`): UTF-8 text that parses as SDP, with
//! a video m-line the client receives on (`recvonly` or `sendrecv`) that lists H.264 in
//! packetization mode 1 (RFC 6184) at a Baseline-compatible profile (`profile-level-id` 42xxxx,
//! which decodes the encoder's Constrained Baseline). Each refusal says what was missing, for the
//! 400 body; nothing here panics on any input.

use str0m::change::SdpOffer;

/// Largest offer accepted, bytes (Chromium's offers are 3–6 KiB).
pub const MAX_OFFER_BYTES: usize = 64 << 10;

/// Why an offer cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OfferError {
    /// Not UTF-8.
    #[error("the SDP offer is not UTF-8 text")]
    NotText,
    /// str0m's parser refused it.
    #[error("the body is not an SDP offer: {0}")]
    Unparsable(String),
    /// No video m-line the client receives on.
    #[error("the SDP offer has no video m-line to receive on (add a recvonly video transceiver)")]
    NoVideo,
    /// Video, but no usable H.264.
    #[error(
        "the SDP offer's video m-line has no H.264 with packetization-mode=1 at a Baseline-compatible profile-level-id (42xxxx); this server sends Constrained Baseline H.264 only"
    )]
    NoH264,
}

/// An offer this server can answer.
#[derive(Debug)]
pub struct Offer {
    /// As str0m parsed it.
    pub sdp: SdpOffer,
    /// The `a=mid` of the video m-line the stream goes out on.
    pub video_mid: String,
}

/// The offer, parsed, if this server can answer it.
pub fn check_offer(body: &[u8]) -> Result<Offer, OfferError> {
    let text = std::str::from_utf8(body).map_err(|_| OfferError::NotText)?;
    if !text.trim_start().starts_with("v=") {
        return Err(OfferError::Unparsable(
            "it does not start with \"v=\"".into(),
        ));
    }
    let offer = SdpOffer::from_sdp_string(text).map_err(|e| {
        // str0m's message quotes the input; keep it short for a response body.
        let mut m = e.to_string();
        m.truncate(200);
        OfferError::Unparsable(m)
    })?;
    let mut saw_video = false;
    for section in media_sections(text) {
        if !section.is_receivable_video() {
            continue;
        }
        saw_video = true;
        if section.has_usable_h264()
            && let Some(mid) = section.mid()
        {
            return Ok(Offer {
                sdp: offer,
                video_mid: mid.to_string(),
            });
        }
    }
    Err(if saw_video {
        OfferError::NoH264
    } else {
        OfferError::NoVideo
    })
}

/// One `m=` section of an SDP text, as lines.
struct Section<'a> {
    lines: Vec<&'a str>,
}

fn media_sections(text: &str) -> Vec<Section<'_>> {
    let mut out: Vec<Section<'_>> = Vec::new();
    for line in text.lines().map(str::trim_end) {
        if line.starts_with("m=") {
            out.push(Section { lines: vec![line] });
        } else if let Some(s) = out.last_mut() {
            s.lines.push(line);
        }
    }
    out
}

impl<'a> Section<'a> {
    /// Its `a=mid` (bundled WebRTC offers have one per m-line).
    fn mid(&self) -> Option<&'a str> {
        self.lines
            .iter()
            .find_map(|l| l.strip_prefix("a=mid:"))
            .map(str::trim)
            .filter(|m| !m.is_empty())
    }

    /// `m=video` whose direction lets us send (the client receives), and not rejected (port 0).
    fn is_receivable_video(&self) -> bool {
        let Some(m) = self.lines.first().and_then(|l| l.strip_prefix("m=video ")) else {
            return false;
        };
        if m.split(' ').next() == Some("0") && !self.lines.contains(&"a=bundle-only") {
            return false;
        }
        !self
            .lines
            .iter()
            .any(|l| *l == "a=sendonly" || *l == "a=inactive")
    }

    /// A payload type mapped to H264/90000 whose fmtp has packetization-mode=1 and a profile-level-id
    /// starting with 42 (Baseline or Constrained Baseline).
    fn has_usable_h264(&self) -> bool {
        let h264_pts: Vec<&str> = self
            .lines
            .iter()
            .filter_map(|l| l.strip_prefix("a=rtpmap:"))
            .filter_map(|r| r.split_once(' '))
            .filter(|(_, codec)| codec.eq_ignore_ascii_case("H264/90000"))
            .map(|(pt, _)| pt)
            .collect();
        self.lines
            .iter()
            .filter_map(|l| l.strip_prefix("a=fmtp:"))
            .filter_map(|f| f.split_once(' '))
            .filter(|(pt, _)| h264_pts.contains(pt))
            .any(|(_, params)| {
                let kv = |k: &str| {
                    params
                        .split(';')
                        .filter_map(|p| p.trim().split_once('='))
                        .find(|(key, _)| key.eq_ignore_ascii_case(k))
                        .map(|(_, v)| v.trim())
                };
                kv("packetization-mode") == Some("1")
                    && kv("profile-level-id")
                        .is_some_and(|p| p.len() == 6 && p[..2].eq_ignore_ascii_case("42"))
            })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A recvonly video offer as Chromium makes it (trimmed: one H.264 and one VP8 payload type).
    pub(crate) const CHROMIUM_OFFER: &str = "v=0\r\n\
o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n\
s=-\r\n\
t=0 0\r\n\
a=group:BUNDLE 0\r\n\
a=extmap-allow-mixed\r\n\
a=msid-semantic: WMS\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96 102 103\r\n\
c=IN IP4 0.0.0.0\r\n\
a=rtcp:9 IN IP4 0.0.0.0\r\n\
a=ice-ufrag:Ab3d\r\n\
a=ice-pwd:0123456789abcdefghijklmn\r\n\
a=ice-options:trickle\r\n\
a=fingerprint:sha-256 6B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08\r\n\
a=setup:actpass\r\n\
a=mid:0\r\n\
a=extmap:1 urn:ietf:params:rtp-hdrext:toffset\r\n\
a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n\
a=recvonly\r\n\
a=rtcp-mux\r\n\
a=rtcp-rsize\r\n\
a=rtpmap:96 VP8/90000\r\n\
a=rtcp-fb:96 nack pli\r\n\
a=rtpmap:102 H264/90000\r\n\
a=rtcp-fb:102 goog-remb\r\n\
a=rtcp-fb:102 transport-cc\r\n\
a=rtcp-fb:102 ccm fir\r\n\
a=rtcp-fb:102 nack\r\n\
a=rtcp-fb:102 nack pli\r\n\
a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n\
a=rtpmap:103 rtx/90000\r\n\
a=fmtp:103 apt=102\r\n";

    #[test]
    fn a_chromium_offer_is_accepted() {
        assert!(check_offer(CHROMIUM_OFFER.as_bytes()).is_ok());
    }

    #[test]
    fn refusals_say_what_is_missing() {
        assert_eq!(check_offer(&[0xff, 0xfe]).unwrap_err(), OfferError::NotText);
        assert!(matches!(
            check_offer(b"hello").unwrap_err(),
            OfferError::Unparsable(_)
        ));
        assert!(matches!(
            check_offer(b"v=0\r\nthis is not sdp\r\n").unwrap_err(),
            OfferError::Unparsable(_)
        ));
        let vp8_only = CHROMIUM_OFFER.replace("a=rtpmap:102 H264/90000", "a=rtpmap:102 VP9/90000");
        assert_eq!(
            check_offer(vp8_only.as_bytes()).unwrap_err(),
            OfferError::NoH264
        );
        let mode0 = CHROMIUM_OFFER.replace("packetization-mode=1", "packetization-mode=0");
        assert_eq!(
            check_offer(mode0.as_bytes()).unwrap_err(),
            OfferError::NoH264
        );
        let high = CHROMIUM_OFFER.replace("profile-level-id=42e01f", "profile-level-id=64001f");
        assert_eq!(
            check_offer(high.as_bytes()).unwrap_err(),
            OfferError::NoH264
        );
        let sending = CHROMIUM_OFFER.replace("a=recvonly", "a=sendonly");
        assert_eq!(
            check_offer(sending.as_bytes()).unwrap_err(),
            OfferError::NoVideo
        );
        let audio = CHROMIUM_OFFER.replace("m=video", "m=audio");
        assert!(check_offer(audio.as_bytes()).is_err());
    }

    #[test]
    fn no_prefix_of_an_offer_panics() {
        // Network input: every truncation is refused or accepted, never a panic.
        let b = CHROMIUM_OFFER.as_bytes();
        for n in 0..b.len() {
            let _ = check_offer(&b[..n]);
        }
    }
}
