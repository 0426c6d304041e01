//! Browser and video-tool viewers: H.264 for WebCodecs over WebSocket, JPEG over WebSocket, MJPEG
//! over HTTP, the viewer page, and seed 001's compatibility endpoints.

pub mod h264;
pub mod mjpeg;
pub mod ws;
