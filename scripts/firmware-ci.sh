#!/usr/bin/env bash
# Firmware CI (docs/firmware.md, "CI"): builds the ESP32-C3 firmware in release with placeholder
# settings, for the default TFT (ILI9341) and for an SSD1306 OLED (PANEL=ssd1306, other glue), runs
# clippy on both, checks that the build-time settings of other panels compile and that bad ones
# are refused, turns each ELF into a flashable app image with esptool (PyPI), validates the images
# (checksum and SHA-256), and checks the flash and RAM budgets of both.
#
# Works on a fresh Debian machine with rustup: it installs the pinned toolchain with the riscv32imc
# target and esptool into a virtualenv under the firmware's target directory. No hardware needed.
# Usage: scripts/firmware-ci.sh        (FIRMWARE_CI_KEEP_ENV=1 keeps SSID/PASSWORD/... from the
#                                       environment instead of the placeholders)
set -euo pipefail
cd "$(dirname "$0")/../firmware/esp32c3"
export PATH="$HOME/.cargo/bin:$PATH"

# Budgets, from the measured builds (docs/firmware.md, "Memory"): 598 KB of image, 171.2 KiB of
# static RAM and 103.1 KiB left for the stack (the SSD1306 build: less RAM, more stack). Each has
# room for growth, none for a framebuffer of a TFT.
IMAGE_MAX_BYTES=$((1024 * 1024))    # app image; the default app partition holds 4 MiB
STATIC_RAM_MAX_BYTES=$((176 * 1024)) # .data + .bss (heap, staging, strips, socket buffers)
STACK_MIN_BYTES=$((96 * 1024))      # what the DRAM region leaves for the stack
ESPTOOL_VERSION=5.6.0
TOOLCHAIN=1.95.0                    # = rust-toolchain.toml
TARGET=riscv32imc-unknown-none-elf
BIN=pixelwire-esp32c3
ELF="target/$TARGET/release/$BIN"
IMAGE="target/$BIN.bin"
MONO_ELF="target/$BIN-ssd1306.elf"   # the SSD1306 build, kept aside from the default $ELF
MONO_IMAGE="target/$BIN-ssd1306.bin"

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

# The SSD1306 build first, so that the default build is the last one and its ELF stays in place.
step "build (release), PANEL=ssd1306"
PANEL=ssd1306 cargo build --release --locked
cp "$ELF" "$MONO_ELF"
step "clippy, PANEL=ssd1306"
PANEL=ssd1306 cargo clippy --release --locked -- -D warnings

step "build (release)"
cargo build --release --locked
step "clippy"
cargo clippy --release --locked -- -D warnings

step "other panels' settings compile; bad ones are refused"
PANEL=st7789 ROTATION=0 WIDTH=240 HEIGHT=240 cargo check --release --locked --quiet
PANEL=st7735 ROTATION=180 WIDTH=80 HEIGHT=160 OFFSET_X=26 OFFSET_Y=1 INVERT=1 \
    cargo check --release --locked --quiet
PANEL=ssd1306 WIDTH=128 HEIGHT=32 ROTATION=180 SPI_MHZ=8 cargo check --release --locked --quiet
refused() { # refused "expected message" SETTING=value...: the build must stop with that message
    local want=$1
    shift
    if env "$@" cargo check --release --locked --quiet 2>target/bad-panel.log; then
        fail "$* should not compile"
    fi
    grep -qF "$want" target/bad-panel.log ||
        fail "$* failed without the message \"$want\": $(tail -5 target/bad-panel.log)"
}
refused "PANEL must be ili9341, st7789, st7735 or ssd1306" PANEL=sh1106
refused "WIDTH x HEIGHT must be 128x64 or 128x32 for ssd1306" PANEL=ssd1306 WIDTH=320 HEIGHT=240
refused "BGR does not apply to ssd1306" PANEL=ssd1306 BGR=1
refused "SPI_MHZ must be at most 10 for ssd1306" PANEL=ssd1306 SPI_MHZ=20
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

image() { # image ELF BIN: the flashable app image, validated
    "$esptool" --chip esp32c3 elf2image --flash-size 4MB --output "$2" "$1"
    "$esptool" --chip esp32c3 image-info "$2" | tee target/image-info.txt
    grep -Eq 'Checksum: .*\(valid\)' target/image-info.txt || fail "$2: checksum is not valid"
    grep -Eq 'Validation hash: .*\(valid\)' target/image-info.txt || fail "$2: SHA-256 is not valid"
    grep -q "$BIN" target/image-info.txt || fail "$2: the app descriptor does not name $BIN"
}
step "app image"
image "$ELF" "$IMAGE"
step "app image, PANEL=ssd1306"
image "$MONO_ELF" "$MONO_IMAGE"

section() { # section ELF NAME: its size in bytes, 0 if absent
    local hex
    hex=$(readelf -S -W "$1" | sed -n 's/^ *\[ *[0-9]*\] *//p' | awk -v n="$2" '$1 == n {print $5}')
    echo $((16#${hex:-0}))
}
budgets() { # budgets ELF BIN
    local image data bss iram stack static
    image=$(stat -c %s "$2")
    data=$(( $(section "$1" .data) + $(section "$1" .data.wifi) ))
    bss=$(section "$1" .bss)
    iram=$(section "$1" .rwdata_dummy)
    stack=$(section "$1" .stack)
    static=$((data + bss))
    printf '%-28s %9d bytes (budget %d)\n' "app image" "$image" "$IMAGE_MAX_BYTES"
    printf '%-28s %9d bytes (budget %d)\n' "static RAM (.data + .bss)" "$static" "$STATIC_RAM_MAX_BYTES"
    printf '%-28s %9d bytes\n' "IRAM code (in DRAM region)" "$iram"
    printf '%-28s %9d bytes (at least %d)\n' "stack" "$stack" "$STACK_MIN_BYTES"
    [ "$image" -le "$IMAGE_MAX_BYTES" ] || fail "$2: app image $image bytes exceeds $IMAGE_MAX_BYTES"
    [ "$static" -le "$STATIC_RAM_MAX_BYTES" ] ||
        fail "$1: static RAM $static bytes exceeds $STATIC_RAM_MAX_BYTES"
    [ "$stack" -ge "$STACK_MIN_BYTES" ] || fail "$1: stack $stack bytes is below $STACK_MIN_BYTES"
    sha256sum "$2"
}
step "budgets"
budgets "$ELF" "$IMAGE"
step "budgets, PANEL=ssd1306"
budgets "$MONO_ELF" "$MONO_IMAGE"

step "firmware CI passed in $(( $(date +%s) - start )) s: $(pwd)/$IMAGE, $(pwd)/$MONO_IMAGE"
