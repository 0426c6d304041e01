//! The `pixelwire` binary: parses the command line, sets up logging and runs a subcommand: the
//! server (`pixelwire-server`) or a dev tool (`pixelwire-devtools`).

use clap::Parser;
use pixelwire::cli::{Cli, Command};
use pixelwire_server::config::Config;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Serve(opts) => {
            let mut cfg = match &opts.config {
                Some(path) => Config::load(path)?,
                None => Config::default(),
            };
            if let Some(a) = opts.http {
                cfg.server.http = a;
            }
            if let Some(a) = opts.https {
                cfg.server.https = Some(a);
            }
            if let Some(a) = opts.display {
                cfg.server.display = a;
            }
            rt.block_on(pixelwire_server::server::run(cfg))
        }
        Command::DisplayEmu(opts) => rt.block_on(pixelwire_devtools::emu::run(opts)),
        Command::MockCamera(mut opts) => {
            opts.painter = pixelwire::pattern_painter::pattern();
            rt.block_on(pixelwire_devtools::mock_camera::run(
                opts,
                pixelwire_server::shutdown::signal,
            ))
        }
    }
}
