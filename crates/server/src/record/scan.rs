//! Reads back a recording file written by [`super::fmp4`] (ISO/IEC 14496-12): the track from its
//! init segment and, for each complete fragment, where it lies, when it starts, how long it lasts
//! and whether it starts with a keyframe. Only box headers and `moof`s are read, never `mdat`.
//!
//! The index of recordings is derived from the files themselves with this, so a crash never leaves
//! an index that disagrees with the disk: a fragment cut by a crash or `kill -9` (a `moof` or an
//! `mdat` that runs past the end of the file) ends the scan, and everything before it counts.
//! Input is untrusted: every length is checked, nothing panics.

use super::fmp4::{TIMESCALE, TrackInfo};
use bytes::Bytes;
use std::io::{Read, Seek, SeekFrom};

/// A complete fragment of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragment {
    /// Where its `moof` starts.
    pub offset: u64,
    /// Bytes of its `moof`.
    pub moof_len: u32,
    /// Bytes of `moof` + `mdat`.
    pub len: u64,
    /// `tfdt`: decode time of its first sample, [`TIMESCALE`] ticks from the file's start.
    pub decode_time: u64,
    /// Sum of its samples' durations, ticks.
    pub duration: u64,
    /// Samples (frames).
    pub samples: u32,
    /// Its first sample is a sync sample.
    pub keyframe: bool,
    /// Offset in the `moof` of `mfhd`'s sequence number.
    pub sequence_at: u16,
    /// Offset in the `moof` of `tfdt`'s time, and its width (4 or 8 bytes).
    pub tfdt_at: u16,
    /// 8 for a version-1 `tfdt`, 4 for version 0.
    pub tfdt_bytes: u8,
}

/// What a file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    /// The track of its init segment.
    pub track: TrackInfo,
    /// Bytes of `ftyp` + `moov`.
    pub init_len: u64,
    /// Its complete fragments, in order.
    pub fragments: Vec<Fragment>,
}

/// Why a file is not a recording this server can index.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScanError {
    /// The file ends before its `moov` is complete (a crash right after it was created).
    #[error("no complete init segment")]
    NoInit,
    /// Boxes that are not a fragmented H.264 track at 90 kHz.
    #[error("not a recording: {0}")]
    Invalid(&'static str),
    /// Reading failed.
    #[error("read error: {0}")]
    Io(String),
}

impl From<std::io::Error> for ScanError {
    fn from(e: std::io::Error) -> Self {
        ScanError::Io(e.to_string())
    }
}

/// A box header read from the file: kind, where the box starts, its length and header length.
struct Header {
    kind: [u8; 4],
    start: u64,
    len: u64,
    header: u64,
}

fn read_header<R: Read + Seek>(
    r: &mut R,
    at: u64,
    file_len: u64,
) -> Result<Option<Header>, ScanError> {
    if at + 8 > file_len {
        return Ok(None);
    }
    r.seek(SeekFrom::Start(at))?;
    let mut h = [0u8; 8];
    r.read_exact(&mut h)?;
    let kind = [h[4], h[5], h[6], h[7]];
    let mut len = u64::from(u32::from_be_bytes([h[0], h[1], h[2], h[3]]));
    let mut header = 8;
    if len == 1 {
        if at + 16 > file_len {
            return Ok(None);
        }
        let mut l = [0u8; 8];
        r.read_exact(&mut l)?;
        len = u64::from_be_bytes(l);
        header = 16;
    } else if len == 0 {
        len = file_len - at;
    }
    if len < header {
        return Err(ScanError::Invalid("a box shorter than its header"));
    }
    Ok(Some(Header {
        kind,
        start: at,
        len,
        header,
    }))
}

