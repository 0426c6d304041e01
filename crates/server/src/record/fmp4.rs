//! A small fragmented-MP4 writer (ISO/IEC 14496-12, ISO base media file format; ISO/IEC 14496-15
//! for the `avcC` record): the init segment (`ftyp` + `moov` with one `avc1` track and `mvex`),
//! one `moof` + `mdat` per fragment, and the `sidx` that a served range starts with so that
//! players seek without reading every fragment. Sans-IO: it builds bytes and reads no clock.
//!
//! Choices: one video track, ID 1, media timescale 90 kHz, movie timescale 1 ms; `avc1` with SPS
//! and PPS in `avcC` only (a new SPS or PPS starts a new file, so they never change inside one,
//! and `avc1` is the sample entry every player takes); samples are the access unit's NAL units
//! with 4-byte lengths, SPS, PPS and access-unit delimiters left out. `tfhd` sets
//! default-base-is-moof, so a `moof` + `mdat` pair is self-contained and can be copied into
//! another file unchanged except for `mfhd` and `tfdt`. Every sample carries its duration, size
//! and flags in `trun` (sync samples: `depends_on = 2`; others: non-sync, `depends_on = 1`).

use bytes::Bytes;

/// Media timescale (ticks per second) of the video track.
pub const TIMESCALE: u32 = 90_000;
/// Movie timescale (`mvhd`, `mehd`): milliseconds.
pub const MOVIE_TIMESCALE: u32 = 1000;
/// The track's ID.
pub const TRACK_ID: u32 = 1;

const SYNC_FLAGS: u32 = 0x0200_0000;
const NON_SYNC_FLAGS: u32 = 0x0101_0000;

/// What the init segment describes: the picture size and the decoder configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackInfo {
    /// Picture width.
    pub width: u32,
    /// Picture height.
    pub height: u32,
    /// The `avcC` record (AVCDecoderConfigurationRecord), without its box header.
    pub avcc: Bytes,
}

impl TrackInfo {
    /// The track of an H.264 stream with this SPS and PPS (NAL units without start codes).
    /// `None` if the SPS is too short to name its profile and level.
    pub fn from_parameter_sets(width: u32, height: u32, sps: &[u8], pps: &[u8]) -> Option<Self> {
        if sps.len() < 4 || pps.is_empty() || sps.len() > 0xFFFF || pps.len() > 0xFFFF {
            return None;
        }
        let mut a = Vec::with_capacity(11 + sps.len() + pps.len());
        // configurationVersion, profile, compatibility, level, lengthSizeMinusOne = 3.
        a.extend_from_slice(&[1, sps[1], sps[2], sps[3], 0xFF]);
        a.push(0xE1); // one SPS
        a.extend_from_slice(&(sps.len() as u16).to_be_bytes());
        a.extend_from_slice(sps);
        a.push(1); // one PPS
        a.extend_from_slice(&(pps.len() as u16).to_be_bytes());
        a.extend_from_slice(pps);
        Some(Self {
            width,
            height,
            avcc: Bytes::from(a),
        })
    }

    /// The RFC 6381 codec string (`avc1.42C01E`), for a page's `<video>` or MSE.
    pub fn codec_string(&self) -> String {
        match self.avcc.get(1..4) {
            Some(p) => format!("avc1.{:02X}{:02X}{:02X}", p[0], p[1], p[2]),
            None => "avc1".into(),
        }
    }
}

/// One sample of a fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleInfo {
    /// Duration, [`TIMESCALE`] ticks.
    pub duration: u32,
    /// Bytes in `mdat`.
    pub size: u32,
    /// A sync sample (IDR).
    pub sync: bool,
}

/// Appends boxes to a buffer; a box's size is written when it is closed.
struct W(Vec<u8>);

