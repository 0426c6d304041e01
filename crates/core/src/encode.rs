//! Encodes the rectangles of an update into wire messages for one device, under a byte budget.
//!
//! Two wire formats:
//! * pixelwire: each rectangle is cut into bands (and, for panels wider than a packet, columns) whose
//!   RECT message fits the device's `max_packet_bytes`; each band uses the smallest of the codecs the
//!   device decodes (RAW is always possible, so a band always fits). With a [`CostModel`] (the
//!   device's decode cost and the link's measured rate), "smallest" becomes "soonest on the panel
//!   per pixel": link time and device decode time together, so a slow CPU on a fast link gets RAW
//!   for content that RLE would only shrink a little.
//! * legacy (seed 000): 12-byte big-endian header + RGB565 big-endian, bands of at most
//!   `max_payload` bytes with the same x and w (`seed-protocols.md` §A.2, §A.5 step 3).
//!
//! From level 2 on ([`DCT_FROM_LEVEL`]), a device that decodes DCT ([`pixelwire_proto::codec::dct`]) is also offered
//! the band as DCT blocks of the unquantised pixels, at the quality [`QualityLevel::dct_quality`]
//! maps the level to. DCT wins a band when it is at least as faithful as the level's colour
//! quantisation there (squared error against the target, measured on the decoder's own output)
//! and reaches the panel sooner per pixel by the same measure as above: on smooth moving content
//! it is both, on sharp text or UI it usually loses on fidelity and the lossless codecs keep it.
//! The panel then shows the DCT decoder's output, not the target: [`RectOutcome::shown`] carries
//! it so the shadow can hold what the panel really shows.
//!
//! The budget is checked before each message: once the next message would exceed it, the rest of
//! the update is left for the next frame (at least one message is always written, so an update
//! always makes progress). The device's `frame_buffer_bytes` is a hard limit instead: every RECT is
//! cut to fit it (it caps the packet like `max_packet_bytes` does), and no message is written that
//! would take the frame's RECT messages (headers included, as the device stages them) past it,
//! not even the first.

use crate::decode_cost::{CostModel, DeviceTime};
use crate::frame::Rect;
use crate::image565::Rgb565Image;
use crate::quality::QualityLevel;
use pixelwire_proto::codec::{PixelRun, dct, palette};
use pixelwire_proto::message::RECT_FIELDS_LEN;
use pixelwire_proto::{
    Codec, CodecSet, EncodeFail, PixelFormat, PixelOrder, Pixels, RectHeader, legacy,
};

/// How updates are framed for a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireFormat {
    /// The pixelwire display protocol.
    Pixelwire {
        /// The device's pixel format (RGB565 in its byte order, or grey): the images' values are
        /// in it, and a rectangle's `x` is a multiple of its [`PixelFormat::x_align`].
        format: PixelFormat,
        /// Codecs the device decodes.
        codecs: CodecSet,
        /// The device's largest RECT payload (fields + codec payload), bytes.
        max_packet_bytes: u16,
    },
    /// The seed-000 sketch protocol.
    Legacy {
        /// Largest pixel payload per packet (8192 by default, never above 10240).
        max_payload: u32,
    },
}

impl WireFormat {
    /// Largest pixel payload of one message.
    fn payload_cap(&self) -> usize {
        match *self {
            Self::Pixelwire {
                max_packet_bytes, ..
            } => usize::from(max_packet_bytes).saturating_sub(RECT_FIELDS_LEN),
            Self::Legacy { max_payload } => max_payload.min(legacy::SKETCH_BUFFER_BYTES) as usize,
        }
    }
}

/// Counters of one encoded update.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EncodeStats {
    /// Messages (RECT or legacy packets) written.
    pub messages: u32,
    /// Pixels sent.
    pub pixels: u64,
    /// Bytes written, headers included.
    pub bytes: u64,
    /// Payload bytes per codec (indexed by codec id).
    pub codec_bytes: [u64; 5],
    /// Messages per codec.
    pub codec_messages: [u32; 5],
    /// Estimated device time of the receive pass, ns (0 without a cost model).
    pub device_receive_ns: u64,
    /// Estimated device time of the present pass, ns (0 without a cost model).
    pub device_present_ns: u64,
}

impl EncodeStats {
    /// Estimated device time of what was encoded ([`DeviceTime::NONE`] without a cost model).
    pub fn device_time(&self) -> DeviceTime {
        DeviceTime {
            receive_s: self.device_receive_ns as f64 * 1e-9,
            present_s: self.device_present_ns as f64 * 1e-9,
        }
    }
}

/// The bytes of one update being built, its byte budget and its counters.
#[derive(Debug, Clone, Default)]
pub struct UpdateBytes {
    /// Messages written so far.
    pub bytes: Vec<u8>,
    /// No message is started that would take `bytes` past this, unless `bytes` is empty.
    pub budget: usize,
    /// The most bytes of RECT messages (4-byte headers included, as a device stages them and
    /// `frame_buffer_bytes` counts them) the update may carry; never exceeded. `usize::MAX`: no
    /// limit.
    pub payload_limit: usize,
    /// Bytes of RECT messages written so far.
    pub payload: usize,
    /// Counters.
    pub stats: EncodeStats,
}

impl UpdateBytes {
    /// An empty update with a budget.
    pub fn with_budget(budget: usize) -> Self {
        Self::with_limits(budget, usize::MAX)
    }

    /// An empty update with a budget and a hard limit on its RECT payload (the device's
    /// `frame_buffer_bytes`; pixelwire only).
    pub fn with_limits(budget: usize, payload_limit: usize) -> Self {
        Self {
            bytes: Vec::new(),
            budget,
            payload_limit,
            payload: 0,
            stats: EncodeStats::default(),
        }
    }
}

/// What happened to one rectangle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RectOutcome {
    /// The parts that were sent (bands top to bottom, maybe a column split).
    pub sent: Vec<Rect>,
    /// True if all of it was sent.
    pub complete: bool,
    /// Parts sent lossily as DCT, with the pixels the panel shows there (row-major, the part's
    /// width): what the shadow must hold instead of the target.
    pub shown: Vec<(Rect, Vec<u16>)>,
}

