//! Fuzzes [`pixelwire_proto::Decoder`] with arbitrary bytes through a [`FramebufferWriter`] on a
//! small framebuffer, the way a device consumes a server stream (`docs/protocol.md`).
//!
//! Input: the first byte picks a split position, the rest is the stream. The stream is decoded in
//! one piece and again split in two at that position (TCP reads arrive in pieces of any size), and
//! the two runs must agree:
//! * never a panic;
//! * the same non-pixel events and the same first error (errors are sticky);
//! * when no error occurred, the same framebuffer.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pixelwire_proto::{Decoder, Event, FramebufferWriter, ProtoError};

const W: u16 = 24;
const H: u16 = 16;

#[derive(Debug, PartialEq)]
struct Outcome {
    /// Every event but pixel data, whose pieces follow the input's splits.
    events: Vec<String>,
    error: Option<ProtoError>,
    fb: Vec<u8>,
}

fn run(pieces: &[&[u8]]) -> Outcome {
    let mut d = Decoder::default();
    let mut fbw = FramebufferWriter::new(W, H);
    let mut fb = vec![0u8; usize::from(W) * usize::from(H) * 2];
    let mut events = Vec::new();
    for piece in pieces {
        for ev in d.feed(piece) {
            match ev {
                Ok(ev) => {
                    fbw.apply(&mut fb, &ev);
                    if !matches!(ev, Event::Pixels(_) | Event::Fill { .. }) {
                        events.push(format!("{ev:?}"));
                    }
                }
                Err(e) => {
                    // Sticky: a second call must report the same error.
                    assert_eq!(d.decode(&[0]), Err(e));
                    return Outcome {
                        events,
                        error: Some(e),
                        fb,
                    };
                }
            }
        }
    }
    Outcome {
        events,
        error: None,
        fb,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, stream)) = data.split_first() else {
        return;
    };
    let at = usize::from(split) % (stream.len() + 1);
    let whole = run(&[stream]);
    let pieces = run(&[&stream[..at], &stream[at..]]);
    assert_eq!(whole.events, pieces.events);
    assert_eq!(whole.error, pieces.error);
    if whole.error.is_none() {
        assert!(whole.fb == pieces.fb, "framebuffers differ");
    }
});
