//! pixelwire: sources, the frame bus, display and browser sinks, the HTTP API, metrics, config and
//! the CLI. The binary in `main.rs` is glue over this library.

pub mod bus;
pub mod cli;
pub mod clock;
pub mod config;
pub mod display;
pub mod emu;
pub mod http;
pub mod ingest;
pub mod media;
pub mod metrics;
pub mod mock_camera;
pub mod server;
pub mod shutdown;
pub mod source;
pub mod state;
pub mod viewer;
