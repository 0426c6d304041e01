//! The stripe record both benchmark runners write (`scripts/bench-screen/pixelflux_runner.py`,
//! `crates/capture/examples/capture_record.rs`): every encoded stripe in arrival order, with its
//! payload (no pixelflux/pixelwire wire header: a bare JFIF or Annex-B access unit).
//!
//! * A text preamble: the line `PWREC1`, then one line of `key=value` pairs separated by spaces
//!   (`system`, `clock`, `width`, `height`, `duration_s`, and whatever else the runner adds),
//!   each ended by `\n`.
//! * Then entries of a 64-byte little-endian header and the payload:
//!
//! | offset | type | field |
//! |---|---|---|
//! | 0 | u32 | magic `0x5253_5750` (`PWSR`) |
//! | 4 | u8 | codec: 0 JPEG, 1 H.264 |
//! | 5 | u8 | flags: bit 0 keyframe |
//! | 6 | u16 | zero |
//! | 8 | u64 | frame id (pixelflux's wraps at 65536; [`read`] unwraps it) |
//! | 16 | u32 | top row |
//! | 20 | u32 | width |
//! | 24 | u32 | rows |
//! | 28 | u32 | payload bytes |
//! | 32 | u64 | capture time, ns |
//! | 40 | u64 | encode start, ns |
//! | 48 | u64 | encode end, ns |
//! | 56 | u64 | arrival in the runner's callback, ns |
//!
//! The four times are on one clock per record, named by `clock`: `monotonic` (CLOCK_MONOTONIC,
//! pixelflux's `capture_ns` and Python's `time.monotonic_ns()`) or `pixelwire` (µs since the
//! Unix epoch on `pixelwire_media::clock`, a monotonic clock anchored to wall time, times 1000).

use std::collections::BTreeMap;
use std::io::{self, Read, Write};

/// Entry magic.
pub const MAGIC: u32 = 0x5253_5750;
/// First line of a record.
pub const PREAMBLE: &str = "PWREC1";
/// Bytes of an entry header.
pub const HEADER_LEN: usize = 64;

/// Codec of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// A JFIF.
    Jpeg,
    /// An Annex-B access unit.
    H264,
}

/// One recorded stripe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Codec.
    pub codec: Codec,
    /// An H.264 IDR (JPEG stripes are always keyframes).
    pub keyframe: bool,
    /// Frame id, unwrapped.
    pub frame_id: u64,
    /// Top row.
    pub y: u32,
    /// Width.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// Capture time, ns.
    pub capture_ns: u64,
    /// Encode start, ns.
    pub encode_start_ns: u64,
    /// Encode end, ns.
    pub encode_end_ns: u64,
    /// Arrival in the callback, ns.
    pub arrival_ns: u64,
    /// The payload.
    pub data: Vec<u8>,
}

/// A whole record.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The preamble's `key=value` pairs.
    pub meta: BTreeMap<String, String>,
    /// The stripes in arrival order.
    pub entries: Vec<Entry>,
}

impl Record {
    /// A numeric preamble value.
    pub fn meta_f64(&self, key: &str) -> Option<f64> {
        self.meta.get(key).and_then(|v| v.parse().ok())
    }
}

/// Writes the preamble.
pub fn write_preamble(out: &mut impl Write, meta: &[(&str, String)]) -> io::Result<()> {
    let pairs: Vec<String> = meta.iter().map(|(k, v)| format!("{k}={v}")).collect();
    writeln!(out, "{PREAMBLE}")?;
    writeln!(out, "{}", pairs.join(" "))
}

