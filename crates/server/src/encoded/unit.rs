//! One encoded H.264 access unit as every consumer of a stream's shared encoder receives it.

use bytes::Bytes;
use pixelwire_media::viewer_message::{self, MessageKind};

/// One access unit, produced once per stream and shared (`Arc`) by every consumer.
#[derive(Debug, Clone)]
pub struct EncodedUnit {
    /// Number of the unit since the encoder started (consumers see gaps when they lag).
    pub seq: u64,
    /// True for an IDR; it then starts with SPS and PPS.
    pub keyframe: bool,
    /// Picture width.
    pub width: u32,
    /// Picture height.
    pub height: u32,
    /// Capture time of the frame, µs since the Unix epoch (server clock).
    pub capture_time_us: u64,
    /// The access unit, Annex-B (RTSP, WHEP and recordings repacketise it).
    pub annexb: Bytes,
    /// The complete viewer WebSocket message (`docs/api.md`: header + Annex-B), built once.
    pub message: Bytes,
}

impl EncodedUnit {
    /// A unit from the encoder's output.
    pub fn new(
        seq: u64,
        keyframe: bool,
        width: u32,
        height: u32,
        capture_time_us: u64,
        annexb: &[u8],
    ) -> Self {
        let message = viewer_message::build(
            MessageKind::H264,
            keyframe,
            width,
            height,
            capture_time_us,
            annexb,
        );
        // The Annex-B bytes are the message's tail: shared, not copied twice.
        let annexb = message.slice(viewer_message::HEADER_LEN..);
        Self {
            seq,
            keyframe,
            width,
            height,
            capture_time_us,
            annexb,
            message,
        }
    }

    /// The NAL units of the access unit, without start codes.
    pub fn nal_units(&self) -> impl Iterator<Item = Bytes> + '_ {
        annexb_nal_ranges(&self.annexb).map(|(s, e)| self.annexb.slice(s..e))
    }

    /// Bytes this unit holds (for the ring's bound).
    pub fn held_bytes(&self) -> usize {
        self.message.len()
    }
}

/// The byte ranges of the NAL units in an Annex-B buffer (start codes of 3 or 4 bytes removed;
/// trailing zero bytes belong to the next start code).
pub fn annexb_nal_ranges(b: &[u8]) -> impl Iterator<Item = (usize, usize)> + '_ {
    // The first start code.
    let mut start = find_start_code(b, 0).map(|(_, after)| after);
    std::iter::from_fn(move || {
        let s = start?;
        match find_start_code(b, s) {
            Some((code_at, after)) => {
                start = Some(after);
                // Trailing zeros before a start code belong to the start code (4-byte form).
                let mut end = code_at;
                while end > s && b[end - 1] == 0 {
                    end -= 1;
                }
                Some((s, end))
            }
            None => {
                start = None;
                (s < b.len()).then_some((s, b.len()))
            }
        }
    })
    .filter(|(s, e)| e > s)
}

/// The next `00 00 01` at or after `from`: (where it starts, where the NAL unit after it starts).
fn find_start_code(b: &[u8], from: usize) -> Option<(usize, usize)> {
    let mut i = from;
    while i + 3 <= b.len() {
        if b[i] == 0 && b[i + 1] == 0 && b[i + 2] == 1 {
            return Some((i, i + 3));
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nal_units_are_split_at_3_and_4_byte_start_codes() {
        let b = [
            0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 4, 5, 0,
        ];
        let nals: Vec<_> = annexb_nal_ranges(&b).map(|(s, e)| &b[s..e]).collect();
        assert_eq!(
            nals,
            vec![&[0x67, 1, 2][..], &[0x68, 3][..], &[0x65, 4, 5, 0][..]]
        );
        assert_eq!(annexb_nal_ranges(&[]).count(), 0);
        assert_eq!(annexb_nal_ranges(&[1, 2, 3]).count(), 0);
    }

    #[test]
    fn the_annexb_is_the_messages_payload() {
        let u = EncodedUnit::new(3, true, 64, 48, 99, &[0, 0, 0, 1, 0x67, 9]);
        let (h, payload) = viewer_message::parse(&u.message).unwrap();
        assert!(h.keyframe);
        assert_eq!(payload, &u.annexb[..]);
        assert_eq!(
            u.nal_units().collect::<Vec<_>>(),
            vec![Bytes::from_static(&[0x67, 9])]
        );
    }
}