/// Reusable encoder state (scratch buffers and per-codec size estimates) for one device.
#[derive(Debug, Default)]
pub struct UpdateEncoder {
    quantised: Vec<u16>,
    scratch: Vec<u8>,
    best: Vec<u8>,
    /// Bytes per pixel each codec produced last time, to guess how many rows fit a packet.
    bytes_per_pixel: [Option<f32>; 5],
    /// DCT messages of the band being considered, and their decoded pixels.
    dct: Vec<u8>,
    dct_shown: Vec<u16>,
    dct_scratch: Box<dct::Scratch>,
    /// Link and device costs, when known; see the module docs.
    cost_model: Option<CostModel>,
    /// Device time of the band in `best`.
    best_device: DeviceTime,
    /// Where DCT is offered: what each band's last full comparison chose (see [`BandChoice`]).
    band_choices: std::collections::HashMap<BandKey, BandChoice>,
}

/// A band's place and the level it was encoded at: (x, y, width, rows, level).
type BandKey = (u32, u32, u32, u32, u8);

/// What the last full comparison of a band (every lossless codec, then DCT_HALF, then DCT) chose.
/// Moving content keeps its character from one frame to the next, so for the next
/// [`REUSE_CHOICE_FRAMES`] frames the band tries only that winner: a DCT winner is encoded alone
/// (it must still beat the lossless cost measured then, pass the fidelity test and fit the frame,
/// or the band is compared in full again), and a lossless winner skips the DCT candidates. This
/// spares most of the encoding the comparison costs (the band's lossless encodings and a full
/// resolution DCT where DCT_HALF lost); the fidelity test keeps the picture's floor.
#[derive(Debug, Clone, Copy)]
struct BandChoice {
    /// The DCT codec that won, or `None` where a lossless codec did.
    dct: Option<Codec>,
    /// Cost per pixel of the band's best lossless encoding then (what DCT had to beat).
    lossless_cost: f64,
    /// Frames that have reused this choice.
    reused: u32,
}

/// Frames a band reuses its last full comparison's choice before it is compared in full again.
const REUSE_CHOICE_FRAMES: u32 = 6;

/// Bands remembered at most (rectangles that change shape each frame leave stale entries).
const MAX_BAND_CHOICES: usize = 1024;

impl UpdateEncoder {
    /// A new encoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets (or clears) the link and device costs that codec choice weighs.
    pub fn set_cost_model(&mut self, model: Option<CostModel>) {
        self.cost_model = model;
    }

    /// The cost model in use.
    pub fn cost_model(&self) -> Option<&CostModel> {
        self.cost_model.as_ref()
    }

    /// Appends the messages for `rect` of `target` at `level` to `update`, stopping before it would
    /// exceed its budget (unless it holds nothing yet).
    pub fn encode_rect(
        &mut self,
        format: &WireFormat,
        target: &Rgb565Image,
        rect: Rect,
        level: QualityLevel,
        update: &mut UpdateBytes,
    ) -> RectOutcome {
        let mut outcome = RectOutcome {
            sent: Vec::new(),
            complete: true,
            shown: Vec::new(),
        };
        let Some(rect) = rect.intersect(&target.bounds()) else {
            return outcome;
        };
        if level == QualityLevel::EXACT {
            // The target's own pixels: no copy (a copy of a whole 4096x4096 panel is 32 MiB).
            let start = rect.y as usize * target.width as usize + rect.x as usize;
            let stride = target.width as usize;
            self.encode_quantised(
                format,
                &target.px[start..],
                stride,
                None,
                rect,
                update,
                &mut outcome,
            );
            return outcome;
        }
        // DCT works on the unquantised pixels.
        let dct_source = match *format {
            WireFormat::Pixelwire {
                format: PixelFormat::Rgb565(_),
                codecs,
                ..
            } if level >= DCT_FROM_LEVEL
                && (codecs.contains(Codec::Dct) || codecs.contains(Codec::DctHalf)) =>
            {
                Some(DctSource {
                    px: &target.px[rect.y as usize * target.width as usize + rect.x as usize..],
                    stride: target.width as usize,
                    level,
                    codecs: [Codec::DctHalf, Codec::Dct]
                        .into_iter()
                        .filter(|c| codecs.contains(*c))
                        .collect(),
                })
            }
            _ => None,
        };
        // Pixels at the wanted level, packed.
        self.quantised.clear();
        for y in rect.y..rect.bottom() {
            let row = &target.row(y)[rect.x as usize..rect.right() as usize];
            self.quantised.extend(row.iter().map(|&p| level.apply(p)));
        }
        let quantised = std::mem::take(&mut self.quantised);
        let stride = rect.w as usize;
        self.encode_quantised(
            format,
            &quantised,
            stride,
            dct_source,
            rect,
            update,
            &mut outcome,
        );
        self.quantised = quantised;
        outcome
    }

