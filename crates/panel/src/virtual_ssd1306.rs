//! A virtual SSD1306 for host tests: an `embedded-hal-async` [`SpiDevice`] plus a DC
//! [`OutputPin`] that decode what the controller would see on its pins (commands and their
//! arguments with DC low, GDDRAM data with DC high) into a 128×64 GDDRAM of pages. It tracks the
//! commands [`crate::ssd1306::Ssd1306`] sends: addressing mode, column and page windows, segment
//! remap, COM scan direction, display on/off; data advances the address counter through the window
//! as horizontal addressing mode does. Anything a real controller would not take (data in another
//! addressing mode, an unknown command, data before any window) is recorded in
//! [`VirtualSsd1306::faults`].

extern crate std;

use crate::ssd1306::cmd;
use core::convert::Infallible;
use embedded_hal_async::spi::{ErrorType, Operation, SpiDevice};
use std::string::String;
use std::sync::{Arc, Mutex, MutexGuard};
use std::vec::Vec;

const GDDRAM_COLUMNS: usize = 128;
const GDDRAM_PAGES: usize = 8;

#[derive(Debug)]
struct State {
    width: u16,
    height: u16,
    gddram: Vec<u8>,
    dc: bool,
    /// The command being read and the arguments it still needs.
    pending: Option<(u8, usize)>,
    args: Vec<u8>,
    addressing: u8,
    segment_remap: bool,
    com_dec: bool,
    display_on: bool,
    cols: (u8, u8),
    pages: (u8, u8),
    cursor: (u8, u8),
    data_bytes: u64,
    faults: Vec<String>,
}

impl State {
    fn arguments(c: u8) -> Option<usize> {
        Some(match c {
            cmd::COLUMN_ADDRESS | cmd::PAGE_ADDRESS => 2,
            cmd::SET_CLOCK
            | cmd::SET_MULTIPLEX
            | cmd::SET_OFFSET
            | cmd::CHARGE_PUMP
            | cmd::ADDRESSING
            | cmd::COM_PINS
            | cmd::CONTRAST
            | cmd::PRECHARGE
            | cmd::VCOMH => 1,
            0x40..=0x7F | 0xA0 | 0xA1 | 0xA4..=0xA7 | 0xAE | 0xAF | 0xC0 | 0xC8 => 0,
            _ => return None,
        })
    }

    fn command_byte(&mut self, b: u8) {
        if let Some((c, need)) = self.pending {
            self.args.push(b);
            if self.args.len() == need {
                self.pending = None;
                self.run(c);
            }
            return;
        }
        match Self::arguments(b) {
            None => self.faults.push(std::format!("unknown command 0x{b:02x}")),
            Some(0) => {
                self.args.clear();
                self.run(b);
            }
            Some(n) => {
                self.args.clear();
                self.pending = Some((b, n));
            }
        }
    }

    fn run(&mut self, c: u8) {
        let a = |i: usize| self.args.get(i).copied().unwrap_or(0);
        match c {
            cmd::ADDRESSING => self.addressing = a(0),
            cmd::COLUMN_ADDRESS => {
                self.cols = (a(0) & 0x7F, a(1) & 0x7F);
                self.cursor.0 = self.cols.0;
            }
            cmd::PAGE_ADDRESS => {
                self.pages = (a(0) & 7, a(1) & 7);
                self.cursor.1 = self.pages.0;
            }
            cmd::SEGMENT_NORMAL => self.segment_remap = false,
            cmd::SEGMENT_REMAP => self.segment_remap = true,
            cmd::COM_SCAN_INC => self.com_dec = false,
            cmd::COM_SCAN_DEC => self.com_dec = true,
            cmd::DISPLAY_OFF => self.display_on = false,
            cmd::DISPLAY_ON => self.display_on = true,
            _ => {}
        }
    }

    fn data(&mut self, bytes: &[u8]) {
        if self.pending.is_some() {
            self.faults
                .push("data while a command waits for arguments".into());
            return;
        }
        if self.addressing != 0 {
            self.faults.push(std::format!(
                "{} data bytes in addressing mode {}",
                bytes.len(),
                self.addressing
            ));
            return;
        }
        for &b in bytes {
            let (c, p) = self.cursor;
            if let Some(d) = self
                .gddram
                .get_mut(usize::from(p) * GDDRAM_COLUMNS + usize::from(c))
            {
                *d = b;
            }
            self.data_bytes += 1;
            // Horizontal addressing: along the column window, then the next page, wrapping.
            if c >= self.cols.1 {
                self.cursor.0 = self.cols.0;
                self.cursor.1 = if p >= self.pages.1 {
                    self.pages.0
                } else {
                    p + 1
                };
            } else {
                self.cursor.0 = c + 1;
            }
        }
    }
}

