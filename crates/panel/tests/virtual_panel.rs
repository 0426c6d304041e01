//! The virtual panel shows what the driver meant, for every controller, rotation, colour order and
//! glass offset: images drawn in logical coordinates read back unchanged from the visible image,
//! the unrotated glass shows them turned by the rotation, and a wrong setting shows as the fault a
//! real panel would have (swapped colours, inverted colours, a shifted image).

mod common;

use common::{NoDelay, test_image};
use embassy_futures::block_on;
use pixelwire_panel::virtual_panel::Glass;
use pixelwire_panel::{ColorOrder, Controller, Panel, PanelConfig, Rotation, VirtualPanel, Window};

fn panels() -> Vec<(&'static str, PanelConfig)> {
    vec![
        ("ili9341 240x320", PanelConfig::new(Controller::Ili9341)),
        ("st7789 240x320", PanelConfig::new(Controller::St7789)),
        (
            "st7789 240x240",
            PanelConfig::new(Controller::St7789).with_glass((240, 240), (0, 0)),
        ),
        (
            "st7789 135x240 @52,40",
            PanelConfig::new(Controller::St7789).with_glass((135, 240), (52, 40)),
        ),
        ("st7735 128x160 @2,1", PanelConfig::new(Controller::St7735)),
        ("st7735 80x160 @26,1", {
            let mut c = PanelConfig::new(Controller::St7735).with_glass((80, 160), (26, 1));
            c.invert = true;
            c
        }),
    ]
}

/// Draws `img` (logical size) through the driver in strips of 7 rows.
fn draw(vp: &VirtualPanel, cfg: PanelConfig, img: &[u16]) {
    let mut panel = Panel::new(vp.spi(), vp.dc(), cfg);
    block_on(async {
        panel.init(&mut NoDelay::default()).await.unwrap();
        let (w, h) = (panel.width(), panel.height());
        panel.set_window(Window { x: 0, y: 0, w, h }).await.unwrap();
        let bytes: Vec<u8> = img.iter().flat_map(|p| p.to_be_bytes()).collect();
        // Odd-sized pieces: RAMWR continues across transactions, even mid-pixel.
        for chunk in bytes.chunks(usize::from(w) * 7 * 2 + 1) {
            panel.write_pixels(chunk).await.unwrap();
        }
    });
}

fn rotate_cw(img: &[u16], w: usize, h: usize) -> Vec<u16> {
    // Output is h wide, w tall: out(x, y) = img(y, h - 1 - x).
    let mut out = vec![0; w * h];
    for y in 0..w {
        for x in 0..h {
            out[y * h + x] = img[(h - 1 - x) * w + y];
        }
    }
    out
}

#[test]
fn every_panel_and_rotation_shows_the_image_the_right_way_up() {
    for (name, base) in panels() {
        for r in [
            Rotation::Deg0,
            Rotation::Deg90,
            Rotation::Deg180,
            Rotation::Deg270,
        ] {
            let cfg = base.with_rotation(r);
            let (w, h) = (cfg.width(), cfg.height());
            let img = test_image(w, h);
            let vp = VirtualPanel::for_config(&cfg);
            draw(&vp, cfg, &img);
            assert!(vp.faults().is_empty(), "{name} {r:?}: {:?}", vp.faults());
            assert_eq!(vp.visible_size(), (w, h), "{name} {r:?}");
            assert!(
                vp.render_visible() == img,
                "{name} {r:?}: visible image differs"
            );
            // The glass, unrotated, shows the image turned clockwise by the rotation.
            let mut want = img.clone();
            let (mut ww, mut wh) = (usize::from(w), usize::from(h));
            for _ in 0..(r.degrees() / 90) {
                want = rotate_cw(&want, ww, wh);
                (ww, wh) = (wh, ww);
            }
            assert_eq!((ww, wh), (usize::from(cfg.size.0), usize::from(cfg.size.1)));
            assert!(
                vp.render_glass() == want,
                "{name} {r:?}: glass not rotated by {r:?}"
            );
        }
    }
}

