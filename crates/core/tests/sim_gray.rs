//! Simulation of grey and monochrome panels: the server display session and the protocol crate's
//! device session drawing into a packed double buffer, over a slow link in virtual time, with a
//! moving then still source. At every ACK the device's front buffer must equal the server's shadow
//! committed for that frame (packed the way the wire packs it), and once the source stops the panel
//! must equal the server's target exactly. A device that declares no grey format (RGB565) gets
//! RGB565, and a grey device never gets a RECT whose `x` is not byte-aligned. The lossy DCT codec
//! (0x03, RGB565 only) goes only to a device whose HELLO lists it: under full motion an RGB565
//! device with every codec gets DCT, one with the lossless codecs never does, nor does a grey one
//! that lists DCT (every RECT header on the wire is checked).

mod common;

use common::Pipe;
use pixelwire_core::{
    DisplaySession, Dither, Frame, NoClock, Rgb565Image, SessionConfig, SessionEvent, Timestamp,
};
use pixelwire_proto::{
    Codec, CodecSet, Decoder, DeviceSession, DoubleBuffer, Event, Hello, PixelFormat, PixelOrder,
    ShortStr,
};
use std::collections::HashMap;
use std::sync::Arc;

/// A `w × h` source: a horizontal grey ramp, a colour bar, and a 20x20 box moving 3 px a frame.
fn source_frame(w: u32, h: u32, n: u64, moving: bool, t_us: u64) -> Frame {
    let k = if moving { n } else { 0 };
    let (bx, by) = ((k * 3) % u64::from(w - 20), (k * 2) % u64::from(h - 20));
    let mut rgba = Vec::with_capacity((w * h * 4) as usize);
    for y in 0..u64::from(h) {
        for x in 0..u64::from(w) {
            let c = if x >= bx && x < bx + 20 && y >= by && y < by + 20 {
                [240, 240, 240]
            } else if y < 6 {
                [(x * 255 / u64::from(w)) as u8, 40, 200]
            } else {
                let v = (x * 255 / u64::from(w)) as u8;
                [v, v, v]
            };
            rgba.extend_from_slice(&[c[0], c[1], c[2], 255]);
        }
    }
    Frame {
        width: w,
        height: h,
        rgba,
        seq: n,
        capture_time_us: t_us,
    }
}

/// An image's values packed the way `format` travels (and a packed framebuffer holds them).
fn pack(img: &Rgb565Image, format: PixelFormat) -> Vec<u8> {
    let w = img.width as usize;
    let mut out = Vec::new();
    for row in img.px.chunks(w) {
        if let PixelFormat::Rgb565(o) = format {
            out.extend(row.iter().flat_map(|&p| o.to_bytes(p)));
        } else {
            out.extend((0..format.row_units(w)).map(|i| format.pack_unit(row, i) as u8));
        }
    }
    out
}

struct Outcome {
    acks_checked: u32,
    tears: Vec<String>,
    panel: Vec<u8>,
    target: Vec<u8>,
    sink_format: PixelFormat,
    bytes: u64,
    unaligned: u32,
    psnr_db: Option<f64>,
    /// RECTs on the wire, by codec id.
    rect_codecs: [u32; 5],
    /// Coarsest quality level a frame was sent at (0 = exact).
    max_level: u8,
}

/// A source: frame `n` of a `w × h` picture at `t_us`, moving or standing still.
type Source = fn(w: u32, h: u32, n: u64, moving: bool, t_us: u64) -> Frame;

/// Full motion: smooth gradients scrolling every frame (nothing a palette or a run catches), so
/// the rate controller goes below exact quality, where the server offers DCT.
fn gradients(w: u32, h: u32, n: u64, moving: bool, t_us: u64) -> Frame {
    let (fw, fh) = (u64::from(w), u64::from(h));
    let k = if moving { n } else { 0 };
    let mut rgba = Vec::with_capacity((w * h * 4) as usize);
    for y in 0..fh {
        for x in 0..fw {
            let r = ((x + k * 3) * 255 / fw) % 256;
            let g = ((y + k * 2) * 255 / fh) % 256;
            let b = (x + y + k) * 128 / (fw + fh) % 256;
            rgba.extend_from_slice(&[r as u8, g as u8, b as u8, 255]);
        }
    }
    Frame {
        width: w,
        height: h,
        rgba,
        seq: n,
        capture_time_us: t_us,
    }
}

fn run(format: PixelFormat, w: u32, h: u32, link_bytes_per_s: f64, dither: Dither) -> Outcome {
    let device = Device {
        format,
        w,
        h,
        codecs: CodecSet::all(),
    };
    run_with(&device, link_bytes_per_s, dither, source_frame)
}

/// What the simulated device declares in its HELLO.
#[derive(Clone, Copy)]
struct Device {
    format: PixelFormat,
    w: u32,
    h: u32,
    codecs: CodecSet,
}