    /// Encodes `rect`, whose pixels are `quantised` (row `r` of the rect at `r * stride`), offering
    /// DCT of `dct_source` where given.
    #[allow(clippy::too_many_arguments)]
    fn encode_quantised(
        &mut self,
        format: &WireFormat,
        quantised: &[u16],
        stride: usize,
        dct_source: Option<DctSource<'_>>,
        rect: Rect,
        update: &mut UpdateBytes,
        outcome: &mut RectOutcome,
    ) {
        let unit_format = match *format {
            WireFormat::Pixelwire { format, .. } => format,
            WireFormat::Legacy { .. } => PixelFormat::default(),
        };
        let cap = match format {
            // A RECT never carries more than the device can stage in one frame.
            WireFormat::Pixelwire { .. } => format.payload_cap().min(
                update
                    .payload_limit
                    .saturating_sub(pixelwire_proto::message::HEADER_LEN + RECT_FIELDS_LEN),
            ),
            WireFormat::Legacy { .. } => format.payload_cap(),
        }
        // At least one unit (the smallest frame buffer a device may declare holds one RAW row).
        .max(unit_format.unit_bytes());
        // Columns of whole wire units (bytes of 2 or 8 grey pixels stay whole).
        let col_w = ((cap / unit_format.unit_bytes()).max(1) * usize::from(unit_format.x_align()))
            .min(u32::MAX as usize) as u32;
        let mut x = 0;
        while x < rect.w {
            let pw = col_w.min(rect.w - x);
            let mut y = 0;
            while y < rect.h {
                // Where DCT is offered, each band of its height is decided on its own, so a band
                // DCT loses does not take the rows below it to the lossless codecs too.
                let band_rows = match &dct_source {
                    Some(src) => (rect.h - y).min(src.band_rows()),
                    None => rect.h - y,
                };
                let px = Pixels {
                    data: &quantised[y as usize * stride + x as usize..],
                    stride,
                    width: pw as usize,
                    height: band_rows as usize,
                };
                let room = match format {
                    WireFormat::Pixelwire { .. } => {
                        update.payload_limit.saturating_sub(update.payload)
                    }
                    WireFormat::Legacy { .. } => usize::MAX,
                };
                let key = (
                    rect.x + x,
                    rect.y + y,
                    pw,
                    band_rows,
                    rect_level(&dct_source),
                );
                let reused = dct_source.as_ref().and_then(|src| {
                    let choice = self
                        .band_choices
                        .get(&key)
                        .copied()
                        .filter(|c| c.reused < REUSE_CHOICE_FRAMES)?;
                    let won = match choice.dct {
                        // the lossless winner is encoded below, without the DCT candidates
                        None => None,
                        Some(codec) => Some((
                            codec,
                            self.dct_band(
                                codec,
                                src.band(y, x, pw, band_rows),
                                src.level,
                                cap,
                                (rect.x + x, rect.y + y),
                                choice.lossless_cost,
                                room,
                            )?,
                        )),
                    };
                    if let Some(c) = self.band_choices.get_mut(&key) {
                        c.reused += 1;
                    }
                    Some(won)
                });
                let (mut rows, mut msg_len, mut messages, mut dct_band) = match reused {
                    Some(Some((codec, won))) => {
                        self.best_device = won.device;
                        (won.rows, self.dct.len(), won.messages, Some(codec))
                    }
                    _ => {
                        let (rows, len) = self.encode_band(format, px, cap, rect.x + x, rect.y + y);
                        (rows, len, 1, None)
                    }
                };
                if let (Some(src), None) = (&dct_source, reused) {
                    let band = src.band(y, x, pw, band_rows);
                    let lossless_pixels = rows as usize * band.width;
                    // A DCT band of several RECTs must fit what the frame may still stage (`room`);
                    // the lossless band always does (its one RECT was cut to fit).
                    let to_beat = self.per_pixel(msg_len, lossless_pixels, self.best_device);
                    // The first that wins is kept: DCT_HALF is tried first, and full resolution
                    // (four times its decoding for the same rows) only where it did not win.
                    for &codec in &src.codecs {
                        if let Some(won) = self.dct_band(
                            codec,
                            band,
                            src.level,
                            cap,
                            (rect.x + x, rect.y + y),
                            to_beat,
                            room,
                        ) {
                            rows = won.rows;
                            msg_len = self.dct.len();
                            messages = won.messages;
                            dct_band = Some(codec);
                            self.best_device = won.device;
                            break;
                        }
                    }
                    if self.band_choices.len() >= MAX_BAND_CHOICES {
                        self.band_choices.clear();
                    }
                    self.band_choices.insert(
                        key,
                        BandChoice {
                            dct: dct_band,
                            lossless_cost: to_beat,
                            reused: 0,
                        },
                    );
                }
                let payload = match format {
                    WireFormat::Pixelwire { .. } => msg_len,
                    WireFormat::Legacy { .. } => 0,
                };
                if update.bytes.len() + msg_len > update.budget && !update.bytes.is_empty()
                    || update.payload + payload > update.payload_limit
                {
                    outcome.complete = false;
                    return;
                }
                update.payload += payload;
                let part = Rect::new(rect.x + x, rect.y + y, pw, rows);
                let stats = &mut update.stats;
                if let Some(codec) = dct_band {
                    update.bytes.extend_from_slice(&self.dct[..msg_len]);
                    stats.codec_bytes[codec as usize] += msg_len as u64;
                    stats.codec_messages[codec as usize] += messages;
                    outcome.shown.push((part, self.dct_shown.clone()));
                } else {
                    update.bytes.extend_from_slice(&self.best[..msg_len]);
                    self.note_codec(format, msg_len, stats);
                }
                stats.messages += messages;
                stats.pixels += part.area();
                stats.bytes += msg_len as u64;
                stats.device_receive_ns += (self.best_device.receive_s * 1e9) as u64;
                stats.device_present_ns += (self.best_device.present_s * 1e9) as u64;
                outcome.sent.push(part);
                y += rows;
            }
            x += pw;
        }
    }

    fn note_codec(&self, format: &WireFormat, msg_len: usize, stats: &mut EncodeStats) {
        let codec = match format {
            WireFormat::Pixelwire { .. } => self.best.get(12).copied().unwrap_or(0),
            WireFormat::Legacy { .. } => 0,
        };
        let i = usize::from(codec.min(4));
        stats.codec_bytes[i] += msg_len as u64;
        stats.codec_messages[i] += 1;
    }

    /// Encodes as many leading rows of `px` as fit `cap` bytes with `codec` into `self.scratch`;
    /// returns (rows, bytes), or `None` if the codec does not apply or not even one row fits.
    /// Starts from the rows the codec's last bytes per pixel predicts (so a band usually takes one
    /// or two attempts), and never tries fewer rows than RAW fits unless the codec needs to.
    fn fit_rows(
        &mut self,
        codec: Codec,
        px: Pixels<'_>,
        format: PixelFormat,
        cap: usize,
        raw_rows: usize,
    ) -> Option<(usize, usize)> {
        let slot = codec as usize;
        let guess = match self.bytes_per_pixel[slot] {
            Some(bpp) => ((cap as f32 * 0.9) / (bpp.max(0.01) * px.width as f32)) as usize,
            None => raw_rows.saturating_mul(8),
        };
        let mut rows = guess.clamp(1, px.height);
        if codec == Codec::PaletteRle {
            rows = rows.min(palette::rows_within_palette(px, rows, format));
            if rows == 0 {
                return None;
            }
        }
        loop {
            match codec.encode(Pixels { height: rows, ..px }, format, &mut self.scratch) {
                Ok(n) => {
                    self.bytes_per_pixel[slot] = Some(n as f32 / (rows * px.width) as f32);
                    // Under half full with rows to spare: one bigger attempt.
                    if n < cap / 2 && rows < px.height && codec != Codec::PaletteRle {
                        let more = ((rows as f32 * cap as f32 * 0.9 / n.max(1) as f32) as usize)
                            .min(px.height);
                        if let Ok(m) =
                            codec.encode(Pixels { height: more, ..px }, format, &mut self.scratch)
                        {
                            self.bytes_per_pixel[slot] = Some(m as f32 / (more * px.width) as f32);
                            return Some((more, m));
                        }
                        // did not fit: redo the smaller band that did
                        return codec
                            .encode(Pixels { height: rows, ..px }, format, &mut self.scratch)
                            .ok()
                            .map(|n| (rows, n));
                    }
                    return Some((rows, n));
                }
                Err(EncodeFail::NotApplicable) => return None,
                Err(EncodeFail::DoesNotFit) if rows > 1 => rows = (rows * 2 / 3).max(1),
                Err(EncodeFail::DoesNotFit) => return None,
            }
        }
    }

