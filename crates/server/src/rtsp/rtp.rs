//! Access units to RTP over the RTSP connection (RFC 2326 §10.12 interleaving): each unit is
//! packetised by `msf-rtp` (RFC 6184: single NAL units, FU-A for larger ones, the marker on the
//! last packet of the unit) and framed as `$ channel length` + packet. Timestamps are the units'
//! capture times on a 90 kHz clock from a random origin, so they follow the camera's real timing
//! (a camera that skips frames shows as a gap, not as faster video). An RTCP sender report on
//! `channel + 1` before each keyframe and at least once a second maps those timestamps to the
//! capture wall clock (NTP), so a player or NVR knows when each frame was captured.

use crate::encoded::EncodedUnit;
use bytes::{BufMut, BytesMut};
use msf_rtp::h264::{AccessUnit, H264Packetizer};
use msf_rtp::packetizer::Packetizer;
use msf_rtp::rtcp::SenderReport;

/// Longest time between two sender reports, µs of capture time.
const SENDER_REPORT_EVERY_US: u64 = 1_000_000;

/// Seconds from the NTP epoch (1900) to the Unix epoch.
const NTP_UNIX_OFFSET_S: u64 = 2_208_988_800;

/// Largest RTP packet: fits a 1500-byte Ethernet MTU with IP/UDP headers, so a client that
/// restreams our packets over UDP (Frigate's go2rtc, VLC) needs no re-fragmentation.
const MAX_RTP_PACKET: usize = 1400;

/// Packetises one stream for one RTSP client.
pub struct RtpStream {
    channel: u8,
    packetizer: H264Packetizer,
    /// Capture time of the first unit sent, µs, and the timestamp it got.
    origin: Option<(u64, u32)>,
    random_origin: u32,
    ssrc: u32,
    packets: u64,
    octets: u64,
    last_report_us: Option<u64>,
}

impl std::fmt::Debug for RtpStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RtpStream")
            .field("channel", &self.channel)
            .field("packets", &self.packets)
            .finish()
    }
}

impl RtpStream {
    /// A stream on interleaved `channel` with `ssrc`; `random_origin` is the first timestamp.
    pub fn new(channel: u8, payload_type: u8, ssrc: u32, random_origin: u32) -> Self {
        Self {
            channel,
            packetizer: H264Packetizer::new(payload_type, ssrc)
                .with_max_rtp_packet_size(MAX_RTP_PACKET),
            origin: None,
            random_origin,
            ssrc,
            packets: 0,
            octets: 0,
            last_report_us: None,
        }
    }

    /// The RTP timestamp of a unit captured at `capture_us`.
    fn timestamp(&mut self, capture_us: u64) -> u32 {
        let (t0, ts0) = *self.origin.get_or_insert((capture_us, self.random_origin));
        // A unit older than the first (a restarted source's clock) keeps the origin's timestamp.
        let ticks = capture_us.saturating_sub(t0) * 9 / 100;
        ts0.wrapping_add(ticks as u32)
    }

    /// Appends `unit` as interleaved RTP packets to `out`; false if the unit holds no NAL unit
    /// RTP can carry (nothing is appended then).
    pub fn write_unit(&mut self, unit: &EncodedUnit, out: &mut BytesMut) -> bool {
        let ts = self.timestamp(unit.capture_time_us);
        let au = AccessUnit::new(u64::from(ts), u64::from(ts), unit.annexb.clone());
        if self.packetizer.push(au).is_err() {
            // Drain whatever was queued before the error so the next unit starts clean.
            while let Ok(Some(_)) = self.packetizer.take() {}
            return false;
        }
        // The report (when due) goes before the unit's packets, which wait here until then.
        let report_before = out.len();
        let mut any = false;
        let mut packet = BytesMut::with_capacity(MAX_RTP_PACKET);
        while let Ok(Some(p)) = self.packetizer.take() {
            packet.clear();
            p.encode(&mut packet);
            let Ok(len) = u16::try_from(packet.len()) else {
                continue;
            };
            out.put_u8(b'$');
            out.put_u8(self.channel);
            out.put_u16(len);
            out.extend_from_slice(&packet);
            self.packets += 1;
            self.octets += p.payload().len() as u64;
            any = true;
        }
        let due = self
            .last_report_us
            .is_none_or(|t| unit.capture_time_us.saturating_sub(t) >= SENDER_REPORT_EVERY_US);
        if any && (unit.keyframe || due) {
            let packets = out.split_off(report_before);
            self.sender_report(unit.capture_time_us, ts, out);
            out.unsplit(packets);
        }
        any
    }

