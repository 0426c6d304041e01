//! Why a display connection ended, for both protocols: what the log says ([`std::fmt::Display`],
//! the same texts as always) and which error kind it counts as in
//! `pixelwire_display_errors_total` ([`EndReason::error_kind`]); ends that are no error (the peer
//! hung up, the server closed it) count nothing.

use crate::metrics::{ErrorKind, Metrics, Protocol};
use pixelwire_core::CloseReason;
use std::fmt;

/// Why a display connection ended.
#[derive(Debug)]
pub enum EndReason {
    /// The peer closed its side.
    PeerClosed,
    /// Reading the socket failed.
    ReadFailed(std::io::Error),
    /// A write failed or stalled (the writer task's reason).
    WriteFailed(String),
    /// The writer refused a buffer: the peer is not reading, or the writer stopped.
    SendRefused(&'static str),
    /// The socket writer task stopped.
    WriterStopped,
    /// The stream the display shows ended.
    StreamEnded,
    /// The pixelwire session closed (protocol error, timeout, peer error, or closed by us).
    Session(CloseReason),
    /// Told to close, with this text (a legacy connection replaced by a newer one).
    Closed(String),
    /// The server is shutting down.
    Shutdown,
}

impl EndReason {
    /// The error kind this end counts as, if it is an error.
    pub fn error_kind(&self) -> Option<ErrorKind> {
        match self {
            Self::ReadFailed(_) => Some(ErrorKind::Read),
            Self::WriteFailed(_) | Self::SendRefused(_) => Some(ErrorKind::Write),
            Self::Session(CloseReason::Protocol(_)) => Some(ErrorKind::Protocol),
            Self::Session(CloseReason::Timeout) => Some(ErrorKind::Timeout),
            Self::Session(CloseReason::PeerError(_)) => Some(ErrorKind::Peer),
            Self::Session(CloseReason::Refused(_)) => Some(ErrorKind::Refused),
            Self::Session(CloseReason::Local(_))
            | Self::PeerClosed
            | Self::WriterStopped
            | Self::StreamEnded
            | Self::Closed(_)
            | Self::Shutdown => None,
        }
    }

    /// Counts this end in `pixelwire_display_errors_total` if it is an error.
    pub fn record(&self, metrics: &Metrics, protocol: Protocol) {
        if let Some(kind) = self.error_kind() {
            metrics.display_error(protocol, kind);
        }
    }

    /// Whether the socket itself failed (logged as a warning rather than as news).
    pub fn is_socket_failure(&self) -> bool {
        matches!(self, Self::ReadFailed(_) | Self::WriteFailed(_))
    }
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PeerClosed => f.write_str("peer closed the connection"),
            Self::ReadFailed(e) => write!(f, "read failed: {e}"),
            Self::WriteFailed(e) => write!(f, "write failed: {e}"),
            Self::SendRefused(e) => f.write_str(e),
            Self::WriterStopped => f.write_str("socket writer stopped"),
            Self::StreamEnded => f.write_str("stream ended"),
            Self::Session(reason) => reason.fmt(f),
            Self::Closed(text) => f.write_str(text),
            Self::Shutdown => f.write_str("server shutting down"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_and_kinds() {
        let cases = [
            (EndReason::PeerClosed, "peer closed the connection", None),
            (
                EndReason::ReadFailed(std::io::Error::other("reset")),
                "read failed: reset",
                Some(ErrorKind::Read),
            ),
            (
                EndReason::WriteFailed("write stalled for 5 s".into()),
                "write failed: write stalled for 5 s",
                Some(ErrorKind::Write),
            ),
            (
                EndReason::SendRefused("peer is not reading (send queue full)"),
                "peer is not reading (send queue full)",
                Some(ErrorKind::Write),
            ),
            (
                EndReason::Session(CloseReason::Timeout),
                "peer timed out",
                Some(ErrorKind::Timeout),
            ),
            (
                EndReason::Session(CloseReason::Protocol("bad".into())),
                "protocol error: bad",
                Some(ErrorKind::Protocol),
            ),
            (
                EndReason::Session(CloseReason::PeerError("oops".into())),
                "peer error: \"oops\"",
                Some(ErrorKind::Peer),
            ),
            (
                // a peer's ERROR text cannot forge a log line
                EndReason::Session(CloseReason::PeerError("x\nERROR forged".into())),
                "peer error: \"x\\nERROR forged\"",
                Some(ErrorKind::Peer),
            ),
            (
                EndReason::Session(CloseReason::Local(pixelwire_proto::ErrorCode::Shutdown)),
                "closed by server (Shutdown)",
                None,
            ),
            (
                EndReason::Session(CloseReason::Refused("budget".into())),
                "refused: budget",
                Some(ErrorKind::Refused),
            ),
            (EndReason::Shutdown, "server shutting down", None),
            (EndReason::StreamEnded, "stream ended", None),
        ];
        for (reason, text, kind) in cases {
            assert_eq!(reason.to_string(), text);
            assert_eq!(reason.error_kind(), kind, "{text}");
        }
    }
}
