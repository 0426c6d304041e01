//! Where on the root window a capture reads: the whole screen, a RandR monitor, a fixed region,
//! or a window found by title and followed as it moves and resizes.

use crate::error::CaptureError;
use crate::settings::{CaptureTarget, MonitorSelector, Region};
use x11rb::protocol::randr::ConnectionExt as _;
use x11rb::protocol::xproto::{AtomEnum, ConnectionExt as _, Window};
use x11rb::rust_connection::RustConnection;

/// A rectangle of the root window, clipped to the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Area {
    /// Left column on the root window.
    pub x: u32,
    /// Top row on the root window.
    pub y: u32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

/// One RandR monitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Monitor {
    /// Name (`HDMI-1`, or a name given with `xrandr --setmonitor`).
    pub name: String,
    /// The primary monitor.
    pub primary: bool,
    /// Where it is on the root window.
    pub x: i32,
    /// Top row.
    pub y: i32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

fn x_err(e: impl std::fmt::Display) -> CaptureError {
    CaptureError::X11(e.to_string())
}

/// The monitors RandR reports, in its order.
pub fn monitors(conn: &RustConnection, root: Window) -> Result<Vec<Monitor>, CaptureError> {
    let reply = conn
        .randr_get_monitors(root, true)
        .map_err(x_err)?
        .reply()
        .map_err(x_err)?;
    let mut out = Vec::with_capacity(reply.monitors.len());
    for m in reply.monitors {
        let name = conn
            .get_atom_name(m.name)
            .map_err(x_err)?
            .reply()
            .map(|r| String::from_utf8_lossy(&r.name).into_owned())
            .unwrap_or_default();
        out.push(Monitor {
            name,
            primary: m.primary,
            x: i32::from(m.x),
            y: i32::from(m.y),
            width: u32::from(m.width),
            height: u32::from(m.height),
        });
    }
    Ok(out)
}

/// Clips a rectangle to the screen; `None` if nothing is left.
pub fn clip(x: i32, y: i32, w: u32, h: u32, screen_w: u32, screen_h: u32) -> Option<Area> {
    let x0 = i64::from(x).clamp(0, i64::from(screen_w));
    let y0 = i64::from(y).clamp(0, i64::from(screen_h));
    let x1 = (i64::from(x) + i64::from(w)).clamp(0, i64::from(screen_w));
    let y1 = (i64::from(y) + i64::from(h)).clamp(0, i64::from(screen_h));
    (x1 > x0 && y1 > y0).then_some(Area {
        x: x0 as u32,
        y: y0 as u32,
        width: (x1 - x0) as u32,
        height: (y1 - y0) as u32,
    })
}

/// A window's title: `_NET_WM_NAME` (UTF-8) or else `WM_NAME`.
fn title(conn: &RustConnection, win: Window, net_wm_name: u32, utf8: u32) -> Option<String> {
    for (prop, ty) in [
        (net_wm_name, utf8),
        (AtomEnum::WM_NAME.into(), AtomEnum::STRING.into()),
    ] {
        if let Ok(c) = conn.get_property(false, win, prop, ty, 0, 1024)
            && let Ok(r) = c.reply()
            && !r.value.is_empty()
        {
            return Some(String::from_utf8_lossy(&r.value).into_owned());
        }
    }
    None
}

/// The first window (breadth-first from the root, so a window manager's frame is found before
/// the client inside it) whose title contains `needle`.
pub fn find_window(
    conn: &RustConnection,
    root: Window,
    needle: &str,
) -> Result<Option<Window>, CaptureError> {
    let atom = |name: &[u8]| -> Result<u32, CaptureError> {
        Ok(conn
            .intern_atom(false, name)
            .map_err(x_err)?
            .reply()
            .map_err(x_err)?
            .atom)
    };
    let (net_wm_name, utf8) = (atom(b"_NET_WM_NAME")?, atom(b"UTF8_STRING")?);
    let mut queue = std::collections::VecDeque::from([root]);
    // Bounded: a pathological tree cannot keep the capture thread here.
    let mut visited = 0usize;
    while let Some(win) = queue.pop_front() {
        visited += 1;
        if visited > 20_000 {
            break;
        }
        if win != root
            && let Some(t) = title(conn, win, net_wm_name, utf8)
            && t.contains(needle)
        {
            return Ok(Some(win));
        }
        if let Ok(c) = conn.query_tree(win)
            && let Ok(tree) = c.reply()
        {
            queue.extend(tree.children);
        }
    }
    Ok(None)
}

