//! A virtual DCS panel for host tests and `pixelwire display-emu --panel`: an `embedded-hal-async`
//! [`SpiDevice`] plus a DC [`OutputPin`] that decode what a real controller would see on its pins.
//! Bytes sent with DC low are commands, with DC high parameters or pixel data. It tracks SWRESET,
//! SLPOUT, DISPON/DISPOFF, INVON/INVOFF, COLMOD, MADCTL, CASET, RASET and RAMWR/RAMWRC, runs the
//! controller's address counter through the window, and stores pixels in a GRAM of the
//! controller's native size, mapped by MADCTL exactly as `crate::dcs` documents.
//!
//! The glass is modelled too: its position in the GRAM, whether it is mirrored, whether its colour
//! filters are BGR and whether it needs inversion. [`VirtualPanel::render_visible`] shows what a
//! person would see with the device turned the way its MADCTL rotation intends;
//! [`VirtualPanel::render_glass`] shows the glass unrotated. Misuse that a real panel would punish
//! (pixel data before COLMOD selects 16 bits, a CASET with three bytes, data with no command) is
//! recorded in [`VirtualPanel::faults`].

extern crate std;

use crate::dcs::{PanelConfig, cmd, madctl};
use core::convert::Infallible;
use embedded_hal_async::spi::{ErrorType, Operation, SpiDevice};
use std::string::String;
use std::sync::{Arc, Mutex, MutexGuard};
use std::vec::Vec;

/// The glass behind the controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Glass {
    /// Native GRAM size of the controller.
    pub gram: (u16, u16),
    /// Glass size, native orientation.
    pub size: (u16, u16),
    /// Glass position in the GRAM.
    pub offset: (u16, u16),
    /// Native columns appear right to left.
    pub mirrored: bool,
    /// Colour filters are BGR: a pixel shows true colours only with MADCTL.BGR set.
    pub bgr: bool,
    /// Shows true colours only with INVON (IPS glass).
    pub inverted: bool,
}

impl Glass {
    /// The glass a driver configured with `cfg` expects (so a correct driver shows true colours).
    pub fn for_config(cfg: &PanelConfig) -> Self {
        Self {
            gram: cfg.controller.gram_size(),
            size: cfg.size,
            offset: cfg.offset,
            mirrored: cfg.mirrored,
            bgr: matches!(cfg.color_order, crate::dcs::ColorOrder::Bgr),
            inverted: cfg.invert,
        }
    }
}

/// One SPI transaction as the panel saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    /// DC level during the transaction (false = command).
    pub dc: bool,
    /// Bytes written.
    pub bytes: Vec<u8>,
}

#[derive(Debug)]
struct State {
    glass: Glass,
    gram: Vec<u16>,
    dc: bool,
    cmd: Option<u8>,
    params: Vec<u8>,
    madctl: u8,
    colmod: u8,
    inverted: bool,
    display_on: bool,
    sleeping: bool,
    cols: (u16, u16),
    rows: (u16, u16),
    cursor: (u16, u16),
    half: Option<u8>,
    pixels_written: u64,
    transactions: u64,
    log: Option<Vec<Transaction>>,
    faults: Vec<String>,
}

impl State {
    fn reset(&mut self) {
        self.madctl = 0;
        // Power-on default of all three controllers is 18 bits per pixel.
        self.colmod = 0x66;
        self.inverted = false;
        self.display_on = false;
        self.sleeping = true;
        self.cols = (0, self.glass.gram.0.saturating_sub(1));
        self.rows = (0, self.glass.gram.1.saturating_sub(1));
        self.cmd = None;
        self.params.clear();
        self.half = None;
    }

    fn command(&mut self, c: u8) {
        self.cmd = Some(c);
        self.params.clear();
        self.half = None;
        match c {
            cmd::SWRESET => self.reset(),
            cmd::SLPOUT => self.sleeping = false,
            0x10 => self.sleeping = true,
            cmd::DISPON => self.display_on = true,
            cmd::DISPOFF => self.display_on = false,
            cmd::INVON => self.inverted = true,
            cmd::INVOFF => self.inverted = false,
            cmd::RAMWR => self.cursor = (self.cols.0, self.rows.0),
            _ => {}
        }
    }

