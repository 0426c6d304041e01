//! [`ScreenCapture`]: seed 003's `ScreenCapture` — capture, change detection and striped encoding
//! on two threads, with the encoded stripes handed to a callback or an iterator.
//!
//! The capture thread grabs (only when the X server reports damage) and puts the frame in a
//! [`NewestSlot`]; the encode thread takes the newest frame, runs the [`StripePipeline`] and calls
//! the callback. Capture never waits for encoding: a frame the encoder has not taken yet is
//! replaced by the next, whose damage then covers both (pixelflux's capture instead blocks behind
//! its encoder, so its latency grows under load).

use crate::error::CaptureError;
use crate::pipeline::{PipelineStats, StripePipeline};
use crate::settings::CaptureSettings;
use crate::slot::NewestSlot;
use crate::stripe::EncodedStripe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

#[cfg(target_os = "linux")]
use crate::x11::{Grab, X11Grabber, cursor::CursorUpdate};

/// How long the encode thread waits for a frame before looking at the stop flag.
const TAKE_TIMEOUT: Duration = Duration::from_millis(100);
/// Stripes an iterator buffers before it drops its backlog (and asks for a full refresh).
pub const ITER_CAPACITY: usize = 512;

/// Counters of a running capture.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Frames grabbed.
    pub frames_captured: u64,
    /// Grabbed frames replaced before the encoder took them (their damage carried over).
    pub frames_superseded: u64,
    /// Stripes an iterator's reader was too slow for (dropped; a refresh followed).
    pub stripes_dropped: u64,
    /// The encoder's counters.
    pub pipeline: PipelineStats,
}

struct Shared {
    stop: AtomicBool,
    refresh: AtomicBool,
    /// The grabber's flag for a full frame (set once the grabber exists).
    full: OnceLock<Arc<AtomicBool>>,
    captured: AtomicU64,
    dropped: AtomicU64,
    pipeline: Mutex<PipelineStats>,
}

impl Shared {
    /// Every stripe once more on the next frame, grabbed whole even if the screen is still.
    fn request_refresh(&self) {
        self.refresh.store(true, Ordering::Relaxed);
        if let Some(full) = self.full.get() {
            full.store(true, Ordering::Relaxed);
        }
    }
}

/// A running capture; stops when dropped. See the module docs.
pub struct ScreenCapture {
    size: (u32, u32),
    shared: Arc<Shared>,
    slot: Arc<NewestSlot<Grab>>,
    capture: Option<JoinHandle<Result<(), CaptureError>>>,
    encode: Option<JoinHandle<()>>,
}

/// Encoded stripes as an iterator (from [`ScreenCapture::start_iter`]); ends when the capture
/// stops.
pub struct Stripes {
    rx: Receiver<EncodedStripe>,
}

impl Iterator for Stripes {
    type Item = EncodedStripe;

    fn next(&mut self) -> Option<EncodedStripe> {
        self.rx.recv().ok()
    }
}

impl Stripes {
    /// The next stripe, waiting at most `timeout`.
    pub fn next_timeout(&mut self, timeout: Duration) -> Option<EncodedStripe> {
        self.rx.recv_timeout(timeout).ok()
    }
}

impl ScreenCapture {
    /// Starts capturing; `on_stripe` runs on the encode thread for every encoded stripe, top to
    /// bottom within a frame. Errors that prevent starting (no display, a missing extension, no
    /// such monitor or window, a setting this build cannot honour) are returned here.
    pub fn start(
        settings: CaptureSettings,
        on_stripe: impl FnMut(EncodedStripe) + Send + 'static,
    ) -> Result<Self, CaptureError> {
        Self::start_with_cursor(settings, on_stripe, |_| {})
    }

    /// [`ScreenCapture::start`], and `on_cursor` gets the pointer's moves and shapes when
    /// [`crate::CursorMode::Separate`] is set.
    pub fn start_with_cursor(
        settings: CaptureSettings,
        on_stripe: impl FnMut(EncodedStripe) + Send + 'static,
        on_cursor: impl FnMut(CursorUpdate) + Send + 'static,
    ) -> Result<Self, CaptureError> {
        Self::start_inner(settings, |_| on_stripe, on_cursor)
    }

