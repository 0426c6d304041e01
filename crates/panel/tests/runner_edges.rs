//! How a session ends, and what the device says first: a server that closes, sends garbage, sends
//! an ERROR, miscounts its RECTs, sends a RECT larger than the frame buffer, or falls silent. The
//! server's bytes come from a script, cut into pieces of every size; time jumps to whatever the
//! runner waits for, so keepalive and timeouts run in no time.

mod common;

use common::NoDelay;
use embassy_futures::block_on;
use pixelwire_panel::runner::EndOf;
use pixelwire_panel::virtual_panel::{VirtualDc, VirtualSpi};
use pixelwire_panel::{
    Buffers, Clock, Controller, Panel, PanelConfig, Rotation, Runner, RunnerConfig, SessionEnd,
    VirtualPanel,
};
use pixelwire_proto::{
    Codec, CodecSet, Decoder, DeviceError, ErrorCode, ErrorMsg, Event, FrameEnd, PROTOCOL_VERSION,
    Ping, ProtoError, RectHeader, ShortStr, Welcome,
};
use std::cell::Cell;
use std::task::Poll;

/// A clock that jumps to any deadline it is asked to wait for.
struct JumpClock(Cell<u64>);

impl Clock for JumpClock {
    fn now_us(&self) -> u64 {
        self.0.get()
    }
    async fn sleep_until(&self, deadline_us: u64) {
        if deadline_us > self.0.get() {
            self.0.set(deadline_us);
        }
    }
}

/// Plays `script` in pieces of `piece` bytes, then either closes or goes silent.
struct ScriptSocket {
    script: Vec<u8>,
    at: usize,
    piece: usize,
    close_at_end: bool,
    written: Vec<u8>,
}

impl embedded_io_async::ErrorType for ScriptSocket {
    type Error = embedded_io_async::ErrorKind;
}

