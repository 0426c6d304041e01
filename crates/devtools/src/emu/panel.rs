//! The emulated panel: a double-buffered framebuffer fed by the shared `pixelwire-proto` device
//! code, plus what the emulator measures (frames, latency) and a model of the SPI bus (how long the
//! pixels of a chunk take to reach the panel).
//!
//! With `--panel`, every presented frame also goes through the firmware's panel driver
//! (`pixelwire-panel`: address windows, MADCTL rotation, offsets, RGB565 on the SPI bus) into a
//! virtual DCS panel, and snapshots show what that panel would show.

use pixelwire_panel::virtual_panel::{NoDelay, VirtualDc, VirtualSpi, block_on};
use pixelwire_panel::{Panel, PanelConfig, VirtualPanel, Window};
use pixelwire_proto::{DoubleBuffer, FrameEnd, PixelFormat, PixelSink, RectHeader};
use std::time::Duration;

/// The firmware's driver on a virtual panel.
pub struct VirtualDisplay {
    panel: VirtualPanel,
    driver: Panel<VirtualSpi, VirtualDc>,
    /// Rectangles of the frame being received.
    rects: Vec<RectHeader>,
}

impl VirtualDisplay {
    /// A virtual panel configured as `cfg`, initialised by the driver.
    pub fn new(cfg: PanelConfig) -> Self {
        let panel = VirtualPanel::for_config(&cfg);
        let mut driver = Panel::new(panel.spi(), panel.dc(), cfg);
        // The virtual bus cannot fail (its error type is `Infallible`).
        let _ = block_on(driver.init(&mut NoDelay));
        Self {
            panel,
            driver,
            rects: Vec::new(),
        }
    }

    /// Size of the image the driver draws (after rotation).
    pub fn size(&self) -> (u16, u16) {
        (self.driver.width(), self.driver.height())
    }

    /// Writes `rect` of the framebuffer `fb` (`width` pixels wide, RGB565 big-endian) to the panel.
    fn push(&mut self, fb: &[u8], rect: RectHeader) {
        let (w, h) = self.size();
        let Some(win) = Window::clip(rect.x, rect.y, rect.w, rect.h, w, h) else {
            return;
        };
        let stride = usize::from(w) * 2;
        let _ = block_on(async {
            self.driver.set_window(win).await?;
            for y in win.y..win.y + win.h {
                let start = usize::from(y) * stride + usize::from(win.x) * 2;
                let row = fb.get(start..start + usize::from(win.w) * 2).unwrap_or(&[]);
                self.driver.write_pixels(row).await?;
            }
            Ok::<(), pixelwire_panel::driver::ErrorOf<VirtualSpi, VirtualDc>>(())
        });
    }

    /// Writes the whole framebuffer (the legacy path, which draws into it directly).
    pub fn push_all(&mut self, fb: &[u8]) {
        let (w, h) = self.size();
        self.push(
            fb,
            RectHeader {
                x: 0,
                y: 0,
                w,
                h,
                codec: pixelwire_proto::Codec::Raw,
            },
        );
    }

    /// What the panel shows, RGB565 big-endian, row-major.
    pub fn shown(&self) -> Vec<u8> {
        self.panel.render_visible_be()
    }
}

/// Panel sink; see the module docs.
pub struct EmuPanel {
    /// The framebuffers (front = what the panel shows), RGB565 in the declared order, or packed
    /// grey rows.
    pub fb: DoubleBuffer<Vec<u8>>,
    format: PixelFormat,
    /// Latencies of presented frames since the last report, ms (when the clock offset is known).
    pub latencies_ms: Vec<f64>,
    /// Frames presented since the last report.
    pub frames: u64,
    /// Pixels written since the last call to [`EmuPanel::take_pixels`].
    pixels: u64,
    /// The `--panel` path, if chosen.
    virt: Option<VirtualDisplay>,
}

impl EmuPanel {
    /// A black `width × height` RGB565 panel.
    pub fn new(width: u16, height: u16) -> Self {
        Self::with_format(width, height, PixelFormat::default())
    }

    /// A black `width × height` panel in `format`.
    pub fn with_format(width: u16, height: u16, format: PixelFormat) -> Self {
        let n = format.frame_bytes(usize::from(width), usize::from(height));
        Self {
            fb: DoubleBuffer::with_format(width, height, format, vec![0; n], vec![0; n]),
            format,
            latencies_ms: Vec::new(),
            frames: 0,
            pixels: 0,
            virt: None,
        }
    }

    /// A panel whose frames also go through the firmware's driver to a virtual `cfg` panel; its
    /// size is the panel's (after rotation).
    pub fn with_virtual_panel(cfg: PanelConfig) -> Self {
        let virt = VirtualDisplay::new(cfg);
        let (w, h) = virt.size();
        Self {
            virt: Some(virt),
            ..Self::new(w, h)
        }
    }

    /// The panel's pixel format.
    pub fn format(&self) -> PixelFormat {
        self.format
    }

    /// Pixels written since the last call.
    pub fn take_pixels(&mut self) -> u64 {
        std::mem::take(&mut self.pixels)
    }

    /// What the panel shows now, RGB565 big-endian: the virtual panel's visible image with
    /// `--panel`, else the front buffer. `legacy` first copies the front buffer to the virtual
    /// panel (the legacy parser draws into the front buffer directly).
    pub fn shown(&mut self, legacy: bool) -> Vec<u8> {
        match &mut self.virt {
            Some(v) => {
                if legacy {
                    v.push_all(&self.fb.front);
                }
                v.shown()
            }
            None => self.fb.front.clone(),
        }
    }
}

impl PixelSink for EmuPanel {
    fn begin_rect(&mut self, rect: &RectHeader) {
        if let Some(v) = &mut self.virt {
            v.rects.push(*rect);
        }
        self.fb.begin_rect(rect);
    }

    fn pixels(&mut self, bytes: &[u8]) {
        self.pixels +=
            bytes.len() as u64 * u64::from(self.format.x_align()) / self.format.unit_bytes() as u64;
        self.fb.pixels(bytes);
    }

    fn fill(&mut self, pixel: [u8; 2], count: u32) {
        self.pixels += u64::from(count) * u64::from(self.format.x_align());
        self.fb.fill(pixel, count);
    }

    fn present(&mut self, frame: &FrameEnd, latency_us: Option<i64>) {
        self.fb.present(frame, latency_us);
        if let Some(v) = &mut self.virt {
            // As the firmware does: the frame's rectangles reach the panel at FRAME_END.
            for r in std::mem::take(&mut v.rects) {
                v.push(&self.fb.front, r);
            }
        }
        self.frames += 1;
        if let Some(l) = latency_us {
            self.latencies_ms.push(l as f64 / 1000.0);
        }
    }
}

/// Time to clock `pixels` pixels of `bits_per_pixel` (16 for RGB565, 1 for mono) out over SPI at
/// `mhz` (0 = instant).
pub fn spi_time(pixels: u64, bits_per_pixel: u32, mhz: f64) -> Duration {
    if mhz <= 0.0 {
        Duration::ZERO
    } else {
        Duration::from_secs_f64(pixels as f64 * f64::from(bits_per_pixel) / (mhz * 1e6))
    }
}
