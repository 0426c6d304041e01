//! [`FrameCapture`]: raw captured frames (BGRX rows with their damage rectangles) delivered from
//! a capture thread to a callback, for programs that encode frames themselves (the pixelwire
//! server publishes them on its bus, where every consumer pays only for its own encoding).

use crate::error::CaptureError;
use crate::settings::CaptureSettings;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

#[cfg(target_os = "linux")]
pub use crate::x11::{Grab, GrabStats, X11Grabber as Grabber};

/// A grab (this platform has no capture backend in this build, so none is ever made).
#[cfg(not(target_os = "linux"))]
#[derive(Debug)]
pub struct Grab {
    /// The frame.
    pub frame: pixelwire_media::MediaFrame,
}

#[cfg(target_os = "linux")]
impl crate::slot::Supersede for Grab {
    fn supersede(self, older: Self) -> Self {
        let cursor = match (self.cursor, older.cursor) {
            // Keep a shape the consumer has not seen yet.
            (Some(mut new), Some(old)) => {
                if new.image.is_none() {
                    new.image = old.image;
                }
                Some(new)
            }
            (new, old) => new.or(old),
        };
        Grab {
            frame: self.frame.supersede(older.frame),
            area: self.area,
            cursor,
        }
    }
}

/// A running capture thread; stops when dropped.
pub struct FrameCapture {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<(), CaptureError>>>,
}

impl FrameCapture {
    /// Opens the display and starts capturing; `on_grab` runs on the capture thread for every
    /// grabbed frame and must not block (hand the frame on, do not encode it there). Errors that
    /// prevent starting (no display, missing extension, no such monitor or window) are returned
    /// here; an error later ends the thread and is returned by [`FrameCapture::stop`].
    #[cfg(target_os = "linux")]
    pub fn start(
        settings: &CaptureSettings,
        mut on_grab: impl FnMut(Grab) + Send + 'static,
    ) -> Result<Self, CaptureError> {
        let mut grabber = Grabber::open(settings)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("pw-capture".into())
            .spawn(move || {
                while let Some(grab) = grabber.next(&flag)? {
                    on_grab(grab);
                }
                Ok(())
            })
            .map_err(|e| CaptureError::X11(format!("cannot start the capture thread: {e}")))?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }

    /// No backend for this platform in this build.
    #[cfg(not(target_os = "linux"))]
    pub fn start(
        _settings: &CaptureSettings,
        _on_grab: impl FnMut(Grab) + Send + 'static,
    ) -> Result<Self, CaptureError> {
        Err(CaptureError::NoBackend)
    }

    /// True while the capture thread runs.
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Stops the thread and waits for it; returns the error that ended it early, if any.
    pub fn stop(mut self) -> Result<(), CaptureError> {
        self.halt()
    }

    fn halt(&mut self) -> Result<(), CaptureError> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(CaptureError::X11("the capture thread panicked".into())),
            None => Ok(()),
        }
    }
}

impl Drop for FrameCapture {
    fn drop(&mut self) {
        let _ = self.halt();
    }
}
