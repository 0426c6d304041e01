//! The status screen draws on every panel size without a framebuffer, and the overlay line keeps
//! the last image above it (seed 000 keeps the last streamed image when the link drops).
//! `STATUS_PNG=dir` also writes the screens as PNG files to look at.

mod common;

use common::{NoDelay, test_image};
use embassy_futures::block_on;
use embedded_graphics::pixelcolor::raw::{RawData, RawU16};
use pixelwire_panel::status::{
    BACKGROUND, OVERLAY, OVERLAY_ROWS, StatusInfo, VALUE, draw_overlay, draw_status,
};
use pixelwire_panel::{Controller, Panel, PanelConfig, Rotation, VirtualPanel, Window};

fn raw(c: embedded_graphics::pixelcolor::Rgb565) -> u16 {
    RawU16::from(c).into_inner()
}

fn info() -> StatusInfo<'static> {
    common::status_info("ili9341 320x240 rot 90")
}

fn save(name: &str, w: u16, h: u16, px: &[u16]) {
    let Ok(dir) = std::env::var("STATUS_PNG") else {
        return;
    };
    let file = std::fs::File::create(format!("{dir}/{name}.png")).unwrap();
    let mut enc = png::Encoder::new(file, u32::from(w), u32::from(h));
    enc.set_color(png::ColorType::Rgb);
    let mut wr = enc.write_header().unwrap();
    let rgb: Vec<u8> = px
        .iter()
        .flat_map(|&p| pixelwire_proto::rgb565_to_rgb888(p))
        .collect();
    wr.write_image_data(&rgb).unwrap();
}

#[test]
fn status_screen_on_every_panel() {
    for (name, cfg) in [
        (
            "ili9341",
            PanelConfig::new(Controller::Ili9341).with_rotation(Rotation::Deg90),
        ),
        ("st7789-240x240", {
            PanelConfig::new(Controller::St7789).with_glass((240, 240), (0, 0))
        }),
        ("st7735", PanelConfig::new(Controller::St7735)),
        // 80 rows: the compact layout, drawn in bands like the full one.
        ("st7735-160x80", {
            PanelConfig::new(Controller::St7735)
                .with_glass((80, 160), (26, 1))
                .with_rotation(Rotation::Deg90)
        }),
    ] {
        let vp = VirtualPanel::for_config(&cfg);
        let mut panel = Panel::new(vp.spi(), vp.dc(), cfg);
        let mut scratch = vec![0u8; 320 * 8 * 2];
        block_on(async {
            panel.init(&mut NoDelay::default()).await.unwrap();
            draw_status(&mut panel, &mut scratch, &info())
                .await
                .unwrap();
        });
        assert!(vp.faults().is_empty(), "{:?}", vp.faults());
        let (w, h) = (cfg.width(), cfg.height());
        let v = vp.render_visible();
        save(name, w, h, &v);
        assert_eq!(v.len(), usize::from(w) * usize::from(h));
        let last = v.len() - 1;
        assert_eq!(v[last], raw(BACKGROUND), "{name}");
        let white = v.iter().filter(|&&p| p == raw(VALUE)).count();
        assert!(white > 300, "{name}: {white} white pixels of text");
        // Every pixel was painted (nothing of the black GRAM shows through).
        assert!(v.iter().all(|&p| p != 0), "{name}");
    }
}

#[test]
fn the_overlay_keeps_the_image_above_it() {
    let cfg = PanelConfig::new(Controller::Ili9341).with_rotation(Rotation::Deg90);
    let vp = VirtualPanel::for_config(&cfg);
    let mut panel = Panel::new(vp.spi(), vp.dc(), cfg);
    let img = test_image(320, 240);
    let bytes: Vec<u8> = img.iter().flat_map(|p| p.to_be_bytes()).collect();
    let mut scratch = vec![0u8; 1000];
    block_on(async {
        panel.init(&mut NoDelay::default()).await.unwrap();
        panel
            .set_window(Window {
                x: 0,
                y: 0,
                w: 320,
                h: 240,
            })
            .await
            .unwrap();
        panel.write_pixels(&bytes).await.unwrap();
        draw_overlay(
            &mut panel,
            &mut scratch,
            "link lost: server closed the connection",
        )
        .await
        .unwrap();
    });
    let v = vp.render_visible();
    save("overlay", 320, 240, &v);
    let split = (240 - usize::from(OVERLAY_ROWS)) * 320;
    assert!(
        v[..split] == img[..split],
        "the image above the overlay changed"
    );
    assert!(
        v[split..]
            .iter()
            .all(|&p| p == raw(OVERLAY) || p == raw(VALUE))
    );
    assert!(v[split..].iter().any(|&p| p == raw(VALUE)));
}
