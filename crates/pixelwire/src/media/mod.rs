//! Frames as the bus carries them, and the codecs they go through: JPEG (camera input, MJPEG and
//! snapshot output), I420 (the H.264 encoder's input), H.264 (browser viewers).

pub mod frame;
pub mod jpeg;
pub mod yuv;

pub use frame::MediaFrame;
