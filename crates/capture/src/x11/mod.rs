//! The X11 backend: MIT-SHM grabs gated by the Damage extension.
//!
//! A capture thread calls [`X11Grabber::next`] in a loop. While nothing changes it sleeps in
//! `poll(2)` on the X connection, so an idle desktop costs neither this process nor the X server
//! anything (no grab, no hash, no wake-up at the frame rate). When damage arrives, the area is
//! grabbed at once if a frame interval has passed since the last grab, otherwise at the end of
//! that interval, with every damage rectangle gathered meanwhile attached to the frame.
//!
//! Damage is reset (`DamageSubtract`) before each grab, so a change made during the grab is
//! reported again and captured next time: nothing is missed, at worst captured twice.

pub mod cursor;
pub mod shm;
pub mod target;

use crate::error::CaptureError;
use crate::settings::{CaptureSettings, CaptureTarget, CursorMode};
use cursor::{CursorUpdate, Pointer};
use pixelwire_core::Rect;
use pixelwire_media::frame::PackedPixels;
use pixelwire_media::{MediaFrame, PixelLayout};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use target::Area;
use x11rb::connection::{Connection, RequestConnection};
use x11rb::protocol::Event;
use x11rb::protocol::damage::{self, ConnectionExt as _};
use x11rb::protocol::shm::ConnectionExt as _;
use x11rb::protocol::xfixes::ConnectionExt as _;
use x11rb::protocol::xproto::{
    ChangeWindowAttributesAux, ConnectionExt as _, EventMask, ImageFormat, ImageOrder, Window,
};
use x11rb::rust_connection::RustConnection;

/// Damage rectangles kept per frame before they are merged into their bounding box.
const MAX_RECTS: usize = 64;
/// Longest sleep without looking at the stop flag.
const STOP_POLL: Duration = Duration::from_millis(100);
/// How often a window target that is gone (or not yet there) is looked for.
const WINDOW_SEARCH: Duration = Duration::from_secs(1);

/// One grab.
#[derive(Debug)]
pub struct Grab {
    /// The frame: BGRX rows with their damage rectangles (none attached: everything changed).
    pub frame: MediaFrame,
    /// Where the frame lies on the root window.
    pub area: Area,
    /// The pointer, when it moved or changed shape ([`CursorMode::Separate`] only).
    pub cursor: Option<CursorUpdate>,
}

/// Counters of a grabber.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GrabStats {
    /// Frames grabbed.
    pub grabs: u64,
    /// Grabs copied out of the scratch segment because every pooled segment was held.
    pub copied: u64,
    /// Damage events received.
    pub damage_events: u64,
}

/// An open capture of one target on one X display.
pub struct X11Grabber {
    conn: RustConnection,
    root: Window,
    screen: (u32, u32),
    target: CaptureTarget,
    area: Option<Area>,
    window: Option<Window>,
    damage: damage::Damage,
    pool: shm::SegmentPool,
    cursor_mode: CursorMode,
    pointer: Option<Pointer>,
    cursor_update: Option<CursorUpdate>,
    rects: Vec<Rect>,
    full: bool,
    interval: Duration,
    /// When the next grab may happen: on a grid of frame intervals, so that small delays in
    /// waking up do not add up to a lower frame rate; after a pause the grid restarts.
    next_due: Option<Instant>,
    last_pointer_read: Option<Instant>,
    last_window_search: Option<Instant>,
    seq: u64,
    stats: GrabStats,
    full_requests: Arc<AtomicBool>,
}

fn x_err(e: impl std::fmt::Display) -> CaptureError {
    CaptureError::X11(e.to_string())
}

fn ext_present(conn: &RustConnection, name: &'static str) -> Result<(), CaptureError> {
    match conn.extension_information(name).map_err(x_err)? {
        Some(_) => Ok(()),
        None => Err(CaptureError::MissingExtension(name)),
    }
}

