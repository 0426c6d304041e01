//! The `screen_to_browser` example, run as it is (its code compiled into this test): the page is
//! served, and a WebSocket client gets the screen size and a full frame of pixelflux-style JPEG
//! stripes that decode to what was drawn.

#[path = "../examples/screen_to_browser.rs"]
#[allow(dead_code)]
mod example;

use pixelwire_devtools::xvfb::Xvfb;
use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[test]
fn the_example_serves_the_page_and_full_frames_of_stripes() {
    let x = Xvfb::start(320, 240);
    let p = x.painter();
    p.fill(0, 0, 320, 240, 0x0000FF);
    p.fill(0, 200, 320, 40, 0xFFFF00);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut opts = example::parse_args(["--fps".to_string(), "20".to_string()]).unwrap();
    opts.settings.display = Some(x.display.clone());
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = Arc::clone(&stop);
    let server = std::thread::spawn(move || {
        example::serve(listener, opts.settings, s2).map_err(|e| e.to_string())
    });

    let mut http = std::net::TcpStream::connect(addr).unwrap();
    http.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut page = String::new();
    http.read_to_string(&mut page).unwrap();
    assert!(
        page.starts_with("HTTP/1.1 200") && page.contains("<canvas"),
        "{page:.200}"
    );

    let (mut ws, _) = tungstenite::client::connect(format!("ws://{addr}/ws")).unwrap();
    let hello = ws.read().unwrap();
    assert_eq!(
        hello.into_text().unwrap().as_str(),
        "{\"width\":320,\"height\":240}"
    );
    let mut ys = Vec::new();
    let mut bottom = None;
    while ys.len() < 4 {
        let m = ws.read().unwrap().into_data();
        assert_eq!(&m[..2], [0x03, 0x00], "a pixelflux JPEG stripe header");
        let y = u16::from_be_bytes([m[4], m[5]]);
        ys.push(y);
        if y == 192 {
            bottom = Some(pixelwire_media::jpeg::decode_rgba(&m[6..]).unwrap());
        }
    }
    assert_eq!(
        ys,
        [0, 64, 128, 192],
        "a joining browser gets a whole frame"
    );
    let (w, h, rgba) = bottom.unwrap();
    assert_eq!((w, h), (320, 48));
    // Row 192 + 20 = 212 is yellow, row 192 + 2 is blue.
    let at = |x: usize, y: usize| &rgba[(y * 320 + x) * 4..(y * 320 + x) * 4 + 3];
    assert!(
        at(10, 20)
            .iter()
            .zip([255, 255, 0])
            .all(|(a, b)| (i32::from(*a) - b).abs() < 10),
        "{:?}",
        at(10, 20)
    );
    assert!(
        at(10, 2)
            .iter()
            .zip([0, 0, 255])
            .all(|(a, b)| (i32::from(*a) - b).abs() < 10),
        "{:?}",
        at(10, 2)
    );
    stop.store(true, Ordering::Relaxed);
    drop(ws);
    server.join().unwrap().unwrap();
}
