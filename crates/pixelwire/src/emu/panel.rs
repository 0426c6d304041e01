//! The emulated panel: a double-buffered framebuffer fed by the shared `pixelwire-proto` device
//! code, plus what the emulator measures (frames, latency) and a model of the SPI bus (how long the
//! pixels of a chunk take to reach the panel).

use pixelwire_proto::{DoubleBuffer, FrameEnd, PixelSink, RectHeader};
use std::time::Duration;

/// Panel sink; see the module docs.
pub struct EmuPanel {
    /// The framebuffers (front = what the panel shows), RGB565 big-endian.
    pub fb: DoubleBuffer<Vec<u8>>,
    /// Latencies of presented frames since the last report, ms (when the clock offset is known).
    pub latencies_ms: Vec<f64>,
    /// Frames presented since the last report.
    pub frames: u64,
    /// Pixels written since the last call to [`EmuPanel::take_pixels`].
    pixels: u64,
}

impl EmuPanel {
    /// A black `width × height` panel.
    pub fn new(width: u16, height: u16) -> Self {
        let n = usize::from(width) * usize::from(height) * 2;
        Self {
            fb: DoubleBuffer::new(width, height, vec![0; n], vec![0; n]),
            latencies_ms: Vec::new(),
            frames: 0,
            pixels: 0,
        }
    }

    /// Pixels written since the last call.
    pub fn take_pixels(&mut self) -> u64 {
        std::mem::take(&mut self.pixels)
    }
}

impl PixelSink for EmuPanel {
    fn begin_rect(&mut self, rect: &RectHeader) {
        self.fb.begin_rect(rect);
    }

    fn pixels(&mut self, bytes: &[u8]) {
        self.pixels += bytes.len() as u64 / 2;
        self.fb.pixels(bytes);
    }

    fn fill(&mut self, pixel: [u8; 2], count: u32) {
        self.pixels += u64::from(count);
        self.fb.fill(pixel, count);
    }

    fn present(&mut self, frame: &FrameEnd, latency_us: Option<i64>) {
        self.fb.present(frame, latency_us);
        self.frames += 1;
        if let Some(l) = latency_us {
            self.latencies_ms.push(l as f64 / 1000.0);
        }
    }
}

/// Time to clock `pixels` RGB565 pixels out over SPI at `mhz` (0 = instant).
pub fn spi_time(pixels: u64, mhz: f64) -> Duration {
    if mhz <= 0.0 {
        Duration::ZERO
    } else {
        Duration::from_secs_f64(pixels as f64 * 16.0 / (mhz * 1e6))
    }
}