impl embedded_io_async::Read for ScriptSocket {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        std::future::poll_fn(|_| {
            if self.at < self.script.len() {
                let n = self.piece.min(buf.len()).min(self.script.len() - self.at);
                buf[..n].copy_from_slice(&self.script[self.at..self.at + n]);
                self.at += n;
                Poll::Ready(Ok(n))
            } else if self.close_at_end {
                Poll::Ready(Ok(0))
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

impl embedded_io_async::Write for ScriptSocket {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.written.extend_from_slice(buf);
        Ok(buf.len())
    }
    async fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

fn welcome() -> Vec<u8> {
    let mut b = vec![0u8; 11];
    Welcome {
        version: PROTOCOL_VERSION,
        keepalive_ms: 2000,
        window: 2,
        codecs: CodecSet::all(),
    }
    .encode(&mut b)
    .unwrap();
    b
}

fn rect(x: u16, y: u16, w: u16, h: u16, colour: u16) -> Vec<u8> {
    // RLE long runs (up to 65535 pixels each) cover the rect.
    let mut left = u32::from(w) * u32::from(h);
    let mut payload = Vec::new();
    while left > 0 {
        let n = left.min(65535);
        payload.push(0xFF);
        payload.extend_from_slice(&(n as u16).to_le_bytes());
        payload.extend_from_slice(&colour.to_be_bytes());
        left -= n;
    }
    let mut msg = vec![0u8; 13];
    RectHeader {
        x,
        y,
        w,
        h,
        codec: Codec::Rle,
    }
    .encode(&mut msg, payload.len())
    .unwrap();
    msg.extend(payload);
    msg
}

fn frame_end(seq: u32, rects: u16) -> Vec<u8> {
    let mut b = vec![0u8; 18];
    FrameEnd {
        seq,
        capture_time_us: 5,
        rect_count: rects,
    }
    .encode(&mut b)
    .unwrap();
    b
}

struct Outcome {
    end: EndOf<ScriptSocket, Panel<VirtualSpi, VirtualDc>>,
    sent: Vec<Event<'static>>,
    panel: VirtualPanel,
}

fn run(script: Vec<u8>, piece: usize, close_at_end: bool, staging: usize) -> Outcome {
    let cfg = PanelConfig::new(Controller::Ili9341).with_rotation(Rotation::Deg90);
    let vp = VirtualPanel::for_config(&cfg);
    let mut panel = Panel::new(vp.spi(), vp.dc(), cfg);
    block_on(panel.init(&mut NoDelay::default())).unwrap();
    let (mut rx, mut st, mut a, mut b) = (
        vec![0u8; 2048],
        vec![0u8; staging],
        vec![0u8; 1280],
        vec![0u8; 1280],
    );
    let mut runner = Runner::new(
        panel,
        Buffers {
            rx: &mut rx,
            staging: &mut st,
            strips: [&mut a, &mut b],
        },
        RunnerConfig {
            device_id: ShortStr::new("edge").unwrap(),
            firmware: ShortStr::new("t").unwrap(),
            window: 2,
            max_packet_bytes: 8192,
            stats_interval_us: 1_000_000,
        },
    );
    let mut socket = ScriptSocket {
        script,
        at: 0,
        piece,
        close_at_end,
        written: Vec::new(),
    };
    let clock = JumpClock(Cell::new(1_000));
    let end = block_on(runner.run(&mut socket, &clock, &mut pixelwire_panel::NoHooks));
    let mut d = Decoder::default();
    let sent = d
        .feed(&socket.written)
        .map(|e| match e.unwrap() {
            // Only fixed-size control messages come from a device; keep them 'static.
            Event::Hello(h) => Event::Hello(h),
            Event::Ack(a) => Event::Ack(a),
            Event::Ping(p) => Event::Ping(p),
            Event::Pong(p) => Event::Pong(p),
            Event::Stats(s) => Event::Stats(s),
            Event::Error(e) => Event::Error(e),
            other => panic!("device sent {other:?}"),
        })
        .collect();
    Outcome {
        end,
        sent,
        panel: vp,
    }
}

fn acks(o: &Outcome) -> Vec<u32> {
    o.sent
        .iter()
        .filter_map(|e| match e {
            Event::Ack(a) => Some(a.seq),
            _ => None,
        })
        .collect()
}

#[test]
fn hello_then_frames_then_server_close() {
    let mut script = welcome();
    script.extend(rect(0, 0, 320, 240, 0x001F));
    script.extend(frame_end(1, 1));
    let mut ping = vec![0u8; 12];
    Ping { time_us: 77 }.encode(&mut ping).unwrap();
    script.extend(ping);
    script.extend(rect(10, 10, 5, 5, 0xF800));
    script.extend(rect(400, 10, 5, 5, 0xF800)); // off the panel: clipped away
    script.extend(frame_end(2, 2));
    script.extend(frame_end(3, 0)); // nothing changed: acknowledged all the same
    for piece in [1, 2, 3, 7, 13, 100, 2048] {
        let o = run(script.clone(), piece, true, 64 * 1024);
        assert_eq!(o.end, SessionEnd::ServerClosed, "piece {piece}");
        let Event::Hello(h) = o.sent[0] else {
            panic!("first message {:?}", o.sent[0]);
        };
        assert_eq!((h.width, h.height, h.frame_buffer_bytes), (320, 240, 65536));
        assert_eq!(h.codecs, CodecSet::all());
        assert_eq!(h.max_packet_bytes, 8192);
        assert_eq!(acks(&o), [1, 2, 3], "piece {piece}");
        assert!(
            o.sent
                .iter()
                .any(|e| matches!(e, Event::Pong(p) if p.echo_us == 77))
        );
        let v = o.panel.render_visible();
        assert_eq!(v[0], 0x001F);
        assert_eq!(v[10 * 320 + 10], 0xF800);
        assert_eq!(v[15 * 320 + 15], 0x001F);
    }
}

#[test]
fn garbage_gets_an_error_and_ends_the_session() {
    let mut script = welcome();
    script.extend([0x42, 0, 0, 0]);
    let o = run(script, 5, false, 4096);
    assert_eq!(
        o.end,
        SessionEnd::Device(DeviceError::Protocol(ProtoError::UnknownKind(0x42)))
    );
    assert!(
        matches!(o.sent.last(), Some(Event::Error(e)) if e.code == ErrorCode::Malformed),
        "{:?}",
        o.sent.last()
    );
}

#[test]
fn a_server_error_is_reported() {
    let mut script = welcome();
    let mut e = vec![0u8; 64];
    let n = ErrorMsg::new(ErrorCode::Replaced, "replaced by a newer connection")
        .encode(&mut e)
        .unwrap();
    script.extend(&e[..n]);
    let o = run(script, 64, false, 4096);
    let text = match o.end {
        SessionEnd::Device(DeviceError::Server(m)) => m.text.to_string(),
        other => panic!("{other:?}"),
    };
    assert_eq!(text, "replaced by a newer connection");
    assert!(o.end.to_string().contains("replaced"));
}

#[test]
fn a_miscounted_frame_ends_the_session() {
    let mut script = welcome();
    script.extend(rect(0, 0, 4, 4, 1));
    script.extend(frame_end(1, 2));
    let o = run(script, 9, false, 4096);
    assert_eq!(
        o.end,
        SessionEnd::RectCount {
            expected: 2,
            got: 1
        }
    );
}

#[test]
fn a_rect_larger_than_the_frame_buffer_ends_the_session() {
    let mut script = welcome();
    let mut big = rect(0, 0, 4, 4, 1);
    // Declare a longer payload than the staging buffer holds (RAW 100x30 = 6000 + 9 bytes).
    big[2..4].copy_from_slice(&6009u16.to_le_bytes());
    script.extend(big);
    let o = run(script, 100, false, 4096);
    assert_eq!(o.end, SessionEnd::RectTooLarge(6013));
}

#[test]
fn a_silent_server_times_out_after_three_keepalives() {
    let o = run(welcome(), 64, false, 4096);
    assert_eq!(o.end, SessionEnd::Device(DeviceError::Timeout));
    let pings = o
        .sent
        .iter()
        .filter(|e| matches!(e, Event::Ping(_)))
        .count();
    // One PING with the HELLO, then one per 2 s keepalive interval until 6 s of silence.
    assert!((3..=4).contains(&pings), "{pings} pings");
    let stats = o
        .sent
        .iter()
        .filter(|e| matches!(e, Event::Stats(_)))
        .count();
    assert!((5..=7).contains(&stats), "{stats} STATS in 6 s");
}
