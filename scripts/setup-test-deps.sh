#!/usr/bin/env bash
# Installs what the test suite needs beyond the build: ffmpeg/ffprobe (they read the MJPEG and
# H.264 outputs), Debian's Chromium (headless, for the viewer page tests), Xvfb and xrandr (the
# screen-capture tests start private X servers and define RandR monitors), and Debian's Prometheus
# (`prometheus`, `promtool`) and node exporter (the self-monitoring tests start their own
# instances on free loopback ports with temporary storage), and Debian's NATS server (`nats-server`:
# the cluster tests start their own on free loopback ports, with JetStream for the KV buckets:
# `-js -sd DIR`, which 2.9 and later have). Safe to run again.
set -euo pipefail
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "setup-test-deps: need root (or sudo) to run: $*" >&2; exit 1
    fi
}
need=()
for p in ffmpeg chromium prometheus prometheus-node-exporter xvfb x11-xserver-utils nats-server; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
    # Under systemd the Prometheus packages start system services on :9090 and :9100. No test
    # uses them (nor their ports), so they would only take CPU: stop the ones this run installed.
    if [ -d /run/systemd/system ]; then
        for p in "${need[@]}"; do
            case "$p" in
                prometheus | prometheus-node-exporter | nats-server)
                    as_root systemctl disable --now "$p.service" >/dev/null 2>&1 || true ;;
            esac
        done
    fi
fi
# The cluster tests run nats-server with JetStream (`-js -sd DIR`): make sure this one has it.
if ! nats-server --help 2>&1 | grep -q -- '--jetstream'; then
    echo "setup-test-deps: nats-server has no JetStream (-js); the cluster tests need 2.9 or later" >&2
    exit 1
fi
