//! What travels between cluster nodes (`docs/cluster.md`, "Subjects"): the subject names, the
//! media header in front of every frame and access unit, and the JSON of announcements and
//! interest. Sans-IO: bytes in, values out; input from the network never panics.
//!
//! Media messages are a 40-byte header, then the payload as it is: a camera's JPEG as received
//! (or a generated frame's JPEG, encoded once) or one H.264 access unit in Annex-B. All numbers are
//! big-endian:
//!
//! ```text
//!  0  magic 0x5057 ("PW")   2  version 0x01   3  kind (0x01 JPEG, 0x02 H.264)   4  flags (0x01 keyframe)
//!  5  reserved (3 bytes)    8  seq u64        16 capture_time_us u64            24 sent_us u64
//!  32 width u32             36 height u32     40 payload
//! ```

use bytes::{BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};

/// Bytes before the payload.
pub const HEADER_LEN: usize = 40;
const MAGIC: u16 = 0x5057;
const VERSION: u8 = 0x01;
const FLAG_KEYFRAME: u8 = 0x01;

/// What a media message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    /// A frame as JPEG.
    Jpeg = 0x01,
    /// An H.264 access unit, Annex-B.
    H264 = 0x02,
}

/// The header of a media message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaHeader {
    /// Frame or access unit.
    pub kind: MediaKind,
    /// An IDR (H.264; always true for JPEG).
    pub keyframe: bool,
    /// The origin's sequence number (frames: the stream's; units: the encoder's).
    pub seq: u64,
    /// Capture time, µs since the epoch (the origin's clock).
    pub capture_time_us: u64,
    /// When the origin published it, µs since the epoch: the cross-node latency starts here.
    pub sent_us: u64,
    /// Picture width.
    pub width: u32,
    /// Picture height.
    pub height: u32,
}

/// Why a media message was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Shorter than the header.
    #[error("message of {0} bytes is shorter than the {HEADER_LEN}-byte header")]
    Short(usize),
    /// Not a pixelwire media message, or a version this node does not speak.
    #[error("not a pixelwire media message (magic/version {0:#06x}/{1:#04x})")]
    Foreign(u16, u8),
    /// An unknown kind.
    #[error("unknown media kind {0:#04x}")]
    Kind(u8),
}

impl MediaHeader {
    /// The message: header then `payload` (one copy of the payload).
    pub fn encode(&self, payload: &[u8]) -> Bytes {
        let mut b = BytesMut::with_capacity(HEADER_LEN + payload.len());
        b.put_u16(MAGIC);
        b.put_u8(VERSION);
        b.put_u8(self.kind as u8);
        b.put_u8(if self.keyframe { FLAG_KEYFRAME } else { 0 });
        b.put_bytes(0, 3);
        b.put_u64(self.seq);
        b.put_u64(self.capture_time_us);
        b.put_u64(self.sent_us);
        b.put_u32(self.width);
        b.put_u32(self.height);
        b.put_slice(payload);
        b.freeze()
    }

    /// The header and the payload (sharing `msg`'s buffer).
    pub fn decode(msg: &Bytes) -> Result<(MediaHeader, Bytes), WireError> {
        let h = msg.get(..HEADER_LEN).ok_or(WireError::Short(msg.len()))?;
        let u16_at = |i: usize| u16::from_be_bytes([h[i], h[i + 1]]);
        let u32_at = |i: usize| u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        let u64_at = |i: usize| (u64::from(u32_at(i)) << 32) | u64::from(u32_at(i + 4));
        if u16_at(0) != MAGIC || h[2] != VERSION {
            return Err(WireError::Foreign(u16_at(0), h[2]));
        }
        let kind = match h[3] {
            0x01 => MediaKind::Jpeg,
            0x02 => MediaKind::H264,
            k => return Err(WireError::Kind(k)),
        };
        Ok((
            MediaHeader {
                kind,
                keyframe: h[4] & FLAG_KEYFRAME != 0,
                seq: u64_at(8),
                capture_time_us: u64_at(16),
                sent_us: u64_at(24),
                width: u32_at(32),
                height: u32_at(36),
            },
            msg.slice(HEADER_LEN..),
        ))
    }
}

/// The subjects of one cluster (`subject_prefix`).
#[derive(Debug, Clone)]
pub struct Subjects {
    prefix: String,
}

