//! What decoding an update costs a device's CPU, so the encoder can weigh it against link time when
//! it picks a codec, and the link estimate can tell link time from device time.
//!
//! A compressed band is not free for a 160 MHz microcontroller: on the ESP32-C3 firmware, RLE costs
//! about 740 cycles per token over its two passes (the session's receive check as bytes arrive,
//! then the strip decode at FRAME_END), so a high-entropy screen decodes slower than RAW's bytes
//! would cross a fast WiFi link (BENCHMARKS.md, "Firmware decode cost"). The model here is the one
//! derived there:
//!
//! * receive pass: runs while bytes arrive, so it overlaps the link: `max(link, receive)`;
//! * present pass: runs at FRAME_END beside the SPI DMA, so it overlaps the panel: `max(present,
//!   pixels / panel rate)`;
//! * a band costs `max(bytes / link, receive) + max(present, pixels / panel rate)`.
//!
//! The figures are estimates from host callgrind counts of the firmware's own `no_std` code
//! (cycles ≈ 1.7 × x86-64 instructions), not measurements on hardware.

use pixelwire_proto::Codec;
use pixelwire_proto::codec::{palette, rle};

/// Device time spent on an update (or a band of one), seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DeviceTime {
    /// The receive pass, which overlaps the link.
    pub receive_s: f64,
    /// The present pass, which overlaps the SPI transfer.
    pub present_s: f64,
}

impl DeviceTime {
    /// No device cost known.
    pub const NONE: Self = Self {
        receive_s: 0.0,
        present_s: 0.0,
    };

    /// The sum of two device times.
    #[must_use]
    pub fn plus(self, other: Self) -> Self {
        Self {
            receive_s: self.receive_s + other.receive_s,
            present_s: self.present_s + other.present_s,
        }
    }
}

/// A device's decode cost per codec, in CPU cycles (both passes together).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecodeCost {
    /// CPU clock, Hz.
    pub clock_hz: f64,
    /// Cycles per RAW pixel (copy into staging, then into strips).
    pub raw_pixel_cycles: f64,
    /// Cycles per RLE token (literal or run, pixel work included).
    pub rle_token_cycles: f64,
    /// Cycles per PALETTE_RLE token (palette and window setup spread over the tokens).
    pub palette_token_cycles: f64,
    /// Share of the cycles spent in the receive pass (the rest is the present pass).
    pub receive_share: f64,
    /// DCT, present pass: cycles per pixel (inverse DCT of flat blocks, colour conversion, strip
    /// copy) and per payload byte (Huffman decoding, and the transforms the coefficients it
    /// carries call for).
    pub dct_present: LinearCost,
    /// DCT, receive pass (the session checks the bits without producing pixels).
    pub dct_receive: LinearCost,
    /// DCT_HALF, present pass: cycles per panel pixel of doubling the decoded pixels on top of
    /// `dct_present` for the coded quarter.
    pub dct_half_output_pixel_cycles: f64,
}

/// Cycles of a pass as `pixels × per_pixel + payload bytes × per_byte`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinearCost {
    /// Cycles per pixel.
    pub per_pixel: f64,
    /// Cycles per payload byte.
    pub per_byte: f64,
}

impl LinearCost {
    fn cycles(&self, pixels: usize, bytes: usize) -> f64 {
        pixels as f64 * self.per_pixel + bytes as f64 * self.per_byte
    }
}

/// Firmware version strings start with this on the ESP32-C3 firmware (`firmware/esp32c3`).
pub const ESP32C3_FIRMWARE_PREFIX: &str = "pixelwire-esp32c3";

impl DecodeCost {
    /// The ESP32-C3 firmware at 160 MHz (BENCHMARKS.md, "Device cost figures for the server's codec
    /// choice"; receive : present = 0.57 : 1). DCT: BENCHMARKS.md, "Motion codec" (callgrind of
    /// `crates/panel/examples/decode_cost.rs` `unit`/`check` on `pattern` at qualities 30 and 90,
    /// a line through the two, × 1.7 cycles per instruction): present 32.0 instructions per pixel
    /// and 174 per payload byte, receive 2.8 and 42.7, DCT_HALF present 19.3 per panel pixel
    /// (what the coded quarter's share of `dct_present` leaves, 19 cycles, is the doubling and
    /// the four times as many pixels handed to the strips). Before the decoder's speed-up
    /// (lookahead Huffman decoding, inverse DCT sized by the last coefficient, colour from table
    /// slices) these were 80 and 408, 8.3 and 204, and 25 cycles.
    pub const ESP32C3: Self = Self {
        clock_hz: 160e6,
        raw_pixel_cycles: 13.0,
        rle_token_cycles: 740.0,
        palette_token_cycles: 950.0,
        receive_share: 0.36,
        dct_present: LinearCost {
            per_pixel: 54.0,
            per_byte: 296.0,
        },
        dct_receive: LinearCost {
            per_pixel: 4.8,
            per_byte: 73.0,
        },
        dct_half_output_pixel_cycles: 19.0,
    };

