//! Device-side decode cost, for `BENCHMARKS.md` ("Firmware decode cost"): the firmware's own
//! no_std code (`pixelwire_panel::present` = RECT decoder + strip filler + panel driver, and the
//! whole `Runner`: framer, protocol session, staging, present) run on the host into a no-op SPI
//! bus, over realistic server output for the 320x240 golden frames (`testdata/golden`).
//!
//! Run it under callgrind, which counts instructions only inside the `measure_*` functions:
//!
//! ```sh
//! cargo build --release -p pixelwire-panel --example decode_cost
//! valgrind --tool=callgrind --toggle-collect='*measure_*' \
//!     target/release/examples/decode_cost unit bios rle
//! ```
//!
//! `crates/panel/examples/decode_cost.sh` runs every case and prints the tables. Modes:
//!
//! * `unit CONTENT CODEC`: every part encoded with one codec (RAW and RLE: 16-row full-width bands;
//!   PALETTE_RLE: the 16x16 tiles of at most 16 colours), `present` only: the pure codec cost.
//! * `frame CONTENT SET`: a full-frame repaint as the server encodes it (`UpdateEncoder`, codecs
//!   `all` or `raw`, 8 KiB packets), through the whole runner (receive pass + present).
//! * `check CONTENT CODEC [DCT_QUALITY]`: the same stream as `unit`, through the receive pass only
//!   (the session's checking-only decoder).
//! * `info CONTENT`: prints the pixel and byte counts of each case (no measurement).
//! * `digest`: hashes of what the DCT decoders output (both byte orders, checking only too) for
//!   the golden frames at qualities 1 to 100 and for corrupted copies of those streams: equal
//!   digests before and after a decoder change mean bit-identical pixels and the same verdicts.
//!
//! Each measured case runs [`REPEAT`] times; divide by it.

use embedded_hal_async::spi::{ErrorType, Operation, SpiDevice};
use pixelwire_core::{
    ColorCorrection, Dither, QualityLevel, Rect, Rgb565Converter, Rgb565Image, UpdateBytes,
    UpdateEncoder, WireFormat,
};
use pixelwire_panel::runner::NoHooks;
use pixelwire_panel::virtual_panel::block_on;
use pixelwire_panel::{
    Buffers, Clock, Controller, Panel, PanelConfig, Rotation, Runner, RunnerConfig,
};
use pixelwire_proto::{
    Codec, CodecSet, FrameEnd, PROTOCOL_VERSION, PixelFormat, PixelOrder, RectHeader, ShortStr,
    Welcome,
};
use std::convert::Infallible;
use std::hint::black_box;

/// Times each measured case runs.
const REPEAT: u32 = 5;
/// Strip size of the firmware: 8 lines of 320 pixels.
const STRIP_BYTES: usize = 320 * 8 * 2;

/// An SPI bus that takes every byte at once.
struct NullSpi;

impl ErrorType for NullSpi {
    type Error = Infallible;
}

