//! A private Xvfb server and a connection that draws on it, for tests and benches that need a
//! real X server (screen capture): each gets its own display number from Xvfb itself.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    ChangeGCAux, ConnectionExt as _, CreateGCAux, CreateWindowAux, EventMask, PropMode, Rectangle,
    Window, WindowClass,
};
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

/// An Xvfb server on a free display number, killed on drop.
pub struct Xvfb {
    child: Child,
    /// `:N`.
    pub display: String,
}

impl Xvfb {
    /// Starts `Xvfb -screen 0 WxHx24` on a display number it picks itself (`-displayfd`), so
    /// tests running in parallel never race for one.
    pub fn start(width: u32, height: u32) -> Self {
        use std::io::BufRead;
        let mut child = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                &format!("{width}x{height}x24"),
                "-nolisten",
                "tcp",
                "-noreset",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb must be installed (scripts/setup-test-deps.sh installs it)");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped");
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("Xvfb prints its display number");
        let n: u32 = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("Xvfb said {line:?}"));
        let display = format!(":{n}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while x11rb::connect(Some(&display)).is_err() {
            assert!(Instant::now() < deadline, "Xvfb {display} does not answer");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, display }
    }

    /// A connection that draws.
    pub fn painter(&self) -> Painter {
        Painter::new(&self.display)
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Draws on the root window (or on windows it creates) with core requests.
pub struct Painter {
    /// The connection.
    pub conn: RustConnection,
    /// The root window.
    pub root: Window,
    gc: u32,
}

impl Painter {
    /// Connects to `display`.
    pub fn new(display: &str) -> Self {
        let (conn, screen) = x11rb::connect(Some(display)).expect("connect");
        let root = conn.setup().roots[screen].root;
        let gc = conn.generate_id().unwrap();
        conn.create_gc(
            gc,
            root,
            &CreateGCAux::new()
                .subwindow_mode(x11rb::protocol::xproto::SubwindowMode::INCLUDE_INFERIORS),
        )
        .unwrap();
        conn.flush().unwrap();
        Self { conn, root, gc }
    }

    /// Fills a rectangle of `drawable` with `0xRRGGBB` and waits until the server did it.
    pub fn fill_on(&self, drawable: Window, x: i16, y: i16, w: u16, h: u16, rgb: u32) {
        self.conn
            .change_gc(self.gc, &ChangeGCAux::new().foreground(rgb))
            .unwrap();
        self.conn
            .poly_fill_rectangle(
                drawable,
                self.gc,
                &[Rectangle {
                    x,
                    y,
                    width: w,
                    height: h,
                }],
            )
            .unwrap();
        self.conn.sync().unwrap();
    }

    /// Fills a rectangle of the root window.
    pub fn fill(&self, x: i16, y: i16, w: u16, h: u16, rgb: u32) {
        self.fill_on(self.root, x, y, w, h, rgb);
    }

    /// Creates and maps a top-level window with a title and a background colour.
    pub fn window(&self, title: &str, x: i16, y: i16, w: u16, h: u16, rgb: u32) -> Window {
        let win = self.conn.generate_id().unwrap();
        self.conn
            .create_window(
                24,
                win,
                self.root,
                x,
                y,
                w,
                h,
                0,
                WindowClass::INPUT_OUTPUT,
                0,
                &CreateWindowAux::new()
                    .background_pixel(rgb)
                    .override_redirect(1)
                    .event_mask(EventMask::EXPOSURE),
            )
            .unwrap();
        self.conn
            .change_property8(
                PropMode::REPLACE,
                win,
                x11rb::protocol::xproto::AtomEnum::WM_NAME,
                x11rb::protocol::xproto::AtomEnum::STRING,
                title.as_bytes(),
            )
            .unwrap();
        self.conn.map_window(win).unwrap();
        self.conn.sync().unwrap();
        win
    }

    /// Moves and resizes a window.
    pub fn configure(&self, win: Window, x: i32, y: i32, w: u32, h: u32) {
        self.conn
            .configure_window(
                win,
                &x11rb::protocol::xproto::ConfigureWindowAux::new()
                    .x(x)
                    .y(y)
                    .width(w)
                    .height(h),
            )
            .unwrap();
        self.conn.sync().unwrap();
    }
}

/// The RGB of pixel (x, y) of BGRX rows.
pub fn rgb_at(data: &[u8], stride: usize, x: u32, y: u32) -> u32 {
    let i = y as usize * stride + x as usize * 4;
    u32::from(data[i + 2]) << 16 | u32::from(data[i + 1]) << 8 | u32::from(data[i])
}
