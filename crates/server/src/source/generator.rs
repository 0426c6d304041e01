//! The interface between the source runtime and the built-in screen renderers: renderers are pure
//! (time and metrics come in as values), so golden tests can render any instant exactly.

/// Local wall-clock time, broken into fields by the caller (the renderers never read a clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClockTime {
    /// Full year, e.g. 2026.
    pub year: i32,
    /// 1..=12.
    pub month: u8,
    /// 1..=31.
    pub day: u8,
    /// 0..=23.
    pub hour: u8,
    /// 0..=59.
    pub minute: u8,
    /// 0..=59.
    pub second: u8,
    /// 0..=999.
    pub millis: u16,
}

impl ClockTime {
    /// The local wall-clock fields of a server timestamp, for on-screen clocks.
    pub fn local(t: pixelwire_core::Timestamp) -> ClockTime {
        use chrono::{Datelike, Local, TimeZone, Timelike};
        let secs = (t.as_micros() / 1_000_000) as i64;
        let nanos = ((t.as_micros() % 1_000_000) * 1000) as u32;
        match Local.timestamp_opt(secs, nanos).single() {
            Some(dt) => ClockTime {
                year: dt.year(),
                month: dt.month() as u8,
                day: dt.day() as u8,
                hour: dt.hour() as u8,
                minute: dt.minute() as u8,
                second: dt.second() as u8,
                millis: (dt.nanosecond() / 1_000_000).min(999) as u16,
            },
            None => ClockTime::default(),
        }
    }
}

/// Everything a renderer may depend on for one frame.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RenderInput {
    /// Local wall-clock time of the frame.
    pub clock: ClockTime,
    /// Milliseconds since the source started (drives animations).
    pub elapsed_ms: u64,
    /// Frames rendered so far by this source (0 for the first).
    pub frame_index: u64,
    /// Measured output rate of the source, frames per second.
    pub fps: f32,
}

/// A built-in screen.
pub trait Generator: Send + 'static {
    /// Output size in pixels.
    fn size(&self) -> (u32, u32);

    /// Renders one frame into `rgba` (`width * height * 4` bytes, R G B A, row-major, opaque).
    fn render(&mut self, input: &RenderInput, rgba: &mut [u8]);
}