impl W {
    fn open(&mut self, kind: &[u8; 4]) -> usize {
        let at = self.0.len();
        self.0.extend_from_slice(&[0, 0, 0, 0]);
        self.0.extend_from_slice(kind);
        at
    }
    fn open_full(&mut self, kind: &[u8; 4], version: u8, flags: u32) -> usize {
        let at = self.open(kind);
        self.u32((u32::from(version) << 24) | (flags & 0x00FF_FFFF));
        at
    }
    fn close(&mut self, at: usize) {
        // Boxes here are far below 4 GiB (an mdat is one fragment).
        let size = (self.0.len() - at) as u32;
        self.0[at..at + 4].copy_from_slice(&size.to_be_bytes());
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn zeros(&mut self, n: usize) {
        self.0.resize(self.0.len() + n, 0);
    }
    fn bytes(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }
    fn matrix(&mut self) {
        for v in [0x0001_0000u32, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000] {
            self.u32(v);
        }
    }
}

/// The init segment: `ftyp` and `moov`. `duration_ms` is the whole file's duration when known (a
/// served range), 0 for a recording still being written.
pub fn init_segment(track: &TrackInfo, duration_ms: u64) -> Vec<u8> {
    let mut w = W(Vec::with_capacity(700 + track.avcc.len()));
    let ftyp = w.open(b"ftyp");
    w.bytes(b"isom");
    w.u32(0x200);
    for brand in [b"isom", b"iso6", b"avc1", b"mp41"] {
        w.bytes(brand);
    }
    w.close(ftyp);

    let dur32 = u32::try_from(duration_ms).unwrap_or(u32::MAX);
    let moov = w.open(b"moov");
    let mvhd = w.open_full(b"mvhd", 0, 0);
    w.u32(0); // creation_time
    w.u32(0); // modification_time
    w.u32(MOVIE_TIMESCALE);
    w.u32(dur32);
    w.u32(0x0001_0000); // rate 1.0
    w.u16(0x0100); // volume 1.0
    w.zeros(10);
    w.matrix();
    w.zeros(24); // pre_defined
    w.u32(TRACK_ID + 1); // next_track_ID
    w.close(mvhd);

    let trak = w.open(b"trak");
    let tkhd = w.open_full(b"tkhd", 0, 0x3); // enabled, in movie
    w.u32(0);
    w.u32(0);
    w.u32(TRACK_ID);
    w.u32(0); // reserved
    w.u32(dur32);
    w.zeros(8);
    w.u16(0); // layer
    w.u16(0); // alternate_group
    w.u16(0); // volume (video)
    w.u16(0);
    w.matrix();
    w.u32(track.width << 16);
    w.u32(track.height << 16);
    w.close(tkhd);

    let mdia = w.open(b"mdia");
    let mdhd = w.open_full(b"mdhd", 0, 0);
    w.u32(0);
    w.u32(0);
    w.u32(TIMESCALE);
    w.u32(u32::try_from(duration_ms.saturating_mul(90)).unwrap_or(u32::MAX));
    w.u16(0x55C4); // language "und"
    w.u16(0);
    w.close(mdhd);
    let hdlr = w.open_full(b"hdlr", 0, 0);
    w.u32(0);
    w.bytes(b"vide");
    w.zeros(12);
    w.bytes(b"pixelwire video\0");
    w.close(hdlr);

    let minf = w.open(b"minf");
    let vmhd = w.open_full(b"vmhd", 0, 1);
    w.zeros(8); // graphicsmode, opcolor
    w.close(vmhd);
    let dinf = w.open(b"dinf");
    let dref = w.open_full(b"dref", 0, 0);
    w.u32(1);
    let url = w.open_full(b"url ", 0, 1); // media in this file
    w.close(url);
    w.close(dref);
    w.close(dinf);

    let stbl = w.open(b"stbl");
    let stsd = w.open_full(b"stsd", 0, 0);
    w.u32(1);
    let avc1 = w.open(b"avc1");
    w.zeros(6);
    w.u16(1); // data_reference_index
    w.zeros(16); // pre_defined, reserved
    // Sizes above 65535 cannot occur: the encoder takes at most 3840x2160.
    w.u16(track.width.min(0xFFFF) as u16);
    w.u16(track.height.min(0xFFFF) as u16);
    w.u32(0x0048_0000); // 72 dpi
    w.u32(0x0048_0000);
    w.u32(0);
    w.u16(1); // frame_count
    w.zeros(32); // compressorname
    w.u16(0x0018); // depth
    w.u16(0xFFFF); // pre_defined = -1
    let avcc = w.open(b"avcC");
    w.bytes(&track.avcc);
    w.close(avcc);
    w.close(avc1);
    w.close(stsd);
    for kind in [b"stts", b"stsc", b"stco"] {
        let b = w.open_full(kind, 0, 0);
        w.u32(0);
        w.close(b);
    }
    let stsz = w.open_full(b"stsz", 0, 0);
    w.u32(0);
    w.u32(0);
    w.close(stsz);
    w.close(stbl);
    w.close(minf);
    w.close(mdia);
    w.close(trak);

    let mvex = w.open(b"mvex");
    if duration_ms > 0 {
        let mehd = w.open_full(b"mehd", 1, 0);
        w.u64(duration_ms);
        w.close(mehd);
    }
    let trex = w.open_full(b"trex", 0, 0);
    w.u32(TRACK_ID);
    w.u32(1); // default_sample_description_index
    w.u32(0);
    w.u32(0);
    w.u32(0);
    w.close(trex);
    w.close(mvex);
    w.close(moov);
    w.0
}

/// Byte offsets inside a `moof` written by [`fragment`]: where the fields a copy rewrites are.
pub const MFHD_SEQUENCE_AT: usize = 20;
/// See [`MFHD_SEQUENCE_AT`]: the 64-bit `baseMediaDecodeTime` of `tfdt`.
pub const TFDT_TIME_AT: usize = 60;

/// One fragment, `moof` + `mdat`: `samples` describe `data` (their sizes add up to its length),
/// the first decoded at `decode_time` ([`TIMESCALE`] ticks from the file's start).
pub fn fragment(sequence: u32, decode_time: u64, samples: &[SampleInfo], data: &[u8]) -> Vec<u8> {
    let moof_len = 8 + 16 + 8 + 16 + 20 + 20 + 12 * samples.len();
    let mut w = W(Vec::with_capacity(moof_len + 8 + data.len()));
    let moof = w.open(b"moof");
    let mfhd = w.open_full(b"mfhd", 0, 0);
    w.u32(sequence);
    w.close(mfhd);
    let traf = w.open(b"traf");
    let tfhd = w.open_full(b"tfhd", 0, 0x02_0000); // default-base-is-moof
    w.u32(TRACK_ID);
    w.close(tfhd);
    let tfdt = w.open_full(b"tfdt", 1, 0);
    w.u64(decode_time);
    w.close(tfdt);
    // data offset, then duration, size and flags of each sample.
    let trun = w.open_full(b"trun", 0, 0x0701);
    w.u32(samples.len() as u32);
    w.u32((moof_len + 8) as u32);
    for s in samples {
        w.u32(s.duration);
        w.u32(s.size);
        w.u32(if s.sync { SYNC_FLAGS } else { NON_SYNC_FLAGS });
    }
    w.close(trun);
    w.close(traf);
    w.close(moof);
    debug_assert_eq!(w.0.len(), moof_len);
    let mdat = w.open(b"mdat");
    w.bytes(data);
    w.close(mdat);
    w.0
}

/// One entry of a `sidx`: a fragment of a served file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SidxEntry {
    /// Bytes of the fragment (`moof` + `mdat`).
    pub size: u32,
    /// Its duration, [`TIMESCALE`] ticks.
    pub duration: u32,
    /// It starts with a sync sample.
    pub starts_with_sap: bool,
}