/// Scans a recording of `file_len` bytes.
pub fn scan<R: Read + Seek>(r: &mut R, file_len: u64) -> Result<Scan, ScanError> {
    let mut at = 0;
    let mut track = None;
    // ftyp, then moov (other top-level boxes before the first moof are skipped).
    while track.is_none() {
        let Some(h) = read_header(r, at, file_len)? else {
            return Err(ScanError::NoInit);
        };
        if h.start.saturating_add(h.len) > file_len {
            return Err(ScanError::NoInit);
        }
        if &h.kind == b"moov" {
            let body = read_body(r, &h, 1 << 20)?;
            track = Some(parse_moov(&body)?);
        } else if &h.kind == b"moof" {
            return Err(ScanError::Invalid("a moof before the moov"));
        }
        at = h.start + h.len;
    }
    let init_len = at;
    let track = track.ok_or(ScanError::NoInit)?;
    let mut fragments = Vec::new();
    while let Some(moof) = read_header(r, at, file_len)? {
        if moof.start.saturating_add(moof.len) > file_len {
            break;
        }
        if &moof.kind != b"moof" {
            // Anything else between fragments (none is written) is skipped.
            at = moof.start + moof.len;
            continue;
        }
        let Some(mdat) = read_header(r, moof.start + moof.len, file_len)? else {
            break;
        };
        if &mdat.kind != b"mdat" {
            return Err(ScanError::Invalid("a moof not followed by its mdat"));
        }
        if mdat.start.saturating_add(mdat.len) > file_len {
            // Cut by a crash: players stop before it, and so does the index.
            break;
        }
        let body = read_body(r, &moof, 4 << 20)?;
        let mut f = parse_moof(&body, moof.header)?;
        f.offset = moof.start;
        f.moof_len = u32::try_from(moof.len).map_err(|_| ScanError::Invalid("huge moof"))?;
        f.len = moof.len + mdat.len;
        fragments.push(f);
        at = mdat.start + mdat.len;
    }
    Ok(Scan {
        track,
        init_len,
        fragments,
    })
}

fn read_body<R: Read + Seek>(r: &mut R, h: &Header, max: u64) -> Result<Vec<u8>, ScanError> {
    let n = h.len - h.header;
    if n > max {
        return Err(ScanError::Invalid("a box larger than this server writes"));
    }
    r.seek(SeekFrom::Start(h.start + h.header))?;
    let mut body = vec![0; n as usize];
    r.read_exact(&mut body)?;
    Ok(body)
}

/// The boxes inside `b`: (kind, offset of the body in `b`, body).
fn children(b: &[u8]) -> impl Iterator<Item = ([u8; 4], usize, &[u8])> {
    let mut at = 0usize;
    std::iter::from_fn(move || {
        let h = b.get(at..at + 8)?;
        let len = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize;
        let kind = [h[4], h[5], h[6], h[7]];
        if len < 8 || at + len > b.len() {
            return None;
        }
        let out = (kind, at + 8, &b[at + 8..at + len]);
        at += len;
        Some(out)
    })
}