    /// Encodes as many leading rows of `px` (placed at panel position `x`, `y`) as fit one message
    /// into `self.best`; returns (rows, message length).
    fn encode_band(
        &mut self,
        format: &WireFormat,
        px: Pixels<'_>,
        cap: usize,
        x: u32,
        y: u32,
    ) -> (u32, usize) {
        match *format {
            WireFormat::Legacy { .. } => {
                let raw_rows = (cap / (px.width * 2)).max(1).min(px.height);
                self.best_device = DeviceTime::NONE;
                let n = px.width * raw_rows * 2;
                self.best.clear();
                self.best.resize(legacy::HEADER_LEN + n, 0);
                let band = Pixels {
                    height: raw_rows,
                    ..px
                };
                // `best` was sized for exactly this band, so RAW cannot fail.
                let _ = Codec::Raw.encode(
                    band,
                    PixelOrder::BigEndian,
                    &mut self.best[legacy::HEADER_LEN..],
                );
                let h =
                    legacy::Header::for_rect(x as u16, y as u16, px.width as u16, raw_rows as u16);
                self.best[..legacy::HEADER_LEN].copy_from_slice(&h.encode());
                (raw_rows as u32, legacy::HEADER_LEN + n)
            }
            WireFormat::Pixelwire {
                format: pf, codecs, ..
            } => {
                let head = pixelwire_proto::message::HEADER_LEN + RECT_FIELDS_LEN;
                self.scratch.resize(cap, 0);
                let row_bytes = pf.row_bytes(px.width);
                let raw_rows = (cap / row_bytes.max(1)).max(1).min(px.height);
                let raw_len = row_bytes * raw_rows;
                let model = self.cost_model;
                // With a cost model: seconds to the panel per pixel of each candidate, RAW's first.
                let per_pixel = |m: &CostModel, codec, rows: usize, payload: &[u8], n: usize| {
                    let pixels = rows * px.width;
                    let dev = m.decode.device_time(codec, pixels, payload);
                    (m.band_seconds(head + n, pixels, dev) / pixels as f64, dev)
                };
                let raw_cost = model.map(|m| per_pixel(&m, Codec::Raw, raw_rows, &[], raw_len));
                let mut chosen: Option<(Codec, usize, usize)> = None;
                let mut chosen_cost = raw_cost;
                for codec in codecs
                    .iter()
                    .filter(|c| !matches!(c, Codec::Raw | Codec::Dct))
                {
                    let Some((rows, n)) = self.fit_rows(codec, px, pf, cap, raw_rows) else {
                        continue;
                    };
                    let better = match &model {
                        Some(m) => {
                            let c = per_pixel(m, codec, rows, &self.scratch[..n], n);
                            let better = chosen_cost.is_none_or(|(best, _)| c.0 < best);
                            if better {
                                chosen_cost = Some(c);
                            }
                            better
                        }
                        None => chosen.is_none_or(|(_, r, best)| rows > r || rows == r && n < best),
                    };
                    if better {
                        chosen = Some((codec, rows, n));
                        self.best.clear();
                        self.best.resize(head, 0);
                        self.best.extend_from_slice(&self.scratch[..n]);
                    }
                }
                self.best_device = chosen_cost.map_or(DeviceTime::NONE, |(_, d)| d);
                let (codec, rows, n) = match chosen {
                    // With a model, a compressed band only got here by costing less than RAW;
                    // without, one covering at least RAW's rows wins unless RAW is smaller.
                    Some((c, r, n)) if model.is_some() || r > raw_rows || n < raw_len => (c, r, n),
                    _ => {
                        self.best.clear();
                        self.best.resize(head + raw_len, 0);
                        let band = Pixels {
                            height: raw_rows,
                            ..px
                        };
                        // sized for exactly this band
                        let _ = Codec::Raw.encode(band, pf, &mut self.best[head..]);
                        (Codec::Raw, raw_rows, raw_len)
                    }
                };
                let hdr = RectHeader {
                    x: x as u16,
                    y: y as u16,
                    w: px.width as u16,
                    h: rows as u16,
                    codec,
                };
                // `best` holds `head` bytes for the header.
                let _ = hdr.encode(&mut self.best[..head], n);
                (rows as u32, head + n)
            }
        }
    }
}

/// The finest level DCT is offered at. Level 1 drops one bit per channel, which DCT rarely
/// matches in fidelity, and a DCT-shown tile turns every later small change in it into a
/// whole-tile update (the shadow no longer equals the quantised target anywhere): on the `cpu`
/// dashboard that cost 64 % more bytes per frame for 0.9 dB less (BENCHMARKS.md, "Motion codec").
/// From level 2 on, where content moves too much for the link, DCT pays.
const DCT_FROM_LEVEL: QualityLevel = QualityLevel::new(2);

