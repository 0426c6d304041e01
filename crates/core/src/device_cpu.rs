//! A device's decode time over the server's byte stream, from a [`DecodeCost`] model (for the
//! ESP32-C3 firmware: `DecodeCost::ESP32C3`, measured with callgrind on the firmware's own no_std
//! code). `display-emu --cpu esp32c3` and the virtual-time display benchmark
//! (`examples/device_bound.rs`) take their device time from it, so a benchmark shows the frame
//! rates a real 160 MHz device reaches rather than link-bound ones.
//!
//! Every RECT message is reassembled from the byte stream (split anywhere) and costed as it
//! completes: its receive-pass time delays the bytes after it (the firmware checks as bytes
//! arrive), and its present-pass time is added up until FRAME_END, when the panel is busy for the
//! larger of that and the SPI transfer (the firmware decodes strips beside the SPI DMA).

use crate::decode_cost::{DecodeCost, DeviceTime};
use pixelwire_proto::Codec;
use pixelwire_proto::message::{HEADER_LEN, RECT_FIELDS_LEN};
use std::time::Duration;

/// Kind bytes of the messages the model looks at.
const KIND_RECT: u8 = 0x90;
const KIND_FRAME_END: u8 = 0x91;

/// Device time of a stream of server messages; see the module docs.
#[derive(Debug)]
pub struct DeviceCpu {
    cost: DecodeCost,
    /// The message being reassembled (header included).
    msg: Vec<u8>,
    /// Present-pass seconds of the frame being received.
    present_s: f64,
    /// Pixels of the RECTs of the frame being received.
    pixels: u64,
}

/// What one piece of input cost.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Cost {
    /// Receive-pass time of the RECTs completed in it.
    pub receive: Duration,
    /// Present-pass time of the frame whose FRAME_END it completed, if any.
    pub present: Option<Duration>,
    /// Pixels of that frame's RECTs (what the panel is sent), with `present`.
    pub frame_pixels: u64,
}

impl DeviceCpu {
    /// The model of `cost`.
    pub fn new(cost: DecodeCost) -> Self {
        Self {
            cost,
            msg: Vec::new(),
            present_s: 0.0,
            pixels: 0,
        }
    }

    /// Costs `bytes`, the next piece of the server's stream.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Cost {
        let mut out = Cost::default();
        let mut receive_s = 0.0;
        while !bytes.is_empty() {
            let want = if self.msg.len() < HEADER_LEN {
                HEADER_LEN
            } else {
                HEADER_LEN + usize::from(u16::from_le_bytes([self.msg[2], self.msg[3]]))
            };
            let n = (want - self.msg.len()).min(bytes.len());
            self.msg.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if self.msg.len() < want || want == HEADER_LEN && self.msg[2..4] != [0, 0] {
                continue;
            }
            match self.msg[0] {
                KIND_RECT if self.msg.len() >= HEADER_LEN + RECT_FIELDS_LEN => {
                    let f = &self.msg[HEADER_LEN..];
                    let w = u16::from_le_bytes([f[4], f[5]]);
                    let h = u16::from_le_bytes([f[6], f[7]]);
                    if let Ok(codec) = Codec::from_wire(f[8]) {
                        let payload = &self.msg[HEADER_LEN + RECT_FIELDS_LEN..];
                        let t: DeviceTime =
                            self.cost
                                .device_time(codec, usize::from(w) * usize::from(h), payload);
                        receive_s += t.receive_s;
                        self.present_s += t.present_s;
                        self.pixels += u64::from(w) * u64::from(h);
                    }
                }
                KIND_FRAME_END => {
                    out.present = Some(Duration::from_secs_f64(self.present_s));
                    out.frame_pixels = self.pixels;
                    self.present_s = 0.0;
                    self.pixels = 0;
                }
                _ => {}
            }
            self.msg.clear();
        }
        out.receive = Duration::from_secs_f64(receive_s);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pixelwire_proto::{FrameEnd, RectHeader};

    #[test]
    fn costs_rects_split_anywhere_and_presents_at_frame_end() {
        // one RAW rect of 100 pixels, then a FRAME_END
        let mut stream = vec![0u8; 13 + 200];
        RectHeader {
            x: 0,
            y: 0,
            w: 10,
            h: 10,
            codec: Codec::Raw,
        }
        .encode(&mut stream[..13], 200)
        .unwrap();
        let mut fe = [0u8; 18];
        FrameEnd {
            seq: 1,
            capture_time_us: 0,
            rect_count: 1,
        }
        .encode(&mut fe)
        .unwrap();
        stream.extend_from_slice(&fe);
        let want = DecodeCost::ESP32C3.device_time(Codec::Raw, 100, &[0; 200]);
        for split in 0..stream.len() {
            let mut m = DeviceCpu::new(DecodeCost::ESP32C3);
            let a = m.feed(&stream[..split]);
            let b = m.feed(&stream[split..]);
            let receive = (a.receive + b.receive).as_secs_f64();
            assert!((receive - want.receive_s).abs() < 1e-9, "split {split}");
            let present = a.present.or(b.present).expect("FRAME_END seen");
            assert_eq!(a.frame_pixels + b.frame_pixels, 100);
            assert!((present.as_secs_f64() - want.present_s).abs() < 1e-9);
        }
    }
}