fn child<'a>(b: &'a [u8], kind: &[u8; 4]) -> Option<(usize, &'a [u8])> {
    children(b)
        .find(|(k, _, _)| k == kind)
        .map(|(_, at, body)| (at, body))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn parse_moov(moov: &[u8]) -> Result<TrackInfo, ScanError> {
    let bad = ScanError::Invalid;
    let (_, trak) = child(moov, b"trak").ok_or(bad("no trak"))?;
    let (_, mdia) = child(trak, b"mdia").ok_or(bad("no mdia"))?;
    let (_, mdhd) = child(mdia, b"mdhd").ok_or(bad("no mdhd"))?;
    let timescale = match mdhd.first() {
        Some(0) => be32(mdhd, 12),
        Some(1) => be32(mdhd, 20),
        _ => None,
    };
    if timescale != Some(TIMESCALE) {
        return Err(bad("not a 90 kHz track"));
    }
    let (_, minf) = child(mdia, b"minf").ok_or(bad("no minf"))?;
    let (_, stbl) = child(minf, b"stbl").ok_or(bad("no stbl"))?;
    let (_, stsd) = child(stbl, b"stsd").ok_or(bad("no stsd"))?;
    let entries = stsd.get(8..).ok_or(bad("short stsd"))?;
    let (_, avc1) = child(entries, b"avc1").ok_or(bad("not avc1"))?;
    let width = u32::from(u16::from_be_bytes([
        *avc1.get(24).ok_or(bad("short avc1"))?,
        *avc1.get(25).ok_or(bad("short avc1"))?,
    ]));
    let height = u32::from(u16::from_be_bytes([
        *avc1.get(26).ok_or(bad("short avc1"))?,
        *avc1.get(27).ok_or(bad("short avc1"))?,
    ]));
    let (_, avcc) =
        child(avc1.get(78..).ok_or(bad("short avc1"))?, b"avcC").ok_or(bad("no avcC"))?;
    Ok(TrackInfo {
        width,
        height,
        avcc: Bytes::copy_from_slice(avcc),
    })
}

/// A `moof`'s body (`header` bytes after the start of the box).
fn parse_moof(moof: &[u8], header: u64) -> Result<Fragment, ScanError> {
    let bad = ScanError::Invalid;
    let off = |body_at: usize| u16::try_from(body_at as u64 + header).map_err(|_| bad("huge moof"));
    let (mfhd_at, mfhd) = child(moof, b"mfhd").ok_or(bad("no mfhd"))?;
    if mfhd.len() < 8 {
        return Err(bad("short mfhd"));
    }
    let (traf_at, traf) = child(moof, b"traf").ok_or(bad("no traf"))?;
    let (_, tfhd) = child(traf, b"tfhd").ok_or(bad("no tfhd"))?;
    let tfhd_flags = be32(tfhd, 0).ok_or(bad("short tfhd"))? & 0x00FF_FFFF;
    // Optional tfhd fields after track_ID: base offset, description index, duration, size, flags.
    let mut p = 8;
    if tfhd_flags & 0x01 != 0 {
        p += 8;
    }
    if tfhd_flags & 0x02 != 0 {
        p += 4;
    }
    let default_duration = if tfhd_flags & 0x08 != 0 {
        let d = be32(tfhd, p);
        p += 4;
        d
    } else {
        None
    }
    .unwrap_or(0);
    if tfhd_flags & 0x10 != 0 {
        p += 4;
    }
    let default_flags = if tfhd_flags & 0x20 != 0 {
        be32(tfhd, p)
    } else {
        None
    }
    .unwrap_or(0);
    let (tfdt_at, tfdt) = child(traf, b"tfdt").ok_or(bad("no tfdt"))?;
    let (decode_time, tfdt_bytes) = match tfdt.first() {
        Some(1) => (be64(tfdt, 4).ok_or(bad("short tfdt"))?, 8),
        Some(0) => (u64::from(be32(tfdt, 4).ok_or(bad("short tfdt"))?), 4),
        _ => return Err(bad("tfdt version")),
    };
    let (_, trun) = child(traf, b"trun").ok_or(bad("no trun"))?;
    let flags = be32(trun, 0).ok_or(bad("short trun"))? & 0x00FF_FFFF;
    let count = be32(trun, 4).ok_or(bad("short trun"))?;
    let mut p = 8;
    if flags & 0x001 != 0 {
        p += 4;
    }
    let first_flags = if flags & 0x004 != 0 {
        let f = be32(trun, p);
        p += 4;
        f
    } else {
        None
    };
    if count > 1_000_000 {
        return Err(bad("a trun of more samples than this server writes"));
    }
    let per_sample = [0x100, 0x200, 0x400, 0x800]
        .iter()
        .filter(|&&f| flags & f != 0)
        .count()
        * 4;
    if (count as usize).saturating_mul(per_sample) > trun.len().saturating_sub(p) {
        return Err(bad("trun shorter than its samples"));
    }
    let mut duration = 0u64;
    let mut first_sample_flags = first_flags.unwrap_or(default_flags);
    for i in 0..count as usize {
        let mut q = p + i * per_sample;
        let d = if flags & 0x100 != 0 {
            let d = be32(trun, q);
            q += 4;
            d
        } else {
            None
        };
        duration += u64::from(d.unwrap_or(default_duration));
        if flags & 0x200 != 0 {
            q += 4;
        }
        if i == 0 && flags & 0x400 != 0 && first_flags.is_none() {
            first_sample_flags = be32(trun, q).unwrap_or(default_flags);
        }
    }
    Ok(Fragment {
        offset: 0,
        moof_len: 0,
        len: 0,
        decode_time,
        duration,
        samples: count,
        keyframe: count > 0 && first_sample_flags & 0x0001_0000 == 0,
        sequence_at: off(mfhd_at + 4)?,
        tfdt_at: off(traf_at + tfdt_at + 4)?,
        tfdt_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::super::fmp4::{self, SampleInfo};
    use super::*;
    use std::io::Cursor;

    fn track() -> TrackInfo {
        TrackInfo::from_parameter_sets(64, 48, &[0x67, 0x42, 0xC0, 0x1E, 0xDA], &[0x68, 0xCE])
            .unwrap()
    }

    /// An init segment and `n` fragments of 3 frames, the first of each a keyframe when even.
    fn file(n: u32) -> Vec<u8> {
        let mut f = fmp4::init_segment(&track(), 0);
        for i in 0..n {
            let mut data = Vec::new();
            let samples: Vec<SampleInfo> = (0..3)
                .map(|k| SampleInfo {
                    duration: 3000,
                    size: fmp4::append_sample(&mut data, [&[0x65, i as u8, k][..]].into_iter()),
                    sync: k == 0 && i % 2 == 0,
                })
                .collect();
            f.extend(fmp4::fragment(i + 1, u64::from(i) * 9000, &samples, &data));
        }
        f
    }

    #[test]
    fn reads_back_what_the_writer_wrote() {
        let f = file(4);
        let s = scan(&mut Cursor::new(&f), f.len() as u64).unwrap();
        assert_eq!(s.track, track());
        assert_eq!(s.fragments.len(), 4);
        let g = s.fragments[1];
        assert_eq!((g.decode_time, g.duration, g.samples), (9000, 9000, 3));
        assert!(s.fragments[0].keyframe && !g.keyframe && s.fragments[2].keyframe);
        assert_eq!(s.fragments[0].offset, s.init_len);
        assert_eq!(g.offset, s.fragments[0].offset + s.fragments[0].len);
        assert_eq!(
            (
                usize::from(g.sequence_at),
                usize::from(g.tfdt_at),
                g.tfdt_bytes
            ),
            (fmp4::MFHD_SEQUENCE_AT, fmp4::TFDT_TIME_AT, 8)
        );
        let last = s.fragments[3];
        assert_eq!(last.offset + last.len, f.len() as u64);
    }

    #[test]
    fn a_file_cut_anywhere_keeps_its_complete_fragments() {
        let f = file(3);
        let full = scan(&mut Cursor::new(&f), f.len() as u64).unwrap();
        let ends: Vec<u64> = full.fragments.iter().map(|g| g.offset + g.len).collect();
        for cut in 0..f.len() {
            let r = scan(&mut Cursor::new(&f[..cut]), cut as u64);
            if (cut as u64) < full.init_len {
                assert_eq!(r, Err(ScanError::NoInit), "cut at {cut}");
                continue;
            }
            let s = r.unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
            let complete = ends.iter().filter(|&&e| e <= cut as u64).count();
            assert_eq!(s.fragments.len(), complete, "cut at {cut}");
        }
    }

    #[test]
    fn garbage_is_refused_without_panicking() {
        let f = file(2);
        // Every single-byte corruption of the file: an error or a scan, never a panic.
        for i in 0..f.len() {
            for v in [0u8, 0xFF, 1] {
                let mut g = f.clone();
                g[i] = v;
                let _ = scan(&mut Cursor::new(&g), g.len() as u64);
            }
        }
        assert!(scan(&mut Cursor::new(b"hello world"), 11).is_err());
    }
}