#[test]
fn small_windows_land_where_they_should() {
    let cfg = PanelConfig::new(Controller::St7789)
        .with_glass((240, 240), (0, 0))
        .with_rotation(Rotation::Deg270);
    let vp = VirtualPanel::for_config(&cfg);
    let mut panel = Panel::new(vp.spi(), vp.dc(), cfg);
    let mut scratch = [0u8; 64];
    block_on(async {
        panel.init(&mut NoDelay::default()).await.unwrap();
        panel
            .fill(
                Window {
                    x: 0,
                    y: 0,
                    w: 240,
                    h: 240,
                },
                0x0000,
                &mut scratch,
            )
            .await
            .unwrap();
        panel
            .fill(
                Window {
                    x: 5,
                    y: 7,
                    w: 3,
                    h: 2,
                },
                0xF800,
                &mut scratch,
            )
            .await
            .unwrap();
        panel
            .set_window(Window {
                x: 239,
                y: 239,
                w: 1,
                h: 1,
            })
            .await
            .unwrap();
        panel.write_pixels(&[0x07, 0xE0]).await.unwrap();
    });
    let v = vp.render_visible();
    let at = |x: usize, y: usize| v[y * 240 + x];
    for y in 0..240 {
        for x in 0..240 {
            let want = if (5..8).contains(&x) && (7..9).contains(&y) {
                0xF800
            } else if (x, y) == (239, 239) {
                0x07E0
            } else {
                0
            };
            assert_eq!(at(x, y), want, "({x}, {y})");
        }
    }
}

#[test]
fn wrong_settings_show_as_a_real_panel_would() {
    let good = PanelConfig::new(Controller::St7789).with_rotation(Rotation::Deg90);
    let img = test_image(good.width(), good.height());
    // Colour order: an RGB driver on BGR glass swaps red and blue.
    let glass = Glass {
        bgr: true,
        ..Glass::for_config(&good)
    };
    let vp = VirtualPanel::new(glass);
    draw(&vp, good, &img);
    let swap = |v: u16| ((v & 0x1F) << 11) | (v & 0x07E0) | (v >> 11);
    assert!(vp.render_visible() == img.iter().map(|&v| swap(v)).collect::<Vec<_>>());
    let mut bgr = good;
    bgr.color_order = ColorOrder::Bgr;
    let vp = VirtualPanel::new(glass);
    draw(&vp, bgr, &img);
    assert!(vp.render_visible() == img);
    // Inversion: IPS glass driven without INVON shows the complement.
    let mut no_inv = good;
    no_inv.invert = false;
    let vp = VirtualPanel::for_config(&good);
    draw(&vp, no_inv, &img);
    assert!(vp.render_visible() == img.iter().map(|&v| !v).collect::<Vec<_>>());
    // Offsets: a 240x240 glass driven as if it sat elsewhere shows a shifted image.
    let small = PanelConfig::new(Controller::St7789)
        .with_glass((240, 240), (0, 0))
        .with_rotation(Rotation::Deg180);
    let img = test_image(240, 240);
    let vp = VirtualPanel::for_config(&small);
    draw(&vp, small.with_glass((240, 240), (0, 80)), &img);
    assert!(vp.render_visible() != img);
    let vp = VirtualPanel::for_config(&small);
    draw(&vp, small, &img);
    assert!(vp.render_visible() == img);
}

#[test]
fn pixel_data_before_colmod_is_a_fault() {
    let cfg = PanelConfig::new(Controller::Ili9341);
    let vp = VirtualPanel::for_config(&cfg);
    let mut panel = Panel::new(vp.spi(), vp.dc(), cfg);
    block_on(async {
        panel
            .set_window(Window {
                x: 0,
                y: 0,
                w: 1,
                h: 1,
            })
            .await
            .unwrap();
        panel.write_pixels(&[1, 2]).await.unwrap();
    });
    assert_eq!(vp.faults().len(), 1);
    assert!(!vp.is_showing());
}
