//! The SSD1306 as the firmware drives it between sessions: the status screen (the compact layout)
//! on 128x64 and 128x32 modules, the overlay line over the last image, and a module turned by
//! 180°, all checked on a virtual SSD1306 that decodes the SPI stream. `STATUS_PNG=dir` also
//! writes the screens as PNG files to look at.

mod common;

use common::NoDelay;
use core::convert::Infallible;
use embassy_futures::block_on;
use embedded_graphics::pixelcolor::Rgb565;
use embedded_graphics::prelude::*;
use pixelwire_panel::display::{Display, Painter};
use pixelwire_panel::ssd1306::Ssd1306;
use pixelwire_panel::status::{OVERLAY_ROWS, StatusInfo, draw_overlay, draw_status};
use pixelwire_panel::virtual_ssd1306::{VirtualSsd1306, VirtualSsdDc, VirtualSsdSpi};
use pixelwire_panel::{Rotation, Runner};

fn info() -> StatusInfo<'static> {
    common::status_info("ssd1306 128x64 rot 0")
}

fn save(name: &str, w: u16, h: u16, px: &[u16]) {
    let Ok(dir) = std::env::var("STATUS_PNG") else {
        return;
    };
    let file = std::fs::File::create(format!("{dir}/{name}.png")).unwrap();
    let mut enc = png::Encoder::new(file, u32::from(w), u32::from(h));
    enc.set_color(png::ColorType::Grayscale);
    let mut wr = enc.write_header().unwrap();
    let grey: Vec<u8> = px.iter().map(|&p| if p == 0 { 0 } else { 255 }).collect();
    wr.write_image_data(&grey).unwrap();
}

type Oled<'b> = Ssd1306<'b, VirtualSsdSpi, VirtualSsdDc>;

fn oled<'b>(glass: &VirtualSsd1306, h: u16, rotation: Rotation, fb: &'b mut [u8]) -> Oled<'b> {
    let mut scratch = [0u8; 128];
    let mut d = Ssd1306::new(glass.spi(), glass.dc(), 128, h, fb)
        .and_then(|d| d.with_rotation(rotation))
        .expect("an SSD1306 size and rotation");
    block_on(d.init(&mut NoDelay::default(), &mut scratch)).unwrap();
    d
}

/// The framebuffer as pixel values, row-major.
fn framebuffer(d: &Oled<'_>) -> Vec<u16> {
    let f = d.frame();
    (0..f.height())
        .flat_map(|y| (0..f.width()).map(move |x| (x, y)))
        .map(|(x, y)| f.pixel(x, y))
        .collect()
}

/// Lit pixels in rows `[y0, y1)` of a 128-wide render.
fn lit(v: &[u16], y0: usize, y1: usize) -> usize {
    v[y0 * 128..y1 * 128].iter().filter(|&&p| p != 0).count()
}

#[test]
fn compact_status_screen_on_128x64_and_128x32() {
    for h in [64u16, 32] {
        let glass = VirtualSsd1306::new(128, h);
        let mut fb = vec![0u8; 128 * 64 / 8];
        let mut d = oled(&glass, h, Rotation::Deg0, &mut fb);
        // The runner's small mono strip is enough scratch.
        let mut scratch = [0u8; 128];
        block_on(draw_status(&mut d, &mut scratch, &info())).unwrap();
        assert!(glass.faults().is_empty(), "{:?}", glass.faults());
        let v = glass.render();
        save(&format!("ssd1306-128x{h}"), 128, h, &v);
        assert_eq!(
            v,
            framebuffer(&d),
            "128x{h}: the glass shows the framebuffer"
        );
        // One line of text per 10 rows, every one of them drawn, light on a dark background.
        let lines = usize::from(h) / 10;
        let top = (usize::from(h) - lines * 10) / 2;
        for l in 0..lines {
            let n = lit(&v, top + l * 10, top + l * 10 + 10);
            assert!(n > 60, "128x{h} line {l}: {n} lit pixels");
        }
        let all = lit(&v, 0, usize::from(h));
        assert!(
            all < v.len() / 3,
            "128x{h}: {all} lit, the background is dark"
        );
    }
}

/// A test image: a one-pixel frame and a diagonal, so that any flip shows.
struct Pattern;