/// A virtual SSD1306; see the module docs. Clones share the controller.
#[derive(Debug, Clone)]
pub struct VirtualSsd1306 {
    state: Arc<Mutex<State>>,
}

/// The virtual controller's SPI side.
#[derive(Debug, Clone)]
pub struct VirtualSsdSpi {
    state: Arc<Mutex<State>>,
}

/// The virtual controller's DC pin.
#[derive(Debug, Clone)]
pub struct VirtualSsdDc {
    state: Arc<Mutex<State>>,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl VirtualSsd1306 {
    /// A `width × height` module (at most 128×64), GDDRAM full of noise as at power-up.
    pub fn new(width: u16, height: u16) -> Self {
        let gddram = (0..GDDRAM_COLUMNS * GDDRAM_PAGES)
            .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3])
            .collect();
        Self {
            state: Arc::new(Mutex::new(State {
                width: width.min(GDDRAM_COLUMNS as u16),
                height: height.min(GDDRAM_PAGES as u16 * 8),
                gddram,
                dc: false,
                pending: None,
                args: Vec::new(),
                addressing: 2,
                segment_remap: false,
                com_dec: false,
                display_on: false,
                cols: (0, 127),
                pages: (0, 7),
                cursor: (0, 0),
                data_bytes: 0,
                faults: Vec::new(),
            })),
        }
    }

    /// Its SPI device.
    pub fn spi(&self) -> VirtualSsdSpi {
        VirtualSsdSpi {
            state: self.state.clone(),
        }
    }

    /// Its DC pin.
    pub fn dc(&self) -> VirtualSsdDc {
        VirtualSsdDc {
            state: self.state.clone(),
        }
    }

    /// What went wrong so far.
    pub fn faults(&self) -> Vec<String> {
        lock(&self.state).faults.clone()
    }

    /// True once the display is on.
    pub fn is_on(&self) -> bool {
        lock(&self.state).display_on
    }

    /// GDDRAM bytes written so far.
    pub fn data_bytes(&self) -> u64 {
        lock(&self.state).data_bytes
    }

    /// What a person sees: 1 for a lit pixel, row-major `width × height`, the module mounted so
    /// that the segment remap and reverse COM scan a driver sets show column 0, page 0 at the top
    /// left (without them the image appears mirrored, as on the glass).
    pub fn render(&self) -> Vec<u16> {
        let s = lock(&self.state);
        let (w, h) = (usize::from(s.width), usize::from(s.height));
        let mut out = std::vec![0u16; w * h];
        for y in 0..h {
            for x in 0..w {
                let col = if s.segment_remap { x } else { w - 1 - x };
                let row = if s.com_dec { y } else { h - 1 - y };
                let byte = s.gddram[(row / 8) * GDDRAM_COLUMNS + col];
                out[y * w + x] = u16::from((byte >> (row % 8)) & 1);
            }
        }
        out
    }
}

impl ErrorType for VirtualSsdSpi {
    type Error = Infallible;
}

impl SpiDevice for VirtualSsdSpi {
    async fn transaction(
        &mut self,
        operations: &mut [Operation<'_, u8>],
    ) -> Result<(), Infallible> {
        let mut s = lock(&self.state);
        for op in operations {
            let bytes: &[u8] = match op {
                Operation::Write(b) => b,
                Operation::Transfer(_, w) => w,
                Operation::TransferInPlace(b) => b,
                Operation::Read(_) | Operation::DelayNs(_) => &[],
            };
            if s.dc {
                s.data(bytes);
            } else {
                for &b in bytes {
                    s.command_byte(b);
                }
            }
        }
        Ok(())
    }
}

impl embedded_hal::digital::ErrorType for VirtualSsdDc {
    type Error = Infallible;
}

impl embedded_hal::digital::OutputPin for VirtualSsdDc {
    fn set_low(&mut self) -> Result<(), Infallible> {
        lock(&self.state).dc = false;
        Ok(())
    }

    fn set_high(&mut self) -> Result<(), Infallible> {
        lock(&self.state).dc = true;
        Ok(())
    }
}
