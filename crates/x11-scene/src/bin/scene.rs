//! `pixelwire-x11-scene`: draws the benchmark scene on the root window of an X display (`$DISPLAY`).
//!
//! ```text
//! pixelwire-x11-scene [--mode dashboard|heavy|idle|pulse] [--fps 60] [--size WxH]
//!                     [--duration SECONDS] [--phase-frames N]
//! ```
//!
//! Each frame renders the scheduled picture, compares it with the one on screen in tiles of 64x8 and
//! uploads only the runs of changed tiles with PutImage (the first picture in bands that fit the
//! maximum request length),
//! between GrabServer and UngrabServer so that a capture never sees half a picture; one round trip
//! per frame keeps the X server from queueing. A late frame is skipped, not drawn late, so motion
//! keeps its speed. `--size` defaults to the root window's; `--phase-frames` (pulse) to the frame
//! rate, i.e. 1 s moving, 1 s still.

use pixelwire_x11_scene::{Mode, render_into};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use x11rb::connection::{Connection, RequestConnection};
use x11rb::protocol::xproto::{ConnectionExt as _, CreateGCAux, ImageFormat, ImageOrder};

const BAND_ROWS: usize = 8;
const TILE_COLS: usize = 64;

struct Args {
    mode: Mode,
    fps: f64,
    size: Option<(usize, usize)>,
    duration: Option<Duration>,
    phase_frames: Option<u64>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        mode: Mode::Dashboard,
        fps: 60.0,
        size: None,
        duration: None,
        phase_frames: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--mode" => {
                let v = value()?;
                a.mode = Mode::parse(&v).ok_or(format!("unknown mode {v}"))?;
            }
            "--fps" => a.fps = value()?.parse().map_err(|e| format!("--fps: {e}"))?,
            "--size" => {
                let v = value()?;
                let (w, h) = v.split_once('x').ok_or("--size is WxH")?;
                a.size = Some((
                    w.parse().map_err(|e| format!("--size: {e}"))?,
                    h.parse().map_err(|e| format!("--size: {e}"))?,
                ));
            }
            "--duration" => {
                let s: f64 = value()?.parse().map_err(|e| format!("--duration: {e}"))?;
                a.duration = Some(Duration::from_secs_f64(s.max(0.0)));
            }
            "--phase-frames" => {
                a.phase_frames = Some(
                    value()?
                        .parse()
                        .map_err(|e| format!("--phase-frames: {e}"))?,
                )
            }
            "-h" | "--help" => {
                return Err(
                    "usage: pixelwire-x11-scene [--mode dashboard|heavy|idle|pulse] \
                            [--fps 60] [--size WxH] [--duration S] [--phase-frames N]"
                        .into(),
                );
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if !(a.fps.is_finite() && a.fps > 0.0 && a.fps <= 1000.0) {
        return Err("--fps must be in (0, 1000]".into());
    }
    Ok(a)
}

/// A changed rectangle, pixels: `(x, y, width, rows)`.
type Rect = (usize, usize, usize, usize);

