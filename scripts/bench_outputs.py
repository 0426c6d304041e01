#!/usr/bin/env python3
"""Issue 17: what each extra output costs on a stream that is already encoded.

`pixelwire serve` (release) ingests one 640x480 camera at 30 fps (`pixelwire mock-camera`, the
moving pattern, WebSocket) and one H.264 WebCodecs viewer (`viewer_load`) keeps its shared encoder
running. Then, window by window (--duration s each, after --warmup s), outputs are added on the
same stream:

* `base`: the camera and the one viewer;
* `+ N RTSP`: N RTSP clients (`ffmpeg -rtsp_transport tcp -i rtsp://.../cam -c copy -f null -`).

Windows alternate (--rounds times) between the base and the base plus --rtsp clients, so that
load drifting on the machine affects both alike. Per window: the server's CPU s/s (utime+stime of
all its threads, /proc) and `pixelwire_stream_h264_encoders` (it must stay 1); the encode's s/s
comes from `pixelwire_stream_h264_encode_seconds_sum` (time inside OpenH264; on a quiet machine its
CPU time). The cost of one RTSP client is the mean difference divided by the clients, also as a
share of the encode. Markdown on stdout.

  cargo build --release -p pixelwire --bin pixelwire --example viewer_load
  scripts/bench_outputs.py [--duration 15] [--rtsp 4] [--rounds 3]
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from bench_common import cpu_seconds, free_port


def metric(port, name):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    m = re.search(r"^" + re.escape(name) + r"\{[^}]*stream=\"cam\"[^}]*\} ([0-9.e+-]+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def window(pid, port, seconds):
    c0, e0, t0 = cpu_seconds(pid), metric(port, "pixelwire_stream_h264_encode_seconds_sum"), time.time()
    time.sleep(seconds)
    c1, e1, t1 = cpu_seconds(pid), metric(port, "pixelwire_stream_h264_encode_seconds_sum"), time.time()
    return (c1 - c0) / (t1 - t0), (e1 - e0) / (t1 - t0), metric(port, "pixelwire_stream_h264_encoders")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=15)
    ap.add_argument("--warmup", type=float, default=4)
    ap.add_argument("--rtsp", type=int, default=4, help="RTSP clients added in the second window of each round")
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    root = os.environ.get("CARGO_TARGET_DIR", "target")
    binary = os.path.join(root, "release", "pixelwire")
    viewer_load = os.path.join(root, "release", "examples", "viewer_load")
    http, rtsp = free_port(), free_port()
    work = tempfile.mkdtemp(prefix="pw-bench-outputs-")
    cfg = os.path.join(work, "c.toml")
    with open(cfg, "w") as f:
        f.write(f'[server]\nhttp = "127.0.0.1:{http}"\ndisplay = "127.0.0.1:0"\ndata_dir = "{work}/data"\n'
                '[cameras]\nwebsocket_listen = []\nviewer_listen = []\nhttp_listen = []\ntcp_listen = []\n'
                f'[rtsp]\nlisten = ["127.0.0.1:{rtsp}"]\n')
    procs = []
    def spawn(cmd):
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(p)
        return p
    try:
        server = spawn([binary, "serve", "--config", cfg])
        time.sleep(1.5)
        spawn([binary, "mock-camera", "--to", f"ws://127.0.0.1:{http}/ws/camera/cam", "--size", "640x480", "--fps", "30"])
        time.sleep(1)
        spawn([viewer_load, "--url", f"ws://127.0.0.1:{http}/api/streams/cam/ws?codec=h264", "--viewers", "1",
               "--duration", "100000"])
        time.sleep(a.warmup)
        # Windows alternate between the base and the base plus N RTSP clients, so that load
        # drifting on the machine affects both alike; the cost is the mean difference.
        n = a.rtsp
        base, more, encodes = [], [], []
        for r in range(a.rounds):
            cpu, enc, _ = window(server.pid, http, a.duration)
            base.append(cpu)
            encodes.append(enc)
            readers = [spawn(["ffmpeg", "-loglevel", "quiet", "-rtsp_transport", "tcp", "-i",
                              f"rtsp://127.0.0.1:{rtsp}/cam", "-c", "copy", "-f", "null", "-"]) for _ in range(n)]
            time.sleep(a.warmup)
            cpu, enc, encoders = window(server.pid, http, a.duration)
            more.append(cpu)
            encodes.append(enc)
            assert encoders == 1, f"{encoders} encoders"
            for p in readers:
                p.terminate()
                p.wait(timeout=5)
                procs.remove(p)
            time.sleep(a.warmup)
            print(f"round {r + 1}: base {base[-1]:.3f}, +{n} RTSP {more[-1]:.3f} CPU s/s", file=sys.stderr)
        enc = statistics.median(encodes)
        diff = statistics.mean(more) - statistics.mean(base)
        print("| windows | server CPU s/s (each) | encode s/s (median) | encoders | CPU per RTSP client | % of the encode |")
        print("|---|---|---:|---:|---:|---:|")
        print(f"| base: camera + 1 WebCodecs viewer | {', '.join(f'{x:.3f}' for x in base)} | {enc:.3f} | 1 | – | – |")
        print(f"| + {n} RTSP clients | {', '.join(f'{x:.3f}' for x in more)} | | 1 | {diff / n:.4f} s/s | {diff / n / enc * 100:.1f} % |")
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    sys.exit(main())
