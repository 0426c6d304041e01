//! The panel this build drives, chosen at build time: `build.rs` sets `cfg(panel_ssd1306)` when
//! `PANEL=ssd1306`. A DCS TFT ([`Panel`], RGB565) has no framebuffer (its GRAM is one) and two
//! strips, one decoded while the other is on the bus; an SSD1306 OLED ([`Ssd1306`], `mono1`) keeps
//! its 1 KiB framebuffer here and needs one strip, to turn the framebuffer into the controller's
//! pages. Both sit on the same SPI device and DC pin; everything else in the firmware works with
//! either through [`pixelwire_panel::Display`].

use crate::config;
use embassy_time::Delay;
use embedded_hal_bus::spi::ExclusiveDevice;
use esp_hal::gpio::Output;
#[cfg(not(panel_ssd1306))]
use pixelwire_panel::Panel;
#[cfg(panel_ssd1306)]
use pixelwire_panel::settings::MonoConfig;
#[cfg(panel_ssd1306)]
use pixelwire_panel::ssd1306::Ssd1306;
#[cfg(panel_ssd1306)]
use static_cell::ConstStaticCell;

/// The panel's SPI device: SPI2 with DMA, CS on GPIO10.
pub type PanelSpi =
    ExclusiveDevice<esp_hal::spi::master::SpiDma<'static, esp_hal::Async>, Output<'static>, Delay>;

/// The display of this build.
#[cfg(not(panel_ssd1306))]
pub type FwDisplay = Panel<PanelSpi, Output<'static>>;
/// The display of this build.
#[cfg(panel_ssd1306)]
pub type FwDisplay = Ssd1306<'static, PanelSpi, Output<'static>>;

/// The two strips: 8 lines of the widest supported TFT (320 px) in RGB565.
#[cfg(not(panel_ssd1306))]
pub const STRIP_BYTES: [usize; 2] = [320 * 8 * 2, 320 * 8 * 2];
/// The strips: the first sends a whole 128x64 frame in one transaction; the SSD1306 never touches
/// the second.
#[cfg(panel_ssd1306)]
pub const STRIP_BYTES: [usize; 2] = [MonoConfig::MAX_FRAME_BYTES, 2];

#[cfg(panel_ssd1306)]
static FRAMEBUFFER: ConstStaticCell<[u8; MonoConfig::MAX_FRAME_BYTES]> =
    ConstStaticCell::new([0; MonoConfig::MAX_FRAME_BYTES]);

/// Initialises the TFT (after the reset pulse on RST), then turns its backlight on.
#[cfg(not(panel_ssd1306))]
pub async fn bring_up(
    spi: PanelSpi,
    dc: Output<'static>,
    backlight: &mut Output<'static>,
    _scratch: &mut [u8],
) -> FwDisplay {
    let mut panel = Panel::new(spi, dc, config::PANEL);
    if let Err(e) = panel.init(&mut Delay).await {
        log::error!("panel init: {e}");
    }
    backlight.set_high();
    panel
}

/// Initialises the OLED (after the reset pulse on RST) through `scratch`; it has no backlight.
#[cfg(panel_ssd1306)]
pub async fn bring_up(
    spi: PanelSpi,
    dc: Output<'static>,
    _backlight: &mut Output<'static>,
    scratch: &mut [u8],
) -> FwDisplay {
    let m = config::MONO;
    let Some(mut oled) = Ssd1306::new(spi, dc, m.width, m.height, FRAMEBUFFER.take())
        .and_then(|d| d.with_rotation(m.rotation))
    else {
        // `display_config` admits only the sizes and rotations the driver takes, and the
        // framebuffer holds the largest.
        panic!("SSD1306 settings the driver refuses");
    };
    if let Err(e) = oled.init(&mut Delay, scratch).await {
        log::error!("panel init: {e}");
    }
    oled
}