/// The segment index of a served file, placed right before its first `moof` (ISO/IEC 14496-12
/// 8.16.3): players seek with it instead of reading every fragment. At most 65535 entries.
pub fn sidx(earliest_time: u64, entries: &[SidxEntry]) -> Vec<u8> {
    let mut w = W(Vec::with_capacity(40 + 12 * entries.len()));
    let b = w.open_full(b"sidx", 1, 0);
    w.u32(TRACK_ID);
    w.u32(TIMESCALE);
    w.u64(earliest_time);
    w.u64(0); // first_offset: the first fragment follows this box
    w.u16(0);
    w.u16(entries.len().min(0xFFFF) as u16);
    for e in entries.iter().take(0xFFFF) {
        w.u32(e.size & 0x7FFF_FFFF);
        w.u32(e.duration);
        w.u32(if e.starts_with_sap { 0x9000_0000 } else { 0 });
    }
    w.close(b);
    w.0
}

/// The sample of an access unit: its NAL units with 4-byte lengths, without SPS (7), PPS (8) and
/// access-unit delimiters (9), appended to `data`; returns the bytes added.
pub fn append_sample<'a>(data: &mut Vec<u8>, nal_units: impl Iterator<Item = &'a [u8]>) -> u32 {
    let before = data.len();
    for nal in nal_units {
        let kind = nal.first().map_or(0, |b| b & 0x1F);
        if matches!(kind, 7..=9) || nal.is_empty() {
            continue;
        }
        data.extend_from_slice(&(nal.len() as u32).to_be_bytes());
        data.extend_from_slice(nal);
    }
    (data.len() - before) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn track() -> TrackInfo {
        TrackInfo::from_parameter_sets(64, 48, &[0x67, 0x42, 0xC0, 0x1E, 0xDA], &[0x68, 0xCE])
            .unwrap()
    }

    #[test]
    fn avcc_names_profile_and_level() {
        let t = track();
        assert_eq!(
            &t.avcc[..],
            [
                1, 0x42, 0xC0, 0x1E, 0xFF, 0xE1, 0, 5, 0x67, 0x42, 0xC0, 0x1E, 0xDA, 1, 0, 2, 0x68,
                0xCE
            ]
        );
        assert_eq!(t.codec_string(), "avc1.42C01E");
        assert!(TrackInfo::from_parameter_sets(1, 1, &[0x67], &[0x68]).is_none());
    }

    #[test]
    fn boxes_nest_with_their_sizes() {
        let init = init_segment(&track(), 0);
        assert_eq!(&init[4..8], b"ftyp");
        let ftyp = u32::from_be_bytes(init[..4].try_into().unwrap()) as usize;
        assert_eq!(&init[ftyp + 4..ftyp + 8], b"moov");
        let moov = u32::from_be_bytes(init[ftyp..ftyp + 4].try_into().unwrap()) as usize;
        assert_eq!(ftyp + moov, init.len());
        let with_duration = init_segment(&track(), 5000);
        assert_eq!(with_duration.len(), init.len() + 20, "mehd v1");
    }

    #[test]
    fn a_fragment_points_its_data_offset_at_mdat() {
        let mut data = Vec::new();
        let a = append_sample(
            &mut data,
            [
                &[0x09, 0xF0][..],
                &[0x67, 1][..],
                &[0x68, 2][..],
                &[0x65, 7, 7][..],
            ]
            .into_iter(),
        );
        let b = append_sample(&mut data, [&[0x41, 9][..]].into_iter());
        assert_eq!((a, b), (7, 6));
        let samples = [
            SampleInfo {
                duration: 3000,
                size: a,
                sync: true,
            },
            SampleInfo {
                duration: 3000,
                size: b,
                sync: false,
            },
        ];
        let f = fragment(7, 0x1_0000_0002, &samples, &data);
        let moof = u32::from_be_bytes(f[..4].try_into().unwrap()) as usize;
        assert_eq!(&f[4..8], b"moof");
        assert_eq!(&f[moof + 4..moof + 8], b"mdat");
        assert_eq!(&f[moof + 8..], &data[..]);
        assert_eq!(
            u32::from_be_bytes(
                f[MFHD_SEQUENCE_AT..MFHD_SEQUENCE_AT + 4]
                    .try_into()
                    .unwrap()
            ),
            7
        );
        assert_eq!(
            u64::from_be_bytes(f[TFDT_TIME_AT..TFDT_TIME_AT + 8].try_into().unwrap()),
            0x1_0000_0002
        );
        // trun's data_offset (after its header, flags and count) is moof + 8.
        let trun = f.windows(4).position(|w| w == b"trun").unwrap() - 4;
        let off = u32::from_be_bytes(f[trun + 16..trun + 20].try_into().unwrap());
        assert_eq!(off as usize, moof + 8);
    }

    #[test]
    fn sidx_is_sized_by_its_entries() {
        let s = sidx(
            0,
            &[SidxEntry {
                size: 100,
                duration: 90_000,
                starts_with_sap: true,
            }],
        );
        assert_eq!(s.len(), 40 + 12);
        assert_eq!(
            u32::from_be_bytes(s[..4].try_into().unwrap()) as usize,
            s.len()
        );
        assert_eq!(&s[s.len() - 4..], [0x90, 0, 0, 0]);
    }
}
