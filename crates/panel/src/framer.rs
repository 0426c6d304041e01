//! Message boundaries in the server's byte stream: every message is a 4-byte header (`kind`,
//! `flags`, `len` u16 LE) and `len` payload bytes (`docs/protocol.md`, "Message framing"). The
//! runner uses this to copy RECT messages into the staging buffer and to find the last byte of each
//! FRAME_END, while the protocol crate's decoder (inside `DeviceSession`) checks every byte. The
//! framer validates nothing itself: a malformed header is the decoder's to reject.

/// Message kind of RECT.
pub const KIND_RECT: u8 = 0x90;
/// Message kind of FRAME_END.
pub const KIND_FRAME_END: u8 = 0x91;
/// Message header size.
pub const HEADER_LEN: usize = 4;

/// What the bytes returned by [`Framer::step`] are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Header bytes; `Some((kind, len))` when they complete the header.
    Header(Option<(u8, u16)>),
    /// Payload bytes of a `kind` message; `last` when they end it.
    Payload {
        /// The message kind.
        kind: u8,
        /// These bytes end the message.
        last: bool,
    },
}

/// Tracks where messages start and end; see the module docs.
#[derive(Debug, Clone, Default)]
pub struct Framer {
    header: [u8; HEADER_LEN],
    have: u8,
    kind: u8,
    left: u16,
}

impl Framer {
    /// A framer at a message boundary.
    pub fn new() -> Self {
        Self::default()
    }

    /// The last complete header.
    pub fn header(&self) -> [u8; HEADER_LEN] {
        self.header
    }

    /// Takes a prefix of `input` that belongs to one part of one message; returns its length (0 only
    /// for empty input) and what it is.
    pub fn step(&mut self, input: &[u8]) -> (usize, Part) {
        if self.left > 0 {
            let n = input.len().min(usize::from(self.left));
            self.left -= n as u16;
            return (
                n,
                Part::Payload {
                    kind: self.kind,
                    last: self.left == 0,
                },
            );
        }
        let have = usize::from(self.have);
        let n = (HEADER_LEN - have).min(input.len());
        self.header[have..have + n].copy_from_slice(&input[..n]);
        if have + n < HEADER_LEN {
            self.have = (have + n) as u8;
            return (n, Part::Header(None));
        }
        self.have = 0;
        self.kind = self.header[0];
        self.left = u16::from_le_bytes([self.header[2], self.header[3]]);
        (n, Part::Header(Some((self.kind, self.left))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_messages_at_any_offset() {
        // PING (8 bytes payload), then a FRAME_END (14), then an empty-payload header.
        let mut bytes = vec![0x03, 0, 8, 0];
        bytes.extend_from_slice(&[1; 8]);
        bytes.extend_from_slice(&[0x91, 0, 14, 0]);
        bytes.extend_from_slice(&[2; 14]);
        bytes.extend_from_slice(&[0x05, 0, 0, 0]);
        for piece in 1..bytes.len() {
            let mut f = Framer::new();
            let mut parts = Vec::new();
            for chunk in bytes.chunks(piece) {
                let mut at = 0;
                while at < chunk.len() {
                    let (n, p) = f.step(&chunk[at..]);
                    assert!(n > 0);
                    parts.push(p);
                    at += n;
                }
            }
            let ends: Vec<_> = parts
                .iter()
                .filter_map(|p| match p {
                    Part::Payload { kind, last: true } => Some(*kind),
                    Part::Header(Some((k, 0))) => Some(*k),
                    _ => None,
                })
                .collect();
            assert_eq!(ends, [0x03, 0x91, 0x05], "piece size {piece}");
        }
    }
}
