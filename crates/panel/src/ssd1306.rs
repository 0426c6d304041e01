//! SSD1306-class monochrome OLED controllers (128x64 and 128x32 modules) on 4-wire SPI: the
//! [`Display`] the runner drives for a panel that declares `mono1` in HELLO (`docs/protocol.md`,
//! "Pixel formats").
//!
//! The controller's GDDRAM is page-addressed: a data byte is 8 pixels *down* a column (bit 0 the
//! top one), a page is 8 rows. The wire and the [`PackedFrame`] hold rows of horizontal bytes
//! instead (what e-paper and most grey controllers take, and what RECTs copy in without
//! unpacking), so a present decodes the staged RECTs into the frame, then rewrites only the pages
//! whose rows changed, transposing 8×8 blocks into a scratch strip. Commands (and their arguments)
//! go with DC low, GDDRAM data with DC high, in horizontal addressing mode, so one column and page
//! window takes all the changed pages in one data transaction per strip.

use crate::Clock;
use crate::canvas::PackedCanvas;
use crate::dcs::Rotation;
use crate::display::{Display, Painter};
use crate::driver::PanelError;
use crate::packed::PackedFrame;
use crate::present::{PresentError, PresentReport};
use embedded_hal::digital::OutputPin;
use embedded_hal_async::delay::DelayNs;
use embedded_hal_async::spi::SpiDevice;
use pixelwire_proto::PixelFormat;

/// SSD1306 command bytes used here (datasheet §9–10).
pub mod cmd {
    /// Display off (sleep).
    pub const DISPLAY_OFF: u8 = 0xAE;
    /// Display on.
    pub const DISPLAY_ON: u8 = 0xAF;
    /// Clock divide ratio / oscillator frequency, 1 argument.
    pub const SET_CLOCK: u8 = 0xD5;
    /// Multiplex ratio (rows − 1), 1 argument.
    pub const SET_MULTIPLEX: u8 = 0xA8;
    /// Display offset, 1 argument.
    pub const SET_OFFSET: u8 = 0xD3;
    /// Start line 0 (`0x40 | line`).
    pub const START_LINE_0: u8 = 0x40;
    /// Charge pump, 1 argument (`0x14` on).
    pub const CHARGE_PUMP: u8 = 0x8D;
    /// Memory addressing mode, 1 argument (`0x00` horizontal).
    pub const ADDRESSING: u8 = 0x20;
    /// Column 127 is SEG0: with [`COM_SCAN_DEC`], column 0 and page 0 at the top left.
    pub const SEGMENT_REMAP: u8 = 0xA1;
    /// Column 0 is SEG0: with [`COM_SCAN_INC`], the image turned by 180°.
    pub const SEGMENT_NORMAL: u8 = 0xA0;
    /// COM scan from COM[N−1] to COM0.
    pub const COM_SCAN_DEC: u8 = 0xC8;
    /// COM scan from COM0 to COM[N−1].
    pub const COM_SCAN_INC: u8 = 0xC0;
    /// COM pins hardware configuration, 1 argument.
    pub const COM_PINS: u8 = 0xDA;
    /// Contrast, 1 argument.
    pub const CONTRAST: u8 = 0x81;
    /// Pre-charge period, 1 argument.
    pub const PRECHARGE: u8 = 0xD9;
    /// VCOMH deselect level, 1 argument.
    pub const VCOMH: u8 = 0xDB;
    /// Show GDDRAM (not all-on).
    pub const RESUME_RAM: u8 = 0xA4;
    /// Normal (not inverted) display: a 1 bit is a lit pixel.
    pub const NORMAL: u8 = 0xA6;
    /// Column address window, 2 arguments.
    pub const COLUMN_ADDRESS: u8 = 0x21;
    /// Page address window, 2 arguments.
    pub const PAGE_ADDRESS: u8 = 0x22;
}

/// An SSD1306 module with its framebuffer; see the module docs.
#[derive(Debug)]
pub struct Ssd1306<'b, SPI, DC> {
    spi: SPI,
    dc: DC,
    frame: PackedFrame<'b>,
    rotation: Rotation,
}

/// The error type of an [`Ssd1306`] over `SPI` and `DC`.
pub type Ssd1306Error<SPI, DC> = PanelError<
    <SPI as embedded_hal_async::spi::ErrorType>::Error,
    <DC as embedded_hal::digital::ErrorType>::Error,
>;

