//! Exact bytes on the SPI bus: init sequences, address windows and pixel writes, for each
//! controller and rotation, as the virtual panel records them (DC low = `C`, DC high = `D`).
//! The init goldens follow the vendors' application notes; change them only with the driver.

mod common;

use common::{NoDelay, log_text};
use embassy_futures::block_on;
use pixelwire_panel::{Controller, Panel, PanelConfig, Rotation, VirtualPanel, Window};

fn init_log(cfg: PanelConfig) -> (String, u64) {
    let vp = VirtualPanel::for_config(&cfg);
    vp.record();
    let mut panel = Panel::new(vp.spi(), vp.dc(), cfg);
    let mut delay = NoDelay::default();
    block_on(panel.init(&mut delay)).unwrap();
    assert!(vp.is_showing(), "display on and out of sleep");
    assert!(vp.faults().is_empty(), "{:?}", vp.faults());
    (log_text(&vp.take_log()), delay.total_ns / 1_000_000)
}

#[test]
fn st7789_init_bytes() {
    let (log, ms) = init_log(PanelConfig::new(Controller::St7789));
    assert_eq!(
        log,
        "C:01 C:11 C:b2 D:0c0c003333 C:b7 D:35 C:bb D:19 C:c0 D:2c C:c2 D:01 C:c3 D:12 \
         C:c4 D:20 C:c6 D:0f C:d0 D:a4a1 C:3a D:55 C:36 D:00 C:21 C:13 C:29"
    );
    assert_eq!(ms, 150 + 120 + 10 + 100);
}

#[test]
fn ili9341_init_bytes() {
    let (log, ms) = init_log(PanelConfig::new(Controller::Ili9341).with_rotation(Rotation::Deg90));
    let want = concat!(
        "C:01 C:ef D:038002 C:cf D:00c130 C:ed D:64031281 C:e8 D:850078 C:cb D:392c003402 ",
        "C:f7 D:20 C:ea D:0000 C:c0 D:23 C:c1 D:10 C:c5 D:3e28 C:c7 D:86 C:37 D:0000 ",
        "C:b1 D:0018 C:b6 D:088227 C:f2 D:00 C:26 D:01 ",
        "C:e0 D:0f312b0c0e084ef1370710030e0900 ",
        "C:e1 D:000e14031107",
        "31c148080f0c31360f ",
        "C:11 C:3a D:55 C:36 D:28 C:20 C:13 C:29",
    );
    assert_eq!(log, want);
    assert_eq!(ms, 150 + 120 + 10 + 100);
}

#[test]
fn st7735_init_bytes() {
    let (log, _) = init_log(PanelConfig::new(Controller::St7735).with_rotation(Rotation::Deg180));
    assert_eq!(
        log,
        "C:01 C:11 C:b1 D:012c2d C:b2 D:012c2d C:b3 D:012c2d012c2d C:b4 D:07 \
         C:c0 D:a20284 C:c1 D:c5 C:c2 D:0a00 C:c3 D:8a2a C:c4 D:8aee C:c5 D:0e \
         C:e0 D:021c07123732292d29252b3900010310 \
         C:e1 D:031d07062e2c292d2e2e373f00000210 \
         C:3a D:05 C:36 D:c8 C:20 C:13 C:29"
    );
}

fn window_log(cfg: PanelConfig, win: Window, pixels: &[u8]) -> String {
    let vp = VirtualPanel::for_config(&cfg);
    let mut panel = Panel::new(vp.spi(), vp.dc(), cfg);
    block_on(panel.init(&mut NoDelay::default())).unwrap();
    vp.record();
    block_on(panel.set_window(win)).unwrap();
    block_on(panel.write_pixels(pixels)).unwrap();
    assert!(vp.faults().is_empty(), "{:?}", vp.faults());
    log_text(&vp.take_log())
}

#[test]
fn windows_and_pixels_in_every_rotation() {
    let win = Window {
        x: 10,
        y: 20,
        w: 30,
        h: 2,
    };
    let px = [0xF8, 0x00, 0x07, 0xE0];
    // A full-GRAM ILI9341: no offsets in any rotation.
    for r in [
        Rotation::Deg0,
        Rotation::Deg90,
        Rotation::Deg180,
        Rotation::Deg270,
    ] {
        let cfg = PanelConfig::new(Controller::Ili9341).with_rotation(r);
        assert_eq!(
            window_log(cfg, win, &px),
            "C:2a D:000a0027 C:2b D:00140015 C:2c D:f80007e0",
            "{r:?}"
        );
    }
    // A 240x240 ST7789: the mirrored axis starts 80 further.
    let st = PanelConfig::new(Controller::St7789).with_glass((240, 240), (0, 0));
    let cases = [
        (Rotation::Deg0, "C:2a D:000a0027 C:2b D:00140015"),
        (Rotation::Deg90, "C:2a D:000a0027 C:2b D:00140015"),
        (Rotation::Deg180, "C:2a D:000a0027 C:2b D:00640065"),
        (Rotation::Deg270, "C:2a D:005a0077 C:2b D:00140015"),
    ];
    for (r, want) in cases {
        assert_eq!(
            window_log(st.with_rotation(r), win, &px),
            format!("{want} C:2c D:f80007e0"),
            "{r:?}"
        );
    }
    // A 128x160 ST7735 green tab sits at (2, 1) in its 132x162 GRAM, symmetric on both axes, so
    // the offsets only swap with the axes: (2, 1) upright, (1, 2) at 90°.
    let tab = PanelConfig::new(Controller::St7735);
    assert_eq!(
        window_log(tab, win, &px),
        "C:2a D:000c0029 C:2b D:00150016 C:2c D:f80007e0"
    );
    assert_eq!(
        window_log(tab.with_rotation(Rotation::Deg90), win, &px),
        "C:2a D:000b0028 C:2b D:00160017 C:2c D:f80007e0"
    );
}

#[test]
fn a_strip_is_one_transaction() {
    let cfg = PanelConfig::new(Controller::Ili9341).with_rotation(Rotation::Deg90);
    let vp = VirtualPanel::for_config(&cfg);
    let mut panel = Panel::new(vp.spi(), vp.dc(), cfg);
    block_on(panel.init(&mut NoDelay::default())).unwrap();
    let before = vp.transactions();
    let strip = vec![0x12u8; 320 * 8 * 2];
    block_on(panel.write_pixels(&strip)).unwrap();
    assert_eq!(vp.transactions() - before, 1);
}