impl SpiDevice for NullSpi {
    async fn transaction(&mut self, ops: &mut [Operation<'_, u8>]) -> Result<(), Infallible> {
        black_box(ops);
        Ok(())
    }
}

struct NullPin;

impl embedded_hal::digital::ErrorType for NullPin {
    type Error = Infallible;
}

impl embedded_hal::digital::OutputPin for NullPin {
    fn set_low(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
    fn set_high(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

struct StillClock;

impl Clock for StillClock {
    fn now_us(&self) -> u64 {
        0
    }
    async fn sleep_until(&self, _deadline_us: u64) {}
}

/// A socket that plays a script, then reports the server closed.
struct Script<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl embedded_io_async::ErrorType for Script<'_> {
    type Error = Infallible;
}

impl embedded_io_async::Read for Script<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        // TCP segments of 1460 bytes, as a WiFi link delivers them.
        let n = buf.len().min(1460).min(self.bytes.len() - self.at);
        buf[..n].copy_from_slice(&self.bytes[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl embedded_io_async::Write for Script<'_> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        Ok(buf.len())
    }
    async fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

fn load(name: &str) -> Rgb565Image {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/golden")
        .join(format!("{name}-320x240.png"));
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .expect("PNG header");
    let mut rgba = vec![0; reader.output_buffer_size().expect("PNG size")];
    let info = reader.next_frame(&mut rgba).expect("PNG data");
    assert_eq!(
        info.color_type,
        png::ColorType::Rgba,
        "golden frames are RGBA"
    );
    let mut img = Rgb565Image::filled(info.width, info.height, 0);
    Rgb565Converter::new(ColorCorrection::default(), Dither::None).convert(&rgba, &mut img);
    img
}

/// RECT messages covering `parts` of `img`, each in `codec` (DCT at `quality`, in 128x16 RECTs);
/// returns (bytes, pixels).
fn unit_stream(img: &Rgb565Image, codec: Codec, quality: u8) -> (Vec<u8>, u64) {
    let mut parts = Vec::new();
    if matches!(codec, Codec::Dct | Codec::DctHalf) {
        let s = if codec == Codec::DctHalf { 2 } else { 1 };
        for y in (0..img.height).step_by(16 * s) {
            for x in (0..img.width).step_by(128 * s) {
                parts.push(Rect::new(
                    x,
                    y,
                    (128 * s as u32).min(img.width - x),
                    (16 * s as u32).min(img.height - y),
                ));
            }
        }
    } else if codec == Codec::PaletteRle {
        for y in (0..img.height).step_by(16) {
            for x in (0..img.width).step_by(16) {
                parts.push(Rect::new(
                    x,
                    y,
                    16.min(img.width - x),
                    16.min(img.height - y),
                ));
            }
        }
    } else {
        for y in (0..img.height).step_by(16) {
            parts.push(Rect::new(0, y, img.width, 16.min(img.height - y)));
        }
    }
    let mut out = Vec::new();
    let mut pixels = 0;
    let mut payload = vec![0u8; 320 * 16 * 3 + 64];
    for r in parts {
        let encoded = match codec {
            Codec::Dct => pixelwire_proto::codec::dct::encode(img.pixels(r), quality, &mut payload),
            Codec::DctHalf => {
                pixelwire_proto::codec::dct::encode_half(img.pixels(r), quality, &mut payload)
            }
            _ => codec.encode(img.pixels(r), PixelOrder::BigEndian, &mut payload),
        };
        let Ok(n) = encoded else {
            continue; // PALETTE_RLE on more than 16 colours
        };
        let hdr = RectHeader {
            x: r.x as u16,
            y: r.y as u16,
            w: r.w as u16,
            h: r.h as u16,
            codec,
        };
        let mut head = [0u8; 13];
        hdr.encode(&mut head, n)
            .expect("13 bytes hold a RECT header");
        out.extend_from_slice(&head);
        out.extend_from_slice(&payload[..n]);
        pixels += r.area();
    }
    (out, pixels)
}

/// A full-frame repaint as the server encodes it, at `level`.
fn frame_stream(img: &Rgb565Image, codecs: CodecSet, level: QualityLevel) -> (Vec<u8>, [u32; 5]) {
    let mut enc = UpdateEncoder::new();
    let mut u = UpdateBytes::with_budget(usize::MAX);
    let fmt = WireFormat::Pixelwire {
        format: PixelFormat::Rgb565(PixelOrder::BigEndian),
        codecs,
        max_packet_bytes: 8192,
    };
    enc.encode_rect(&fmt, img, img.bounds(), level, &mut u);
    (u.bytes, u.stats.codec_messages)
}

fn panel() -> Panel<NullSpi, NullPin> {
    Panel::new(
        NullSpi,
        NullPin,
        PanelConfig::new(Controller::Ili9341).with_rotation(Rotation::Deg90),
    )
}

/// Decodes `staged` onto the panel `REPEAT` times (what FRAME_END costs).
#[inline(never)]
fn measure_present(staged: &[u8]) -> u64 {
    let mut p = panel();
    let (mut a, mut b) = (vec![0u8; STRIP_BYTES], vec![0u8; STRIP_BYTES]);
    let mut px = 0;
    for _ in 0..REPEAT {
        let r = block_on(pixelwire_panel::present::present(
            &mut p,
            black_box(staged),
            &mut a,
            &mut b,
            &StillClock,
        ))
        .expect("a null bus cannot fail");
        px += r.pixels;
    }
    px
}

/// Checks `stream` `REPEAT` times as the firmware's receive pass does (the session's decoder in
/// checking-only mode: every byte validated, no pixels produced); returns the events seen.
#[inline(never)]
fn measure_check(stream: &[u8]) -> usize {
    let mut n = 0;
    for _ in 0..REPEAT {
        let mut d = pixelwire_proto::Decoder::default().checking_only();
        n += d.feed(black_box(stream)).filter(|e| e.is_ok()).count();
    }
    n
}

/// The whole device side for `script` (WELCOME, then `REPEAT` frames): framer, protocol session,
/// staging, present, acks.
#[inline(never)]
fn measure_runner(script: &[u8]) -> String {
    let (mut rx, mut staging) = (vec![0u8; 4096], vec![0u8; 160 * 1024]);
    let (mut a, mut b) = (vec![0u8; STRIP_BYTES], vec![0u8; STRIP_BYTES]);
    let mut runner = Runner::new(
        panel(),
        Buffers {
            rx: &mut rx,
            staging: &mut staging,
            strips: [&mut a, &mut b],
        },
        RunnerConfig {
            device_id: ShortStr::truncating("bench"),
            firmware: ShortStr::truncating("bench"),
            window: 2,
            max_packet_bytes: 8192,
            stats_interval_us: u64::MAX / 2,
        },
    );
    let mut socket = Script {
        bytes: black_box(script),
        at: 0,
    };
    let end = block_on(runner.run(&mut socket, &StillClock, &mut NoHooks));
    end.to_string()
}

fn session_script(frame: &[u8]) -> Vec<u8> {
    let mut s = vec![0u8; 11];
    Welcome {
        version: PROTOCOL_VERSION,
        keepalive_ms: 60_000,
        window: 2,
        codecs: CodecSet::all(),
    }
    .encode(&mut s)
    .expect("11 bytes hold a WELCOME");
    let rects = count_rects(frame);
    for seq in 1..=REPEAT {
        s.extend_from_slice(frame);
        let mut fe = [0u8; 18];
        FrameEnd {
            seq,
            capture_time_us: 0,
            rect_count: rects,
        }
        .encode(&mut fe)
        .expect("18 bytes hold a FRAME_END");
        s.extend_from_slice(&fe);
    }
    s
}

fn count_rects(stream: &[u8]) -> u16 {
    let (mut at, mut n) = (0usize, 0u16);
    while at + 4 <= stream.len() {
        at += 4 + usize::from(u16::from_le_bytes([stream[at + 2], stream[at + 3]]));
        n += 1;
    }
    n
}

/// Pixel runs (literals and fills) the decoder emits for `stream`: the per-token work.
fn runs(stream: &[u8]) -> usize {
    let mut d = pixelwire_proto::Decoder::default();
    d.feed(stream)
        .filter(|e| {
            matches!(
                e,
                Ok(pixelwire_proto::Event::Pixels(_) | pixelwire_proto::Event::Fill { .. })
            )
        })
        .count()
}

/// FNV-1a over `bytes`, continuing from `h`.
fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// Decodes every RECT of `stream` (whole, in both byte orders, and checking only) and hashes the
/// pixels and any error: equal digests before and after a decoder change mean the same output.
fn stream_digest(stream: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325;
    for order in [PixelOrder::BigEndian, PixelOrder::LittleEndian] {
        for check in [false, true] {
            let mut d = pixelwire_proto::Decoder::default().with_format(PixelFormat::Rgb565(order));
            if check {
                d = d.checking_only();
            }
            for ev in d.feed(stream) {
                match ev {
                    Ok(pixelwire_proto::Event::Chunk(c)) => h = fnv(h, c.as_bytes()),
                    Ok(pixelwire_proto::Event::Fill { pixel, count }) => {
                        h = fnv(fnv(h, &pixel), &count.to_le_bytes());
                    }
                    Ok(pixelwire_proto::Event::RectEnd) => h = fnv(h, b"end"),
                    Ok(_) => {}
                    Err(e) => h = fnv(h, e.to_string().as_bytes()),
                }
            }
        }
    }
    h
}

/// Digests of the decoder's output over the golden frames at many qualities, and over corrupted
/// copies of those streams (bits flipped, bytes cut), for checking that a decoder change keeps
/// every output bit (and every verdict on a bad payload) the same.
fn digest() {
    let mut all = 0xcbf2_9ce4_8422_2325;
    for content in ["bios", "cpu", "pattern"] {
        let img = load(content);
        for codec in [Codec::Dct, Codec::DctHalf] {
            for q in [1u8, 10, 30, 50, 75, 90, 100] {
                let (stream, _) = unit_stream(&img, codec, q);
                let mut h = stream_digest(&stream);
                // corrupted copies: a deterministic pseudo-random walk of flips and cuts
                let mut seed = u32::from(q) * 7919 + stream.len() as u32;
                for _ in 0..40 {
                    let mut bad = stream.clone();
                    for _ in 0..3 {
                        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                        let at = (seed >> 8) as usize % bad.len();
                        bad[at] ^= 1 << (seed >> 4 & 7);
                    }
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    if seed & 1 == 0 {
                        bad.truncate((seed >> 8) as usize % bad.len());
                    }
                    h = fnv(h, &stream_digest(&bad).to_le_bytes());
                }
                println!("{content} {} q{q}: {h:016x}", codec.name());
                all = fnv(all, &h.to_le_bytes());
            }
        }
    }
    println!("all: {all:016x}");
}

fn codec_by_name(s: &str) -> Codec {
    Codec::from_name(s).unwrap_or_else(|| panic!("codec raw, rle or palette_rle, not {s}"))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
    match arg(0) {
        "unit" => {
            let img = load(arg(1));
            let quality = arg(3).parse().unwrap_or(75);
            let (stream, pixels) = unit_stream(&img, codec_by_name(arg(2)), quality);
            let px = measure_present(&stream);
            assert_eq!(px, pixels * u64::from(REPEAT));
            println!(
                "unit {} {} pixels {pixels} bytes {}",
                arg(1),
                arg(2),
                stream.len()
            );
        }
        "check" => {
            let img = load(arg(1));
            let quality = arg(3).parse().unwrap_or(75);
            let (stream, pixels) = unit_stream(&img, codec_by_name(arg(2)), quality);
            assert!(measure_check(&stream) > 0);
            println!(
                "check {} {} pixels {pixels} bytes {}",
                arg(1),
                arg(2),
                stream.len()
            );
        }
        "frame" => {
            let img = load(arg(1));
            let (set, level) = match arg(2) {
                "raw" => (CodecSet::EMPTY.with(Codec::Raw), QualityLevel::EXACT),
                "all" => (CodecSet::all(), QualityLevel::EXACT),
                // a moving screen at level 2: DCT where it pays
                "motion" => (CodecSet::all(), QualityLevel::new(2)),
                other => panic!("frame codec set raw, all or motion, not {other}"),
            };
            let (stream, _) = frame_stream(&img, set, level);
            let script = session_script(&stream);
            let end = measure_runner(&script);
            assert_eq!(end, "server closed the connection");
            println!("frame {} {} bytes {}", arg(1), arg(2), stream.len());
        }
        "info" => {
            let img = load(arg(1));
            for c in Codec::ALL {
                let (s, px) = unit_stream(&img, c, 75);
                println!(
                    "unit {} {} pixels {px} bytes {} runs {}",
                    arg(1),
                    c.name(),
                    s.len(),
                    runs(&s)
                );
            }
            for (name, set, level) in [
                ("raw", CodecSet::EMPTY.with(Codec::Raw), QualityLevel::EXACT),
                ("all", CodecSet::all(), QualityLevel::EXACT),
                ("motion", CodecSet::all(), QualityLevel::new(2)),
            ] {
                let (s, msgs) = frame_stream(&img, set, level);
                println!(
                    "frame {} {name} bytes {} messages raw/rle/palette/dct {:?}",
                    arg(1),
                    s.len(),
                    msgs
                );
            }
        }
        "digest" => digest(),
        _ => {
            eprintln!(
                "usage: decode_cost unit CONTENT CODEC [DCT_QUALITY] | check CONTENT CODEC [DCT_QUALITY] | frame CONTENT raw|all|motion | info CONTENT | digest"
            );
            std::process::exit(2);
        }
    }
}
