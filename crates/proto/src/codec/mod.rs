//! Pixel codecs for RECT payloads. Each codec turns the codec units of a rectangle (its `w*h` RGB565
//! pixels, or the bytes of its packed grey rows: [`crate::PixelFormat`]), taken row-major as one
//! flat sequence, into bytes; each has an encoder that writes into a bounded buffer (so the server
//! can fill a packet exactly) and an incremental decoder that accepts its input split at any byte
//! and emits [`PixelRun`]s without buffering the payload. Whatever the lossless codec, the decoded
//! units are the RAW payload's bytes; DCT is lossy (its decoder is the reference for what a panel
//! shows) and buffers one row of MCUs.
//!
//! | id   | codec         | payload                                                    |
//! |------|---------------|------------------------------------------------------------|
//! | 0x00 | RAW           | the units: `w*h` RGB565 pixels (2 bytes each, device order) or the packed grey rows |
//! | 0x01 | RLE           | run / literal tokens over pixels (see [`rle`])             |
//! | 0x02 | PALETTE_RLE   | ≤ 16-colour palette + one-byte (run, index) tokens (see [`palette`]) |
//! | 0x03 | DCT           | lossy: quality byte + JPEG-baseline blocks, RGB565 only (see [`dct`]) |
//! | 0x04 | DCT_HALF      | DCT of the rect at half resolution, shown at 2x2 per pixel (see [`dct`]) |
//!
//! Why the first three: see `BENCHMARKS.md` ("rect codecs"), which measured them beside LZ4 on the
//! built-in screens and on a 160 MHz RV32IMC instruction budget. Why DCT: `BENCHMARKS.md` ("Motion
//! codec"), which measured it against coarser colour levels on moving content.

pub mod dct;
pub mod palette;
pub mod raw;
pub mod rle;

use crate::ProtoError;
use crate::format::PixelFormat;

/// A codec id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Codec {
    /// Uncompressed pixels.
    Raw = 0x00,
    /// Run-length tokens over pixels.
    Rle = 0x01,
    /// Palette of up to 16 colours with (run, index) byte tokens.
    PaletteRle = 0x02,
    /// Lossy transform coding (JPEG baseline blocks) for moving content.
    Dct = 0x03,
    /// DCT of the rectangle at half resolution, each decoded pixel shown as 2x2.
    DctHalf = 0x04,
}

impl Codec {
    /// Every codec, cheapest to decode first.
    pub const ALL: [Codec; 5] = [
        Codec::Raw,
        Codec::Rle,
        Codec::PaletteRle,
        Codec::Dct,
        Codec::DctHalf,
    ];

    /// The lossless codecs: every unit decodes to exactly what was encoded.
    pub const LOSSLESS: [Codec; 3] = [Codec::Raw, Codec::Rle, Codec::PaletteRle];

    /// Parses a wire codec id.
    pub fn from_wire(v: u8) -> Result<Self, ProtoError> {
        match v {
            0x00 => Ok(Self::Raw),
            0x01 => Ok(Self::Rle),
            0x02 => Ok(Self::PaletteRle),
            0x03 => Ok(Self::Dct),
            0x04 => Ok(Self::DctHalf),
            other => Err(ProtoError::UnknownCodec(other)),
        }
    }

    /// Short lowercase name, for logs, metrics labels and the CLI.
    pub fn name(self) -> &'static str {
        match self {
            Self::Raw => "raw",
            Self::Rle => "rle",
            Self::PaletteRle => "palette_rle",
            Self::Dct => "dct",
            Self::DctHalf => "dct_half",
        }
    }

    /// Parses [`Codec::name`].
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == s)
    }

    /// Encodes `px` in `format` (a [`crate::PixelOrder`] means RGB565 in that order) into `out`;
    /// see [`EncodeFail`] for when it cannot. DCT needs a quality: it is
    /// [`EncodeFail::NotApplicable`] here; use [`dct::encode`].
    pub fn encode(
        self,
        px: Pixels<'_>,
        format: impl Into<PixelFormat>,
        out: &mut [u8],
    ) -> Result<usize, EncodeFail> {
        match self {
            Self::Raw => raw::encode(px, format, out),
            Self::Rle => rle::encode(px, format, out),
            Self::PaletteRle => palette::encode(px, format, out),
            Self::Dct | Self::DctHalf => Err(EncodeFail::NotApplicable),
        }
    }
}