/// Per level, per channel (red, green, blue) and channel value: the squared error (channels
/// widened to 8 bits) of the level's colour quantisation, which treats each channel on its own:
/// `squared_error(p, level.apply(p))` is the sum of the three entries of `p`'s channels.
const LEVEL_CHANNEL_ERROR: [[[u32; 64]; 3]; 4] = {
    let mut t = [[[0u32; 64]; 3]; 4];
    let mut l = 0;
    while l < 4 {
        let level = QualityLevel::new(l as u8);
        let mut v = 0;
        while v < 64 {
            // the channel alone in an RGB565 value, for red (5 bits), green (6) and blue (5)
            let channels = [
                ((v & 0x1F) << 11) as u16,
                (v << 5) as u16,
                (v & 0x1F) as u16,
            ];
            let mut c = 0;
            while c < 3 {
                let p = channels[c];
                let (a, b) = (
                    crate::psnr::widen565(p)[c],
                    crate::psnr::widen565(level.apply(p))[c],
                );
                let d = a.abs_diff(b) as u32;
                t[l][c][v] = d * d;
                c += 1;
            }
            v += 1;
        }
        l += 1;
    }
    t
};

/// Squared error between two RGB565 values, their channels widened to 8 bits.
#[inline]
fn squared_error(a: u16, b: u16) -> u64 {
    let (a, b) = (crate::psnr::widen565(a), crate::psnr::widen565(b));
    a.iter()
        .zip(&b)
        .map(|(&x, &y)| u64::from(x.abs_diff(y)).pow(2))
        .sum()
}

/// The unquantised pixels DCT is offered, the level it stands in for, and the DCT codecs the
/// device decodes (DCT_HALF first: the cheaper to decode, tried before full resolution).
#[derive(Debug, Clone)]
struct DctSource<'a> {
    /// The rect's first pixel and what follows it; row `r` at `r * stride`.
    px: &'a [u16],
    stride: usize,
    /// The level DCT stands in for (its quality, and the fidelity it must match).
    level: QualityLevel,
    codecs: Vec<Codec>,
}

/// The level a rectangle is encoded at, for [`BandKey`] (0 where DCT is not offered).
fn rect_level(src: &Option<DctSource<'_>>) -> u8 {
    src.as_ref().map_or(0, |s| s.level.get())
}

impl DctSource<'_> {
    /// The unquantised pixels of the band `rows` high and `width` wide at (`x`, `y`) of the rect.
    fn band(&self, y: u32, x: u32, width: u32, rows: u32) -> Pixels<'_> {
        Pixels {
            data: &self.px[y as usize * self.stride + x as usize..],
            stride: self.stride,
            width: width as usize,
            height: rows as usize,
        }
    }

    /// Rows of the bands each decided on its own: one DCT_HALF RECT's height if offered, else
    /// one DCT RECT's.
    fn band_rows(&self) -> u32 {
        let rows = u32::from(dct::MAX_HEIGHT);
        if self.codecs.contains(&Codec::DctHalf) {
            2 * rows
        } else {
            rows
        }
    }
}

/// A DCT candidate that beat what it was offered against.
#[derive(Debug, Clone, Copy)]
struct DctWin {
    /// Rows of the band it covers.
    rows: u32,
    /// RECT messages it took.
    messages: u32,
    /// Its device time.
    device: DeviceTime,
}

impl UpdateEncoder {
    /// The cost per pixel a band is compared by: seconds to the panel with a cost model, bytes
    /// without.
    fn per_pixel(&self, bytes: usize, pixels: usize, device: DeviceTime) -> f64 {
        let pixels = pixels.max(1);
        match &self.cost_model {
            Some(m) => m.band_seconds(bytes, pixels, device) / pixels as f64,
            None => bytes as f64 / pixels as f64,
        }
    }

