//! Seed 003's `screen_to_browser` example, with pixelwire-capture: the screen (`$DISPLAY`)
//! captured once, encoded as JPEG or H.264 stripes and sent to every browser that opens the page.
//! Stripes carry pixelflux's headers (`EncodedStripe::wire_message`), and the page paints each at
//! its row: JPEG with `createImageBitmap`, H.264 with one WebCodecs decoder per stripe.
//!
//! ```text
//! cargo run --release -p pixelwire-capture --example screen_to_browser -- [--h264] [--full-frame]
//!     [--fps 30] [--region X,Y,W,H] [--listen 127.0.0.1:9001]
//! ```
//! then open <http://localhost:9001/>. Unlike seed 003's example (one capture per browser), one
//! capture serves every browser; a browser that falls behind skips to the next full refresh
//! instead of queueing, and a browser that joins gets a full refresh at once.

use pixelwire_capture::{
    CaptureSettings, CaptureTarget, EncodedStripe, H264StripeSettings, OutputMode, Region,
    ScreenCapture,
};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Messages a browser may lag behind before it is resynchronised.
const CLIENT_BACKLOG: usize = 256;

/// Command-line options.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the page and the WebSocket listen.
    pub listen: SocketAddr,
    /// What to capture and how.
    pub settings: CaptureSettings,
}

/// Parses `--h264`, `--full-frame`, `--fps N`, `--region X,Y,W,H`, `--listen ADDR`.
pub fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let mut o = Options {
        listen: SocketAddr::from(([127, 0, 0, 1], 9001)),
        settings: CaptureSettings::default(),
    };
    let mut args = args.into_iter();
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--h264" => o.settings.output = OutputMode::H264,
            "--full-frame" => {
                o.settings.h264 = H264StripeSettings {
                    full_frame: true,
                    ..o.settings.h264
                }
            }
            "--fps" => {
                o.settings.target_fps = value()?.parse().map_err(|e| format!("--fps: {e}"))?
            }
            "--listen" => o.listen = value()?.parse().map_err(|e| format!("--listen: {e}"))?,
            "--region" => {
                let v: Vec<i64> = value()?
                    .split(',')
                    .map(|p| p.trim().parse::<i64>())
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("--region X,Y,W,H: {e}"))?;
                let [x, y, w, h] = v[..] else {
                    return Err("--region takes X,Y,W,H".into());
                };
                let (Ok(x), Ok(y), Ok(width), Ok(height)) = (
                    i32::try_from(x),
                    i32::try_from(y),
                    u32::try_from(w),
                    u32::try_from(h),
                ) else {
                    return Err("--region: out of range".into());
                };
                o.settings.target = CaptureTarget::Region(Region {
                    x,
                    y,
                    width,
                    height,
                });
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(o)
}

/// One browser: its queue and whether it waits for a full refresh.
struct Client {
    tx: SyncSender<Arc<Vec<u8>>>,
    resync: bool,
}

