//! A string of at most `N` bytes stored inline, for the device id, firmware version and error
//! text carried by control messages (no allocator on the device).

use core::fmt;

/// UTF-8 text of at most `N` bytes, stored inline.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ShortStr<const N: usize> {
    len: u8,
    bytes: [u8; N],
}

impl<const N: usize> ShortStr<N> {
    /// The empty string.
    pub const fn empty() -> Self {
        Self {
            len: 0,
            bytes: [0; N],
        }
    }

    /// Copies `s`, or `None` if it is longer than `N` bytes.
    pub fn new(s: &str) -> Option<Self> {
        Self::from_utf8(s.as_bytes())
    }

    /// Copies `s`, cutting it at the last character boundary that fits.
    pub fn truncating(s: &str) -> Self {
        let mut end = s.len().min(N).min(u8::MAX as usize);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        // `end` is a char boundary no longer than N, so this cannot fail.
        Self::from_utf8(&s.as_bytes()[..end]).unwrap_or(Self::empty())
    }

    pub(crate) fn from_utf8(b: &[u8]) -> Option<Self> {
        if b.len() > N || b.len() > u8::MAX as usize {
            return None;
        }
        core::str::from_utf8(b).ok()?;
        let mut bytes = [0u8; N];
        bytes[..b.len()].copy_from_slice(b);
        Some(Self {
            len: b.len() as u8,
            bytes,
        })
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // Only valid UTF-8 is ever stored (checked in `from_utf8`).
        core::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("")
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// True for the empty string.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl<const N: usize> fmt::Debug for ShortStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<const N: usize> fmt::Display for ShortStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
