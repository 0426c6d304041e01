#!/usr/bin/env bash
# Builds every fuzz target (on stable: libFuzzer without coverage instrumentation) with overflow
# checks, replays the inputs that once crashed them (fuzz/regressions/<target>/), and runs each for a
# fixed number of random inputs. Builds with fuzz/Cargo.toml's `smoke` profile (the release checks,
# less optimisation, no debug info: 35 s less to build, the same run time). Real fuzzing needs
# nightly: `cargo +nightly fuzz run <target>`.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}/fuzz"
cargo build --profile smoke --locked --manifest-path fuzz/Cargo.toml
bin="$CARGO_TARGET_DIR/smoke"
for t in decoder device_session server_session codecs gray_codecs dct legacy \
    camera_jpeg picamera_raw yuv_padded viewer_message; do
    if [ -d "fuzz/regressions/$t" ]; then
        "$bin/$t" fuzz/regressions/"$t"/*
    fi
    "$bin/$t" -runs="${FUZZ_RUNS:-20000}" -seed=1 -max_len=4096
done
