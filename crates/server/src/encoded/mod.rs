//! Encoded video, produced once per stream: the shared H.264 encoder ([`SharedEncoder`]), the
//! unit every consumer receives ([`EncodedUnit`]) and the RAM ring of the last GOPs
//! ([`GopRing`]) that gives late joiners an instant start and recordings their pre-roll.
//! WebCodecs viewers (`viewer/`), RTSP (`rtsp/`), WHEP (`whep/`) and the recorder (`record/`)
//! all read from here; none of them encodes.

pub mod ring;
pub mod shared_encoder;
pub mod superseded;
pub mod unit;

pub use ring::GopRing;
pub use shared_encoder::{
    KEYFRAME_REQUEST_INTERVAL, RingLimits, SharedEncoder, SharedEncoders, Start, Subscription,
};
pub use unit::EncodedUnit;