/// Where `a` and `b` (packed BGRA, `width` x `rows`) differ, as runs of changed tiles of
/// [`TILE_COLS`] x [`BAND_ROWS`] within each band of rows.
fn dirty_rects(a: &[u8], b: &[u8], width: usize, rows: usize) -> Vec<Rect> {
    let mut rects = Vec::new();
    for y in (0..rows).step_by(BAND_ROWS) {
        let band = (rows - y).min(BAND_ROWS);
        let mut run: Option<usize> = None;
        let tiles = width.div_ceil(TILE_COLS);
        for t in 0..=tiles {
            let changed = t < tiles && {
                let (x0, x1) = (t * TILE_COLS, ((t + 1) * TILE_COLS).min(width));
                (y..y + band).any(|r| {
                    let o = r * width * 4;
                    a[o + x0 * 4..o + x1 * 4] != b[o + x0 * 4..o + x1 * 4]
                })
            };
            match (changed, run) {
                (true, None) => run = Some(t),
                (false, Some(start)) => {
                    let x0 = start * TILE_COLS;
                    rects.push((x0, y, (t * TILE_COLS).min(width) - x0, band));
                    run = None;
                }
                _ => {}
            }
        }
    }
    rects
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let (conn, screen_num) = x11rb::connect(None)?;
    let setup = conn.setup();
    let screen = &setup.roots[screen_num];
    let (root, depth) = (screen.root, screen.root_depth);
    let bpp = setup
        .pixmap_formats
        .iter()
        .find(|f| f.depth == depth)
        .map_or(0, |f| f.bits_per_pixel);
    if depth != 24 || bpp != 32 || setup.image_byte_order != ImageOrder::LSB_FIRST {
        return Err(
            format!("need a 24-bit, 32 bpp LSB-first root (depth {depth}, {bpp} bpp)").into(),
        );
    }
    let (root_w, root_h) = (
        usize::from(screen.width_in_pixels),
        usize::from(screen.height_in_pixels),
    );
    let (w, h) = args.size.unwrap_or((root_w, root_h));
    if w == 0 || h == 0 || w > root_w || h > root_h {
        return Err(format!("--size {w}x{h} does not fit the {root_w}x{root_h} root").into());
    }
    let gc = conn.generate_id()?;
    conn.create_gc(gc, root, &CreateGCAux::new().graphics_exposures(0))?;
    let row_bytes = w * 4;
    // Leave room for PutImage's own header (6 words, or 7 with BIG-REQUESTS).
    let max_rows = ((conn.maximum_request_bytes().saturating_sub(64)) / row_bytes).max(1);

    let period = Duration::from_secs_f64(1.0 / args.fps);
    let phase = args.phase_frames.unwrap_or(args.fps.round() as u64);
    let (mut shown, mut next) = (vec![0u8; w * h * 4], vec![0u8; w * h * 4]);
    let mut shown_picture = None;
    let mut scratch = Vec::with_capacity(max_rows.min(h) * row_bytes);
    let (mut pictures, mut uploaded_bytes, mut skipped) = (0u64, 0u64, 0u64);
    let t0 = Instant::now();
    let mut frame = 0u64;
    eprintln!(
        "pixelwire-x11-scene: {:?} {w}x{h} at {} fps, PutImage up to {max_rows} rows",
        args.mode, args.fps
    );
    loop {
        let deadline = t0 + period.mul_f64(frame as f64);
        if let Some(d) = args.duration
            && deadline >= t0 + d
        {
            break;
        }
        let now = Instant::now();
        if deadline > now {
            std::thread::sleep(deadline - now);
        }
        let picture = args.mode.picture_at(frame, phase);
        if shown_picture != Some(picture) {
            render_into(&mut next, picture, w, h, args.mode);
            let rects = if shown_picture.is_none() {
                (0..h)
                    .step_by(max_rows)
                    .map(|y| (0, y, w, (h - y).min(max_rows)))
                    .collect()
            } else {
                dirty_rects(&shown, &next, w, h)
            };
            conn.grab_server()?;
            for (x, y, rw, rows) in rects {
                scratch.clear();
                for r in y..y + rows {
                    scratch.extend_from_slice(&next[(r * w + x) * 4..(r * w + x + rw) * 4]);
                }
                conn.put_image(
                    ImageFormat::Z_PIXMAP,
                    root,
                    gc,
                    rw as u16,
                    rows as u16,
                    x as i16,
                    y as i16,
                    0,
                    depth,
                    &scratch,
                )?;
                uploaded_bytes += scratch.len() as u64;
            }
            conn.ungrab_server()?;
            conn.get_input_focus()?.reply()?;
            std::mem::swap(&mut shown, &mut next);
            shown_picture = Some(picture);
            pictures += 1;
        }
        // Skip frames whose time has passed.
        let due = (t0.elapsed().as_secs_f64() / period.as_secs_f64()) as u64;
        skipped += due.saturating_sub(frame + 1);
        frame = due.max(frame + 1);
    }
    eprintln!(
        "pixelwire-x11-scene: {pictures} pictures, {skipped} frames skipped, {:.1} MB uploaded",
        uploaded_bytes as f64 / 1e6
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pixelwire-x11-scene: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dirty_rects_merge_adjacent_tiles_of_a_band() {
        let (w, rows) = (200, 20);
        let a = vec![0u8; w * rows * 4];
        let mut b = a.clone();
        b[(3 * w + 10) * 4] = 1; // band 0, tile 0
        b[(5 * w + 70) * 4] = 1; // band 0, tile 1
        b[(17 * w + 199) * 4] = 1; // band 2 (rows 16..20), last tile (192..200)
        assert_eq!(
            dirty_rects(&a, &b, w, rows),
            [(0, 0, 128, 8), (192, 16, 8, 4)]
        );
        assert!(dirty_rects(&a, &a, w, rows).is_empty());
    }
}
