//! What every protocol loop shares: the frame source and pacer, the stop conditions (`--duration`,
//! `--frames`, Ctrl-C), the reconnect back-off and give-up rule, and the running [`Summary`].

use super::content::FrameSource;
use super::pacer::Pacer;
use super::target::Target;
use super::{MockCameraOptions, Summary};
use std::time::Duration;
use tokio::time::{Instant, sleep, sleep_until};

/// One run of the camera.
pub(super) struct Run {
    pub opts: MockCameraOptions,
    pub source: FrameSource,
    pub pacer: Pacer,
    pub summary: Summary,
    /// The device's boot time (`millis()` counts from here).
    pub started: Instant,
    end_at: Option<Instant>,
    stop: tokio::sync::watch::Receiver<bool>,
    failures_in_row: u32,
    last_warning: Option<Instant>,
}

/// Dispatches to the protocol of `target` and returns the final summary.
pub(super) async fn run_target(
    opts: MockCameraOptions,
    target: Target,
    stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<Summary> {
    let mut run = Run::new(opts, target.scheme(), stop);
    match target {
        Target::Ws(endpoint, path) => super::ws::run(&mut run, &endpoint, &path).await?,
        Target::Http(endpoint, prefix) => super::http::run(&mut run, &endpoint, &prefix).await?,
        Target::Tcp(endpoint) => super::picamera::run(&mut run, &endpoint).await?,
    }
    let s = &mut run.summary;
    s.elapsed_s = run.started.elapsed().as_secs_f64();
    s.fps = if s.elapsed_s > 0.0 {
        s.frames as f64 / s.elapsed_s
    } else {
        0.0
    };
    Ok(run.summary)
}

impl Run {
    fn new(
        opts: MockCameraOptions,
        protocol: &'static str,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> Self {
        let started = Instant::now();
        let (w, h) = opts.size;
        Self {
            source: FrameSource::with_painter(
                opts.painter.make(w, h),
                w,
                h,
                opts.format,
                opts.quality,
                opts.fps,
            ),
            pacer: Pacer::new(opts.fps, started),
            summary: Summary::new(protocol, opts.format),
            started,
            end_at: opts
                .duration
                .map(|d| started + Duration::from_secs_f64(d.clamp(0.0, 1e9))),
            stop,
            failures_in_row: 0,
            last_warning: None,
            opts,
        }
    }

    /// True once the run must end: stop requested, `--duration` over, `--frames` reached, or
    /// given up.
    pub fn done(&self) -> bool {
        let frames_done = self
            .opts
            .frames
            .is_some_and(|n| self.summary.frames + self.summary.failures >= n);
        *self.stop.borrow()
            || self.end_at.is_some_and(|t| Instant::now() >= t)
            || frames_done
            || self.summary.gave_up
    }

    /// Resolves when a stop is requested or `--duration` is over (cancel-safe).
    pub async fn until_done(&mut self) {
        let end = async {
            match self.end_at {
                Some(t) => sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = self.stop.wait_for(|stop| *stop) => {}
            () = end => {}
        }
    }

    /// Renders the frame that is due now and advances the pacer.
    pub fn take_frame(&mut self) -> anyhow::Result<Vec<u8>> {
        let now = Instant::now();
        self.pacer.take(now);
        self.source.next_frame(now - self.started)
    }

    /// `millis()` of the emulated device: ms since boot, wrapping like the Arduino `u32`.
    pub fn uptime_ms(&self) -> u32 {
        self.started.elapsed().as_millis() as u32
    }

    /// A frame of `len_bytes` payload bytes was delivered.
    pub fn delivered(&mut self, len_bytes: usize) {
        self.summary.frames += 1;
        self.summary.bytes += len_bytes as u64;
    }

    /// A frame was attempted and not delivered.
    pub fn failed(&mut self) {
        self.summary.failures += 1;
    }

    /// A connection was established.
    pub fn connected(&mut self) {
        self.summary.connects += 1;
        self.failures_in_row = 0;
    }

    /// A connection attempt failed. Returns false (and marks the run given up) once
    /// `--max-connect-failures` attempts in a row have failed.
    pub fn connect_failed(&mut self, what: &str, err: &dyn std::fmt::Display) -> bool {
        self.summary.connect_failures += 1;
        self.failures_in_row += 1;
        let max = self.opts.max_connect_failures;
        tracing::warn!(
            attempt = self.failures_in_row,
            "mock-camera: connecting to {what} failed: {err}"
        );
        if max > 0 && self.failures_in_row >= max {
            tracing::error!(
                "mock-camera: giving up after {max} failed connection attempts in a row"
            );
            self.summary.gave_up = true;
            return false;
        }
        true
    }

    /// Waits `--reconnect-delay`; false if the run ended meanwhile.
    pub async fn backoff(&mut self) -> bool {
        let delay = Duration::from_secs_f64(self.opts.reconnect_delay.clamp(0.0, 86_400.0));
        tokio::select! {
            () = sleep(delay) => !self.done(),
            () = self.until_done() => false,
        }
    }

    /// Logs a per-frame problem at most once a second (the sketches also log only every few
    /// failures), so a failing server does not flood the terminal.
    pub fn warn_throttled(&mut self, msg: &str) {
        let now = Instant::now();
        if self
            .last_warning
            .is_none_or(|t| now - t >= Duration::from_secs(1))
        {
            self.last_warning = Some(now);
            tracing::warn!("mock-camera: {msg}");
        }
    }
}
