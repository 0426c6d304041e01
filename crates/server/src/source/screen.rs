//! `screen` streams: an X11 capture (`pixelwire-capture`) that runs only while the stream is
//! watched and grabs only when pixels change (Damage), publishing BGRX frames with their damage
//! rectangles on the bus. Every consumer pays only for its own form: displays resize and
//! quantise, the H.264 hub converts to I420 once, MJPEG and snapshots encode JPEG once.

use crate::bus::Stream;
use crate::config::StreamConfig;
use crate::shutdown::ShutdownSignal;
use pixelwire_capture::FrameCapture;
use std::sync::Arc;
use std::time::Duration;

/// How long a capture that failed to start waits before trying again.
const RETRY: Duration = Duration::from_secs(5);
/// How often a running capture checks whether anyone still watches.
const WATCH_CHECK: Duration = Duration::from_secs(1);

/// Runs a screen stream until shutdown.
pub async fn run_screen(stream: Arc<Stream>, cfg: StreamConfig, mut shutdown: ShutdownSignal) {
    let Some(screen) = cfg.screen_config() else {
        return;
    };
    let settings = screen.capture_settings(cfg.fps());
    let mut failures = 0u32;
    loop {
        tokio::select! {
            _ = stream.watched() => {}
            _ = shutdown.wait() => return,
        }
        if stream.watchers() == 0 {
            continue;
        }
        let s = settings.clone();
        let sink = stream.clone();
        let started = tokio::task::spawn_blocking(move || {
            FrameCapture::start(&s, move |grab| sink.publish(grab.frame))
        })
        .await;
        let capture = match started {
            Ok(Ok(c)) => {
                tracing::info!(stream = stream.name(), "screen capture started");
                failures = 0;
                c
            }
            Ok(Err(e)) => {
                failures += 1;
                // Logged at the 1st, 2nd, 4th, 8th… failure in a row: a missing display is
                // said clearly, then not every 5 s forever.
                if failures.is_power_of_two() {
                    tracing::warn!(stream = stream.name(), error = %e, failures, "screen capture cannot start; retrying every 5 s");
                }
                tokio::select! {
                    _ = tokio::time::sleep(RETRY) => continue,
                    _ = shutdown.wait() => return,
                }
            }
            Err(e) => {
                tracing::error!(stream = stream.name(), error = %e, "screen capture start panicked");
                return;
            }
        };
        let mut stopping = false;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(WATCH_CHECK) => {}
                _ = shutdown.wait() => stopping = true,
            }
            if stopping || stream.watchers() == 0 || !capture.is_running() {
                break;
            }
        }
        let name = stream.name().to_string();
        let ended = tokio::task::spawn_blocking(move || capture.stop()).await;
        match ended {
            Ok(Ok(())) => tracing::info!(stream = %name, "screen capture stopped"),
            Ok(Err(e)) => tracing::warn!(stream = %name, error = %e, "screen capture ended"),
            Err(e) => tracing::error!(stream = %name, error = %e, "screen capture thread panicked"),
        }
        if stopping {
            return;
        }
    }
}
