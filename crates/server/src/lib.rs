//! pixelwire-server: sources, the frame bus, display and browser sinks, camera ingest, the HTTP
//! API, metrics and config. The `pixelwire` binary (`crates/pixelwire`) is glue over this library
//! and the dev tools (`crates/devtools`).

pub mod api_error;
pub mod bus;
pub mod clock;
pub mod cluster;
pub mod color;
pub mod config;
pub mod display;
pub mod encoded;
pub mod http;
pub mod ingest;
pub mod listener;
pub mod metrics;
pub mod record;
pub mod rtsp;
pub mod server;
pub mod shutdown;
pub mod source;
pub mod task;
pub mod tls;
pub mod viewer;
pub mod whep;
