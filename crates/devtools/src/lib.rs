//! # pixelwire-devtools
//!
//! The tools pixelwire is developed and tested with, as the `pixelwire display-emu` and
//! `pixelwire mock-camera` subcommands: [`emu`], an emulated TFT display that decodes the display
//! protocol with the firmware's own code over a shaped link, and [`mock_camera`], a camera that
//! speaks exactly like the seed devices (WebSocket, the ESP32 HTTP device API, Picamera TCP);
//! [`load`], the `pixelwire-load` binary's load generator for one node (cameras, H.264 viewers,
//! MJPEG and snapshot clients, emulated displays; loopback only);
//! and [`xvfb`], a private X server with a drawing connection for screen-capture tests.
//!
//! Nothing here is part of the server: the server library does not depend on this crate, and this
//! crate reaches the server only over the network, like a real device.

pub mod emu;
pub mod load;
pub mod mock_camera;
#[cfg(target_os = "linux")]
pub mod xvfb;