    fn data(&mut self, bytes: &[u8]) {
        let Some(c) = self.cmd else {
            self.faults
                .push(std::format!("{} data bytes with no command", bytes.len()));
            return;
        };
        match c {
            cmd::RAMWR | cmd::RAMWRC => self.pixels(bytes),
            _ => {
                self.params.extend_from_slice(bytes);
                let p = &self.params;
                match (c, p.len()) {
                    (cmd::CASET, 4) => {
                        self.cols = (
                            u16::from_be_bytes([p[0], p[1]]),
                            u16::from_be_bytes([p[2], p[3]]),
                        )
                    }
                    (cmd::RASET, 4) => {
                        self.rows = (
                            u16::from_be_bytes([p[0], p[1]]),
                            u16::from_be_bytes([p[2], p[3]]),
                        )
                    }
                    (cmd::MADCTL, 1) => self.madctl = p[0],
                    (cmd::COLMOD, 1) => self.colmod = p[0],
                    (cmd::CASET | cmd::RASET, n) if n > 4 => self
                        .faults
                        .push(std::format!("command 0x{c:02x} with {n} parameter bytes")),
                    _ => {}
                }
            }
        }
    }

    fn end_transaction(&mut self) {
        if let Some(c @ (cmd::CASET | cmd::RASET)) = self.cmd
            && !self.params.is_empty()
            && self.params.len() < 4
        {
            // The parameters of one command always travel in one transaction from this driver;
            // a short one would leave the window half set on a real panel.
            self.faults.push(std::format!(
                "command 0x{c:02x} with {} parameter bytes",
                self.params.len()
            ));
        }
    }

    fn pixels(&mut self, mut bytes: &[u8]) {
        if self.colmod & 0x07 != 0x05 {
            self.faults.push(std::format!(
                "pixel data while COLMOD is 0x{:02x}, not 16 bits per pixel",
                self.colmod
            ));
            return;
        }
        if let Some(first) = self.half.take() {
            match bytes.split_first() {
                Some((&second, rest)) => {
                    self.put(u16::from_be_bytes([first, second]));
                    bytes = rest;
                }
                None => {
                    self.half = Some(first);
                    return;
                }
            }
        }
        let mut pairs = bytes.chunks_exact(2);
        for p in &mut pairs {
            self.put(u16::from_be_bytes([p[0], p[1]]));
        }
        if let [last] = pairs.remainder() {
            self.half = Some(*last);
        }
    }

    /// Native GRAM coordinates of column address `c`, page address `p` under the current MADCTL.
    fn native(&self, c: u16, p: u16) -> Option<(usize, usize)> {
        let (gw, gh) = self.glass.gram;
        let (mut nx, mut ny) = if self.madctl & madctl::MV != 0 {
            (p, c)
        } else {
            (c, p)
        };
        if nx >= gw || ny >= gh {
            return None;
        }
        if self.madctl & madctl::MX != 0 {
            nx = gw - 1 - nx;
        }
        if self.madctl & madctl::MY != 0 {
            ny = gh - 1 - ny;
        }
        Some((usize::from(nx), usize::from(ny)))
    }

    fn put(&mut self, px: u16) {
        let (c, p) = self.cursor;
        if let Some((nx, ny)) = self.native(c, p) {
            let i = ny * usize::from(self.glass.gram.0) + nx;
            if let Some(slot) = self.gram.get_mut(i) {
                *slot = px;
            }
        }
        self.pixels_written += 1;
        // The address counter walks the window row-major and wraps to its start.
        let (mut c, mut p) = (c.wrapping_add(1), p);
        if c > self.cols.1 {
            c = self.cols.0;
            p = p.wrapping_add(1);
            if p > self.rows.1 {
                p = self.rows.0;
            }
        }
        self.cursor = (c, p);
    }

    /// What the glass shows of a stored value: colour filter order and inversion applied.
    fn shown(&self, v: u16) -> u16 {
        let mut v = v;
        let bgr = self.madctl & madctl::BGR != 0;
        if bgr != self.glass.bgr {
            v = ((v & 0x001F) << 11) | (v & 0x07E0) | (v >> 11);
        }
        if self.inverted != self.glass.inverted {
            v = !v;
        }
        v
    }

    /// Physical glass pixel (gx, gy) (native orientation, as seen from the front) → native GRAM.
    fn glass_native(&self, gx: u16, gy: u16) -> (u16, u16) {
        let g = self.glass;
        let nx = if g.mirrored {
            (g.offset.0 + g.size.0).saturating_sub(1 + gx)
        } else {
            g.offset.0 + gx
        };
        (nx, g.offset.1 + gy)
    }

