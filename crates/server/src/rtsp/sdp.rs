//! The session description DESCRIBE answers with (RFC 4566, RFC 6184 §8.2): one H.264 video
//! track at 90 kHz, packetization-mode 1, with the stream's SPS and PPS as
//! `sprop-parameter-sets` when the encoder has produced them (clients that need the picture size
//! before the first frame, like ffprobe, read it there; they are also in band before every IDR).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;

/// The RTP payload type of the H.264 track.
pub const PAYLOAD_TYPE: u8 = 96;

/// The H.264 parameter sets of a stream, from its newest keyframe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterSets {
    /// The sequence parameter set NAL unit (type 7), without start code.
    pub sps: Bytes,
    /// The picture parameter set NAL unit (type 8), without start code.
    pub pps: Bytes,
}

impl ParameterSets {
    /// The parameter sets among `nal_units` (a keyframe's), if both are there.
    pub fn find(nal_units: impl Iterator<Item = Bytes>) -> Option<Self> {
        let (mut sps, mut pps) = (None, None);
        for n in nal_units {
            match n.first().map(|b| b & 0x1F) {
                Some(7) if sps.is_none() => sps = Some(n),
                Some(8) if pps.is_none() => pps = Some(n),
                _ => {}
            }
        }
        Some(Self {
            sps: sps?,
            pps: pps?,
        })
    }

    /// `profile-level-id`: the three bytes after the SPS's NAL header, in hex.
    pub fn profile_level_id(&self) -> Option<String> {
        let b = self.sps.get(1..4)?;
        Some(format!("{:02x}{:02x}{:02x}", b[0], b[1], b[2]))
    }
}

/// The SDP of `stream` for a client that asked at `base_url`; `origin_ip` goes in `o=`.
pub fn describe(
    stream: &str,
    origin_ip: &str,
    session_id: u64,
    params: Option<&ParameterSets>,
) -> String {
    let mut fmtp = format!("a=fmtp:{PAYLOAD_TYPE} packetization-mode=1");
    if let Some(p) = params {
        if let Some(pl) = p.profile_level_id() {
            fmtp.push_str(&format!(";profile-level-id={pl}"));
        }
        fmtp.push_str(&format!(
            ";sprop-parameter-sets={},{}",
            STANDARD.encode(&p.sps),
            STANDARD.encode(&p.pps)
        ));
    } else {
        // Constrained Baseline 3.0, what the encoder produces; parameter sets come in band.
        fmtp.push_str(";profile-level-id=42e01e");
    }
    let ip_kind = if origin_ip.contains(':') {
        "IP6"
    } else {
        "IP4"
    };
    // Names are printable ASCII without spaces in SDP's `s=`; a stream name is shown as is,
    // with anything else replaced.
    let title: String = stream
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { '_' })
        .collect();
    format!(
        "v=0\r\n\
         o=- {session_id} 1 IN {ip_kind} {origin_ip}\r\n\
         s={title}\r\n\
         c=IN {ip_kind} {any}\r\n\
         t=0 0\r\n\
         a=tool:pixelwire\r\n\
         a=range:npt=now-\r\n\
         a=control:*\r\n\
         m=video 0 RTP/AVP {PAYLOAD_TYPE}\r\n\
         a=rtpmap:{PAYLOAD_TYPE} H264/90000\r\n\
         {fmtp}\r\n\
         a=control:trackID=0\r\n\
         a=recvonly\r\n",
        any = if ip_kind == "IP6" { "::" } else { "0.0.0.0" },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carries_the_parameter_sets_and_profile() {
        let p = ParameterSets::find(
            [
                Bytes::from_static(&[0x67, 0x42, 0xc0, 0x1e, 0xab]),
                Bytes::from_static(&[0x68, 0xce, 0x3c, 0x80]),
                Bytes::from_static(&[0x65, 1, 2]),
            ]
            .into_iter(),
        )
        .unwrap();
        let sdp = describe("cam 1", "127.0.0.1", 42, Some(&p));
        assert!(
            sdp.starts_with("v=0\r\no=- 42 1 IN IP4 127.0.0.1\r\ns=cam_1\r\n"),
            "{sdp}"
        );
        assert!(sdp.contains("a=rtpmap:96 H264/90000\r\n"), "{sdp}");
        assert!(
            sdp.contains(
                "a=fmtp:96 packetization-mode=1;profile-level-id=42c01e;sprop-parameter-sets=Z0LAHqs=,aM48gA==\r\n"
            ),
            "{sdp}"
        );
        assert!(sdp.contains("a=control:trackID=0\r\n"));
        assert!(ParameterSets::find([Bytes::from_static(&[0x67])].into_iter()).is_none());
        let v6 = describe("cam", "::1", 1, None);
        assert!(
            v6.contains("IN IP6 ::1") && v6.contains("profile-level-id=42e01e"),
            "{v6}"
        );
    }
}
