//! The panel driver: DCS commands over an `embedded-hal-async` [`SpiDevice`] and a DC
//! [`OutputPin`]. It initialises the controller (see [`crate::dcs`]), opens address windows in
//! rotated (logical) coordinates and streams RGB565 big-endian pixels into them.
//!
//! Every command is one SPI transaction with DC low, its parameters a second one with DC high. Pixel
//! data is one transaction per call to [`Panel::write_pixels`], so CS stays asserted across a whole
//! strip and the DMA engine sees one long buffer. RAMWR continues across transactions until the next
//! command, which is what lets a window be filled strip by strip.

use crate::dcs::{PanelConfig, cmd};
use embedded_hal::digital::OutputPin;
use embedded_hal_async::delay::DelayNs;
use embedded_hal_async::spi::SpiDevice;

/// A failure of the bus or of the DC pin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PanelError<S, P> {
    /// The SPI transaction failed.
    Spi(S),
    /// Setting the DC pin failed.
    Pin(P),
}

impl<S: core::fmt::Debug, P: core::fmt::Debug> core::fmt::Display for PanelError<S, P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Spi(e) => write!(f, "panel SPI error: {e:?}"),
            Self::Pin(e) => write!(f, "panel DC pin error: {e:?}"),
        }
    }
}

/// The error type of a [`Panel`] over `SPI` and `DC`.
pub type ErrorOf<SPI, DC> = PanelError<
    <SPI as embedded_hal_async::spi::ErrorType>::Error,
    <DC as embedded_hal::digital::ErrorType>::Error,
>;

/// A rectangle in logical (rotated) panel coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Left column.
    pub x: u16,
    /// Top row.
    pub y: u16,
    /// Width, ≥ 1.
    pub w: u16,
    /// Height, ≥ 1.
    pub h: u16,
}

impl Window {
    /// Pixels in the window.
    pub fn pixels(&self) -> u32 {
        u32::from(self.w) * u32::from(self.h)
    }

    /// The part of the `x, y, w, h` rectangle that lies on a `width × height` panel, if any.
    pub fn clip(x: u16, y: u16, w: u16, h: u16, width: u16, height: u16) -> Option<Self> {
        if x >= width || y >= height || w == 0 || h == 0 {
            return None;
        }
        Some(Self {
            x,
            y,
            w: w.min(width - x),
            h: h.min(height - y),
        })
    }
}

/// A DCS panel on an SPI bus; see the module docs.
#[derive(Debug)]
pub struct Panel<SPI, DC> {
    spi: SPI,
    dc: DC,
    cfg: PanelConfig,
    offset: (u16, u16),
}

impl<SPI, DC> Panel<SPI, DC>
where
    SPI: SpiDevice,
    DC: OutputPin,
{
    /// A panel on `spi` with its DC pin; call [`Panel::init`] before drawing.
    pub fn new(spi: SPI, dc: DC, cfg: PanelConfig) -> Self {
        Self {
            spi,
            dc,
            offset: cfg.address_offset(),
            cfg,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &PanelConfig {
        &self.cfg
    }

    /// Logical width (after rotation).
    pub fn width(&self) -> u16 {
        self.cfg.width()
    }

    /// Logical height (after rotation).
    pub fn height(&self) -> u16 {
        self.cfg.height()
    }

    /// Gives the bus and the pin back.
    pub fn release(self) -> (SPI, DC) {
        (self.spi, self.dc)
    }

    /// Sends one command and its parameters.
    pub async fn command(&mut self, code: u8, params: &[u8]) -> Result<(), ErrorOf<SPI, DC>> {
        self.dc.set_low().map_err(PanelError::Pin)?;
        self.spi.write(&[code]).await.map_err(PanelError::Spi)?;
        if !params.is_empty() {
            self.dc.set_high().map_err(PanelError::Pin)?;
            self.spi.write(params).await.map_err(PanelError::Spi)?;
        }
        Ok(())
    }

    /// Software reset, the controller's init sequence, RGB565, MADCTL, inversion, display on.
    /// A hardware reset (RST pin) is the caller's business and should come first.
    pub async fn init(&mut self, delay: &mut impl DelayNs) -> Result<(), ErrorOf<SPI, DC>> {
        self.command(cmd::SWRESET, &[]).await?;
        delay.delay_ms(150).await;
        for step in self.cfg.controller.init_steps() {
            self.command(step.cmd, step.params).await?;
            if step.delay_ms > 0 {
                delay.delay_ms(u32::from(step.delay_ms)).await;
            }
        }
        self.command(cmd::COLMOD, &[self.cfg.controller.colmod_rgb565()])
            .await?;
        self.command(cmd::MADCTL, &[self.cfg.madctl()]).await?;
        let inv = if self.cfg.invert {
            cmd::INVON
        } else {
            cmd::INVOFF
        };
        self.command(inv, &[]).await?;
        self.command(cmd::NORON, &[]).await?;
        delay.delay_ms(10).await;
        self.command(cmd::DISPON, &[]).await?;
        delay.delay_ms(100).await;
        Ok(())
    }

    /// Opens `win` (logical coordinates, assumed on the panel) for writing: CASET, RASET, RAMWR.
    pub async fn set_window(&mut self, win: Window) -> Result<(), ErrorOf<SPI, DC>> {
        let (ox, oy) = self.offset;
        let x0 = win.x.saturating_add(ox);
        let y0 = win.y.saturating_add(oy);
        let x1 = x0.saturating_add(win.w.saturating_sub(1));
        let y1 = y0.saturating_add(win.h.saturating_sub(1));
        let [a, b] = x0.to_be_bytes();
        let [c, d] = x1.to_be_bytes();
        self.command(cmd::CASET, &[a, b, c, d]).await?;
        let [a, b] = y0.to_be_bytes();
        let [c, d] = y1.to_be_bytes();
        self.command(cmd::RASET, &[a, b, c, d]).await?;
        self.command(cmd::RAMWR, &[]).await
    }

    /// Streams RGB565 big-endian pixel bytes into the open window, in one SPI transaction.
    pub async fn write_pixels(&mut self, bytes: &[u8]) -> Result<(), ErrorOf<SPI, DC>> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.dc.set_high().map_err(PanelError::Pin)?;
        self.spi.write(bytes).await.map_err(PanelError::Spi)
    }

    /// Fills `win` with one colour, using `scratch` (any size ≥ 2 bytes) as the strip buffer.
    pub async fn fill(
        &mut self,
        win: Window,
        rgb565: u16,
        scratch: &mut [u8],
    ) -> Result<(), ErrorOf<SPI, DC>> {
        let px = rgb565.to_be_bytes();
        for d in scratch.chunks_exact_mut(2) {
            d.copy_from_slice(&px);
        }
        let per_write = scratch.len() / 2;
        if per_write == 0 {
            return Ok(());
        }
        self.set_window(win).await?;
        let mut left = win.pixels() as usize;
        while left > 0 {
            let n = left.min(per_write);
            self.write_pixels(&scratch[..n * 2]).await?;
            left -= n;
        }
        Ok(())
    }
}