/// A window's rectangle on the root window, or `None` if it is gone or unmapped.
pub fn window_area(
    conn: &RustConnection,
    root: Window,
    win: Window,
) -> Option<(i32, i32, u32, u32)> {
    let attrs = conn.get_window_attributes(win).ok()?.reply().ok()?;
    if attrs.map_state != x11rb::protocol::xproto::MapState::VIEWABLE {
        return None;
    }
    let geo = conn.get_geometry(win).ok()?.reply().ok()?;
    let pos = conn
        .translate_coordinates(win, root, 0, 0)
        .ok()?
        .reply()
        .ok()?;
    Some((
        i32::from(pos.dst_x),
        i32::from(pos.dst_y),
        u32::from(geo.width),
        u32::from(geo.height),
    ))
}

/// How a target resolves at start (a window target also keeps its window id).
pub struct Resolved {
    /// Where to read, clipped to the screen.
    pub area: Area,
    /// The followed window.
    pub window: Option<Window>,
}

/// Resolves a target against the current screen.
pub fn resolve(
    conn: &RustConnection,
    root: Window,
    screen: (u32, u32),
    target: &CaptureTarget,
) -> Result<Resolved, CaptureError> {
    let (sw, sh) = screen;
    let whole = Area {
        x: 0,
        y: 0,
        width: sw,
        height: sh,
    };
    match target {
        CaptureTarget::Screen => Ok(Resolved {
            area: whole,
            window: None,
        }),
        CaptureTarget::Region(Region {
            x,
            y,
            width,
            height,
        }) => {
            let inside = *x >= 0
                && *y >= 0
                && i64::from(*x) + i64::from(*width) <= i64::from(sw)
                && i64::from(*y) + i64::from(*height) <= i64::from(sh);
            match clip(*x, *y, *width, *height, sw, sh) {
                Some(area) if inside => Ok(Resolved { area, window: None }),
                _ => Err(CaptureError::RegionOutside {
                    x: *x,
                    y: *y,
                    width: *width,
                    height: *height,
                    screen_width: sw,
                    screen_height: sh,
                }),
            }
        }
        CaptureTarget::Monitor(sel) => {
            let all = monitors(conn, root)?;
            let found = match sel {
                MonitorSelector::Primary => all.iter().find(|m| m.primary).or(all.first()),
                MonitorSelector::Index(i) => all.get(*i),
                MonitorSelector::Name(n) => all.iter().find(|m| &m.name == n),
            };
            let listing = all
                .iter()
                .enumerate()
                .map(|(i, m)| format!("{i}: {} {}x{}+{}+{}", m.name, m.width, m.height, m.x, m.y))
                .collect::<Vec<_>>()
                .join(", ");
            let m = found
                .ok_or_else(|| CaptureError::NoSuchMonitor(format!("{sel:?}"), listing.clone()))?;
            let area = clip(m.x, m.y, m.width, m.height, sw, sh)
                .ok_or_else(|| CaptureError::NoSuchMonitor(format!("{sel:?}"), listing))?;
            Ok(Resolved { area, window: None })
        }
        CaptureTarget::Window { title } => {
            let win = find_window(conn, root, title)?
                .ok_or_else(|| CaptureError::NoSuchWindow(title.clone()))?;
            let (x, y, w, h) = window_area(conn, root, win)
                .ok_or_else(|| CaptureError::NoSuchWindow(title.clone()))?;
            let area = clip(x, y, w, h, sw, sh)
                .ok_or_else(|| CaptureError::NoSuchWindow(title.clone()))?;
            Ok(Resolved {
                area,
                window: Some(win),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_keeps_the_part_on_screen() {
        assert_eq!(
            clip(-10, 5, 30, 10, 100, 100),
            Some(Area {
                x: 0,
                y: 5,
                width: 20,
                height: 10
            })
        );
        assert_eq!(
            clip(90, 95, 30, 10, 100, 100),
            Some(Area {
                x: 90,
                y: 95,
                width: 10,
                height: 5
            })
        );
        assert_eq!(clip(100, 0, 5, 5, 100, 100), None);
        assert_eq!(clip(0, 0, 0, 5, 100, 100), None);
    }
}
