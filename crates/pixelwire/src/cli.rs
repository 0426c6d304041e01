//! Command-line interface (clap). `pixelwire --help` and `pixelwire <command> --help` explain every
//! option.

use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// pixelwire moves pixels in real time between small devices and bigger machines.
#[derive(Debug, Parser)]
#[command(name = "pixelwire", version, about, long_about = None)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: streams, TFT displays (pixelwire and seed-000 sketches), web page, API, metrics.
    Serve(ServeOptions),
    /// Run an emulated TFT display that connects to a server and shows what a real panel would.
    DisplayEmu(pixelwire_devtools::emu::EmuOptions),
    /// Run a simulated camera that pushes the test pattern like the seed devices do (WebSocket,
    /// HTTP multipart/RGB565, Picamera raw TCP).
    MockCamera(pixelwire_devtools::mock_camera::MockCameraOptions),
}

/// `pixelwire serve` options.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeOptions {
    /// TOML configuration file (see docs/config.md); built-in defaults without it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// HTTP address for the web page, JSON API and /metrics (overrides server.http; default 0.0.0.0:8080).
    #[arg(long, value_name = "ADDR")]
    pub http: Option<SocketAddr>,
    /// HTTPS address for the same page, API and viewers (overrides server.https; off by default),
    /// e.g. 0.0.0.0:8443; a self-signed certificate unless server.tls_cert/tls_key name one.
    #[arg(long, value_name = "ADDR")]
    pub https: Option<SocketAddr>,
    /// Address for TFT displays (overrides server.display; default 0.0.0.0:8888).
    #[arg(long, value_name = "ADDR")]
    pub display: Option<SocketAddr>,
}
