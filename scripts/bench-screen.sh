#!/usr/bin/env bash
# Side-by-side screen-capture benchmark (issue 10): pixelflux 2.2.1 from PyPI and pixelwire's
# capture library on the same moving X11 scene.
#
#   scripts/bench-screen.sh [--quick] [--duration S] [--sizes "1280x720 1920x1080"]
#       [--fps "30 60"] [--modes "jpeg h264 h264-full"] [--scenes "dashboard idle"]
#       [--systems "pixelflux pixelwire"] [--pw-args "ARGS"] [--out DIR] [--keep]
#
# For each size it starts Xvfb on a free display (:40 and up, never :99) and, for each scene,
# pixelwire-x11-scene at 60 pictures/s. It first samples the scene alone for 3 s (Xvfb and scene
# CPU without any capture), then runs each system's runner for D seconds per fps and mode. CPU is
# utime+stime from /proc/PID/stat of the runner, Xvfb and the scene over the recording window
# divided by its wall time (core·s per s). Each record is then analysed (fps achieved, stripes/s,
# payload bytes/s, capture-to-callback latency, luma PSNR against the re-rendered picture) and a
# markdown table printed, with a pixelwire/pixelflux ratio row under each pixelwire row.
# --quick: 1280x720, 60 fps, dashboard + idle, 8 s. Records are deleted unless --keep.
# --pw-args: extra arguments for the pixelwire runner (e.g. "--motion-frames 0": stripes in
# motion keep the base JPEG quality, for a comparison at equal quality).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

DURATION=20
SIZES="1280x720 1920x1080"
FPS_LIST="30 60"
MODES="jpeg h264 h264-full"
SCENES="dashboard idle"
SYSTEMS="pixelflux pixelwire"
PW_ARGS=""
OUT="$ROOT/target/bench-screen"
KEEP=0
SCENE_FPS=60
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) SIZES="1280x720"; FPS_LIST="60"; DURATION=8 ;;
        --duration) DURATION="$2"; shift ;;
        --sizes) SIZES="$2"; shift ;;
        --fps) FPS_LIST="$2"; shift ;;
        --modes) MODES="$2"; shift ;;
        --scenes) SCENES="$2"; shift ;;
        --systems) SYSTEMS="$2"; shift ;;
        --pw-args) PW_ARGS="$2"; shift ;;
        --out) OUT="$2"; shift ;;
        --keep) KEEP=1 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
mkdir -p "$OUT"
RESULTS="$OUT/results-$(date +%Y%m%d-%H%M%S).txt"
LOG="$OUT/bench.log"
: > "$LOG"

echo "building the scene and the analysis" >&2
cargo build --release -q -p pixelwire-x11-scene --features analyze
SCENE_BIN="$ROOT/target/release/pixelwire-x11-scene"
ANALYZE_BIN="$ROOT/target/release/pixelwire-scene-analyze"
PW_BIN="$ROOT/target/release/examples/capture_record"
if [[ " $SYSTEMS " == *" pixelwire "* ]]; then
    echo "building the pixelwire runner" >&2
    cargo build --release -q -p pixelwire-capture --example capture_record
fi
VENV="$ROOT/target/bench-venv"
if [[ " $SYSTEMS " == *" pixelflux "* ]]; then
    if ! "$VENV/bin/python" -c 'import pixelflux' 2>/dev/null; then
        echo "installing pixelflux 2.2.1 into $VENV" >&2
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install -q pixelflux==2.2.1
    fi
fi

TCK=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
now() { date +%s.%N; }
cpu() { # ticks_before ticks_after seconds
    awk -v a="$1" -v b="$2" -v s="$3" -v t="$TCK" 'BEGIN { printf "%.3f", (b - a) / t / s }'
}