    /// Inverse of `native`: the (column, page) address that lands on native (nx, ny).
    fn address_of(&self, nx: u16, ny: u16) -> (u16, u16) {
        let (gw, gh) = self.glass.gram;
        let x = if self.madctl & madctl::MX != 0 {
            gw.saturating_sub(1 + nx)
        } else {
            nx
        };
        let y = if self.madctl & madctl::MY != 0 {
            gh.saturating_sub(1 + ny)
        } else {
            ny
        };
        if self.madctl & madctl::MV != 0 {
            (y, x)
        } else {
            (x, y)
        }
    }
}

/// A virtual panel; clone the handles with [`VirtualPanel::spi`] and [`VirtualPanel::dc`].
#[derive(Debug, Clone)]
pub struct VirtualPanel {
    state: Arc<Mutex<State>>,
}

/// The SPI side of a [`VirtualPanel`].
#[derive(Debug, Clone)]
pub struct VirtualSpi {
    state: Arc<Mutex<State>>,
}

/// The DC pin of a [`VirtualPanel`].
#[derive(Debug, Clone)]
pub struct VirtualDc {
    state: Arc<Mutex<State>>,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    // A test that panicked while holding the lock already failed; keep going with its state.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl VirtualPanel {
    /// A powered-up panel with this glass; GRAM starts black.
    pub fn new(glass: Glass) -> Self {
        let n = usize::from(glass.gram.0) * usize::from(glass.gram.1);
        let mut s = State {
            glass,
            gram: std::vec![0; n],
            dc: false,
            cmd: None,
            params: Vec::new(),
            madctl: 0,
            colmod: 0x66,
            inverted: false,
            display_on: false,
            sleeping: true,
            cols: (0, 0),
            rows: (0, 0),
            cursor: (0, 0),
            half: None,
            pixels_written: 0,
            transactions: 0,
            log: None,
            faults: Vec::new(),
        };
        s.reset();
        Self {
            state: Arc::new(Mutex::new(s)),
        }
    }

    /// The panel a driver configured with `cfg` expects.
    pub fn for_config(cfg: &PanelConfig) -> Self {
        Self::new(Glass::for_config(cfg))
    }

    /// The SPI device to give the driver.
    pub fn spi(&self) -> VirtualSpi {
        VirtualSpi {
            state: self.state.clone(),
        }
    }

    /// The DC pin to give the driver.
    pub fn dc(&self) -> VirtualDc {
        VirtualDc {
            state: self.state.clone(),
        }
    }

    /// Starts recording every transaction (for byte-exact tests).
    pub fn record(&self) {
        lock(&self.state).log = Some(Vec::new());
    }

    /// The transactions recorded since the last call (or [`VirtualPanel::record`]).
    pub fn take_log(&self) -> Vec<Transaction> {
        let mut s = lock(&self.state);
        match &mut s.log {
            Some(l) => core::mem::take(l),
            None => Vec::new(),
        }
    }

    /// Misuse seen so far (empty for a correct driver).
    pub fn faults(&self) -> Vec<String> {
        lock(&self.state).faults.clone()
    }

    /// True once the panel is out of sleep with the display on.
    pub fn is_showing(&self) -> bool {
        let s = lock(&self.state);
        s.display_on && !s.sleeping
    }

    /// Pixels written into GRAM so far (including ones that fell outside it).
    pub fn pixels_written(&self) -> u64 {
        lock(&self.state).pixels_written
    }

    /// SPI transactions so far.
    pub fn transactions(&self) -> u64 {
        lock(&self.state).transactions
    }

    /// The current MADCTL.
    pub fn madctl(&self) -> u8 {
        lock(&self.state).madctl
    }

    /// Size of the visible image in the current rotation.
    pub fn visible_size(&self) -> (u16, u16) {
        let s = lock(&self.state);
        if s.madctl & madctl::MV != 0 {
            (s.glass.size.1, s.glass.size.0)
        } else {
            s.glass.size
        }
    }

    /// The glass unrotated: `size.0 × size.1` RGB565 values, row-major, as seen from the front.
    pub fn render_glass(&self) -> Vec<u16> {
        let s = lock(&self.state);
        let (w, h) = s.glass.size;
        let gw = usize::from(s.glass.gram.0);
        let mut out = Vec::with_capacity(usize::from(w) * usize::from(h));
        for gy in 0..h {
            for gx in 0..w {
                let (nx, ny) = s.glass_native(gx, gy);
                let v = s
                    .gram
                    .get(usize::from(ny) * gw + usize::from(nx))
                    .copied()
                    .unwrap_or(0);
                out.push(s.shown(v));
            }
        }
        out
    }