impl Subjects {
    /// Subjects under `prefix`.
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: token(prefix),
        }
    }

    /// Where `node` announces its streams.
    pub fn announce(&self, node: &str) -> String {
        format!("{}.announce.{}", self.prefix, token(node))
    }

    /// Every node's announcements.
    pub fn announce_all(&self) -> String {
        format!("{}.announce.*", self.prefix)
    }

    /// Where nodes say they watch `stream`.
    pub fn interest(&self, stream: &str) -> String {
        format!("{}.interest.{}", self.prefix, token(stream))
    }

    /// Every stream's interest.
    pub fn interest_all(&self) -> String {
        format!("{}.interest.*", self.prefix)
    }

    /// `stream`'s frames (JPEG).
    pub fn frames(&self, stream: &str) -> String {
        format!("{}.frame.{}", self.prefix, token(stream))
    }

    /// `stream`'s H.264 access units.
    pub fn h264(&self, stream: &str) -> String {
        format!("{}.h264.{}", self.prefix, token(stream))
    }
}

/// A name as one subject token: itself if it holds only `A-Z a-z 0-9 _ -`, else `x` and its
/// UTF-8 bytes in hex (a `.`, `*`, `>` or space would split or widen the subject).
pub fn token(name: &str) -> String {
    let plain = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if plain {
        return name.to_string();
    }
    let mut t = String::with_capacity(1 + name.len() * 2);
    t.push('x');
    for b in name.bytes() {
        t.push_str(&format!("{b:02x}"));
    }
    t
}

/// One stream in an announcement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnnouncedStream {
    /// Its name.
    pub name: String,
    /// What it is.
    pub description: crate::bus::StreamDescription,
}

/// A node's streams, sent every heartbeat (empty, and `leaving`, when the node stops).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Announce {
    /// The node.
    pub node: String,
    /// The streams it is the origin of.
    pub streams: Vec<AnnouncedStream>,
    /// The node stops: its streams go offline (it may come back); a stream missing from an
    /// announcement without it was withdrawn and is removed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub leaving: bool,
}

/// What a node watches of a stream, sent every heartbeat while it watches and once when it
/// stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Want {
    /// Frames (displays, MJPEG and JPEG viewers, snapshots).
    pub frames: bool,
    /// H.264 access units (WebCodecs viewers, RTSP).
    pub h264: bool,
    /// A keyframe, now (a viewer joined or lost units).
    #[serde(default)]
    pub keyframe: bool,
}

impl Want {
    /// Nothing at all.
    pub fn none(self) -> bool {
        !self.frames && !self.h264
    }
}

/// An interest message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interest {
    /// The watching node.
    pub node: String,
    /// The stream.
    pub stream: String,
    /// What it watches.
    #[serde(flatten)]
    pub want: Want,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> MediaHeader {
        MediaHeader {
            kind: MediaKind::H264,
            keyframe: true,
            seq: 0x0102_0304_0506_0708,
            capture_time_us: 1,
            sent_us: 2,
            width: 640,
            height: 480,
        }
    }

    #[test]
    fn header_bytes_are_exact_and_round_trip() {
        let m = header().encode(&[0, 0, 0, 1, 0x65]);
        assert_eq!(
            &m[..HEADER_LEN],
            &[
                0x50, 0x57, 0x01, 0x02, 0x01, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0,
                1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0x02, 0x80, 0, 0, 0x01, 0xe0
            ]
        );
        let (h, p) = MediaHeader::decode(&m).unwrap();
        assert_eq!(h, header());
        assert_eq!(&p[..], &[0, 0, 0, 1, 0x65]);
    }

    #[test]
    fn every_prefix_and_foreign_bytes_are_refused_without_panicking() {
        let m = header().encode(b"payload");
        for n in 0..HEADER_LEN {
            assert_eq!(MediaHeader::decode(&m.slice(..n)), Err(WireError::Short(n)));
        }
        let mut bad = m.to_vec();
        bad[0] = b'{';
        assert!(matches!(
            MediaHeader::decode(&Bytes::from(bad)),
            Err(WireError::Foreign(..))
        ));
        let mut bad = m.to_vec();
        bad[3] = 9;
        assert_eq!(
            MediaHeader::decode(&Bytes::from(bad)),
            Err(WireError::Kind(9))
        );
    }

    #[test]
    fn names_become_single_tokens() {
        assert_eq!(token("cam_1-a"), "cam_1-a");
        assert_eq!(token("a.b"), "x612e62");
        assert_eq!(token(""), "x");
        let s = Subjects::new("pw");
        assert_eq!(s.frames("front door"), "pw.frame.x66726f6e7420646f6f72");
        assert_eq!(s.interest_all(), "pw.interest.*");
    }

    #[test]
    fn interest_json_is_flat() {
        let i = Interest {
            node: "b".into(),
            stream: "cam".into(),
            want: Want {
                frames: true,
                h264: false,
                keyframe: false,
            },
        };
        let j = serde_json::to_string(&i).unwrap();
        assert_eq!(
            j,
            r#"{"node":"b","stream":"cam","frames":true,"h264":false,"keyframe":false}"#
        );
        assert_eq!(serde_json::from_str::<Interest>(&j).unwrap(), i);
    }
}
