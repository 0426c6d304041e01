//! `pixelwire-load`: the one-node load generator (`pixelwire_devtools::load`). Loopback only,
//! bounded in count and time; `scripts/bench_envelope.py` drives it.

use clap::Parser;

fn main() -> anyhow::Result<()> {
    pixelwire_devtools::load::main_with(pixelwire_devtools::load::LoadOptions::parse())
}
