//! # pixelwire-panel
//!
//! Everything the ESP32 firmware does above the HAL, as `no_std` code generic over the
//! `embedded-hal-async` SPI/pin traits and the `embedded-io-async` socket traits, so that it runs and
//! is tested on the host:
//!
//! * [`dcs`]: the MIPI DCS controller model (ILI9341, ST7789, ST7735): init sequences, MADCTL from
//!   rotation/mirroring/colour order, address offsets for glass smaller than the GRAM;
//! * [`driver`]: [`Panel`], the async driver: init, address windows, pixel strips;
//! * [`runner`]: [`Runner`], the device side of a pixelwire session (`docs/protocol.md`): HELLO with
//!   the panel's real capabilities, staging of each frame's RECTs and presentation at FRAME_END
//!   (no tearing), acks, keepalive, and STATS with the device's own figures;
//! * [`strip`] and [`present`]: decoding staged RECTs into double-buffered strips while the other
//!   strip is on the SPI bus;
//! * [`status`]: the boot/status screen and the one-line overlay shown when a connection drops;
//! * [`settings`]: the firmware's build-time settings, parsed in `const fn`s;
//! * [`display`]: what the runner needs of a display, implemented by [`Panel`] (RGB565) and by
//!   [`ssd1306::Ssd1306`] (monochrome OLED, drawn from a [`packed`] framebuffer);
//! * `virtual_panel` (feature `host`): a DCS-decoding virtual panel for tests and the emulator;
//!   `virtual_ssd1306`, the same for the SSD1306.
//!
//! The firmware (`firmware/esp32c3`) is glue: it creates the SPI device, the socket and a clock and
//! hands them to these types. `docs/firmware.md` describes the whole.
#![cfg_attr(not(test), no_std)]
#![warn(missing_docs)]

pub mod canvas;
pub mod dcs;
pub mod display;
pub mod driver;
pub mod framer;
pub mod packed;
pub mod present;
pub mod runner;
pub mod settings;
pub mod ssd1306;
pub mod status;
pub mod strip;
#[cfg(feature = "host")]
pub mod virtual_panel;
#[cfg(feature = "host")]
pub mod virtual_ssd1306;

pub use dcs::{ColorOrder, Controller, PanelConfig, Rotation};
pub use display::Display;
pub use driver::{Panel, PanelError, Window};
pub use runner::{Buffers, DeviceHooks, NoHooks, Runner, RunnerConfig, RunnerEvent, SessionEnd};
#[cfg(feature = "host")]
pub use virtual_panel::{Glass, VirtualPanel};

/// The device clock: microseconds since any epoch, and a timer. On the device this is
/// `embassy_time`; in the host simulation it is virtual time.
pub trait Clock {
    /// Now, µs.
    fn now_us(&self) -> u64;
    /// Completes at or after `deadline_us`.
    fn sleep_until(&self, deadline_us: u64) -> impl core::future::Future<Output = ()>;
}