impl Painter for Pattern {
    fn paint<T>(&self, target: &mut T)
    where
        T: DrawTarget<Color = Rgb565, Error = Infallible>,
    {
        let size = target.bounding_box().size;
        let (w, h) = (size.width as i32, size.height as i32);
        let px = (0..h)
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .map(|(x, y)| {
                let on =
                    x == 0 || y == 0 || x == w - 1 || y == h - 1 || x == 2 * y || (x + y) % 7 == 0;
                Pixel(
                    Point::new(x, y),
                    if on { Rgb565::WHITE } else { Rgb565::BLACK },
                )
            });
        let _ = target.draw_iter(px);
    }
}

#[test]
fn overlay_keeps_the_image_above_it() {
    let glass = VirtualSsd1306::new(128, 64);
    let mut fb = vec![0u8; 128 * 64 / 8];
    let mut d = oled(&glass, 64, Rotation::Deg0, &mut fb);
    let mut scratch = [0u8; 128];
    block_on(d.paint(0, 64, &mut scratch, &Pattern)).unwrap();
    let image = glass.render();
    assert!(image.contains(&1) && image.contains(&0));
    block_on(draw_overlay(
        &mut d,
        &mut scratch,
        "server closed the connection",
    ))
    .unwrap();
    let v = glass.render();
    save("ssd1306-overlay", 128, 64, &v);
    let split = (64 - usize::from(OVERLAY_ROWS)) * 128;
    assert!(
        v[..split] == image[..split],
        "the image above the overlay changed"
    );
    assert_ne!(v[split..], image[split..]);
    // A dark bar with lit text: the bar's edge columns are dark, some text is lit.
    assert!((64 - 12..64).all(|y| v[y * 128] == 0 && v[y * 128 + 127] == 0));
    assert!(lit(&v, 64 - 12, 64) > 100);
    assert!(glass.faults().is_empty(), "{:?}", glass.faults());
}

#[test]
fn a_module_turned_by_180_degrees_shows_the_image_upright() {
    let mut shown = Vec::new();
    for rotation in [Rotation::Deg0, Rotation::Deg180] {
        let glass = VirtualSsd1306::new(128, 32);
        let mut fb = vec![0u8; 128 * 32 / 8];
        let mut d = oled(&glass, 32, rotation, &mut fb);
        block_on(d.paint(0, 32, &mut [0u8; 64], &Pattern)).unwrap();
        assert_eq!(d.rotation(), rotation);
        assert!(glass.faults().is_empty(), "{:?}", glass.faults());
        shown.push((glass.render(), framebuffer(&d)));
    }
    let [(upright, fb0), (turned, fb180)] = &shown[..] else {
        unreachable!()
    };
    assert_eq!(upright, fb0, "at 0° the glass is the framebuffer");
    assert_eq!(fb0, fb180, "the same content");
    // Seen on a module in its usual orientation, a 180° setting shows the content upside down:
    // right for a module mounted upside down.
    let reversed: Vec<u16> = upright.iter().rev().copied().collect();
    assert_eq!(turned, &reversed);
    assert_ne!(turned, upright);
}

#[test]
fn quarter_turns_are_refused() {
    let glass = VirtualSsd1306::new(128, 64);
    let mut fb = vec![0u8; 1024];
    for r in [Rotation::Deg90, Rotation::Deg270] {
        let d = Ssd1306::new(glass.spi(), glass.dc(), 128, 64, &mut fb).unwrap();
        assert!(d.with_rotation(r).is_none());
    }
}

#[test]
fn the_runner_declares_mono1_for_an_ssd1306() {
    let glass = VirtualSsd1306::new(128, 32);
    let mut fb = vec![0u8; 128 * 32 / 8];
    let d = oled(&glass, 32, Rotation::Deg180, &mut fb);
    assert_eq!(
        (d.width(), d.height(), d.pixel_format()),
        (128, 32, pixelwire_proto::PixelFormat::Mono1)
    );
    let (mut rx, mut staging, mut a, mut b) = ([0u8; 64], [0u8; 4096], [0u8; 128], [0u8; 2]);
    let runner = Runner::new(
        d,
        pixelwire_panel::Buffers {
            rx: &mut rx,
            staging: &mut staging,
            strips: [&mut a, &mut b],
        },
        pixelwire_panel::RunnerConfig {
            device_id: pixelwire_proto::ShortStr::new("oled").unwrap(),
            firmware: pixelwire_proto::ShortStr::new("test").unwrap(),
            window: 2,
            max_packet_bytes: 8192,
            stats_interval_us: 1_000_000,
        },
    );
    let hello = runner.hello();
    assert_eq!(hello.pixel_format, pixelwire_proto::PixelFormat::Mono1);
    assert_eq!((hello.width, hello.height), (128, 32));
}