impl X11Grabber {
    /// Connects to the display, checks the extensions and the pixel format, resolves the target
    /// and starts listening for damage.
    pub fn open(settings: &CaptureSettings) -> Result<Self, CaptureError> {
        let (conn, screen_num) =
            x11rb::connect(settings.display.as_deref()).map_err(|e| CaptureError::Connect {
                display: settings.display.clone(),
                reason: e.to_string(),
            })?;
        for name in [
            x11rb::protocol::shm::X11_EXTENSION_NAME,
            damage::X11_EXTENSION_NAME,
            x11rb::protocol::xfixes::X11_EXTENSION_NAME,
        ] {
            ext_present(&conn, name)?;
        }
        let shm = conn
            .shm_query_version()
            .map_err(x_err)?
            .reply()
            .map_err(x_err)?;
        if (shm.major_version, shm.minor_version) < (1, 2) {
            return Err(CaptureError::MissingExtension(
                "MIT-SHM 1.2 (file descriptors)",
            ));
        }
        // XFixes and Damage must be told the version the client speaks before use.
        conn.xfixes_query_version(5, 0)
            .map_err(x_err)?
            .reply()
            .map_err(x_err)?;
        conn.damage_query_version(1, 1)
            .map_err(x_err)?
            .reply()
            .map_err(x_err)?;

        let setup = conn.setup();
        let screen = setup
            .roots
            .get(screen_num)
            .ok_or_else(|| CaptureError::X11(format!("no screen {screen_num}")))?;
        let root = screen.root;
        let depth = screen.root_depth;
        let bpp = setup
            .pixmap_formats
            .iter()
            .find(|f| f.depth == depth)
            .map(|f| f.bits_per_pixel);
        if !matches!(depth, 24 | 32)
            || bpp != Some(32)
            || setup.image_byte_order != ImageOrder::LSB_FIRST
        {
            return Err(CaptureError::PixelFormat(format!(
                "root depth {depth}, {bpp:?} bits per pixel, byte order {:?}; need 24/32-bit depth in 32-bit little-endian pixels",
                setup.image_byte_order
            )));
        }
        let screen_size = (
            u32::from(screen.width_in_pixels),
            u32::from(screen.height_in_pixels),
        );
        conn.change_window_attributes(
            root,
            &ChangeWindowAttributesAux::new().event_mask(EventMask::STRUCTURE_NOTIFY),
        )
        .map_err(x_err)?;
        let resolved = target::resolve(&conn, root, screen_size, &settings.target)?;
        if let Some(win) = resolved.window {
            watch_window(&conn, win);
        }
        let dmg = conn.generate_id().map_err(x_err)?;
        conn.damage_create(dmg, root, damage::ReportLevel::DELTA_RECTANGLES)
            .map_err(x_err)?
            .check()
            .map_err(x_err)?;
        Ok(Self {
            conn,
            root,
            screen: screen_size,
            target: settings.target.clone(),
            area: Some(resolved.area),
            window: resolved.window,
            damage: dmg,
            pool: shm::SegmentPool::new(),
            cursor_mode: settings.cursor,
            pointer: None,
            cursor_update: None,
            rects: Vec::new(),
            full: true,
            interval: settings.frame_interval(),
            next_due: None,
            last_pointer_read: None,
            last_window_search: None,
            seq: 0,
            stats: GrabStats::default(),
            full_requests: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The area captured now (`None` while a followed window is gone).
    pub fn area(&self) -> Option<Area> {
        self.area
    }

    /// Counters.
    pub fn stats(&self) -> GrabStats {
        self.stats
    }

    /// The monitors of this display.
    pub fn monitors(&self) -> Result<Vec<target::Monitor>, CaptureError> {
        target::monitors(&self.conn, self.root)
    }

    /// Changes the frame rate.
    pub fn set_interval(&mut self, interval: Duration) {
        self.interval = interval;
    }

    /// Makes the next frame a full one (no damage rectangles) even if nothing changed.
    pub fn request_full(&mut self) {
        self.full = true;
    }

    /// A flag another thread sets to ask for a full frame (a new viewer needs a complete
    /// picture of a still screen); the grabber notices it within 100 ms.
    pub fn full_requests(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.full_requests)
    }

    /// Waits for the next frame worth grabbing and grabs it; `Ok(None)` once `stop` is set.
    pub fn next(&mut self, stop: &AtomicBool) -> Result<Option<Grab>, CaptureError> {
        loop {
            if stop.load(Ordering::Relaxed) {
                return Ok(None);
            }
            self.drain_events()?;
            if self.full_requests.swap(false, Ordering::Relaxed) {
                self.full = true;
            }
            let now = Instant::now();
            if self.window.is_none() && matches!(self.target, CaptureTarget::Window { .. }) {
                self.search_window(now)?;
            }
            if self.cursor_mode != CursorMode::Hidden {
                self.read_pointer(now);
            }
            let pending = self.full || !self.rects.is_empty() || self.cursor_update.is_some();
            let due = self.next_due.unwrap_or(now);
            if pending && self.area.is_some() {
                if now >= due {
                    return self.grab(now).map(Some);
                }
                std::thread::sleep((due - now).min(STOP_POLL));
                continue;
            }
            // Nothing to do: sleep until the server says something (or the pointer is due).
            let wait = if self.cursor_mode != CursorMode::Hidden {
                self.interval.min(STOP_POLL)
            } else if self.area.is_none() {
                WINDOW_SEARCH.min(STOP_POLL)
            } else {
                STOP_POLL
            };
            self.wait_readable(wait);
        }
    }

    fn wait_readable(&self, timeout: Duration) {
        let fd = self.conn.stream().as_fd();
        let mut fds = [rustix::event::PollFd::new(
            &fd,
            rustix::event::PollFlags::IN,
        )];
        let ts = rustix::event::Timespec {
            tv_sec: timeout.as_secs() as i64,
            tv_nsec: i64::from(timeout.subsec_nanos()),
        };
        // An error (EINTR) just means looking again.
        let _ = rustix::event::poll(&mut fds, Some(&ts));
    }

    fn drain_events(&mut self) -> Result<(), CaptureError> {
        while let Some(ev) = self.conn.poll_for_event().map_err(x_err)? {
            match ev {
                Event::DamageNotify(n) => {
                    self.stats.damage_events += 1;
                    let a = n.area;
                    self.add_root_rect(
                        i64::from(a.x),
                        i64::from(a.y),
                        u32::from(a.width),
                        u32::from(a.height),
                    );
                }
                Event::ConfigureNotify(c) if c.window == self.root => {
                    let size = (u32::from(c.width), u32::from(c.height));
                    if size != self.screen {
                        self.screen = size;
                        self.reresolve()?;
                    }
                }
                Event::ConfigureNotify(c) if Some(c.window) == self.window => self.follow_window(),
                Event::UnmapNotify(u) if Some(u.window) == self.window => self.lose_window(),
                Event::DestroyNotify(d) if Some(d.window) == self.window => self.lose_window(),
                Event::MapNotify(m) if Some(m.window) == self.window => self.follow_window(),
                _ => {}
            }
        }
        Ok(())
    }

    /// Adds a damaged rectangle given in root coordinates.
    fn add_root_rect(&mut self, x: i64, y: i64, w: u32, h: u32) {
        let Some(area) = self.area else { return };
        let (ax, ay) = (i64::from(area.x), i64::from(area.y));
        let x0 = (x - ax).clamp(0, i64::from(area.width));
        let y0 = (y - ay).clamp(0, i64::from(area.height));
        let x1 = (x + i64::from(w) - ax).clamp(0, i64::from(area.width));
        let y1 = (y + i64::from(h) - ay).clamp(0, i64::from(area.height));
        if x1 <= x0 || y1 <= y0 {
            return;
        }
        self.add_rect(Rect {
            x: x0 as u32,
            y: y0 as u32,
            w: (x1 - x0) as u32,
            h: (y1 - y0) as u32,
        });
    }

    /// Adds a damaged rectangle in frame coordinates.
    fn add_rect(&mut self, r: Rect) {
        if self.rects.len() >= MAX_RECTS {
            let all = self.rects.drain(..).chain([r]).reduce(bounding_box);
            self.rects.extend(all);
        } else {
            self.rects.push(r);
        }
    }

    fn reresolve(&mut self) -> Result<(), CaptureError> {
        match target::resolve(&self.conn, self.root, self.screen, &self.target) {
            Ok(r) => {
                self.area = Some(r.area);
                if r.window.is_some() && r.window != self.window {
                    self.window = r.window;
                    if let Some(w) = r.window {
                        watch_window(&self.conn, w);
                    }
                }
            }
            // A region or monitor that no longer fits the screen: keep capturing what is left
            // of it rather than stop.
            Err(CaptureError::RegionOutside { .. } | CaptureError::NoSuchMonitor(..)) => {
                self.area = self.area.and_then(|a| {
                    target::clip(
                        a.x as i32,
                        a.y as i32,
                        a.width,
                        a.height,
                        self.screen.0,
                        self.screen.1,
                    )
                });
            }
            Err(CaptureError::NoSuchWindow(_)) => self.lose_window(),
            Err(e) => return Err(e),
        }
        self.full = true;
        self.rects.clear();
        Ok(())
    }

    fn follow_window(&mut self) {
        let Some(win) = self.window else { return };
        match target::window_area(&self.conn, self.root, win)
            .and_then(|(x, y, w, h)| target::clip(x, y, w, h, self.screen.0, self.screen.1))
        {
            Some(area) if Some(area) != self.area => {
                self.area = Some(area);
                self.full = true;
                self.rects.clear();
            }
            Some(_) => {}
            None => self.lose_window(),
        }
    }

    fn lose_window(&mut self) {
        self.window = None;
        self.area = None;
        self.rects.clear();
    }

    fn search_window(&mut self, now: Instant) -> Result<(), CaptureError> {
        if self
            .last_window_search
            .is_some_and(|t| now < t + WINDOW_SEARCH)
        {
            return Ok(());
        }
        self.last_window_search = Some(now);
        let CaptureTarget::Window { title } = &self.target else {
            return Ok(());
        };
        if let Some(win) = target::find_window(&self.conn, self.root, title)? {
            self.window = Some(win);
            watch_window(&self.conn, win);
            self.follow_window();
            self.full = true;
        }
        Ok(())
    }

    /// Reads the pointer at most once per frame interval; a move or a new shape becomes damage
    /// (composited) or a cursor update (separate).
    fn read_pointer(&mut self, now: Instant) {
        if self
            .last_pointer_read
            .is_some_and(|t| now < t + self.interval)
        {
            return;
        }
        self.last_pointer_read = Some(now);
        let Some(p) = Pointer::read(&self.conn) else {
            return;
        };
        let old = self.pointer.take();
        let moved = old.as_ref().is_none_or(|o| (o.x, o.y) != (p.x, p.y));
        let reshaped = old.as_ref().is_none_or(|o| o.serial != p.serial);
        if moved || reshaped {
            match self.cursor_mode {
                CursorMode::Composited => {
                    if let Some(area) = self.area {
                        for r in [
                            old.as_ref().and_then(|o| o.rect_in(&area)),
                            p.rect_in(&area),
                        ]
                        .into_iter()
                        .flatten()
                        {
                            self.add_rect(r);
                        }
                    }
                }
                CursorMode::Separate => {
                    let (ax, ay) = self.area.map_or((0, 0), |a| (a.x as i32, a.y as i32));
                    let image = if reshaped {
                        Some(p.image())
                    } else {
                        self.cursor_update.take().and_then(|u| u.image)
                    };
                    self.cursor_update = Some(CursorUpdate {
                        x: p.x - ax,
                        y: p.y - ay,
                        hot_x: p.hot_x,
                        hot_y: p.hot_y,
                        image,
                    });
                }
                CursorMode::Hidden => {}
            }
        }
        self.pointer = Some(p);
    }

    fn grab(&mut self, now: Instant) -> Result<Grab, CaptureError> {
        let Some(area) = self.area else {
            return Err(CaptureError::X11("grab without an area".into()));
        };
        // Reset damage first: whatever changes from here on is reported again.
        self.conn
            .damage_subtract(self.damage, x11rb::NONE, x11rb::NONE)
            .map_err(x_err)?;
        let len = area.width as usize * area.height as usize * 4;
        let mut taken = self.pool.take(&self.conn, len).map_err(CaptureError::X11)?;
        let seg = taken.segment();
        let capture_us = pixelwire_media::clock::now().as_micros();
        let reply = self
            .conn
            .shm_get_image(
                self.root,
                area.x as i16,
                area.y as i16,
                area.width as u16,
                area.height as u16,
                !0,
                ImageFormat::Z_PIXMAP.into(),
                seg.id,
                0,
            )
            .map_err(x_err)?
            .reply()
            .map_err(x_err)?;
        if (reply.size as usize) < len {
            return Err(CaptureError::X11(format!(
                "ShmGetImage returned {} bytes for {}x{}",
                reply.size, area.width, area.height
            )));
        }
        if self.cursor_mode == CursorMode::Composited
            && let Some(p) = &self.pointer
        {
            p.composite(seg.bytes_mut(), area.width as usize * 4, &area);
        }
        if matches!(taken, shm::Taken::Scratch(_)) {
            self.stats.copied += 1;
        }
        let data = self.pool.hand_out(taken, len);
        let frame = MediaFrame::from_packed(
            area.width,
            area.height,
            PackedPixels {
                data,
                stride: area.width as usize * 4,
                layout: PixelLayout::Bgrx,
            },
            self.seq,
            capture_us,
        )
        .map_err(|e| CaptureError::X11(e.to_string()))?;
        let frame = if std::mem::take(&mut self.full) {
            self.rects.clear();
            frame
        } else {
            frame.with_damage(std::mem::take(&mut self.rects))
        };
        self.seq += 1;
        self.stats.grabs += 1;
        // The next slot on the grid, or a fresh grid if this grab came more than a frame late
        // (a still screen, or a long grab): never two grabs back to back to catch up.
        let slot = self.next_due.unwrap_or(now) + self.interval;
        self.next_due = Some(if slot <= now {
            now + self.interval
        } else {
            slot
        });
        Ok(Grab {
            frame,
            area,
            cursor: self.cursor_update.take(),
        })
    }
}

/// Asks for a window's configure/map/unmap/destroy events (errors mean it is already gone,
/// which the next lookup notices).
fn watch_window(conn: &RustConnection, win: Window) {
    let _ = conn.change_window_attributes(
        win,
        &ChangeWindowAttributesAux::new().event_mask(EventMask::STRUCTURE_NOTIFY),
    );
}

fn bounding_box(a: Rect, b: Rect) -> Rect {
    let x0 = a.x.min(b.x);
    let y0 = a.y.min(b.y);
    let x1 = (a.x + a.w).max(b.x + b.w);
    let y1 = (a.y + a.h).max(b.y + b.h);
    Rect {
        x: x0,
        y: y0,
        w: x1 - x0,
        h: y1 - y0,
    }
}
