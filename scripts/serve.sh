#!/usr/bin/env bash
# Sets up a fresh Debian machine, builds pixelwire in release mode and runs `pixelwire serve` on
# built-in defaults (web page on http://localhost:8080/, displays on port 8888). Extra arguments go
# to `pixelwire serve` (for example `--config pixelwire.toml`).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
exec cargo run --release --locked -p pixelwire -- serve "$@"
