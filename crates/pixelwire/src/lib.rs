//! pixelwire: sources, the frame bus, display and browser sinks, the HTTP API, metrics, config and
//! the CLI. The binary in `main.rs` is glue over this library.

pub mod source;
