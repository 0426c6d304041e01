#!/usr/bin/env bash
# Installs what building and testing pixelwire needs on a fresh Debian machine: system packages
# (with apt-get, as root or through sudo) and the pinned Rust toolchain with the ESP32-C3 target.
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "setup: need root (or sudo) to run: $*" >&2; exit 1
    fi
}

# System packages: a C toolchain for -sys crates, curl for rustup, cmake and nasm for the
# vendored libjpeg-turbo (turbojpeg) and OpenH264's assembly (without nasm it builds 2.6x slower).
# python3 runs the module-graph check and the benchmark drivers.
need_pkgs=()
for p in build-essential curl ca-certificates pkg-config cmake nasm python3; do
    dpkg -s "$p" >/dev/null 2>&1 || need_pkgs+=("$p")
done
if [ "${#need_pkgs[@]}" -gt 0 ]; then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}"
fi

# Rust: rustup if there is no cargo; rust-toolchain.toml pins the version.
if ! command -v cargo >/dev/null && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v rustup >/dev/null; then
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --default-toolchain none
    export PATH="$HOME/.cargo/bin:$PATH"
fi
rustup show active-toolchain >/dev/null 2>&1 || rustup toolchain install
# The toolchain file lists the target, but an already installed toolchain does not get it added.
rustup target add riscv32imc-unknown-none-elf >/dev/null
rustup component add rustfmt clippy >/dev/null
