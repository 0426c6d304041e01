//! What the [`crate::Runner`] needs of a display: its size and pixel format (for HELLO) and a way
//! to present one staged frame (whole RECT messages, `docs/protocol.md`). [`Panel`], the DCS
//! driver, presents RGB565 through double-buffered strips ([`crate::present`]);
//! [`crate::ssd1306::Ssd1306`] presents 1-bit monochrome through a packed framebuffer
//! ([`crate::packed`]). Besides, what the firmware needs between sessions: a way to draw its own
//! screens ([`crate::status`]) with `embedded-graphics`, through whatever the display has
//! ([`crate::canvas`]: bands of a strip buffer, or the packed framebuffer).

use crate::Clock;
use crate::canvas::StripCanvas;
use crate::driver::{ErrorOf, Panel, Window};
use crate::present::{PresentError, PresentReport, present};
use core::convert::Infallible;
use embedded_graphics::draw_target::DrawTarget;
use embedded_graphics::pixelcolor::Rgb565;
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

    /// Draws rows `[top, bottom)` of what `painter` paints onto the display (rows outside stay
    /// as they are), with `scratch` (a strip buffer) as working memory.
    async fn paint<P: Painter>(
        &mut self,
        top: u16,
        bottom: u16,
        scratch: &mut [u8],
        painter: &P,
    ) -> Result<(), Self::Error>;
}

/// A screen drawn with `embedded-graphics` in RGB565 (the firmware's status screen): the display
/// hands it a target covering its whole size, which keeps what falls in the rows being drawn; it
/// may be called several times (once per band) and must draw the same each time.
pub trait Painter {
    /// Draws the screen onto `target`.
    fn paint<T>(&self, target: &mut T)
    where
        T: DrawTarget<Color = Rgb565, Error = Infallible>;
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

    /// Band by band through `scratch` ([`StripCanvas`]), one address window per band.
    async fn paint<P: Painter>(
        &mut self,
        top: u16,
        bottom: u16,
        scratch: &mut [u8],
        painter: &P,
    ) -> Result<(), Self::Error> {
        let (w, h) = (Panel::width(self), Panel::height(self));
        let bottom = bottom.min(h);
        let mut y = top;
        while y < bottom {
            let mut canvas = StripCanvas::new(scratch, w, y, bottom - y);
            let rows = canvas.rows();
            if rows == 0 {
                // `scratch` is shorter than a row.
                return Ok(());
            }
            painter.paint(&mut canvas);
            self.set_window(Window {
                x: 0,
                y,
                w,
                h: rows,
            })
            .await?;
            self.write_pixels(canvas.bytes()).await?;
            y += rows;
        }
        Ok(())
    }
}