    /// The cost model of the firmware that announces itself as `firmware` in HELLO, if known.
    pub fn for_firmware(firmware: &str) -> Option<Self> {
        firmware
            .starts_with(ESP32C3_FIRMWARE_PREFIX)
            .then_some(Self::ESP32C3)
    }

    /// Device time to decode `pixels` pixels sent as `payload` (the codec payload of one RECT).
    pub fn device_time(&self, codec: Codec, pixels: usize, payload: &[u8]) -> DeviceTime {
        let cycles = match codec {
            Codec::Raw => pixels as f64 * self.raw_pixel_cycles,
            Codec::Rle => rle::token_count(payload) as f64 * self.rle_token_cycles,
            Codec::PaletteRle => palette::token_count(payload) as f64 * self.palette_token_cycles,
            Codec::Dct => {
                // The receive pass only decodes the bits (the firmware's session checks without
                // producing pixels); the present pass decodes them again and transforms.
                let bytes = payload.len();
                return DeviceTime {
                    receive_s: self.dct_receive.cycles(pixels, bytes) / self.clock_hz,
                    present_s: self.dct_present.cycles(pixels, bytes) / self.clock_hz,
                };
            }
            Codec::DctHalf => {
                // The coded picture is a quarter of the panel pixels; each is then shown 2x2.
                let (bytes, coded) = (payload.len(), pixels.div_ceil(4));
                return DeviceTime {
                    receive_s: self.dct_receive.cycles(coded, bytes) / self.clock_hz,
                    present_s: (self.dct_present.cycles(coded, bytes)
                        + pixels as f64 * self.dct_half_output_pixel_cycles)
                        / self.clock_hz,
                };
            }
        };
        let s = cycles / self.clock_hz;
        DeviceTime {
            receive_s: s * self.receive_share,
            present_s: s * (1.0 - self.receive_share),
        }
    }
}

/// What the encoder knows about a device's link and CPU when choosing a codec.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CostModel {
    /// The device's decode cost.
    pub decode: DecodeCost,
    /// Link throughput without device time, bytes per second.
    pub link_bytes_per_s: f64,
    /// The panel's pixel rate (SPI), pixels per second, if the device reported it.
    pub panel_px_per_s: Option<f64>,
}

impl CostModel {
    /// Seconds a band of `pixels` pixels sent as a `message_bytes` message takes to reach the
    /// panel, given its device time (see the module docs).
    pub fn band_seconds(&self, message_bytes: usize, pixels: usize, device: DeviceTime) -> f64 {
        let link = message_bytes as f64 / self.link_bytes_per_s.max(1.0);
        let panel = self.panel_px_per_s.map_or(0.0, |p| pixels as f64 / p);
        link.max(device.receive_s) + device.present_s.max(panel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firmware_string_selects_the_model() {
        assert_eq!(
            DecodeCost::for_firmware("pixelwire-esp32c3 0.1.0"),
            Some(DecodeCost::ESP32C3)
        );
        assert_eq!(DecodeCost::for_firmware("sim"), None);
        assert_eq!(DecodeCost::for_firmware("display-emu 0.1.0"), None);
    }

    #[test]
    fn device_time_counts_tokens_and_pixels() {
        let c = DecodeCost::ESP32C3;
        // RAW: 1000 pixels × 13 cycles at 160 MHz = 81.25 µs, 36 % of it in the receive pass.
        let raw = c.device_time(Codec::Raw, 1000, &[0; 2000]);
        assert!((raw.receive_s + raw.present_s - 81.25e-6).abs() < 1e-9);
        assert!((raw.receive_s - 0.36 * 81.25e-6).abs() < 1e-9);
        // RLE: a run token (0x84 + pixel) and a one-pixel literal (0x00 + pixel) = 2 tokens.
        let rle = c.device_time(Codec::Rle, 6, &[0x84, 0xF8, 0x00, 0x00, 0x12, 0x34]);
        assert!((rle.receive_s + rle.present_s - 2.0 * 740.0 / 160e6).abs() < 1e-12);
        // PALETTE_RLE: 2 colours, one short and one long run token = 2 tokens.
        let pal = c.device_time(
            Codec::PaletteRle,
            23,
            &[0x02, 0x00, 0x00, 0xFF, 0xFF, 0x20, 0xF1, 0x04],
        );
        assert!((pal.receive_s + pal.present_s - 2.0 * 950.0 / 160e6).abs() < 1e-12);
    }

    #[test]
    fn band_time_overlaps_link_with_receive_and_present_with_spi() {
        let m = CostModel {
            decode: DecodeCost::ESP32C3,
            link_bytes_per_s: 1_000_000.0,
            panel_px_per_s: Some(2_500_000.0),
        };
        let dev = DeviceTime {
            receive_s: 0.002,
            present_s: 0.001,
        };
        // link 10 ms hides the 2 ms receive; 25000 px of SPI (10 ms) hides the 1 ms present
        assert!((m.band_seconds(10_000, 25_000, dev) - 0.020).abs() < 1e-9);
        // a CPU-bound band: 1 ms of link under 2 ms of receive, no SPI rate known
        let m = CostModel {
            panel_px_per_s: None,
            ..m
        };
        assert!((m.band_seconds(1_000, 25_000, dev) - 0.003).abs() < 1e-9);
    }
}