    /// Encodes the top rows of `band` as `codec` (DCT: 16 rows in RECTs up to 128 wide;
    /// DCT_HALF: 32 rows, up to 256 wide; narrower if one does not fit `cap`) into `self.dct`,
    /// decoding them into `self.dct_shown`. Returns the win if its messages fit `room` bytes, it
    /// is at least as faithful as `level`'s quantisation and costs less per pixel than `to_beat`.
    #[allow(clippy::too_many_arguments)]
    fn dct_band(
        &mut self,
        codec: Codec,
        band: Pixels<'_>,
        level: QualityLevel,
        cap: usize,
        (x, y): (u32, u32),
        to_beat: f64,
        room: usize,
    ) -> Option<DctWin> {
        let head = pixelwire_proto::message::HEADER_LEN + RECT_FIELDS_LEN;
        let scale = if codec == Codec::DctHalf { 2 } else { 1 };
        let h = band.height.min(scale * usize::from(dct::MAX_HEIGHT));
        let mut col_w = scale * usize::from(dct::MAX_WIDTH);
        'widths: loop {
            self.dct.clear();
            let mut messages = 0;
            let mut device = DeviceTime::NONE;
            let mut x0 = 0;
            while x0 < band.width {
                let w = col_w.min(band.width - x0);
                let part = Pixels {
                    data: &band.data[x0..],
                    width: w,
                    height: h,
                    ..band
                };
                let start = self.dct.len();
                self.dct.resize(start + head + cap, 0);
                let out = &mut self.dct[start + head..];
                let encoded = match codec {
                    Codec::DctHalf => dct::encode_half(part, level.dct_quality(), out),
                    _ => dct::encode(part, level.dct_quality(), out),
                };
                match encoded {
                    Ok(n) => {
                        self.dct.truncate(start + head + n);
                        let hdr = RectHeader {
                            x: (x as usize + x0) as u16,
                            y: y as u16,
                            w: w as u16,
                            h: h as u16,
                            codec,
                        };
                        let _ = hdr.encode(&mut self.dct[start..start + head], n);
                        if let Some(m) = &self.cost_model {
                            let payload = &self.dct[start + head..];
                            device = device.plus(m.decode.device_time(codec, w * h, payload));
                        }
                        messages += 1;
                    }
                    Err(EncodeFail::DoesNotFit) if col_w > 16 => {
                        col_w /= 2;
                        continue 'widths;
                    }
                    Err(_) => return None,
                }
                x0 += w;
            }
            let pixels = band.width * h;
            let per_pixel = self.per_pixel(self.dct.len(), pixels, device);
            if per_pixel >= to_beat || self.dct.len() > room {
                return None;
            }
            self.decode_dct_band(band.width, h);
            let (mut dct_error, mut level_error) = (0u64, 0u64);
            for r in 0..h {
                let src = band.row(r);
                let shown = &self.dct_shown[r * band.width..(r + 1) * band.width];
                let channel_error = &LEVEL_CHANNEL_ERROR[usize::from(level.get().min(3))];
                for (&p, &q) in src.iter().zip(shown) {
                    dct_error += squared_error(p, q);
                    level_error += u64::from(
                        channel_error[0][usize::from(p >> 11)]
                            + channel_error[1][usize::from((p >> 5) & 0x3F)]
                            + channel_error[2][usize::from(p & 0x1F)],
                    );
                }
            }
            if dct_error > level_error {
                return None;
            }
            self.bytes_per_pixel[codec as usize] = Some(self.dct.len() as f32 / pixels as f32);
            return Some(DctWin {
                rows: h as u32,
                messages,
                device,
            });
        }
    }

    /// Decodes the DCT or DCT_HALF RECTs in `self.dct` (covering `w × h`) into `self.dct_shown`,
    /// row-major, with the device's own decoder.
    fn decode_dct_band(&mut self, w: usize, h: usize) {
        self.dct_shown.clear();
        self.dct_shown.resize(w * h, 0);
        let head = pixelwire_proto::message::HEADER_LEN + RECT_FIELDS_LEN;
        let mut pos = 0;
        let mut x0 = 0;
        while pos + head <= self.dct.len() {
            let len = usize::from(u16::from_le_bytes([self.dct[pos + 2], self.dct[pos + 3]]));
            let rw = usize::from(u16::from_le_bytes([self.dct[pos + 8], self.dct[pos + 9]]));
            let payload = &self.dct[pos + head..pos + 4 + len];
            let mut d = if self.dct[pos + 12] == Codec::DctHalf as u8 {
                dct::Decoder::half(rw as u16, h as u16, true)
            } else {
                dct::Decoder::new(rw as u16, h as u16, true)
            };
            let mut rest = payload;
            let mut i = 0;
            // Our own payload: it decodes (an error would leave black, which the shadow would
            // then hold and paint-over would repair).
            while let Ok((used, run)) = d.step(rest, &mut self.dct_scratch) {
                rest = &rest[used..];
                match run {
                    Some(PixelRun::Chunk(c)) => {
                        for b in c.as_bytes().chunks_exact(2) {
                            let (r, col) = (i / rw, i % rw);
                            if let Some(p) = self.dct_shown.get_mut(r * w + x0 + col) {
                                *p = u16::from_be_bytes([b[0], b[1]]);
                            }
                            i += 1;
                        }
                    }
                    Some(_) => {}
                    None if used == 0 => break,
                    None => {}
                }
            }
            x0 += rw;
            pos += 4 + len;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pixelwire_proto::{Decoder, Event, FramebufferWriter};

    fn pw(max: u16) -> WireFormat {
        WireFormat::Pixelwire {
            format: PixelFormat::Rgb565(PixelOrder::BigEndian),
            codecs: CodecSet::all(),
            max_packet_bytes: max,
        }
    }

    fn apply(bytes: &[u8], w: u32, h: u32) -> Vec<u8> {
        let mut d = Decoder::default();
        let mut fbw = FramebufferWriter::new(w as u16, h as u16);
        let mut fb = vec![0u8; (w * h * 2) as usize];
        for ev in d.feed(bytes) {
            let ev = ev.unwrap();
            if let Event::RectBegin(r) = ev {
                assert!(usize::from(r.w) * usize::from(r.h) > 0);
            }
            fbw.apply(&mut fb, &ev);
        }
        assert!(d.is_idle());
        fb
    }

    fn gradient(w: u32, h: u32) -> Rgb565Image {
        let mut img = Rgb565Image::filled(w, h, 0);
        for y in 0..h {
            for x in 0..w {
                img.px[(y * w + x) as usize] = if x < w / 2 {
                    0x001F
                } else {
                    ((x * 7 + y * 13) % 4096) as u16
                };
            }
        }
        img
    }

    #[test]
    fn pixelwire_messages_fit_the_packet_and_reproduce_pixels() {
        let img = gradient(320, 240);
        let mut enc = UpdateEncoder::new();
        let mut u = UpdateBytes::with_budget(usize::MAX);
        let r = enc.encode_rect(&pw(1024), &img, img.bounds(), QualityLevel::EXACT, &mut u);
        assert!(r.complete);
        let fb = apply(&u.bytes, 320, 240);
        let want: Vec<u8> = img.px.iter().flat_map(|p| p.to_be_bytes()).collect();
        assert_eq!(fb, want);
        // every message within 1024 bytes of payload
        let mut pos = 0;
        while pos < u.bytes.len() {
            let len = u16::from_le_bytes([u.bytes[pos + 2], u.bytes[pos + 3]]) as usize;
            assert!(len <= 1024);
            pos += 4 + len;
        }
        let s = u.stats;
        assert!(
            s.codec_messages[1] + s.codec_messages[2] > 0,
            "compression used: {s:?}"
        );
    }

    /// Runs of three pixels in many colours: RLE halves the bytes but spends a token per three
    /// pixels, far more than RAW's copy costs a small CPU.
    fn busy_content(w: u32, h: u32) -> Rgb565Image {
        let mut img = Rgb565Image::filled(w, h, 0);
        for y in 0..h {
            for x in 0..w {
                img.px[(y * w + x) as usize] = ((x / 3 * 37 + y * 11) % 4096) as u16;
            }
        }
        img
    }

    /// Encodes `img` whole with `model` and returns (messages per codec, decoded pixels match).
    fn codecs_chosen(img: &Rgb565Image, model: Option<CostModel>) -> ([u32; 5], EncodeStats) {
        let mut enc = UpdateEncoder::new();
        enc.set_cost_model(model);
        let mut u = UpdateBytes::with_budget(usize::MAX);
        let r = enc.encode_rect(&pw(4096), img, img.bounds(), QualityLevel::EXACT, &mut u);
        assert!(r.complete);
        let want: Vec<u8> = img.px.iter().flat_map(|p| p.to_be_bytes()).collect();
        assert_eq!(apply(&u.bytes, img.width, img.height), want);
        (u.stats.codec_messages, u.stats)
    }

    fn esp32c3_on(link_bytes_per_s: f64) -> Option<CostModel> {
        Some(CostModel {
            decode: crate::DecodeCost::ESP32C3,
            link_bytes_per_s,
            panel_px_per_s: Some(2_500_000.0),
        })
    }

    #[test]
    fn decode_cost_moves_busy_content_to_raw_on_a_fast_link_only() {
        let img = busy_content(320, 240);
        // Without a model the smallest encoding wins: RLE everywhere.
        let (m, s) = codecs_chosen(&img, None);
        assert_eq!((m[0], m[2]), (0, 0), "{m:?}");
        assert!(m[1] > 0);
        assert_eq!(s.device_time(), DeviceTime::NONE);
        // A 160 MHz device on a 2.5 MB/s link: decoding a token per 3 pixels costs more than
        // sending twice the bytes, so RAW.
        let (m, s) = codecs_chosen(&img, esp32c3_on(2_500_000.0));
        assert_eq!((m[1], m[2]), (0, 0), "{m:?}");
        assert!(m[0] > 0);
        // RAW's estimate: 76800 px × 13 cycles / 160 MHz = 6.24 ms over both passes.
        let d = s.device_time();
        assert!((d.receive_s + d.present_s - 0.00624).abs() < 1e-4, "{d:?}");
        // The same device on a 100 kB/s link: bytes dominate, RLE again.
        let (m, s) = codecs_chosen(&img, esp32c3_on(100_000.0));
        assert_eq!((m[0], m[2]), (0, 0), "{m:?}");
        // about one token per 3 pixels at 740 cycles: ~118 ms of device time
        let d = s.device_time();
        assert!((0.10..0.13).contains(&(d.receive_s + d.present_s)), "{d:?}");
    }

    #[test]
    fn decode_cost_keeps_text_like_content_compressed_on_a_fast_link() {
        // Two colours in long runs: few tokens, so compression wins at any link speed.
        let mut img = Rgb565Image::filled(320, 240, 0x0010);
        for y in (0..240).step_by(12) {
            for x in 0..200 {
                img.px[(y * 320 + x) as usize] = 0xFFFF;
            }
        }
        let (m, _) = codecs_chosen(&img, esp32c3_on(2_500_000.0));
        assert_eq!(m[0], 0, "{m:?}");
    }

    #[test]
    fn legacy_packets_are_seed_bands() {
        let img = gradient(320, 240);
        let mut enc = UpdateEncoder::new();
        let mut u = UpdateBytes::with_budget(usize::MAX);
        let fmt = WireFormat::Legacy { max_payload: 8192 };
        enc.encode_rect(&fmt, &img, img.bounds(), QualityLevel::EXACT, &mut u);
        // 320 wide: 12 rows per packet (7680 bytes), 20 packets
        assert_eq!(u.stats.messages, 20);
        assert_eq!(u.bytes.len(), 20 * (12 + 7680));
        assert_eq!(
            &u.bytes[..12],
            [0, 0, 0, 0, 0x01, 0x40, 0, 0x0c, 0, 0, 0x1e, 0]
        );
        let second = &u.bytes[12 + 7680..12 + 7680 + 12];
        assert_eq!(second, [0, 0, 0, 0x0c, 0x01, 0x40, 0, 0x0c, 0, 0, 0x1e, 0]);
    }

    #[test]
    fn budget_stops_between_messages_but_always_progresses() {
        let img = gradient(320, 240);
        let mut enc = UpdateEncoder::new();
        let fmt = WireFormat::Legacy { max_payload: 8192 };
        let mut u = UpdateBytes::with_budget(100);
        let r = enc.encode_rect(&fmt, &img, img.bounds(), QualityLevel::EXACT, &mut u);
        assert!(!r.complete);
        assert_eq!(r.sent, vec![Rect::new(0, 0, 320, 12)]);
        u.budget = 3 * 7692;
        let r = enc.encode_rect(
            &fmt,
            &img,
            Rect::new(0, 12, 320, 228),
            QualityLevel::EXACT,
            &mut u,
        );
        assert_eq!(r.sent.len(), 2);
    }

    /// Issue 13, defect 6: with `frame_buffer_bytes = 4096` and 8 kB packets, frames carried
    /// 6.2–7.4 kB of RECT payload (the first message was always written, whatever its size).
    #[test]
    fn frame_buffer_bytes_caps_every_frame() {
        let img = gradient(320, 240);
        let mut enc = UpdateEncoder::new();
        let mut remaining = vec![img.bounds()];
        let mut frames = 0;
        while let Some(r) = remaining.pop() {
            let mut u = UpdateBytes::with_limits(usize::MAX, 4096);
            let out = enc.encode_rect(&pw(8192), &img, r, QualityLevel::EXACT, &mut u);
            // RECT messages as the device stages them (headers included)
            let (mut pos, mut staged) = (0, 0);
            while pos < u.bytes.len() {
                let len = u16::from_le_bytes([u.bytes[pos + 2], u.bytes[pos + 3]]) as usize;
                assert_eq!(u.bytes[pos], 0x90);
                staged += 4 + len;
                pos += 4 + len;
            }
            assert!(staged <= 4096, "frame {frames} staged {staged} bytes");
            assert_eq!(staged, u.payload);
            assert!(!out.sent.is_empty(), "every frame makes progress");
            if !out.complete {
                // the rest of the rect: below the rows sent (bands are whole rows here)
                let done: u32 = out.sent.iter().map(|p| p.h).sum();
                remaining.push(Rect::new(r.x, r.y + done, r.w, r.h - done));
            }
            frames += 1;
        }
        assert!(frames > 10, "{frames} frames");
    }

    /// Frame buffer sizes, bytes, from a few RECTs to plenty.
    const LIMITS: [usize; 8] = [300, 500, 700, 900, 1200, 1600, 2400, 100_000];

    #[test]
    fn level_error_tables_match_the_quantisation() {
        for l in 0..4 {
            let level = QualityLevel::new(l);
            let t = &LEVEL_CHANNEL_ERROR[usize::from(l)];
            for p in 0..=u16::MAX {
                let from_tables = t[0][usize::from(p >> 11)]
                    + t[1][usize::from((p >> 5) & 0x3F)]
                    + t[2][usize::from(p & 0x1F)];
                assert_eq!(
                    u64::from(from_tables),
                    squared_error(p, level.apply(p)),
                    "level {l} pixel {p:04x}"
                );
            }
        }
    }

    /// Smooth waves: posterised badly by level 3, cheap for DCT.
    fn smooth_waves(w: u32, h: u32) -> Rgb565Image {
        let mut img = Rgb565Image::filled(w, h, 0);
        for y in 0..h {
            for x in 0..w {
                let (fx, fy) = (x as f32, y as f32);
                let r = 16.0 + 15.0 * (fx / 23.0 + fy / 31.0).sin();
                let g = 32.0 + 31.0 * (fx / 37.0 - fy / 19.0).cos();
                let b = 16.0 + 15.0 * (fx / 29.0).sin();
                img.px[(y * w + x) as usize] =
                    ((r as u32) << 11 | (g as u32) << 5 | b as u32) as u16;
            }
        }
        img
    }

    /// A band that chose DCT on one frame tries DCT first on the next, but only keeps it if it
    /// still passes the fidelity test: a band turning into two-colour text that level 3 shows
    /// exactly (so no lossy codec may stand in) goes back to the lossless codecs at once, exact on
    /// the panel, as a fresh encoder would send it.
    #[test]
    fn a_reused_dct_choice_still_meets_the_fidelity_test() {
        let model = esp32c3_on(300_000.0);
        let level = QualityLevel::new(3);
        let mut enc = UpdateEncoder::new();
        enc.set_cost_model(model);
        let waves = smooth_waves(256, 64);
        for _ in 0..2 {
            let mut u = UpdateBytes::with_budget(usize::MAX);
            enc.encode_rect(&pw(8192), &waves, waves.bounds(), level, &mut u);
            assert!(u.stats.codec_messages[4] > 0, "{:?}", u.stats);
        }
        // one-pixel strokes in two colours level 3 shows exactly (its own black and white), so
        // the level's quantisation has no error there for any lossy codec to match
        let (black, white) = (level.apply(0), level.apply(0xFFFF));
        assert_eq!((level.apply(black), level.apply(white)), (black, white));
        let mut text = Rgb565Image::filled(256, 64, black);
        for (i, p) in text.px.iter_mut().enumerate() {
            if (i % 256 + i / 256 * 3) % 5 == 0 {
                *p = white;
            }
        }
        let mut u = UpdateBytes::with_budget(usize::MAX);
        let out = enc.encode_rect(&pw(8192), &text, text.bounds(), level, &mut u);
        assert!(out.complete && out.shown.is_empty());
        assert_eq!(u.stats.codec_messages[3] + u.stats.codec_messages[4], 0);
        // the level's quantisation of the text, which is all a lossless band shows
        let want: Vec<u8> = text
            .px
            .iter()
            .flat_map(|&p| level.apply(p).to_be_bytes())
            .collect();
        assert!(apply(&u.bytes, 256, 64) == want, "not the quantised text");
        let mut fresh = UpdateEncoder::new();
        fresh.set_cost_model(model);
        let mut v = UpdateBytes::with_budget(usize::MAX);
        fresh.encode_rect(&pw(8192), &text, text.bounds(), level, &mut v);
        assert!(u.bytes == v.bytes, "not what a fresh encoder sends");
    }

    /// Smooth moving content below exact quality to a DCT device with frame buffers from tiny to
    /// plenty: every frame stays within the device's `frame_buffer_bytes` and makes progress,
    /// whichever codec wins (a band of several DCT RECTs only goes if it fits what is left), and
    /// DCT is used where there is room.
    #[test]
    fn dct_frames_fit_small_frame_buffers_and_progress() {
        let img = smooth_waves(320, 64);
        let mut enc = UpdateEncoder::new();
        let mut dct_messages = 0;
        for limit in LIMITS {
            let mut u = UpdateBytes::with_limits(usize::MAX, limit);
            let out = enc.encode_rect(&pw(8192), &img, img.bounds(), QualityLevel::new(3), &mut u);
            assert!(u.payload <= limit, "{} > {limit}", u.payload);
            assert!(
                !out.sent.is_empty(),
                "a {limit}-byte frame made no progress"
            );
            dct_messages += u.stats.codec_messages[3] + u.stats.codec_messages[4];
        }
        assert!(dct_messages > 0);
    }

    /// The smallest frame buffer a mono device may declare (one RAW row: 4 + 9 + 1 bytes for a
    /// panel 8 pixels wide) still takes every frame a step further, whatever codec wins.
    #[test]
    fn a_mono_panel_with_the_smallest_frame_buffer_makes_progress() {
        let mut img = Rgb565Image::filled(8, 40, 0);
        for y in 0..20 {
            img.px[y * 8] = 1;
        }
        let fmt = WireFormat::Pixelwire {
            format: PixelFormat::Mono1,
            codecs: CodecSet::all(),
            max_packet_bytes: 64,
        };
        let mut enc = UpdateEncoder::new();
        let mut rows_sent = 0;
        let mut frames = 0;
        while rows_sent < 40 {
            let mut u = UpdateBytes::with_limits(usize::MAX, 14);
            let r = Rect::new(0, rows_sent, 8, 40 - rows_sent);
            let out = enc.encode_rect(&fmt, &img, r, QualityLevel::EXACT, &mut u);
            assert!(!out.sent.is_empty(), "frame {frames} sent nothing");
            assert!(u.payload <= 14);
            rows_sent += out.sent.iter().map(|p| p.h).sum::<u32>();
            frames += 1;
        }
        assert_eq!(frames, 40);
    }

    #[test]
    fn wide_rects_split_into_columns() {
        let img = gradient(1000, 4);
        let mut enc = UpdateEncoder::new();
        let fmt = WireFormat::Pixelwire {
            format: PixelFormat::Rgb565(PixelOrder::LittleEndian),
            codecs: CodecSet::EMPTY.with(Codec::Raw),
            max_packet_bytes: 512,
        };
        let mut u = UpdateBytes::with_budget(usize::MAX);
        let r = enc.encode_rect(&fmt, &img, img.bounds(), QualityLevel::EXACT, &mut u);
        assert!(r.complete);
        assert!(r.sent.iter().all(|p| p.w * 2 <= 512 - 9));
        let fb = apply(&u.bytes, 1000, 4);
        let want: Vec<u8> = img.px.iter().flat_map(|p| p.to_le_bytes()).collect();
        assert_eq!(fb, want);
    }
}
