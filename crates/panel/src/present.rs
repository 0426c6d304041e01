//! Presenting a staged frame: its RECT messages are decoded into two strip buffers in turn while the
//! other one is being written to the panel. `embassy_futures::join` runs the SPI write (DMA on the
//! device: the CPU is free) and the decoding of the next strip at the same time, so a frame costs
//! roughly `max(decode, SPI)` rather than their sum. While the DMA runs, the executor also runs the
//! network stack, which keeps receiving into the socket buffer.

use crate::Clock;
use crate::driver::{ErrorOf, Panel};
use crate::strip::StripFiller;
use embassy_futures::join::join;
use embedded_hal::digital::OutputPin;
use embedded_hal_async::spi::SpiDevice;
use pixelwire_proto::ProtoError;

/// What presenting one staged frame took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PresentReport {
    /// Pixels written to the panel.
    pub pixels: u64,
    /// RECT messages decoded.
    pub rects: u32,
    /// Time the panel was busy (window commands and pixel writes), µs.
    pub spi_us: u64,
    /// Time from the first decoded byte to the last pixel written, µs.
    pub total_us: u64,
}

/// Why a frame could not be presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresentError<P> {
    /// The panel failed.
    Panel(P),
    /// The staged bytes did not decode (cannot happen after the session's decoder accepted them).
    Decode(ProtoError),
}

/// Decodes `staged` (whole RECT messages) into the panel, double-buffered through `strip_a` and
/// `strip_b`; see the module docs.
pub async fn present<SPI, DC, C>(
    panel: &mut Panel<SPI, DC>,
    staged: &[u8],
    strip_a: &mut [u8],
    strip_b: &mut [u8],
    clock: &C,
) -> Result<PresentReport, PresentError<ErrorOf<SPI, DC>>>
where
    SPI: SpiDevice,
    DC: OutputPin,
    C: Clock,
{
    let start = clock.now_us();
    let mut filler = StripFiller::new(staged, panel.width(), panel.height());
    let (mut a, mut b) = (strip_a, strip_b);
    let mut spi_us = 0u64;
    let mut cur = filler.next_strip(a).map_err(PresentError::Decode)?;
    while let Some(strip) = cur {
        let t0 = clock.now_us();
        if let Some(win) = strip.window {
            panel.set_window(win).await.map_err(PresentError::Panel)?;
        }
        let data = a.get(..strip.len).unwrap_or(&[]);
        let write = async {
            let r = panel.write_pixels(data).await;
            (r, clock.now_us())
        };
        let fill = async { filler.next_strip(b) };
        let ((written, t1), next) = join(write, fill).await;
        written.map_err(PresentError::Panel)?;
        spi_us += t1.saturating_sub(t0);
        cur = next.map_err(PresentError::Decode)?;
        core::mem::swap(&mut a, &mut b);
    }
    Ok(PresentReport {
        pixels: filler.pixels(),
        rects: filler.rects(),
        spi_us,
        total_us: clock.now_us().saturating_sub(start),
    })
}
