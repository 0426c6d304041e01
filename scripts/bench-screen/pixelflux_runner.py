#!/usr/bin/env python3
"""Record what pixelflux 2.2.1 (PyPI) encodes from an X display, for scripts/bench-screen.sh.

Usage (normally through the driver, which also makes the virtual environment):

    target/bench-venv/bin/python scripts/bench-screen/pixelflux_runner.py \\
        --out rec.bin --width 1280 --height 720 --fps 60 --codec jpeg|h264|h264-full \\
        --duration 20 [--jpeg-quality 85] [--started FILE]

Captures $DISPLAY from (0, 0) at the given size, software encoding, cursor not captured,
paint-over and damage block as pixelflux defaults. Every stripe is written to --out in the
record format of crates/x11-scene/src/record.rs: payloads without pixelflux's wire header
(omit_stripe_headers), times on CLOCK_MONOTONIC (pixelflux's capture_ns and
time.monotonic_ns() at the callback). --started is created when capture has started, so the
driver can sample CPU over the same window.
"""

import argparse
import os
import struct
import sys
import threading
import time

import pixelflux

MAGIC = 0x52535750
HEADER = struct.Struct("<IBBHQIIIIQQQQ")
assert HEADER.size == 64


def h264_is_idr(data):
    """True when the first slice NAL unit of an Annex-B access unit is an IDR (type 5)."""
    pos = 0
    n = len(data)
    while pos < n:
        sc = data.find(b"\x00\x00\x01", pos)
        if sc < 0 or sc + 3 >= n:
            return False
        nal_type = data[sc + 3] & 0x1F
        if nal_type == 5:
            return True
        if nal_type == 1:
            return False
        pos = sc + 3
    return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--width", type=int, required=True)
    ap.add_argument("--height", type=int, required=True)
    ap.add_argument("--fps", type=float, default=60.0)
    ap.add_argument("--codec", choices=["jpeg", "h264", "h264-full"], default="jpeg")
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--jpeg-quality", type=int, default=85)
    ap.add_argument("--started", default=None)
    args = ap.parse_args()

    s = pixelflux.CaptureSettings()
    s.capture_x, s.capture_y = 0, 0
    s.capture_width, s.capture_height = args.width, args.height
    s.target_fps = args.fps
    s.capture_cursor = False
    s.use_wayland = False
    s.use_cpu = True
    s.encode_node_index = -1
    s.auto_adjust_screen_capture_size = False
    s.omit_stripe_headers = True
    if args.codec == "jpeg":
        s.codec = "jpeg"
        s.jpeg_quality = args.jpeg_quality
    else:
        s.codec = "h264"
        s.video_fullframe = args.codec == "h264-full"

    out = open(args.out, "wb", buffering=1 << 20)
    lock = threading.Lock()
    state = {"recording": True, "stripes": 0}
    codec_byte = 0 if args.codec == "jpeg" else 1

    def on_stripe(frame):
        arrival = time.monotonic_ns()
        if not state["recording"]:
            return
        data = memoryview(frame)
        # x264 puts a long SEI (its options) before the first IDR slice.
        key = 1 if codec_byte == 0 or h264_is_idr(bytes(data[:4096])) else 0
        head = HEADER.pack(
            MAGIC, codec_byte, key, 0,
            frame.frame_id, frame.stripe_y_start, args.width, frame.stripe_height, len(data),
            frame.capture_ns, frame.encode_start_ns, frame.encode_end_ns, arrival,
        )
        with lock:
            out.write(head)
            out.write(data)
            state["stripes"] += 1

    meta = {
        "system": "pixelflux-" + getattr(pixelflux, "__version__", "2.2.1"),
        "clock": "monotonic",
        "width": args.width,
        "height": args.height,
        "fps": args.fps,
        "codec": args.codec,
        "jpeg_quality": args.jpeg_quality,
        "duration_s": args.duration,
    }
    out.write(b"PWREC1\n")
    out.write((" ".join(f"{k}={v}" for k, v in meta.items()) + "\n").encode())

    cap = pixelflux.ScreenCapture()
    t0 = time.monotonic()
    cap.start_capture(on_stripe, s)
    if args.started:
        with open(args.started, "w") as f:
            f.write(str(os.getpid()))
    time.sleep(max(0.0, args.duration - (time.monotonic() - t0)))
    with lock:
        state["recording"] = False
    cap.stop_capture()
    out.close()
    print(f"pixelflux_runner: {state['stripes']} stripes in {args.duration:.1f} s -> {args.out}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
