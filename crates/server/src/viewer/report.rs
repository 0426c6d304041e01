//! The report a viewer page sends back over its WebSocket (`docs/api.md`, "Viewer WebSocket"):
//! what it measured since its previous report, about once a second.
//!
//! ```text
//! {"type":"report","codec":"h264","decoded":29,"dropped":1,"latency_ms":[41.5,38.0,…]}
//! ```
//!
//! `latency_ms` holds one sample per painted frame: the page's wall clock when it drew the frame,
//! corrected by its ping/pong clock-offset estimate, minus the frame's `capture_time_us` (server
//! clock). On loopback both clocks are the same; across machines a sample also carries the error
//! of the offset estimate (at most half the round trip), which can make it negative: negatives
//! count as 0.
//!
//! [`parse`] is a pure function of the text and what the server knows about the socket; it
//! never panics and bounds everything a client controls: the text's length, the number of
//! samples and frames, the codec (which must be the socket's). The stream a report is recorded
//! under is the one the server serves that socket, never a name from the client.

use crate::metrics::{ReportRejection, ViewerCodec};
use serde::Deserialize;
use std::time::Duration;

/// The longest report text accepted: room for [`MAX_SAMPLES`] samples with a few digits each.
pub const MAX_REPORT_BYTES: usize = 8 * 1024;
/// The most latency samples one report may carry (the page sends at most 240: 4 s at 60 fps).
pub const MAX_SAMPLES: usize = 256;
/// The most decoded or dropped frames one report may claim (a report covers about a second).
pub const MAX_FRAMES: u64 = 10_000;
/// A sample above this is not a latency but a broken clock or a suspended tab: it is left out.
pub const MAX_LATENCY_MS: f64 = 60_000.0;

/// A report as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Capture to paint, one per painted frame with a known latency; negatives clamped to 0.
    pub latencies: Vec<Duration>,
    /// Frames decoded since the previous report.
    pub decoded: u64,
    /// Frames received and never painted since the previous report.
    pub dropped: u64,
    /// Samples left out for being above [`MAX_LATENCY_MS`].
    pub discarded_samples: usize,
}

/// Why a report was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// Longer than [`MAX_REPORT_BYTES`].
    #[error("report of {len_bytes} bytes, at most {MAX_REPORT_BYTES}")]
    TooLarge {
        /// Its length.
        len_bytes: usize,
    },
    /// Not JSON, or not a report's shape.
    #[error("malformed report: {0}")]
    Malformed(String),
    /// More than [`MAX_SAMPLES`] samples.
    #[error("{count} latency samples, at most {MAX_SAMPLES}")]
    TooManySamples {
        /// How many it carried.
        count: usize,
    },
    /// More than [`MAX_FRAMES`] decoded or dropped frames.
    #[error("{count} frames in one report, at most {MAX_FRAMES}")]
    TooManyFrames {
        /// The larger of the two counts.
        count: u64,
    },
    /// The report names another codec than the socket carries.
    #[error("report for codec {reported:?} on a {socket} socket")]
    CodecMismatch {
        /// What the report said.
        reported: String,
        /// What the socket carries.
        socket: ViewerCodec,
    },
}

impl ReportError {
    /// The reason it is counted under.
    pub fn reason(&self) -> ReportRejection {
        match self {
            Self::TooLarge { .. } => ReportRejection::TooLarge,
            Self::Malformed(_) => ReportRejection::Malformed,
            Self::TooManySamples { .. } | Self::TooManyFrames { .. } => ReportRejection::OutOfRange,
            Self::CodecMismatch { .. } => ReportRejection::CodecMismatch,
        }
    }
}

/// The report as it is on the wire. Fields a later page adds are ignored.
#[derive(Deserialize)]
struct Wire {
    #[serde(rename = "type")]
    kind: String,
    codec: String,
    #[serde(default)]
    decoded: u64,
    #[serde(default)]
    dropped: u64,
    #[serde(default)]
    latency_ms: Vec<f64>,
}