    /// The two threads; `make_on_stripe` gets the capture's shared state (for a callback that
    /// asks for refreshes itself).
    fn start_inner<S: FnMut(EncodedStripe) + Send + 'static>(
        settings: CaptureSettings,
        make_on_stripe: impl FnOnce(Arc<Shared>) -> S,
        mut on_cursor: impl FnMut(CursorUpdate) + Send + 'static,
    ) -> Result<Self, CaptureError> {
        let mut pipeline = StripePipeline::new(&settings)?;
        let mut grabber = X11Grabber::open(&settings)?;
        let size = grabber.area().map_or((0, 0), |a| (a.width, a.height));
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            refresh: AtomicBool::new(false),
            full: OnceLock::from(grabber.full_requests()),
            captured: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            pipeline: Mutex::new(PipelineStats::default()),
        });
        let slot = Arc::new(NewestSlot::<Grab>::new());
        let mut on_stripe = make_on_stripe(Arc::clone(&shared));

        let (sh, sl) = (Arc::clone(&shared), Arc::clone(&slot));
        let capture = std::thread::Builder::new()
            .name("pw-capture".into())
            .spawn(move || {
                let stop = &sh.stop;
                let result = loop {
                    match grabber.next(stop) {
                        Ok(Some(g)) => {
                            sh.captured.fetch_add(1, Ordering::Relaxed);
                            sl.put(g);
                        }
                        Ok(None) => break Ok(()),
                        Err(e) => break Err(e),
                    }
                };
                sl.close();
                result
            })
            .map_err(|e| CaptureError::X11(format!("cannot start the capture thread: {e}")))?;

        let (sh, sl) = (Arc::clone(&shared), Arc::clone(&slot));
        let encode = std::thread::Builder::new()
            .name("pw-encode".into())
            .spawn(move || {
                while !sh.stop.load(Ordering::Relaxed) {
                    let Some(grab) = sl.take(TAKE_TIMEOUT) else {
                        if sl.is_closed() {
                            break;
                        }
                        continue;
                    };
                    if sh.refresh.swap(false, Ordering::Relaxed) {
                        pipeline.request_refresh();
                    }
                    if let Some(c) = grab.cursor {
                        on_cursor(c);
                    }
                    for stripe in pipeline.process(&grab.frame) {
                        on_stripe(stripe);
                    }
                    *sh.pipeline.lock().unwrap_or_else(|p| p.into_inner()) = pipeline.stats();
                }
            })
            .map_err(|e| CaptureError::X11(format!("cannot start the encode thread: {e}")))?;
        Ok(Self {
            size,
            shared,
            slot,
            capture: Some(capture),
            encode: Some(encode),
        })
    }

    /// Starts capturing with the stripes delivered as an iterator. A reader that falls more than
    /// [`ITER_CAPACITY`] stripes behind loses the backlog and gets a full refresh instead, so
    /// it always catches up to a complete, current picture.
    pub fn start_iter(settings: CaptureSettings) -> Result<(Self, Stripes), CaptureError> {
        let (tx, rx): (SyncSender<EncodedStripe>, _) = std::sync::mpsc::sync_channel(ITER_CAPACITY);
        let cap = Self::start_inner(
            settings,
            move |shared| {
                move |s| match tx.try_send(s) {
                    Ok(()) | Err(TrySendError::Disconnected(_)) => {}
                    Err(TrySendError::Full(_)) => {
                        shared.dropped.fetch_add(1, Ordering::Relaxed);
                        shared.request_refresh();
                    }
                }
            },
            |_| {},
        )?;
        Ok((cap, Stripes { rx }))
    }

    /// Every stripe is sent again on the next frame (JPEG at its best quality, H.264 IDRs), even
    /// if the screen is still: for a viewer that joins or lost data.
    pub fn request_refresh(&self) {
        self.shared.request_refresh();
    }

    /// Width and height of the captured area when the capture started (a followed window may
    /// change it later; each stripe carries its own width).
    pub fn size(&self) -> (u32, u32) {
        self.size
    }

    /// Counters.
    pub fn stats(&self) -> CaptureStats {
        CaptureStats {
            frames_captured: self.shared.captured.load(Ordering::Relaxed),
            frames_superseded: self.slot.superseded(),
            stripes_dropped: self.shared.dropped.load(Ordering::Relaxed),
            pipeline: *self
                .shared
                .pipeline
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        }
    }

    /// True while both threads run.
    pub fn is_running(&self) -> bool {
        self.capture.as_ref().is_some_and(|t| !t.is_finished())
            && self.encode.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Stops both threads and waits for them; returns the error that ended capture early, if any.
    pub fn stop(mut self) -> Result<(), CaptureError> {
        self.halt()
    }

    fn halt(&mut self) -> Result<(), CaptureError> {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.slot.close();
        let captured = match self.capture.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(CaptureError::X11("the capture thread panicked".into())),
            None => Ok(()),
        };
        if let Some(Err(_)) = self.encode.take().map(JoinHandle::join) {
            return Err(CaptureError::X11(
                "the encode thread panicked (in the stripe callback?)".into(),
            ));
        }
        captured
    }
}

impl Drop for ScreenCapture {
    fn drop(&mut self) {
        let _ = self.halt();
    }
}