    /// The image as a person sees it with the device turned the way MADCTL's rotation intends:
    /// the glass read back in address order. RGB565 values, row-major, [`VirtualPanel::visible_size`].
    pub fn render_visible(&self) -> Vec<u16> {
        let s = lock(&self.state);
        let (w, h) = s.glass.size;
        let gw = usize::from(s.glass.gram.0);
        // The glass covers a rectangle of addresses; its smallest corner is the image's (0, 0).
        let (mut min_c, mut min_p) = (u16::MAX, u16::MAX);
        let (xl, yl) = (w.saturating_sub(1), h.saturating_sub(1));
        for (gx, gy) in [(0, 0), (xl, 0), (0, yl), (xl, yl)] {
            let (nx, ny) = s.glass_native(gx, gy);
            let (c, p) = s.address_of(nx, ny);
            min_c = min_c.min(c);
            min_p = min_p.min(p);
        }
        let (vw, vh) = if s.madctl & madctl::MV != 0 {
            (h, w)
        } else {
            (w, h)
        };
        let mut out = std::vec![0u16; usize::from(vw) * usize::from(vh)];
        for gy in 0..h {
            for gx in 0..w {
                let (nx, ny) = s.glass_native(gx, gy);
                let (c, p) = s.address_of(nx, ny);
                let v = s
                    .gram
                    .get(usize::from(ny) * gw + usize::from(nx))
                    .copied()
                    .unwrap_or(0);
                let i = usize::from(p - min_p) * usize::from(vw) + usize::from(c - min_c);
                if let Some(slot) = out.get_mut(i) {
                    *slot = s.shown(v);
                }
            }
        }
        out
    }

    /// [`VirtualPanel::render_visible`] as big-endian bytes (what the emulator snapshots).
    pub fn render_visible_be(&self) -> Vec<u8> {
        self.render_visible()
            .iter()
            .flat_map(|p| p.to_be_bytes())
            .collect()
    }
}

impl ErrorType for VirtualSpi {
    type Error = Infallible;
}

impl VirtualSpi {
    fn feed(&self, bytes: &[u8]) {
        let mut s = lock(&self.state);
        if let Some(t) = s.log.as_mut().and_then(|l| l.last_mut()) {
            t.bytes.extend_from_slice(bytes);
        }
        if s.dc {
            s.data(bytes);
        } else {
            for &c in bytes {
                s.command(c);
            }
        }
    }
}

impl SpiDevice for VirtualSpi {
    async fn transaction(
        &mut self,
        operations: &mut [Operation<'_, u8>],
    ) -> Result<(), Infallible> {
        {
            let mut s = lock(&self.state);
            s.transactions += 1;
            let dc = s.dc;
            if let Some(log) = &mut s.log {
                log.push(Transaction {
                    dc,
                    bytes: Vec::new(),
                });
            }
        }
        for op in operations {
            match op {
                Operation::Write(b) => self.feed(b),
                Operation::Transfer(r, w) => {
                    self.feed(w);
                    r.fill(0);
                }
                Operation::TransferInPlace(b) => {
                    self.feed(b);
                    b.fill(0);
                }
                Operation::Read(b) => b.fill(0),
                Operation::DelayNs(_) => {}
            }
        }
        let mut s = lock(&self.state);
        s.end_transaction();
        if let Some(log) = &mut s.log
            && log.last().is_some_and(|t| t.bytes.is_empty())
        {
            log.pop();
        }
        Ok(())
    }
}

impl embedded_hal::digital::ErrorType for VirtualDc {
    type Error = Infallible;
}

impl embedded_hal::digital::OutputPin for VirtualDc {
    fn set_low(&mut self) -> Result<(), Infallible> {
        lock(&self.state).dc = false;
        Ok(())
    }

    fn set_high(&mut self) -> Result<(), Infallible> {
        lock(&self.state).dc = true;
        Ok(())
    }
}

/// Runs a future that never waits (everything on a virtual panel completes at once).
pub use embassy_futures::block_on;

/// A delay that returns at once, for initialising a virtual panel.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoDelay;

impl embedded_hal_async::delay::DelayNs for NoDelay {
    async fn delay_ns(&mut self, _ns: u32) {}
}
