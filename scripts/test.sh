#!/usr/bin/env bash
# Sets up a fresh Debian machine and runs the whole test suite: formatting, clippy, every crate's
# tests (unit, protocol, simulation, golden frames, loopback and process tests, ffmpeg/ffprobe on the
# video outputs, headless Chromium on the viewer page, a real Prometheus scraping /metrics and
# promtool), the no_std protocol crate built for the ESP32-C3 target, the ESP32-C3 firmware (release
# build, clippy, flashable image checked by esptool, flash and RAM budgets), and the fuzz targets
# built and run briefly.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/setup-test-deps.sh
export PATH="$HOME/.cargo/bin:$PATH"

step() { printf '\n==> %s\n' "$*"; }

step "format"
cargo fmt --all --check
step "server module graph: no module imports one that imports it back"
python3 scripts/module-cycles.py crates/server/src
step "clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
step "tests"
cargo test --workspace --locked
step "no_std protocol crate for riscv32imc-unknown-none-elf"
cargo build -p pixelwire-proto --target riscv32imc-unknown-none-elf --locked
cargo clippy -p pixelwire-proto --target riscv32imc-unknown-none-elf --locked -- -D warnings
step "ESP32-C3 firmware: release build, clippy, flashable image, budgets"
./scripts/firmware-ci.sh
if [ -f fuzz/Cargo.toml ]; then
    step "fuzz targets (build, and a short run of each on stable without coverage instrumentation)"
    ./scripts/fuzz-smoke.sh
fi
step "all tests passed"