    /// Appends an RTCP sender report saying that RTP time `ts` is capture time `capture_us`.
    fn sender_report(&mut self, capture_us: u64, ts: u32, out: &mut BytesMut) {
        let (secs, micros) = (capture_us / 1_000_000, capture_us % 1_000_000);
        let ntp = ((secs + NTP_UNIX_OFFSET_S) << 32) | ((micros << 32) / 1_000_000);
        let sr = SenderReport::new(self.ssrc)
            .with_ntp_timestamp(ntp)
            .with_rtp_timestamp(ts)
            .with_packet_count(self.packets as u32)
            .with_octet_count(self.octets as u32);
        let mut b = BytesMut::with_capacity(64);
        sr.encode().encode(&mut b);
        if let Ok(len) = u16::try_from(b.len()) {
            out.put_u8(b'$');
            out.put_u8(self.channel.wrapping_add(1));
            out.put_u16(len);
            out.extend_from_slice(&b);
            self.last_report_us = Some(capture_us);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn unit(seq: u64, keyframe: bool, t_us: u64, annexb: &[u8]) -> Arc<EncodedUnit> {
        Arc::new(EncodedUnit::new(seq, keyframe, 64, 48, t_us, annexb))
    }

    /// Splits interleaved frames: (channel, packet).
    fn frames(mut b: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let mut out = Vec::new();
        while !b.is_empty() {
            assert_eq!(b[0], b'$');
            let len = usize::from(u16::from_be_bytes([b[2], b[3]]));
            out.push((b[1], b[4..4 + len].to_vec()));
            b = &b[4 + len..];
        }
        out
    }

    #[test]
    fn small_nal_units_go_alone_and_large_ones_as_fu_a_with_the_marker_last() {
        let mut s = RtpStream::new(0, 96, 0xAABB_CCDD, 1000);
        let mut big = vec![0, 0, 0, 1, 0x65];
        big.extend((0..3000u32).map(|i| (i % 251) as u8 + 1));
        let mut annexb = vec![0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1e, 0, 0, 0, 1, 0x68, 0xce];
        annexb.extend_from_slice(&big);
        let mut out = BytesMut::new();
        assert!(s.write_unit(&unit(0, true, 5_000_000, &annexb), &mut out));
        let mut f = frames(&out);
        // First an RTCP sender report on channel 1: RTP time 1000 is capture time 5 s after 1970.
        let (ch, sr) = f.remove(0);
        assert_eq!((ch, sr[0] >> 6, sr[1]), (1, 2, 200), "RTCP SR");
        assert_eq!(
            u32::from_be_bytes([sr[4], sr[5], sr[6], sr[7]]),
            0xAABB_CCDD
        );
        assert_eq!(
            u64::from(u32::from_be_bytes([sr[8], sr[9], sr[10], sr[11]])),
            2_208_988_800 + 5
        );
        assert_eq!(u32::from_be_bytes([sr[16], sr[17], sr[18], sr[19]]), 1000);
        // SPS, PPS, then the 3001-byte IDR slice in three FU-A packets.
        assert_eq!(
            f.len(),
            5,
            "{:?}",
            f.iter().map(|x| x.1.len()).collect::<Vec<_>>()
        );
        for (i, (ch, p)) in f.iter().enumerate() {
            assert_eq!(*ch, 0);
            assert!(p.len() <= MAX_RTP_PACKET);
            assert_eq!(p[0], 0x80, "RTP version 2");
            let marker = p[1] & 0x80 != 0;
            assert_eq!(marker, i == 4, "marker only on the last packet of the unit");
            assert_eq!(p[1] & 0x7F, 96);
            assert_eq!(u32::from_be_bytes([p[4], p[5], p[6], p[7]]), 1000);
            assert_eq!(u32::from_be_bytes([p[8], p[9], p[10], p[11]]), 0xAABB_CCDD);
        }
        assert_eq!(f[0].1[12], 0x67);
        assert_eq!(f[2].1[12] & 0x1F, 28, "FU-A");
        assert_eq!(f[2].1[13], 0x80 | 5, "start bit, IDR type");
        assert_eq!(f[4].1[13], 0x40 | 5, "end bit");
        // The FU-A payloads put back together are the slice.
        let mut rebuilt = vec![0x65];
        for (_, p) in &f[2..] {
            rebuilt.extend_from_slice(&p[14..]);
        }
        assert_eq!(rebuilt, big[4..]);
        // 40 ms later on the 90 kHz clock; sequence numbers continue.
        let mut out = BytesMut::new();
        assert!(s.write_unit(&unit(1, false, 5_040_000, &[0, 0, 1, 0x41, 9, 9]), &mut out));
        let f2 = frames(&out);
        assert_eq!(f2.len(), 1, "no report 40 ms after the last");
        let p = &f2[0].1;
        assert_eq!(u32::from_be_bytes([p[4], p[5], p[6], p[7]]), 1000 + 3600);
        let seq = |p: &[u8]| u16::from_be_bytes([p[2], p[3]]);
        assert_eq!(seq(p), seq(&f[4].1).wrapping_add(1));
    }

    #[test]
    fn a_unit_without_nal_units_writes_nothing() {
        let mut s = RtpStream::new(2, 96, 1, 0);
        let mut out = BytesMut::new();
        assert!(!s.write_unit(&unit(0, false, 0, &[]), &mut out));
        assert!(out.is_empty());
    }
}