fn run_with(dev: &Device, link_bytes_per_s: f64, dither: Dither, source: Source) -> Outcome {
    let Device {
        format,
        w,
        h,
        codecs,
    } = *dev;
    let mut cfg = SessionConfig::default();
    cfg.sink.dither = dither;
    let start = 1_700_000_000_000_000u64;
    let mut server = DisplaySession::new(Timestamp::from_micros(start), cfg, Box::new(NoClock));
    let hello = Hello {
        version: 1,
        width: w as u16,
        height: h as u16,
        pixel_format: format,
        codecs,
        max_packet_bytes: 256,
        frame_buffer_bytes: 0,
        window: 2,
        device_id: ShortStr::new("oled").unwrap(),
        firmware: ShortStr::new("sim").unwrap(),
    };
    let mut device = DeviceSession::new(hello, start);
    let n = format.frame_bytes(w as usize, h as usize);
    let mut panel = DoubleBuffer::with_format(w as u16, h as u16, format, vec![0; n], vec![0; n]);
    let mut down = Pipe::new(link_bytes_per_s, 5_000);
    let mut up = Pipe::new(link_bytes_per_s, 5_000);
    up.send(start, device.take_transmit());
    let mut committed: HashMap<u32, Vec<u8>> = HashMap::new();
    let mut watch_down = Decoder::new(u16::MAX).with_format(format);
    let mut watch_up = Decoder::default();
    let mut out = Outcome {
        acks_checked: 0,
        tears: Vec::new(),
        panel: Vec::new(),
        target: Vec::new(),
        sink_format: PixelFormat::default(),
        bytes: 0,
        unaligned: 0,
        psnr_db: None,
        rect_codecs: [0; 5],
        max_level: 0,
    };
    let (moving_until, end) = (start + 3_000_000, start + 6_000_000);
    let (mut now, mut next_frame, mut frame_no) = (start, start, 0u64);
    while now < end {
        if now >= next_frame {
            let frame = source(w, h, frame_no, now < moving_until, now);
            server.handle_frame(Timestamp::from_micros(now), Arc::new(frame));
            frame_no += 1;
            next_frame += 1_000_000 / 30;
        }
        if server.poll_timeout().is_some_and(|t| now >= t.as_micros()) {
            server.handle_timeout(Timestamp::from_micros(now));
        }
        let got = up.take_due(now);
        if !got.is_empty() {
            server.handle_input(Timestamp::from_micros(now), &got);
        }
        while let Some(bytes) = server.poll_transmit() {
            out.bytes += bytes.len() as u64;
            for ev in watch_down.feed(&bytes) {
                if let Ok(Event::RectBegin(r)) = ev {
                    out.rect_codecs[r.codec as usize] += 1;
                    if r.x % format.x_align() != 0 {
                        out.unaligned += 1;
                    }
                }
            }
            down.send(now, &bytes);
        }
        while let Some(ev) = server.poll_event() {
            match ev {
                SessionEvent::Sent(f) => {
                    out.psnr_db = f.psnr_db.or(out.psnr_db);
                    out.max_level = out.max_level.max(f.level);
                    let shadow = server.shadow().expect("streaming");
                    committed.insert(f.seq, pack(shadow, format));
                }
                SessionEvent::Closed(reason) => panic!("server closed: {reason}"),
                _ => {}
            }
        }
        let got = down.take_due(now);
        if !got.is_empty() {
            device
                .handle_input(now, &got, &mut panel)
                .expect("device session");
        }
        if now >= device.poll_timeout() {
            device.handle_timeout(now).expect("device timeout");
        }
        if device.has_transmit() {
            let bytes = device.take_transmit().to_vec();
            for ev in watch_up.feed(&bytes) {
                let Ok(Event::Ack(a)) = ev else { continue };
                match committed.remove(&a.seq) {
                    Some(want) if want == panel.front => out.acks_checked += 1,
                    Some(want) => {
                        let diff = want.iter().zip(&panel.front).filter(|(a, b)| a != b);
                        out.tears
                            .push(format!("ACK {}: {} bytes differ", a.seq, diff.count()));
                    }
                    None => out.tears.push(format!("ACK {} never sent", a.seq)),
                }
                committed.retain(|s, _| *s > a.seq);
            }
            up.send(now, &bytes);
        }
        let next = [
            next_frame,
            server.poll_timeout().map_or(u64::MAX, |t| t.as_micros()),
            device.poll_timeout(),
            up.next().unwrap_or(u64::MAX),
            down.next().unwrap_or(u64::MAX),
        ];
        now = next.into_iter().min().unwrap_or(end).max(now + 1);
    }
    let sink = server.sink().expect("streaming");
    out.panel = panel.front.clone();
    out.target = pack(sink.target(), format);
    out.sink_format = sink.format();
    out
}

fn check(format: PixelFormat, o: &Outcome) {
    assert!(
        o.tears.is_empty(),
        "{format:?}: {:?}",
        &o.tears[..o.tears.len().min(5)]
    );
    assert!(o.acks_checked > 30, "{format:?}: {} acks", o.acks_checked);
    assert_eq!(o.unaligned, 0, "{format:?}: RECTs with unaligned x");
    assert_eq!(o.sink_format, format);
    let diff = o
        .panel
        .iter()
        .zip(&o.target)
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!(diff, 0, "{format:?}: {diff} bytes differ from the target");
    eprintln!(
        "{format:?}: {} acks checked, {} bytes sent, psnr {:?}",
        o.acks_checked, o.bytes, o.psnr_db
    );
}

