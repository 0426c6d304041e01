#!/usr/bin/env bash
# Firmware CI (docs/firmware.md, "CI"): builds the ESP32-C3 firmware in release with placeholder
# settings, runs clippy on it, checks that the build-time settings of other panels compile and
# that a bad one is refused, turns the ELF into a flashable app image with esptool (PyPI),
# validates the image (checksum and SHA-256), and checks the flash and RAM budgets.
#
# Works on a fresh Debian machine with rustup: it installs the pinned toolchain with the riscv32imc
# target and esptool into a virtualenv under the firmware's target directory. No hardware needed.
# Usage: scripts/firmware-ci.sh        (FIRMWARE_CI_KEEP_ENV=1 keeps SSID/PASSWORD/... from the
#                                       environment instead of the placeholders)
set -euo pipefail
cd "$(dirname "$0")/../firmware/esp32c3"
export PATH="$HOME/.cargo/bin:$PATH"

# Budgets, from the measured build (docs/firmware.md, "Memory"): 581 KB of image, 171.5 KiB of
# static RAM and 102.8 KiB left for the stack. Each has room for growth, none for a framebuffer.
IMAGE_MAX_BYTES=$((1024 * 1024))    # app image; the default app partition holds 4 MiB
STATIC_RAM_MAX_BYTES=$((176 * 1024)) # .data + .bss (heap, staging, strips, socket buffers)
STACK_MIN_BYTES=$((96 * 1024))      # what the DRAM region leaves for the stack
ESPTOOL_VERSION=5.6.0
TOOLCHAIN=1.95.0                    # = rust-toolchain.toml
TARGET=riscv32imc-unknown-none-elf
BIN=pixelwire-esp32c3
ELF="target/$TARGET/release/$BIN"
IMAGE="target/$BIN.bin"

step() { printf '\n==> %s\n' "$*"; }
fail() { printf 'firmware-ci: %s\n' "$*" >&2; exit 1; }
start=$(date +%s)

step "toolchain $TOOLCHAIN with $TARGET"
command -v rustup >/dev/null || fail "rustup is needed (https://rustup.rs)"
# Install only what is missing: `rustup toolchain install` on an installed toolchain re-syncs it,
# replacing rustc under any build running beside this one.
if ! rustup run "$TOOLCHAIN" rustc --version >/dev/null 2>&1; then
    rustup toolchain install "$TOOLCHAIN" --profile minimal --component clippy --target "$TARGET"
fi
rustup target list --toolchain "$TOOLCHAIN" --installed | grep -qx "$TARGET" ||
    rustup target add --toolchain "$TOOLCHAIN" "$TARGET"
rustup component list --toolchain "$TOOLCHAIN" --installed | grep -q '^clippy' ||
    rustup component add --toolchain "$TOOLCHAIN" clippy

if [ "${FIRMWARE_CI_KEEP_ENV:-}" != 1 ]; then
    # CI builds with the placeholders of .cargo/config.toml, whatever the machine's environment says.
    unset SSID PASSWORD SERVER DEVICE_ID PANEL ROTATION INVERT BGR MIRROR WIDTH HEIGHT SPI_MODE \
        OFFSET_X OFFSET_Y SPI_MHZ
fi
if [ -f config.env ]; then
    fail "config.env (local WiFi credentials) is present: CI must build from the placeholders"
fi

step "build (release)"
cargo build --release --locked
step "clippy"
cargo clippy --release --locked -- -D warnings

step "other panels' settings compile; a bad one is refused"
PANEL=st7789 ROTATION=0 WIDTH=240 HEIGHT=240 cargo check --release --locked --quiet
PANEL=st7735 ROTATION=180 WIDTH=80 HEIGHT=160 OFFSET_X=26 OFFSET_Y=1 INVERT=1 \
    cargo check --release --locked --quiet
if PANEL=ssd1306 cargo check --release --locked --quiet 2>target/bad-panel.log; then
    fail "PANEL=ssd1306 should not compile"
fi
grep -q "PANEL must be ili9341, st7789 or st7735" target/bad-panel.log ||
    fail "PANEL=ssd1306 failed without the expected message: $(tail -5 target/bad-panel.log)"
# Leave the release build's fingerprints as the placeholders had them.
cargo check --release --locked --quiet

step "esptool $ESPTOOL_VERSION"
venv=target/esptool-venv
if ! command -v python3 >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq python3 python3-venv >/dev/null
fi
command -v readelf >/dev/null || fail "readelf is needed (Debian package binutils)"
if ! "$venv/bin/esptool" version 2>/dev/null | grep -q "$ESPTOOL_VERSION"; then
    rm -rf "$venv"
    if ! python3 -m venv "$venv" 2>/dev/null; then
        # Debian keeps venv in its own package.
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
        fi
        rm -rf "$venv"
        python3 -m venv "$venv" || fail "python3 -m venv failed (install python3-venv)"
    fi
    "$venv/bin/pip" install --quiet --disable-pip-version-check "esptool==$ESPTOOL_VERSION"
fi
esptool="$venv/bin/esptool"

step "app image"
"$esptool" --chip esp32c3 elf2image --flash-size 4MB --output "$IMAGE" "$ELF"
"$esptool" --chip esp32c3 image-info "$IMAGE" | tee target/image-info.txt
grep -Eq 'Checksum: .*\(valid\)' target/image-info.txt || fail "image checksum is not valid"
grep -Eq 'Validation hash: .*\(valid\)' target/image-info.txt || fail "image SHA-256 is not valid"
grep -q "$BIN" target/image-info.txt || fail "the app descriptor does not name $BIN"

step "budgets"
section() { # size of an ELF section in bytes, 0 if absent
    local hex
    hex=$(readelf -S -W "$ELF" | sed -n 's/^ *\[ *[0-9]*\] *//p' | awk -v n="$1" '$1 == n {print $5}')
    echo $((16#${hex:-0}))
}
image=$(stat -c %s "$IMAGE")
data=$(( $(section .data) + $(section .data.wifi) ))
bss=$(section .bss)
iram=$(section .rwdata_dummy)
stack=$(section .stack)
static=$((data + bss))
printf '%-28s %9d bytes (budget %d)\n' "app image" "$image" "$IMAGE_MAX_BYTES"
printf '%-28s %9d bytes (budget %d)\n' "static RAM (.data + .bss)" "$static" "$STATIC_RAM_MAX_BYTES"
printf '%-28s %9d bytes\n' "IRAM code (in DRAM region)" "$iram"
printf '%-28s %9d bytes (at least %d)\n' "stack" "$stack" "$STACK_MIN_BYTES"
[ "$image" -le "$IMAGE_MAX_BYTES" ] || fail "app image $image bytes exceeds $IMAGE_MAX_BYTES"
[ "$static" -le "$STATIC_RAM_MAX_BYTES" ] || fail "static RAM $static bytes exceeds $STATIC_RAM_MAX_BYTES"
[ "$stack" -ge "$STACK_MIN_BYTES" ] || fail "stack $stack bytes is below $STACK_MIN_BYTES"
sha256sum "$IMAGE"

step "firmware CI passed in $(( $(date +%s) - start )) s: $(pwd)/$IMAGE"
