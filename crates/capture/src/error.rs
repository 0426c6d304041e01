//! Why a capture could not start or stopped.

/// Why a capture could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The display server could not be reached.
    #[error("cannot connect to X display {display:?}: {reason}")]
    Connect {
        /// The display asked for (`None`: `$DISPLAY`).
        display: Option<String>,
        /// What the connection said.
        reason: String,
    },
    /// The X server lacks an extension the capture needs.
    #[error("the X server does not offer the {0} extension")]
    MissingExtension(&'static str),
    /// The root window is not 24/32-bit TrueColor, so its pixels are not BGRA.
    #[error("unsupported screen format: {0}")]
    PixelFormat(String),
    /// No monitor matches the selector.
    #[error("no monitor {0}; the X server reports: {1}")]
    NoSuchMonitor(String, String),
    /// No window has a title containing this text.
    #[error("no window whose title contains {0:?}")]
    NoSuchWindow(String),
    /// The region is empty or lies outside the screen.
    #[error(
        "region {x},{y} {width}x{height} is not inside the {screen_width}x{screen_height} screen"
    )]
    RegionOutside {
        /// Left column asked for.
        x: i32,
        /// Top row asked for.
        y: i32,
        /// Width asked for.
        width: u32,
        /// Height asked for.
        height: u32,
        /// Screen width.
        screen_width: u32,
        /// Screen height.
        screen_height: u32,
    },
    /// A setting this build cannot honour.
    #[error("unsupported setting: {0}")]
    Unsupported(&'static str),
    /// The watermark PNG could not be read.
    #[error("watermark {path}: {reason}")]
    Watermark {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// This platform has no capture backend in this build.
    #[error("screen capture is not available on this platform in this build")]
    NoBackend,
    /// An X11 request failed.
    #[error("X11: {0}")]
    X11(String),
}