/// Parses the report `text` received on a socket that carries `socket_codec`.
pub fn parse(text: &str, socket_codec: ViewerCodec) -> Result<Report, ReportError> {
    // Checked before parsing, so a report never costs more than this to look at.
    if text.len() > MAX_REPORT_BYTES {
        return Err(ReportError::TooLarge {
            len_bytes: text.len(),
        });
    }
    // serde's message may quote the client's text: cut short before it reaches a log line.
    let wire: Wire = serde_json::from_str(text)
        .map_err(|e| ReportError::Malformed(e.to_string().chars().take(120).collect()))?;
    if wire.kind != "report" {
        return Err(ReportError::Malformed(format!(
            "type {:?}, not \"report\"",
            wire.kind
        )));
    }
    if wire.codec != socket_codec.as_str() {
        return Err(ReportError::CodecMismatch {
            reported: wire.codec.chars().take(16).collect(),
            socket: socket_codec,
        });
    }
    if wire.latency_ms.len() > MAX_SAMPLES {
        return Err(ReportError::TooManySamples {
            count: wire.latency_ms.len(),
        });
    }
    let most = wire.decoded.max(wire.dropped);
    if most > MAX_FRAMES {
        return Err(ReportError::TooManyFrames { count: most });
    }
    // JSON has no NaN or infinity and serde_json refuses numbers beyond f64, so every sample is
    // finite here; the check is kept so that stays true whatever the parser.
    let (kept, discarded): (Vec<f64>, Vec<f64>) = wire
        .latency_ms
        .into_iter()
        .partition(|ms| ms.is_finite() && *ms <= MAX_LATENCY_MS);
    Ok(Report {
        latencies: kept
            .into_iter()
            .map(|ms| Duration::from_secs_f64(ms.max(0.0) / 1000.0))
            .collect(),
        decoded: wire.decoded,
        dropped: wire.dropped,
        discarded_samples: discarded.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: f64) -> Duration {
        Duration::from_secs_f64(v / 1000.0)
    }

    #[test]
    fn a_report_gives_its_samples_and_counts() {
        let r = parse(
            r#"{"type":"report","codec":"h264","decoded":29,"dropped":1,"latency_ms":[41.5,38,0.25],"painted":28}"#,
            ViewerCodec::H264,
        )
        .unwrap();
        assert_eq!(
            r,
            Report {
                latencies: vec![ms(41.5), ms(38.0), ms(0.25)],
                decoded: 29,
                dropped: 1,
                discarded_samples: 0,
            }
        );
        // Counts and samples may be missing: a page that painted nothing this second.
        let r = parse(r#"{"type":"report","codec":"jpeg"}"#, ViewerCodec::Jpeg).unwrap();
        assert_eq!((r.latencies.len(), r.decoded, r.dropped), (0, 0, 0));
    }

    #[test]
    fn negative_latencies_count_as_zero_and_huge_ones_are_left_out() {
        let r = parse(
            r#"{"type":"report","codec":"h264","latency_ms":[-3.5,-1e300,12,60000,60000.5,1e300]}"#,
            ViewerCodec::H264,
        )
        .unwrap();
        assert_eq!(
            r.latencies,
            vec![Duration::ZERO, Duration::ZERO, ms(12.0), ms(60_000.0)]
        );
        assert_eq!(r.discarded_samples, 2);
    }

    #[test]
    fn oversized_reports_are_refused_before_parsing() {
        let samples = vec!["1"; MAX_SAMPLES + 1].join(",");
        let many = format!(r#"{{"type":"report","codec":"h264","latency_ms":[{samples}]}}"#);
        assert!(many.len() <= MAX_REPORT_BYTES);
        assert_eq!(
            parse(&many, ViewerCodec::H264),
            Err(ReportError::TooManySamples {
                count: MAX_SAMPLES + 1
            })
        );
        let max = vec!["1"; MAX_SAMPLES].join(",");
        let ok = format!(r#"{{"type":"report","codec":"h264","latency_ms":[{max}]}}"#);
        assert_eq!(
            parse(&ok, ViewerCodec::H264).unwrap().latencies.len(),
            MAX_SAMPLES
        );
        let long = format!(
            r#"{{"type":"report","codec":"h264","pad":"{}"}}"#,
            "x".repeat(MAX_REPORT_BYTES)
        );
        let err = parse(&long, ViewerCodec::H264).unwrap_err();
        assert_eq!(
            err,
            ReportError::TooLarge {
                len_bytes: long.len()
            }
        );
        assert_eq!(err.reason(), ReportRejection::TooLarge);
        let frames = r#"{"type":"report","codec":"h264","decoded":10001}"#;
        assert_eq!(
            parse(frames, ViewerCodec::H264),
            Err(ReportError::TooManyFrames { count: 10_001 })
        );
    }

    #[test]
    fn garbage_is_malformed_and_never_panics() {
        for text in [
            "",
            "null",
            "[]",
            "report",
            "{",
            r#"{"type":"report"}"#,
            r#"{"type":"ping","codec":"h264"}"#,
            r#"{"type":"report","codec":"h264","decoded":-1}"#,
            r#"{"type":"report","codec":"h264","decoded":1.5}"#,
            r#"{"type":"report","codec":"h264","dropped":"2"}"#,
            r#"{"type":"report","codec":"h264","latency_ms":[1,"2"]}"#,
            r#"{"type":"report","codec":"h264","latency_ms":[1e999]}"#,
            r#"{"type":"report","codec":"h264","latency_ms":{"a":1}}"#,
            r#"{"type":"report","codec":"h264","decoded":18446744073709551616}"#,
            r#"{"type":"report","codec":7}"#,
            "\u{0}\u{ffff}",
        ] {
            let err = parse(text, ViewerCodec::H264).unwrap_err();
            assert_eq!(err.reason(), ReportRejection::Malformed, "{text:?}: {err}");
        }
        // Every prefix of a good report, cut at each character, is refused or parsed, never a panic.
        let good = r#"{"type":"report","codec":"h264","decoded":3,"latency_ms":[1.5,-2]}"#;
        for (i, _) in good.char_indices() {
            assert!(parse(&good[..i], ViewerCodec::H264).is_err(), "{i}");
        }
    }

    #[test]
    fn the_codec_must_be_the_sockets() {
        let err = parse(
            r#"{"type":"report","codec":"h264","decoded":3}"#,
            ViewerCodec::Jpeg,
        )
        .unwrap_err();
        assert_eq!(err.reason(), ReportRejection::CodecMismatch);
        // A client string is cut short before it reaches a log line.
        let long = format!(r#"{{"type":"report","codec":"{}"}}"#, "z".repeat(500));
        match parse(&long, ViewerCodec::H264) {
            Err(ReportError::CodecMismatch { reported, socket }) => {
                assert_eq!((reported.len(), socket), (16, ViewerCodec::H264));
            }
            other => panic!("{other:?}"),
        }
    }
}