#[test]
fn mono_oled_128x64_over_a_slow_link() {
    // An SSD1306-class panel on 20 kB/s: a whole frame is 1 KiB.
    let o = run(PixelFormat::Mono1, 128, 64, 20_000.0, Dither::Ordered);
    check(PixelFormat::Mono1, &o);
    let db = o.psnr_db.expect("a figure");
    assert!((4.0..20.0).contains(&db), "mono psnr {db}");
}

#[test]
fn gray4_250x122_width_not_a_multiple_of_8() {
    // e-paper sized: 250 wide, so the last byte of every row is partly padding.
    let o = run(PixelFormat::Gray4, 250, 122, 60_000.0, Dither::Ordered);
    check(PixelFormat::Gray4, &o);
    assert!(o.psnr_db.expect("a figure") > 25.0);
}

#[test]
fn gray8_and_mono_without_dither() {
    let o = run(PixelFormat::Gray8, 100, 40, 50_000.0, Dither::None);
    check(PixelFormat::Gray8, &o);
    let o = run(PixelFormat::Mono1, 61, 33, 20_000.0, Dither::None);
    check(PixelFormat::Mono1, &o);
}

#[test]
fn a_device_that_declares_no_format_gets_rgb565() {
    // The HELLO byte an old device sends (0x00): RGB565, whatever the grey support.
    let format = PixelFormat::Rgb565(PixelOrder::BigEndian);
    let o = run(format, 64, 32, 100_000.0, Dither::Ordered);
    check(format, &o);
    assert_eq!(o.panel.len(), 64 * 32 * 2);
}

/// The DCT control: an RGB565 device listing every codec gets DCT under full motion (so the
/// two tests after it would see DCT if the server sent it), and still ends exact.
#[test]
fn full_motion_to_an_rgb565_device_with_every_codec_uses_dct() {
    let format = PixelFormat::Rgb565(PixelOrder::BigEndian);
    let dev = Device {
        format,
        w: 128,
        h: 64,
        codecs: CodecSet::all(),
    };
    let o = run_with(&dev, 60_000.0, Dither::Ordered, gradients);
    check(format, &o);
    assert!(
        o.rect_codecs[Codec::Dct as usize] + o.rect_codecs[Codec::DctHalf as usize] > 20,
        "{:?}",
        o.rect_codecs
    );
}

#[test]
fn a_device_without_dct_never_gets_it() {
    // A device from before DCT: its HELLO lists the lossless codecs.
    for order in [PixelOrder::BigEndian, PixelOrder::LittleEndian] {
        let format = PixelFormat::Rgb565(order);
        let dev = Device {
            format,
            w: 128,
            h: 64,
            codecs: CodecSet::lossless(),
        };
        let o = run_with(&dev, 60_000.0, Dither::Ordered, gradients);
        check(format, &o);
        assert_eq!(o.rect_codecs[Codec::Dct as usize], 0, "{:?}", o.rect_codecs);
        assert_eq!(
            o.rect_codecs[Codec::DctHalf as usize],
            0,
            "{:?}",
            o.rect_codecs
        );
        // Below exact, where a device with DCT would have got it.
        assert!(o.max_level > 0, "{format:?} stayed exact");
        assert!(
            o.rect_codecs.iter().sum::<u32>() > 100,
            "{:?}",
            o.rect_codecs
        );
    }
}

#[test]
fn a_grey_device_never_gets_dct_even_if_it_lists_it() {
    for format in [PixelFormat::Gray8, PixelFormat::Gray4, PixelFormat::Mono1] {
        let dev = Device {
            format,
            w: 128,
            h: 64,
            codecs: CodecSet::all(),
        };
        let o = run_with(&dev, 20_000.0, Dither::Ordered, gradients);
        check(format, &o);
        assert_eq!(
            o.rect_codecs[Codec::Dct as usize] + o.rect_codecs[Codec::DctHalf as usize],
            0,
            "{format:?}: {:?}",
            o.rect_codecs
        );
        assert!(
            o.rect_codecs.iter().sum::<u32>() > 50,
            "{format:?}: {:?}",
            o.rect_codecs
        );
    }
}

/// The figures in BENCHMARKS.md ("grey and mono panels"): bytes sent and PSNR per format for the
/// same 128x64 source and link. `cargo test -p pixelwire-core --test sim_gray -- --ignored
/// --nocapture`.
#[test]
#[ignore = "prints figures; run by hand"]
fn figures_per_format() {
    for format in [
        PixelFormat::Rgb565(PixelOrder::BigEndian),
        PixelFormat::Gray8,
        PixelFormat::Gray4,
        PixelFormat::Mono1,
    ] {
        for dither in [Dither::None, Dither::Ordered] {
            let o = run(format, 128, 64, 100_000.0, dither);
            check(format, &o);
            println!(
                "| {} | {dither:?} | {} | {:.1} |",
                format.name(),
                o.bytes,
                o.psnr_db.unwrap_or(f64::NAN)
            );
        }
    }
}