/// Serves the page and the stripes on `listener` until `stop` is set.
pub fn serve(
    listener: TcpListener,
    settings: CaptureSettings,
    stop: Arc<AtomicBool>,
) -> Result<(), Box<dyn std::error::Error>> {
    let clients: Arc<Mutex<Vec<Client>>> = Arc::default();
    let wants_refresh = Arc::new(AtomicBool::new(false));
    let (c2, r2) = (Arc::clone(&clients), Arc::clone(&wants_refresh));
    let capture = ScreenCapture::start(settings, move |s: EncodedStripe| {
        // A full refresh starts at row 0 with a keyframe: a resynchronising browser starts there.
        let refresh_start = s.y == 0 && s.keyframe;
        let msg = Arc::new(s.wire_message());
        let mut clients = c2.lock().unwrap_or_else(|p| p.into_inner());
        clients.retain_mut(|c| {
            if c.resync && !refresh_start {
                return true;
            }
            c.resync = false;
            match c.tx.try_send(Arc::clone(&msg)) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) => {
                    c.resync = true;
                    r2.store(true, Ordering::Relaxed);
                    true
                }
                Err(TrySendError::Disconnected(_)) => false,
            }
        });
    })?;
    let (width, height) = capture.size();
    listener.set_nonblocking(true)?;
    while !stop.load(Ordering::Relaxed) {
        if wants_refresh.swap(false, Ordering::Relaxed) {
            capture.request_refresh();
        }
        match listener.accept() {
            Ok((sock, _)) => {
                sock.set_nonblocking(false)?;
                if accept(sock, &clients, width, height) {
                    capture.request_refresh();
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => eprintln!("accept: {e}"),
        }
    }
    capture.stop()?;
    Ok(())
}

/// Answers one connection: the page, or a WebSocket that gets stripes. True when a browser
/// joined.
fn accept(
    sock: TcpStream,
    clients: &Arc<Mutex<Vec<Client>>>,
    width: u32,
    height: u32,
) -> bool {
    let mut head = [0u8; 64];
    let Ok(n) = sock.peek(&mut head) else {
        return false;
    };
    let line = String::from_utf8_lossy(&head[..n]);
    if !line.starts_with("GET /ws") {
        std::thread::spawn(move || page(sock));
        return false;
    }
    let (tx, rx) = std::sync::mpsc::sync_channel(CLIENT_BACKLOG);
    clients
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(Client { tx, resync: true });
    std::thread::spawn(move || {
        if let Err(e) = browser(sock, rx, width, height) {
            eprintln!("browser left: {e}");
        }
    });
    true
}

fn page(mut sock: TcpStream) {
    let mut buf = [0u8; 4096];
    let _ = sock.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = sock.read(&mut buf);
    let _ = write!(
        sock,
        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{PAGE}",
        PAGE.len()
    );
}

fn browser(
    sock: TcpStream,
    rx: Receiver<Arc<Vec<u8>>>,
    width: u32,
    height: u32,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut ws = tungstenite::accept(sock)?;
    ws.send(tungstenite::Message::text(format!(
        "{{\"width\":{width},\"height\":{height}}}"
    )))?;
    for msg in rx {
        ws.send(tungstenite::Message::binary(msg.to_vec()))?;
    }
    Ok(())
}

const PAGE: &str = r#"<!doctype html>
<meta charset="utf-8"><title>pixelwire-capture: screen to browser</title>
<style>body{margin:0;background:#111;color:#ddd;font:13px monospace}#s{position:fixed;top:4px;left:4px;background:#0008;padding:4px}</style>
<canvas id="c"></canvas><div id="s">connecting…</div>
<script>
const c = document.getElementById('c'), ctx = c.getContext('2d'), st = document.getElementById('s');
const decoders = new Map(), lastId = new Map();
let frames = 0, bytes = 0, stripes = 0, lastFrame = -1;
window.screenToBrowser = { painted: 0, error: null };
const newer = (a, b) => b === undefined || ((a - b) & 0xffff) < 0x8000;
function paint(img, y) { ctx.drawImage(img, 0, y); window.screenToBrowser.painted++; }
function h264Codec(d) { // avc1.PPCCLL from the SPS after the first start code
  for (let i = 0; i + 7 < d.length; i++)
    if (d[i] == 0 && d[i+1] == 0 && d[i+2] == 1 && (d[i+3] & 31) == 7)
      return 'avc1.' + [d[i+4], d[i+5], d[i+6]].map(b => b.toString(16).padStart(2, '0')).join('');
  return 'avc1.42e01f';
}
const ws = new WebSocket((location.protocol == 'https:' ? 'wss://' : 'ws://') + location.host + '/ws');
ws.binaryType = 'arraybuffer';
ws.onmessage = ev => {
  if (typeof ev.data == 'string') { const m = JSON.parse(ev.data); c.width = m.width; c.height = m.height; return; }
  const d = new Uint8Array(ev.data), v = new DataView(ev.data);
  bytes += d.length; stripes++;
  if (d[0] == 3) {
    const id = v.getUint16(2), y = v.getUint16(4);
    if (id != lastFrame) { frames++; lastFrame = id; }
    createImageBitmap(new Blob([d.subarray(6)], {type: 'image/jpeg'})).then(b => {
      if (newer(id, lastId.get(y))) { lastId.set(y, id); paint(b, y); }
      b.close();
    }).catch(e => window.screenToBrowser.error = String(e));
  } else if (d[0] == 4) {
    const key = d[1] == 1, id = v.getUint16(2), y = v.getUint16(4), w = v.getUint16(6), h = v.getUint16(8);
    if (id != lastFrame) { frames++; lastFrame = id; }
    const data = d.subarray(10);
    let dec = decoders.get(y);
    if (key && (!dec || dec.state == 'closed')) {
      dec = new VideoDecoder({ output: f => { paint(f, y); f.close(); }, error: e => window.screenToBrowser.error = String(e) });
      dec.configure({ codec: h264Codec(data), codedWidth: w, codedHeight: h, optimizeForLatency: true });
      decoders.set(y, dec);
    }
    if (dec && dec.state == 'configured') dec.decode(new EncodedVideoChunk({ type: key ? 'key' : 'delta', timestamp: id, data }));
  }
};
ws.onclose = () => st.textContent = 'disconnected';
setInterval(() => { st.textContent = `${frames} fps · ${stripes} stripes/s · ${(bytes / 1024).toFixed(0)} kB/s`; frames = bytes = stripes = 0; }, 1000);
</script>
"#;

fn main() {
    let opts = match parse_args(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let listener = match TcpListener::bind(opts.listen) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on {}: {e}", opts.listen);
            std::process::exit(1);
        }
    };
    println!("open http://{}/ (Ctrl-C stops)", opts.listen);
    if let Err(e) = serve(listener, opts.settings, Arc::new(AtomicBool::new(false))) {
        eprintln!("{e}");
        std::process::exit(1);
    }
}
