//! What the fuzz targets share: reading structured fields out of the fuzzer's bytes ([`Input`],
//! [`Seeded`]), and a reference model of Picamera's padded raw layout ([`Padded`]).
//!
//! The targets (`fuzz_targets/`, one per `[[bin]]` in `Cargo.toml`):
//! * display protocol (`pixelwire-proto`): `decoder`, `codecs`, `device_session`;
//! * display sinks (`pixelwire-core`): `server_session`, `legacy`;
//! * camera input (`pixelwire-media`): `camera_jpeg` (inspection and every decode of a camera
//!   JPEG), `picamera_raw` (raw frames told apart by length), `yuv_padded` (`I420::from_padded`),
//!   `viewer_message` (the viewer WebSocket header).

/// Reads fields from the fuzz input; past its end every read is zero.
pub struct Input<'a>(pub &'a [u8]);

impl<'a> Input<'a> {
    /// The next byte.
    pub fn u8(&mut self) -> u8 {
        let (&b, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        b
    }

    /// The next two bytes, little-endian.
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    /// The next `n` bytes (fewer at the end).
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }

    /// Everything that is left.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.0)
    }

    /// True when nothing is left.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Reads fields like [`Input`], but past the input's end the reads go on with a pseudo-random
/// stream seeded by the whole input, not zeros. The smoke run (no coverage feedback) only ever
/// mutates an empty input a few times, so its inputs are a few bytes long, mostly repeated; read
/// with [`Input`], nearly every field would be zero and every image 1 × 1. Under real fuzzing a
/// long enough input still sets every field itself.
pub struct Seeded<'a> {
    input: Input<'a>,
    state: u64,
}

impl<'a> Seeded<'a> {
    /// Reads `data`, then the stream seeded by it.
    pub fn new(data: &'a [u8]) -> Self {
        // FNV-1a, so that inputs differing anywhere seed different streams.
        let state = data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        Self {
            input: Input(data),
            state,
        }
    }

    /// The next byte.
    pub fn u8(&mut self) -> u8 {
        if self.input.is_empty() {
            // splitmix64
            self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            return (z ^ (z >> 31)) as u8;
        }
        self.input.u8()
    }

    /// The next two bytes, little-endian.
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    /// The next four bytes, little-endian.
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes(std::array::from_fn(|_| self.u8()))
    }

    /// The next eight bytes, little-endian.
    pub fn u64(&mut self) -> u64 {
        u64::from_le_bytes(std::array::from_fn(|_| self.u8()))
    }

    /// `len` bytes of content: what is left of the input, repeated; past the input's end, the
    /// seeded stream. The fuzzer's inputs are short, the buffers the targets need are not.
    pub fn fill(&mut self, len: usize) -> Vec<u8> {
        let rest = self.input.rest();
        if rest.is_empty() {
            (0..len).map(|_| self.u8()).collect()
        } else {
            rest.iter().copied().cycle().take(len).collect()
        }
    }
}

/// Picamera's padded raw layout written out independently of `pixelwire-media` (`u64`
/// arithmetic, so it holds for any `u32` size): the buffer's width is the frame's padded to a
/// multiple of 32, its height to a multiple of 16 (`seed-protocols.md` §D).
#[derive(Debug, Clone, Copy)]
pub struct Padded {
    /// Visible width.
    pub w: u64,
    /// Visible height.
    pub h: u64,
    /// Buffer width (bytes per luma row).
    pub pw: u64,
    /// Buffer height (luma rows).
    pub ph: u64,
}

impl Padded {
    /// The layout of a `w × h` frame.
    pub fn new(w: u32, h: u32) -> Self {
        let (w, h) = (u64::from(w), u64::from(h));
        Self {
            w,
            h,
            pw: w.div_ceil(32) * 32,
            ph: h.div_ceil(16) * 16,
        }
    }

    /// Bytes of an I420 frame: a `pw × ph` luma plane, then two `pw/2 × ph/2` chroma planes.
    pub fn i420_len(&self) -> u64 {
        self.pw * self.ph + 2 * (self.pw / 2) * (self.ph / 2)
    }

    /// Bytes of a packed frame with `bpp` bytes per pixel.
    pub fn packed_len(&self, bpp: u64) -> u64 {
        self.pw * self.ph * bpp
    }

    /// The visible `w & !1 × h & !1` planes (Y, U, V) of a padded I420 buffer of
    /// [`i420_len`](Self::i420_len) bytes.
    pub fn crop_i420(&self, buf: &[u8]) -> [Vec<u8>; 3] {
        let (w, h) = ((self.w & !1) as usize, (self.h & !1) as usize);
        let (pw, ph) = (self.pw as usize, self.ph as usize);
        let crop = |start: usize, stride: usize, cw: usize, ch: usize| -> Vec<u8> {
            let mut out = Vec::with_capacity(cw * ch);
            for r in 0..ch {
                out.extend_from_slice(&buf[start + r * stride..][..cw]);
            }
            out
        };
        let u_at = pw * ph;
        let v_at = u_at + pw / 2 * (ph / 2);
        [
            crop(0, pw, w, h),
            crop(u_at, pw / 2, w / 2, h / 2),
            crop(v_at, pw / 2, w / 2, h / 2),
        ]
    }
}
