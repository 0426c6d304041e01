//! What the [`crate::Runner`] needs of a display: its size and pixel format (for HELLO) and a way
//! to present one staged frame (whole RECT messages, `docs/protocol.md`). [`Panel`], the DCS
//! driver, presents RGB565 through double-buffered strips ([`crate::present`]);
//! [`crate::ssd1306::Ssd1306`] presents 1-bit monochrome through a packed framebuffer
//! ([`crate::packed`]).

use crate::Clock;
use crate::driver::{ErrorOf, Panel};
use crate::present::{PresentError, PresentReport, present};
use embedded_hal::digital::OutputPin;
use embedded_hal_async::spi::SpiDevice;
use pixelwire_proto::{PixelFormat, PixelOrder};

/// A display the runner can drive; see the module docs.
// The runner's executor is single-threaded (embassy on the device, a poll loop in tests): the
// futures need not be `Send`, which is what this lint is about.
#[allow(async_fn_in_trait)]
pub trait Display {
    /// The display's error.
    type Error: core::fmt::Debug;

    /// Width in pixels, as HELLO declares it.
    fn width(&self) -> u16;

    /// Height in pixels.
    fn height(&self) -> u16;

    /// The pixel format HELLO declares.
    fn pixel_format(&self) -> PixelFormat;

    /// Decodes `staged` (whole RECT messages in [`Display::pixel_format`]) onto the display.
    /// `strip_a` and `strip_b` are scratch buffers (each an even number of bytes).
    async fn present<C: Clock>(
        &mut self,
        staged: &[u8],
        strip_a: &mut [u8],
        strip_b: &mut [u8],
        clock: &C,
    ) -> Result<PresentReport, PresentError<Self::Error>>;
}

impl<SPI, DC> Display for Panel<SPI, DC>
where
    SPI: SpiDevice,
    DC: OutputPin,
{
    type Error = ErrorOf<SPI, DC>;

    fn width(&self) -> u16 {
        Panel::width(self)
    }

    fn height(&self) -> u16 {
        Panel::height(self)
    }

    /// DCS controllers take RGB565 high byte first.
    fn pixel_format(&self) -> PixelFormat {
        PixelFormat::Rgb565(PixelOrder::BigEndian)
    }

    async fn present<C: Clock>(
        &mut self,
        staged: &[u8],
        strip_a: &mut [u8],
        strip_b: &mut [u8],
        clock: &C,
    ) -> Result<PresentReport, PresentError<Self::Error>> {
        present(self, staged, strip_a, strip_b, clock).await
    }
}
