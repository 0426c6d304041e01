#!/usr/bin/env bash
# Installs what the test suite needs beyond the build: ffmpeg/ffprobe (they read the MJPEG and
# H.264 outputs) and Debian's Chromium (headless, for the viewer page tests). Safe to run again.
set -euo pipefail
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "setup-test-deps: need root (or sudo) to run: $*" >&2; exit 1
    fi
}
need=()
for p in ffmpeg chromium; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
