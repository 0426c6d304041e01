//! The build-time settings (`docs/firmware.md`, "Configuration"), checked at compile time: a bad
//! value stops the build with a message instead of booting a device that cannot work.

#[cfg(not(panel_ssd1306))]
use pixelwire_panel::PanelConfig;
#[cfg(panel_ssd1306)]
use pixelwire_panel::settings::MonoConfig;
use pixelwire_panel::settings::{
    DisplayConfig, PanelSettings, ServerAddr, display_config, parse_server, parse_u16, spi_mhz,
    valid_device_id,
};

/// WiFi network name.
pub const SSID: &str = env!("SSID");
/// WiFi password (empty for an open network).
pub const PASSWORD: &str = env!("PASSWORD");
/// The server's display port, as written.
pub const SERVER_TEXT: &str = env!("SERVER");
/// The server's display port.
pub const SERVER: ServerAddr = match parse_server(SERVER_TEXT) {
    Ok(s) => s,
    Err(e) => panic!("{}", e),
};
/// Device id from `DEVICE_ID`, or `None` to derive it from the MAC address.
pub const DEVICE_ID: Option<&str> = match option_env!("DEVICE_ID") {
    Some(id) if !id.is_empty() => {
        if !valid_device_id(id) {
            panic!("DEVICE_ID must be 1 to 32 characters of A-Z a-z 0-9 . _ -");
        }
        Some(id)
    }
    _ => None,
};
/// The panel: a DCS TFT or an SSD1306 OLED.
pub const DISPLAY: DisplayConfig = match display_config(PanelSettings {
    panel: option_env!("PANEL"),
    rotation: option_env!("ROTATION"),
    invert: option_env!("INVERT"),
    bgr: option_env!("BGR"),
    mirror: option_env!("MIRROR"),
    width: option_env!("WIDTH"),
    height: option_env!("HEIGHT"),
    offset_x: option_env!("OFFSET_X"),
    offset_y: option_env!("OFFSET_Y"),
}) {
    Ok(c) => c,
    Err(e) => panic!("{}", e),
};
/// SPI clock, MHz (default 40 for a TFT, 10 for an SSD1306, which allows no more).
pub const SPI_MHZ: u32 = match spi_mhz(option_env!("SPI_MHZ"), &DISPLAY) {
    Ok(m) => m,
    Err(e) => panic!("{}", e),
};

/// SPI mode: 0, or 3 for modules without a CS pin (most 240x240 ST7789 boards).
pub const SPI_MODE: u8 = match option_env!("SPI_MODE") {
    Some(s) if !s.is_empty() => match parse_u16(s) {
        Some(0) => 0,
        Some(3) => 3,
        _ => panic!("SPI_MODE must be 0 or 3"),
    },
    _ => 0,
};

const _: () = assert!(
    !SSID.is_empty() && SSID.len() <= 32,
    "SSID must be 1 to 32 bytes"
);
const _: () = assert!(
    PASSWORD.is_empty() || (PASSWORD.len() >= 8 && PASSWORD.len() <= 64),
    "PASSWORD must be empty (open network) or 8 to 64 bytes"
);

/// The TFT of a DCS build. `build.rs` sets `cfg(panel_ssd1306)` from the same `PANEL` setting;
/// should the two ever disagree, the build stops here.
#[cfg(not(panel_ssd1306))]
pub const PANEL: PanelConfig = match DISPLAY {
    DisplayConfig::Dcs(c) => c,
    DisplayConfig::Mono(_) => panic!("build.rs did not set cfg(panel_ssd1306) for PANEL=ssd1306"),
};

/// The OLED of an SSD1306 build (see [`PANEL`]).
#[cfg(panel_ssd1306)]
pub const MONO: MonoConfig = match DISPLAY {
    DisplayConfig::Mono(m) => m,
    DisplayConfig::Dcs(_) => panic!("build.rs set cfg(panel_ssd1306) for another PANEL"),
};