/// A set of codecs, as the bitmask carried by HELLO and WELCOME (bit *n* = codec id *n*).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CodecSet(u16);

impl CodecSet {
    /// The empty set.
    pub const EMPTY: Self = Self(0);

    /// From the wire bitmask. Unknown bits are kept (a newer peer may know more codecs) but never
    /// chosen.
    pub const fn from_bits(bits: u16) -> Self {
        Self(bits)
    }

    /// The wire bitmask.
    pub const fn bits(self) -> u16 {
        self.0
    }

    /// Every codec this crate implements.
    pub const fn all() -> Self {
        Self(0b1_1111)
    }

    /// The lossless codecs (RAW, RLE, PALETTE_RLE): what a device decoded before DCT existed.
    pub const fn lossless() -> Self {
        Self(0b111)
    }

    /// This set with `c` added.
    #[must_use]
    pub const fn with(self, c: Codec) -> Self {
        Self(self.0 | (1 << c as u16))
    }

    /// Whether `c` is in the set.
    pub const fn contains(self, c: Codec) -> bool {
        self.0 & (1 << c as u16) != 0
    }

    /// Codecs in both sets.
    #[must_use]
    pub const fn intersect(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }

    /// The known codecs in the set.
    pub fn iter(self) -> impl Iterator<Item = Codec> {
        Codec::ALL.into_iter().filter(move |c| self.contains(*c))
    }
}

/// A rectangle of RGB565 pixel values in memory, `height` rows of `width` pixels, `stride` pixels
/// apart.
#[derive(Debug, Clone, Copy)]
pub struct Pixels<'a> {
    /// Backing storage; row `r` starts at `r * stride`.
    pub data: &'a [u16],
    /// Pixels between row starts.
    pub stride: usize,
    /// Pixels per row.
    pub width: usize,
    /// Rows.
    pub height: usize,
}

impl<'a> Pixels<'a> {
    /// A tightly packed `width × height` block.
    pub fn packed(data: &'a [u16], width: usize, height: usize) -> Self {
        Self {
            data,
            stride: width,
            width,
            height,
        }
    }

    /// Row `r`, or an empty slice if the backing storage is short (never panics).
    #[inline]
    pub fn row(&self, r: usize) -> &'a [u16] {
        let start = r * self.stride;
        self.data.get(start..start + self.width).unwrap_or(&[])
    }

    /// Number of pixels.
    pub fn len(&self) -> usize {
        self.width * self.height
    }

    /// True when there are no pixels.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every pixel, row-major.
    pub fn iter(&self) -> impl Iterator<Item = u16> + 'a {
        let p = *self;
        (0..p.height).flat_map(move |r| p.row(r).iter().copied())
    }
}

/// Calls `f` with the codec units of row `r` of `px` in `format`, left to right, in slices: for
/// RGB565 the row itself (one call, no copy), else up to 64 units at a time, the grey values masked
/// to their depth or packed with [`PixelFormat::pack_unit`]. Stops at `f`'s first error. Slices keep
/// the encoders' per-unit loops free of calls.
#[inline]
pub(crate) fn for_each_unit_slice<E>(
    px: &Pixels<'_>,
    r: usize,
    format: PixelFormat,
    mut f: impl FnMut(&[u16]) -> Result<(), E>,
) -> Result<(), E> {
    let row = px.row(r);
    if format.is_rgb565() {
        return f(row);
    }
    let mut buf = [0u16; 64];
    let units = format.row_units(row.len());
    let mut i = 0;
    while i < units {
        let n = (units - i).min(buf.len());
        for (k, d) in buf[..n].iter_mut().enumerate() {
            *d = format.pack_unit(row, i + k);
        }
        f(&buf[..n])?;
        i += n;
    }
    Ok(())
}

/// Why an encoder produced nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodeFail {
    /// The output buffer is too small for this rectangle in this codec.
    DoesNotFit,
    /// This codec cannot represent these pixels (PALETTE_RLE with more than 16 colours).
    NotApplicable,
}

