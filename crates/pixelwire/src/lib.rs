//! The `pixelwire` binary's glue: its command line ([`cli`]) and the [`pattern_painter`] that lets
//! `mock-camera` send the server's own `pattern` screen. The server is `pixelwire-server`, the dev
//! tools are `pixelwire-devtools`; this package only joins them into one program.

pub mod cli;
pub mod pattern_painter;