/// Writes one entry.
pub fn write_entry(out: &mut impl Write, e: &Entry) -> io::Result<()> {
    let mut h = [0u8; HEADER_LEN];
    h[0..4].copy_from_slice(&MAGIC.to_le_bytes());
    h[4] = match e.codec {
        Codec::Jpeg => 0,
        Codec::H264 => 1,
    };
    h[5] = u8::from(e.keyframe);
    h[8..16].copy_from_slice(&e.frame_id.to_le_bytes());
    h[16..20].copy_from_slice(&e.y.to_le_bytes());
    h[20..24].copy_from_slice(&e.width.to_le_bytes());
    h[24..28].copy_from_slice(&e.height.to_le_bytes());
    h[28..32].copy_from_slice(&(e.data.len() as u32).to_le_bytes());
    for (i, t) in [
        e.capture_ns,
        e.encode_start_ns,
        e.encode_end_ns,
        e.arrival_ns,
    ]
    .into_iter()
    .enumerate()
    {
        h[32 + i * 8..40 + i * 8].copy_from_slice(&t.to_le_bytes());
    }
    out.write_all(&h)?;
    out.write_all(&e.data)
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

fn read_line(r: &mut impl Read) -> io::Result<String> {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    loop {
        r.read_exact(&mut b)?;
        if b[0] == b'\n' {
            return String::from_utf8(line).map_err(|_| bad("preamble is not UTF-8"));
        }
        line.push(b[0]);
        if line.len() > 4096 {
            return Err(bad("preamble line too long"));
        }
    }
}

/// Reads a whole record. Frame ids that go down by more than 32768 are taken as a u16 wrap.
/// A truncated last entry (a runner killed mid-write) is dropped.
pub fn read(r: &mut impl Read) -> io::Result<Record> {
    if read_line(r)? != PREAMBLE {
        return Err(bad("not a stripe record (no PWREC1 line)"));
    }
    let meta = read_line(r)?
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let mut entries: Vec<Entry> = Vec::new();
    let (mut wraps, mut last_raw) = (0u64, None::<u64>);
    loop {
        let mut h = [0u8; HEADER_LEN];
        match r.read_exact(&mut h) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e),
        }
        let u32_at = |o: usize| u32::from_le_bytes([h[o], h[o + 1], h[o + 2], h[o + 3]]);
        let u64_at = |o: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&h[o..o + 8]);
            u64::from_le_bytes(b)
        };
        if u32_at(0) != MAGIC {
            return Err(bad(format!(
                "bad entry magic after {} entries",
                entries.len()
            )));
        }
        let codec = match h[4] {
            0 => Codec::Jpeg,
            1 => Codec::H264,
            c => return Err(bad(format!("unknown codec {c}"))),
        };
        let mut data = vec![0; u32_at(28) as usize];
        match r.read_exact(&mut data) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e),
        }
        let raw = u64_at(8);
        if let Some(prev) = last_raw
            && raw + 32_768 < prev
        {
            wraps += 1;
        }
        last_raw = Some(raw);
        entries.push(Entry {
            codec,
            keyframe: h[5] & 1 != 0,
            frame_id: raw + wraps * 65_536,
            y: u32_at(16),
            width: u32_at(20),
            height: u32_at(24),
            capture_ns: u64_at(32),
            encode_start_ns: u64_at(40),
            encode_end_ns: u64_at(48),
            arrival_ns: u64_at(56),
            data,
        });
    }
    Ok(Record { meta, entries })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(frame_id: u64, y: u32) -> Entry {
        Entry {
            codec: Codec::H264,
            keyframe: frame_id == 0,
            frame_id,
            y,
            width: 64,
            height: 32,
            capture_ns: 1_000 + frame_id,
            encode_start_ns: 2_000,
            encode_end_ns: 3_000,
            arrival_ns: 4_000,
            data: vec![0, 0, 0, 1, 0x65, frame_id as u8],
        }
    }

    #[test]
    fn round_trip_unwraps_frame_ids_and_drops_a_torn_tail() {
        let mut buf = Vec::new();
        write_preamble(&mut buf, &[("system", "x".into()), ("width", "64".into())]).unwrap();
        for id in [65_534, 65_535, 0, 1] {
            write_entry(&mut buf, &entry(id, 0)).unwrap();
        }
        let whole = buf.len();
        write_entry(&mut buf, &entry(2, 32)).unwrap();
        buf.truncate(whole + HEADER_LEN + 2);
        let rec = read(&mut buf.as_slice()).unwrap();
        assert_eq!(rec.meta["system"], "x");
        assert_eq!(rec.meta_f64("width"), Some(64.0));
        let ids: Vec<u64> = rec.entries.iter().map(|e| e.frame_id).collect();
        assert_eq!(ids, [65_534, 65_535, 65_536, 65_537]);
        assert_eq!(rec.entries[0].data, entry(65_534, 0).data);
        assert!(rec.entries[2].keyframe);
    }

    #[test]
    fn rejects_other_files() {
        assert!(read(&mut &b"GIF89a\n"[..]).is_err());
    }
}
