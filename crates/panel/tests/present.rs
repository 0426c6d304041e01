//! Staged RECTs reach the panel exactly: every codec, rectangles hanging off the panel, strips of
//! odd sizes (long runs and literals split across strips), compared pixel for pixel with the
//! protocol crate's reference framebuffer writer. And random bytes never panic the strip filler.

mod common;

use common::NoDelay;
use embassy_futures::block_on;
use pixelwire_panel::present::present;
use pixelwire_panel::strip::StripFiller;
use pixelwire_panel::{Clock, Controller, Panel, PanelConfig, Rotation, VirtualPanel, Window};
use pixelwire_proto::{Codec, Decoder, FramebufferWriter, PixelOrder, Pixels, RectHeader};

struct ZeroClock;

impl Clock for ZeroClock {
    fn now_us(&self) -> u64 {
        0
    }
    async fn sleep_until(&self, _deadline_us: u64) {}
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// A RECT message with `codec` (RAW when the codec cannot encode these pixels).
fn rect_message(x: u16, y: u16, w: u16, h: u16, px: &[u16], codec: Codec) -> Vec<u8> {
    let mut payload = vec![0u8; px.len() * 3 + 64];
    let pixels = Pixels::packed(px, usize::from(w), usize::from(h));
    let (codec, n) = match codec.encode(pixels, PixelOrder::BigEndian, &mut payload) {
        Ok(n) => (codec, n),
        Err(_) => (
            Codec::Raw,
            Codec::Raw
                .encode(pixels, PixelOrder::BigEndian, &mut payload)
                .unwrap(),
        ),
    };
    let hdr = RectHeader { x, y, w, h, codec };
    let mut msg = vec![0u8; 13];
    hdr.encode(&mut msg, n).unwrap();
    msg.extend_from_slice(&payload[..n]);
    msg
}

fn random_frame(rng: &mut Rng, pw: u16, ph: u16) -> Vec<u8> {
    let mut staged = Vec::new();
    for _ in 0..12 {
        // Some rectangles hang off the right or bottom edge, or lie entirely off the panel.
        let x = rng.below(u64::from(pw) + 40) as u16;
        let y = rng.below(u64::from(ph) + 40) as u16;
        let w = 1 + rng.below(90) as u16;
        let h = 1 + rng.below(70) as u16;
        let kind = rng.below(3);
        let px: Vec<u16> = (0..u32::from(w) * u32::from(h))
            .map(|i| match kind {
                0 => rng.next() as u16,                                       // noise
                1 => [0x1234, 0xF800, 0x07E0][(i / 37 % 3) as usize],         // runs
                _ => [0x0000, 0xFFFF, 0x001F, 0x8410][rng.below(4) as usize], // few colours
            })
            .collect();
        let codec = [Codec::Raw, Codec::Rle, Codec::PaletteRle][rng.below(3) as usize];
        staged.extend(rect_message(x, y, w, h, &px, codec));
    }
    staged
}

fn reference(staged: &[u8], w: u16, h: u16, fb: &mut [u8]) {
    let mut d = Decoder::default();
    let mut fbw = FramebufferWriter::new(w, h);
    for ev in d.feed(staged) {
        fbw.apply(fb, &ev.unwrap());
    }
}

#[test]
fn staged_frames_match_the_reference_writer() {
    let cfg = PanelConfig::new(Controller::Ili9341).with_rotation(Rotation::Deg90);
    let (w, h) = (cfg.width(), cfg.height());
    let vp = VirtualPanel::for_config(&cfg);
    let mut panel = Panel::new(vp.spi(), vp.dc(), cfg);
    block_on(panel.init(&mut NoDelay::default())).unwrap();
    let mut scratch = [0u8; 640];
    block_on(panel.fill(Window { x: 0, y: 0, w, h }, 0, &mut scratch)).unwrap();
    let mut fb = vec![0u8; usize::from(w) * usize::from(h) * 2];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for (i, strip_len) in [2usize, 6, 98, 640, 1000, 5120]
        .into_iter()
        .cycle()
        .take(24)
        .enumerate()
    {
        let staged = random_frame(&mut rng, w, h);
        reference(&staged, w, h, &mut fb);
        let mut a = vec![0u8; strip_len];
        let mut b = vec![0u8; strip_len];
        let report = block_on(present(&mut panel, &staged, &mut a, &mut b, &ZeroClock)).unwrap();
        assert_eq!(report.rects, 12);
        assert_eq!(
            vp.render_visible_be(),
            fb,
            "frame {i}, strips of {strip_len} bytes"
        );
    }
    assert!(vp.faults().is_empty(), "{:?}", vp.faults());
}

#[test]
fn random_input_never_panics_the_filler() {
    let mut rng = Rng(12345);
    let mut strip = vec![0u8; 256];
    for _ in 0..3000 {
        let n = rng.below(200) as usize;
        let mut bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
        if rng.below(2) == 0 && bytes.len() > 4 {
            // Often a plausible RECT header, so the codecs get exercised too.
            bytes[0] = 0x90;
            bytes[1] = 0;
        }
        let mut f = StripFiller::new(&bytes, 320, 240);
        for _ in 0..10_000 {
            match f.next_strip(&mut strip) {
                Ok(Some(s)) => assert!(s.len <= strip.len() && s.len % 2 == 0),
                Ok(None) | Err(_) => break,
            }
        }
    }
}