/// A piece of a rectangle's codec units, as produced by the decoders: either bytes to copy (the
/// RAW payload's bytes), or one unit repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelRun<'a> {
    /// Unit bytes as RAW carries them. May split a unit: pieces follow the input's splits.
    Bytes(&'a [u8]),
    /// `count` copies of one unit: two bytes in the device's order for RGB565; for the grey formats
    /// the one byte, repeated in both places.
    Fill {
        /// The unit.
        pixel: [u8; 2],
        /// How many times.
        count: u32,
    },
    /// Unit bytes as RAW carries them, by value: pixels a decoder computed (DCT) rather than
    /// found in the input.
    Chunk(PixelChunk),
}

/// Up to [`PixelChunk::PIXELS`] RGB565 pixels in the device's order, by value.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PixelChunk {
    /// The bytes; the first `len` are valid.
    pub bytes: [u8; 120],
    /// Valid bytes (even).
    pub len: u8,
}

impl PixelChunk {
    /// Pixels one chunk holds at most (an [`crate::Event`] is as big as an ERROR's text anyway,
    /// so a chunk this size costs no memory and halves the events of 32).
    pub const PIXELS: usize = 60;
    /// An empty chunk.
    pub const EMPTY: Self = Self {
        bytes: [0; 120],
        len: 0,
    };

    /// The valid bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len).min(120)]
    }
}

impl core::fmt::Debug for PixelChunk {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "PixelChunk({} bytes)", self.len)
    }
}

/// Incremental decoder for one rectangle's codec payload.
// DCT's state (its coefficient block and bit reader, about 0.2 KiB; its buffers and dequantisation
// tables are in `dct::Scratch`) is held by value:
// the firmware has no allocator to box it, and one rectangle is decoded at a time.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub(crate) enum CodecDecoder {
    Raw(raw::Decoder),
    Rle(rle::Decoder),
    Palette(palette::Decoder),
    Dct(dct::Decoder),
}

impl CodecDecoder {
    /// A decoder for a `w × h` rectangle in `format`, or why that codec cannot carry it (DCT:
    /// RGB565 only, at most [`dct::MAX_WIDTH`] × [`dct::MAX_HEIGHT`]).
    pub(crate) fn new(
        codec: Codec,
        format: PixelFormat,
        w: u16,
        h: u16,
    ) -> Result<Self, ProtoError> {
        let units = format.rect_units(w, h);
        let unit = format.unit_bytes() as u8;
        Ok(match codec {
            Codec::Raw => Self::Raw(raw::Decoder::new(units, unit)),
            Codec::Rle => Self::Rle(rle::Decoder::new(units, unit)),
            Codec::PaletteRle => Self::Palette(palette::Decoder::new(units, unit)),
            Codec::Dct | Codec::DctHalf => {
                let PixelFormat::Rgb565(order) = format else {
                    return Err(ProtoError::BadField("dct on a grey panel"));
                };
                let big = order == crate::PixelOrder::BigEndian;
                match codec {
                    Codec::Dct if dct::fits(w, h) => Self::Dct(dct::Decoder::new(w, h, big)),
                    Codec::DctHalf if dct::fits_half(w, h) => {
                        Self::Dct(dct::Decoder::half(w, h, big))
                    }
                    _ => return Err(ProtoError::BadField("dct rect size")),
                }
            }
        })
    }

    /// Consumes a prefix of `input` (never more than it), maybe producing a run.
    pub(crate) fn step<'a>(
        &mut self,
        input: &'a [u8],
        scratch: &mut dct::Scratch,
    ) -> Result<(usize, Option<PixelRun<'a>>), ProtoError> {
        match self {
            Self::Raw(d) => Ok(d.step(input)),
            Self::Rle(d) => d.step(input),
            Self::Palette(d) => d.step(input),
            Self::Dct(d) => d.step(input, scratch),
        }
    }

    /// With `check`, a lossy decoder validates without producing pixels (see
    /// [`crate::Decoder::checking_only`]).
    pub(crate) fn checking_only(self, check: bool) -> Self {
        match self {
            Self::Dct(d) if check => Self::Dct(d.checking_only()),
            other => other,
        }
    }

    /// True while the payload is read and pixels remain that need no more input (DCT emitting
    /// its row of MCUs).
    pub(crate) fn is_draining(&self) -> bool {
        match self {
            Self::Dct(d) => d.is_draining(),
            _ => false,
        }
    }

    /// True when all pixels were produced and no token is half-read.
    pub(crate) fn is_done(&self) -> bool {
        match self {
            Self::Raw(d) => d.is_done(),
            Self::Rle(d) => d.is_done(),
            Self::Palette(d) => d.is_done(),
            Self::Dct(d) => d.is_done(),
        }
    }
}

