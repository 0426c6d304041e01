#!/usr/bin/env bash
# Seed 000's main mode, end to end (issue 10): a 640x480 region of a moving X11 desktop (the
# bench scene's gauges, bouncing boxes and video-like noise) captured by `pixelwire serve` and
# shown on an emulated 320x240 TFT (`pixelwire display-emu`) over an emulated 300 kB/s link with
# 10 ms RTT. Prints the emulator's summary (fps presented, bytes/s, capture-to-display latency
# p50/p95), the server's CPU over the same window, the idle cost once the scene stops (server and
# Xvfb), and the PSNR of the panel against the source region after it stopped (the panel
# converges to exact RGB565; quality *under motion* per display is issue 15's figure).
#
#   scripts/bench-screen-display.sh [--duration S] [--link-kbps N] [--rtt-ms N]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DURATION=25
LINK=300
RTT=10
while [ $# -gt 0 ]; do
    case "$1" in
        --duration) DURATION="$2"; shift ;;
        --link-kbps) LINK="$2"; shift ;;
        --rtt-ms) RTT="$2"; shift ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
cargo build --release -q -p pixelwire -p pixelwire-x11-scene
PW="$ROOT/target/release/pixelwire"
SCENE="$ROOT/target/release/pixelwire-x11-scene"
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
cores() { awk -v a="$1" -v b="$2" -v s="$3" -v hz="$hz" 'BEGIN { printf "%.3f", (b - a) / hz / s }'; }

# Xvfb picks its own display number.
exec 3< <(Xvfb -displayfd 1 -screen 0 1280x720x24 -nolisten tcp -noreset 2>/dev/null)
read -r DISP <&3
XVFB_PID=$(pgrep -n -x Xvfb)
PIDS+=("$XVFB_PID")
DISPLAY=":$DISP" "$SCENE" --mode dashboard --fps 60 --size 1280x720 >/dev/null 2>&1 &
SCENE_PID=$!
PIDS+=("$SCENE_PID")

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HTTP=$(port); DPORT=$(port)
cat > "$WORK/pixelwire.toml" <<TOML
[server]
http = "127.0.0.1:$HTTP"
display = "127.0.0.1:$DPORT"
data_dir = "$WORK/data"
default_stream = "desk"
[cameras]
websocket_listen = []
viewer_listen = []
http_listen = []
tcp_listen = []
[[streams]]
name = "desk"
source = "screen"
fps = 30
[streams.screen]
display = ":$DISP"
region = { x = 640, y = 40, width = 640, height = 480 }
[[displays]]
id = "tft"
stream = "desk"
TOML
"$PW" serve --config "$WORK/pixelwire.toml" >"$WORK/serve.log" 2>&1 &
PW_PID=$!
PIDS+=("$PW_PID")
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$HTTP/api/status" >/dev/null && break; sleep 0.1; done
kill -0 "$PW_PID" 2>/dev/null || { echo "pixelwire serve did not start:" >&2; cat "$WORK/serve.log" >&2; exit 1; }

p0=$(ticks "$PW_PID"); x0=$(ticks "$XVFB_PID"); t0=$(date +%s.%N)
"$PW" display-emu --connect "127.0.0.1:$DPORT" --id tft --size 320x240 --link-kbps "$LINK" \
    --rtt-ms "$RTT" --duration "$DURATION" --warmup 5 >"$WORK/emu.log" 2>&1
p1=$(ticks "$PW_PID"); x1=$(ticks "$XVFB_PID"); t1=$(date +%s.%N)
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
echo "moving: $(grep '^summary' "$WORK/emu.log" | sed 's/^summary //')"
echo "moving: pixelwire serve $(cores "$p0" "$p1" "$secs") cores, Xvfb $(cores "$x0" "$x1" "$secs") cores (scene included in neither)"

# The scene stops: the desktop is idle. The display stays connected and watching.
kill "$SCENE_PID"
"$PW" display-emu --connect "127.0.0.1:$DPORT" --id tft --size 320x240 --link-kbps "$LINK" \
    --rtt-ms "$RTT" --duration 16 --snapshot "$WORK/panel.png" >"$WORK/idle.log" 2>&1 &
EMU=$!
sleep 4
p0=$(ticks "$PW_PID"); x0=$(ticks "$XVFB_PID"); t0=$(date +%s.%N)
sleep 6
p1=$(ticks "$PW_PID"); x1=$(ticks "$XVFB_PID"); t1=$(date +%s.%N)
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
echo "idle: pixelwire serve $(cores "$p0" "$p1" "$secs") cores, Xvfb $(cores "$x0" "$x1" "$secs") cores, display watching"
# While the display is still connected: the source region and the server's view of the panel.
curl -sf "http://127.0.0.1:$HTTP/api/streams/desk/snapshot.png" -o "$WORK/source.png"
curl -sf "http://127.0.0.1:$HTTP/api/displays/tft/preview.png" -o "$WORK/preview.png"
wait "$EMU"
psnr() {
    ffmpeg -hide_banner -i "$1" -i "$2" -lavfi "[0:v]format=rgb24[a];[1:v]format=rgb24,scale=320:240:flags=area[b];[a][b]psnr" -f null - 2>&1 |
        grep -o 'average:[0-9.inf]*' | head -1 || true
}
echo "still: panel vs source region scaled to 320x240 (ffmpeg area): PSNR $(psnr "$WORK/panel.png" "$WORK/source.png")"
echo "still: panel vs the server's own view of the panel: PSNR $(psnr "$WORK/panel.png" "$WORK/preview.png")"