XVFB_PID=""
SCENE_PID=""
RUNNER_PID=""
cleanup() {
    for p in $RUNNER_PID $SCENE_PID $XVFB_PID; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

free_display() {
    for n in $(seq 40 98); do
        if [ ! -e "/tmp/.X11-unix/X$n" ] && [ ! -e "/tmp/.X$n-lock" ]; then echo "$n"; return; fi
    done
    echo "no free X display between :40 and :98" >&2
    exit 1
}

run_one() { # system size fps mode scene
    local system=$1 size=$2 fps=$3 mode=$4 scene=$5
    local w=${size%x*} h=${size#*x}
    local rec="$OUT/rec-$system-$size-$fps-$mode-$scene.bin"
    local started="$rec.started"
    rm -f "$rec" "$started"
    if [ "$system" = pixelflux ]; then
        DISPLAY=":$DISP" "$VENV/bin/python" "$ROOT/scripts/bench-screen/pixelflux_runner.py" \
            --out "$rec" --width "$w" --height "$h" --fps "$fps" --codec "$mode" \
            --duration "$DURATION" --started "$started" >>"$LOG" 2>&1 &
    else
        DISPLAY=":$DISP" "$PW_BIN" \
            --out "$rec" --width "$w" --height "$h" --fps "$fps" --codec "$mode" \
            --duration "$DURATION" --started "$started" $PW_ARGS >>"$LOG" 2>&1 &
    fi
    RUNNER_PID=$!
    for _ in $(seq 200); do [ -e "$started" ] && break; sleep 0.05; done
    local r0 x0 s0 t0 r1 x1 s1 t1
    r0=$(ticks "$RUNNER_PID"); x0=$(ticks "$XVFB_PID"); s0=$(ticks "$SCENE_PID"); t0=$(now)
    # Sample just before the runner stops itself.
    sleep "$(awk -v d="$DURATION" 'BEGIN { print (d > 0.3 ? d - 0.2 : d) }')"
    r1=$(ticks "$RUNNER_PID"); x1=$(ticks "$XVFB_PID"); s1=$(ticks "$SCENE_PID"); t1=$(now)
    wait "$RUNNER_PID" || echo "$system runner exited with $?" >&2
    RUNNER_PID=""
    local secs
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
    local luma=bt601-full
    [ "$system" = pixelflux ] && luma=bt709-limited
    local line
    line=$("$ANALYZE_BIN" --record "$rec" --mode "$scene" --h264-luma "$luma" 2>>"$LOG" || echo "system=$system analysis=failed")
    line="$line size=$size fps_target=$fps mode=$mode scene=$scene"
    line="$line runner_cpu=$(cpu "$r0" "$r1" "$secs") xvfb_cpu=$(cpu "$x0" "$x1" "$secs") scene_cpu=$(cpu "$s0" "$s1" "$secs")"
    echo "$line" | tee -a "$RESULTS" >&2
    [ "$KEEP" = 1 ] || rm -f "$rec"
    rm -f "$started"
}

for size in $SIZES; do
    DISP=$(free_display)
    Xvfb ":$DISP" -screen 0 "${size}x24" -nolisten tcp -noreset >>"$LOG" 2>&1 &
    XVFB_PID=$!
    for _ in $(seq 100); do [ -e "/tmp/.X11-unix/X$DISP" ] && break; sleep 0.05; done
    for scene in $SCENES; do
        DISPLAY=":$DISP" "$SCENE_BIN" --mode "$scene" --fps "$SCENE_FPS" --size "$size" >>"$LOG" 2>&1 &
        SCENE_PID=$!
        sleep 1
        x0=$(ticks "$XVFB_PID"); s0=$(ticks "$SCENE_PID"); t0=$(now)
        sleep 3
        x1=$(ticks "$XVFB_PID"); s1=$(ticks "$SCENE_PID"); t1=$(now)
        secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
        echo "system=scene-only size=$size fps_target=$SCENE_FPS mode=- scene=$scene runner_cpu=0 xvfb_cpu=$(cpu "$x0" "$x1" "$secs") scene_cpu=$(cpu "$s0" "$s1" "$secs")" \
            | tee -a "$RESULTS" >&2
        for fps in $FPS_LIST; do
            for mode in $MODES; do
                for system in $SYSTEMS; do
                    run_one "$system" "$size" "$fps" "$mode" "$scene"
                done
            done
        done
        kill "$SCENE_PID"; wait "$SCENE_PID" 2>/dev/null || true; SCENE_PID=""
    done
    kill "$XVFB_PID"; wait "$XVFB_PID" 2>/dev/null || true; XVFB_PID=""
done

echo
echo "Results: $RESULTS (machine: $(nproc) cores, $(uname -r); scene at $SCENE_FPS pictures/s; ${DURATION} s per run)"
echo
python3 "$ROOT/scripts/bench-screen/table.py" "$RESULTS"