/// Runs a decoder over a whole payload and counts the pixel runs it emits (one per token when the
/// payload arrives in one piece); for tests of the token counters.
#[cfg(test)]
pub(crate) fn runs_emitted(codec: Codec, pixels: u32, payload: &[u8]) -> usize {
    let mut d = match codec {
        Codec::Raw => CodecDecoder::Raw(raw::Decoder::new(pixels, 2)),
        Codec::Rle => CodecDecoder::Rle(rle::Decoder::new(pixels, 2)),
        Codec::PaletteRle => CodecDecoder::Palette(palette::Decoder::new(pixels, 2)),
        Codec::Dct | Codec::DctHalf => return 0,
    };
    let mut rest = payload;
    let mut runs = 0;
    loop {
        let (used, run) = d
            .step(rest, &mut dct::Scratch::default())
            .expect("valid payload");
        rest = &rest[used..];
        match run {
            Some(_) => runs += 1,
            None if used == 0 => return runs,
            None => {}
        }
    }
}

/// Collects a decoder's whole output for `pixels` RGB565 pixels from a complete payload (tests,
/// tools). DCT needs the rectangle's size: use [`decode_format_to_vec`].
#[cfg(any(test, feature = "alloc"))]
pub fn decode_to_vec(
    codec: Codec,
    pixels: u32,
    payload: &[u8],
) -> Result<alloc::vec::Vec<u8>, ProtoError> {
    let d = match codec {
        Codec::Raw => CodecDecoder::Raw(raw::Decoder::new(pixels, 2)),
        Codec::Rle => CodecDecoder::Rle(rle::Decoder::new(pixels, 2)),
        Codec::PaletteRle => CodecDecoder::Palette(palette::Decoder::new(pixels, 2)),
        Codec::Dct | Codec::DctHalf => return Err(ProtoError::BadField("dct rect size")),
    };
    collect(d, 2, payload)
}

/// Collects a decoder's whole output (the RAW bytes) for a `w × h` rectangle in `format` from a
/// complete payload (tests, tools).
#[cfg(any(test, feature = "alloc"))]
pub fn decode_format_to_vec(
    codec: Codec,
    format: PixelFormat,
    w: u16,
    h: u16,
    payload: &[u8],
) -> Result<alloc::vec::Vec<u8>, ProtoError> {
    let d = CodecDecoder::new(codec, format, w, h)?;
    collect(d, format.unit_bytes(), payload)
}

#[cfg(any(test, feature = "alloc"))]
fn collect(
    mut d: CodecDecoder,
    unit: usize,
    payload: &[u8],
) -> Result<alloc::vec::Vec<u8>, ProtoError> {
    // The count is untrusted: grow as pixels arrive rather than reserving it all up front.
    let mut out = alloc::vec::Vec::with_capacity(payload.len().min(1 << 20));
    let mut rest = payload;
    let mut scratch = dct::Scratch::default();
    loop {
        let (used, run) = d.step(rest, &mut scratch)?;
        rest = &rest[used..];
        match run {
            Some(PixelRun::Bytes(b)) => out.extend_from_slice(b),
            Some(PixelRun::Chunk(c)) => out.extend_from_slice(c.as_bytes()),
            Some(PixelRun::Fill { pixel, count }) => {
                for _ in 0..count {
                    out.extend_from_slice(&pixel[..unit]);
                }
            }
            None if used == 0 => break,
            None => {}
        }
    }
    if !rest.is_empty() || !d.is_done() {
        return Err(ProtoError::PixelCountMismatch);
    }
    Ok(out)
}