impl<'b, SPI, DC> Ssd1306<'b, SPI, DC>
where
    SPI: SpiDevice,
    DC: OutputPin,
{
    /// A `width × height` module (128x64 or 128x32; height a multiple of 8, at most 64) on `spi`
    /// and `dc`, drawing from `fb` (at least `width * height / 8` bytes). `None` for sizes the
    /// controller does not have or a short `fb`.
    pub fn new(spi: SPI, dc: DC, width: u16, height: u16, fb: &'b mut [u8]) -> Option<Self> {
        if width == 0 || width > 128 || height == 0 || height > 64 || !height.is_multiple_of(8) {
            return None;
        }
        let frame = PackedFrame::new(PixelFormat::Mono1, width, height, fb)?;
        Some(Self {
            spi,
            dc,
            frame,
            rotation: Rotation::Deg0,
        })
    }

    /// This module with its content turned by `rotation`: 0° (column 0, page 0 at the top left
    /// with the module's pins at the top) or 180° (a module mounted upside down), set by the
    /// segment remap and COM scan direction at [`Ssd1306::init`]. `None` for 90° and 270°: the
    /// controller cannot scan columns as rows, and the glass is landscape anyway.
    pub fn with_rotation(mut self, rotation: Rotation) -> Option<Self> {
        match rotation {
            Rotation::Deg0 | Rotation::Deg180 => {
                self.rotation = rotation;
                Some(self)
            }
            Rotation::Deg90 | Rotation::Deg270 => None,
        }
    }

    /// The content rotation.
    pub fn rotation(&self) -> Rotation {
        self.rotation
    }

    /// The framebuffer (what the panel shows after the last present).
    pub fn frame(&self) -> &PackedFrame<'b> {
        &self.frame
    }

    /// Gives the bus and the pin back.
    pub fn release(self) -> (SPI, DC) {
        (self.spi, self.dc)
    }

    async fn commands(&mut self, bytes: &[u8]) -> Result<(), Ssd1306Error<SPI, DC>> {
        self.dc.set_low().map_err(PanelError::Pin)?;
        self.spi.write(bytes).await.map_err(PanelError::Spi)
    }

    /// The power-up sequence (a hardware reset on RST is the caller's business and comes first):
    /// horizontal addressing, column 0 / page 0 at the top left (bottom right at 180°), charge
    /// pump on, then the framebuffer written whole, then display on.
    pub async fn init(
        &mut self,
        delay: &mut impl DelayNs,
        scratch: &mut [u8],
    ) -> Result<(), Ssd1306Error<SPI, DC>> {
        let h = self.frame.height();
        let com_pins = if h > 32 { 0x12 } else { 0x02 };
        let (segments, com_scan) = match self.rotation {
            Rotation::Deg180 => (cmd::SEGMENT_NORMAL, cmd::COM_SCAN_INC),
            _ => (cmd::SEGMENT_REMAP, cmd::COM_SCAN_DEC),
        };
        self.commands(&[
            cmd::DISPLAY_OFF,
            cmd::SET_CLOCK,
            0x80,
            cmd::SET_MULTIPLEX,
            (h - 1) as u8,
            cmd::SET_OFFSET,
            0x00,
            cmd::START_LINE_0,
            cmd::CHARGE_PUMP,
            0x14,
            cmd::ADDRESSING,
            0x00,
            segments,
            com_scan,
            cmd::COM_PINS,
            com_pins,
            cmd::CONTRAST,
            0xCF,
            cmd::PRECHARGE,
            0xF1,
            cmd::VCOMH,
            0x40,
            cmd::RESUME_RAM,
            cmd::NORMAL,
        ])
        .await?;
        self.flush_rows(0, h, scratch).await?;
        self.commands(&[cmd::DISPLAY_ON]).await?;
        delay.delay_ms(100).await;
        Ok(())
    }

    /// Writes the pages covering rows `[y0, y1)` from the framebuffer, through `scratch` (any size
    /// ≥ 1; one transaction per `scratch.len()` bytes).
    pub async fn flush_rows(
        &mut self,
        y0: u16,
        y1: u16,
        scratch: &mut [u8],
    ) -> Result<(), Ssd1306Error<SPI, DC>> {
        let (w, h) = (self.frame.width(), self.frame.height());
        let y1 = y1.min(h);
        if y0 >= y1 || scratch.is_empty() {
            return Ok(());
        }
        let (p0, p1) = (y0 / 8, (y1 - 1) / 8);
        self.commands(&[
            cmd::COLUMN_ADDRESS,
            0,
            (w - 1) as u8,
            cmd::PAGE_ADDRESS,
            p0 as u8,
            p1 as u8,
        ])
        .await?;
        // Page-major, column by column: exactly the order horizontal addressing walks.
        let total = usize::from(p1 - p0 + 1) * usize::from(w);
        let mut done = 0;
        while done < total {
            let n = (total - done).min(scratch.len());
            for (i, d) in scratch[..n].iter_mut().enumerate() {
                let at = done + i;
                let page = p0 + (at / usize::from(w)) as u16;
                let x = (at % usize::from(w)) as u16;
                *d = (0..8).fold(0u8, |b, k| {
                    b | ((self.frame.pixel(x, page * 8 + k) as u8 & 1) << k)
                });
            }
            self.dc.set_high().map_err(PanelError::Pin)?;
            self.spi
                .write(&scratch[..n])
                .await
                .map_err(PanelError::Spi)?;
            done += n;
        }
        Ok(())
    }
}

impl<SPI, DC> Display for Ssd1306<'_, SPI, DC>
where
    SPI: SpiDevice,
    DC: OutputPin,
{
    type Error = Ssd1306Error<SPI, DC>;

    fn width(&self) -> u16 {
        self.frame.width()
    }

    fn height(&self) -> u16 {
        self.frame.height()
    }

    fn pixel_format(&self) -> PixelFormat {
        PixelFormat::Mono1
    }

    async fn present<C: Clock>(
        &mut self,
        staged: &[u8],
        strip_a: &mut [u8],
        _strip_b: &mut [u8],
        clock: &C,
    ) -> Result<PresentReport, PresentError<Self::Error>> {
        let start = clock.now_us();
        let applied = self.frame.apply(staged).map_err(PresentError::Decode)?;
        let t0 = clock.now_us();
        if let Some((y0, y1)) = applied.rows {
            self.flush_rows(y0, y1, strip_a)
                .await
                .map_err(PresentError::Panel)?;
        }
        let end = clock.now_us();
        Ok(PresentReport {
            pixels: applied.pixels,
            rects: applied.rects,
            spi_us: end.saturating_sub(t0),
            total_us: end.saturating_sub(start),
        })
    }

    /// Into the framebuffer ([`PackedCanvas`]), then the pages of those rows to the controller
    /// through `scratch`.
    async fn paint<P: Painter>(
        &mut self,
        top: u16,
        bottom: u16,
        scratch: &mut [u8],
        painter: &P,
    ) -> Result<(), Self::Error> {
        painter.paint(&mut PackedCanvas::new(&mut self.frame, top, bottom));
        self.flush_rows(top, bottom, scratch).await
    }
}
