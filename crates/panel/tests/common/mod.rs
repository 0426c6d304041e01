//! Shared by the panel tests: a delay that does not wait, a transaction log printer, test images,
//! the status screen's test fields, and one direction of a simulated link.
#![allow(dead_code)]

use pixelwire_panel::virtual_panel::Transaction;

/// A delay that returns at once and adds up what was asked.
#[derive(Debug, Default)]
pub struct NoDelay {
    pub total_ns: u64,
}

impl embedded_hal_async::delay::DelayNs for NoDelay {
    async fn delay_ns(&mut self, ns: u32) {
        self.total_ns += u64::from(ns);
    }
}

/// What the status screen tests draw: every field filled, the error long enough to wrap;
/// `panel` names the panel line.
pub fn status_info(panel: &'static str) -> pixelwire_panel::status::StatusInfo<'static> {
    pixelwire_panel::status::StatusInfo {
        device_id: "pxw-34851800abcd",
        firmware: "pixelwire-esp32c3 0.1.0",
        panel,
        ssid: "workshop",
        wifi: "connected",
        rssi_dbm: -61,
        ip: Some([192, 168, 1, 23]),
        server: "192.168.1.10:8888",
        link: "retry 3 in 2.0 s",
        retries: 3,
        last_error: "network: ConnectionReset while reading a very long line of text that wraps",
    }
}

/// A transaction log as text: `C:2a D:0000013f` per transaction, joined by spaces.
pub fn log_text(log: &[Transaction]) -> String {
    log.iter()
        .map(|t| {
            let hex: String = t.bytes.iter().map(|b| format!("{b:02x}")).collect();
            format!("{}:{hex}", if t.dc { "D" } else { "C" })
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A test image: four quadrants of distinct colours, a diagonal and a one-pixel frame, so that
/// any flip, rotation, offset or colour swap shows.
pub fn test_image(w: u16, h: u16) -> Vec<u16> {
    let (w, h) = (usize::from(w), usize::from(h));
    let mut img = vec![0u16; w * h];
    for y in 0..h {
        for x in 0..w {
            let q = match (x < w / 2, y < h / 2) {
                (true, true) => 0xF800,   // red
                (false, true) => 0x07E0,  // green
                (true, false) => 0x001F,  // blue
                (false, false) => 0xFFE0, // yellow
            };
            let v = if x == 0 || y == 0 || x == w - 1 || y == h - 1 {
                0xFFFF
            } else if x * h == y * w {
                0x0000
            } else {
                q ^ ((x as u16 & 7) << 5)
            };
            img[y * w + x] = v;
        }
    }
    img
}

/// One direction of a simulated link: FIFO, fixed rate and delay, 1460-byte segments.
pub struct Pipe {
    bytes_per_s: f64,
    delay_us: u64,
    busy_until: u64,
    queue: std::collections::VecDeque<(u64, Vec<u8>)>,
}

impl Pipe {
    /// A link of `bytes_per_s` with `delay_us` of one-way delay.
    pub fn new(bytes_per_s: f64, delay_us: u64) -> Self {
        Self {
            bytes_per_s,
            delay_us,
            busy_until: 0,
            queue: std::collections::VecDeque::new(),
        }
    }

    /// Queues `bytes` sent at `now`.
    pub fn send(&mut self, now: u64, bytes: &[u8]) {
        for seg in bytes.chunks(1460) {
            let start = self.busy_until.max(now);
            self.busy_until = start + (seg.len() as f64 / self.bytes_per_s * 1e6) as u64;
            self.queue
                .push_back((self.busy_until + self.delay_us, seg.to_vec()));
        }
    }

    /// When the next segment arrives.
    pub fn next(&self) -> Option<u64> {
        self.queue.front().map(|(t, _)| *t)
    }

    /// Everything that has arrived by `now`.
    pub fn take_due(&mut self, now: u64) -> Vec<u8> {
        let mut out = Vec::new();
        while self.queue.front().is_some_and(|(t, _)| *t <= now) {
            out.extend(self.queue.pop_front().map(|(_, b)| b).unwrap_or_default());
        }
        out
    }
}
