//! Counts the parts of an MJPEG response (`multipart/x-mixed-replace`, `docs/api.md`) as its bytes
//! arrive in arbitrary pieces: a part begins at each `--BOUNDARY` delimiter. Sans-IO: bytes in,
//! a count out.

/// Finds `--boundary` delimiters across chunk borders.
#[derive(Debug)]
pub struct PartCounter {
    delimiter: Vec<u8>,
    /// The tail of the previous chunk that may begin a delimiter.
    carry: Vec<u8>,
    /// Delimiters seen.
    pub delimiters: u64,
}

impl PartCounter {
    /// A counter for `boundary` (without the leading dashes).
    pub fn new(boundary: &str) -> Self {
        Self {
            delimiter: format!("--{boundary}").into_bytes(),
            carry: Vec::new(),
            delimiters: 0,
        }
    }

    /// Feeds the next bytes; returns how many delimiters they completed.
    pub fn feed(&mut self, chunk: &[u8]) -> u64 {
        let d = self.delimiter.len();
        self.carry.extend_from_slice(chunk);
        let mut found = 0;
        let mut i = 0;
        while i + d <= self.carry.len() {
            if self.carry[i..i + d] == self.delimiter[..] {
                found += 1;
                i += d;
            } else {
                i += 1;
            }
        }
        // Keep only what could still start a delimiter.
        let keep_from = i.max(self.carry.len().saturating_sub(d - 1));
        self.carry.drain(..keep_from);
        self.delimiters += found;
        found
    }

    /// Complete parts: every delimiter after the first closes one.
    pub fn parts(&self) -> u64 {
        self.delimiters.saturating_sub(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters_split_at_every_offset_are_counted_once() {
        let body = b"--pixelwireframe\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8--pixel\xff\xd9\r\n--pixelwireframe\r\nX\r\n--pixelwireframe\r\n";
        for a in 0..body.len() {
            for b in a..body.len() {
                let mut c = PartCounter::new("pixelwireframe");
                c.feed(&body[..a]);
                c.feed(&body[a..b]);
                c.feed(&body[b..]);
                assert_eq!(c.delimiters, 3, "split at {a}, {b}");
                assert_eq!(c.parts(), 2);
            }
        }
    }
}
