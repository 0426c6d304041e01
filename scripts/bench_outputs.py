#!/usr/bin/env python3
"""Issue 17: what each extra output costs on a stream that is already encoded.

`pixelwire serve` (release) ingests one 640x480 camera at 30 fps (`pixelwire mock-camera`, the
moving pattern, WebSocket) and one H.264 WebCodecs viewer (`viewer_load`) keeps its shared encoder
running. Then, window by window (--duration s each, after --warmup s), outputs are added on the
same stream:

* `base`: the camera and the one viewer;
* `rtsp xN`: N RTSP clients (`ffmpeg -rtsp_transport tcp -i rtsp://.../cam -c copy -f null -`).

Per window: the server's CPU s/s (utime+stime of all its threads, /proc), the encoder's own CPU
s/s from `pixelwire_stream_h264_encode_seconds_sum` (wall time inside OpenH264 on its thread), and
`pixelwire_stream_h264_encoders` (it must stay 1). The cost of an output is the server's CPU
above `base` divided by the number of outputs, as a share of the encode. Markdown on stdout.

  cargo build --release -p pixelwire --bin pixelwire --example viewer_load
  scripts/bench_outputs.py [--duration 15] [--rtsp 1,4]
"""

import argparse
import os
import re
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
    ap.add_argument("--rtsp", default="1,4")
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
        rows = [("base (camera + 1 WebCodecs viewer)", 0) + window(server.pid, http, a.duration)]
        readers = 0
        for n in [int(x) for x in a.rtsp.split(",") if x]:
            while readers < n:
                spawn(["ffmpeg", "-loglevel", "quiet", "-rtsp_transport", "tcp", "-i", f"rtsp://127.0.0.1:{rtsp}/cam",
                       "-c", "copy", "-f", "null", "-"])
                readers += 1
            time.sleep(a.warmup)
            rows.append((f"+ {n} RTSP client(s)", n) + window(server.pid, http, a.duration))
        base_cpu, _, _ = rows[0][2:]
        print("| window | server CPU s/s | encode s/s | encoders | CPU per added output, % of the encode |")
        print("|---|---:|---:|---:|---:|")
        for name, n, cpu, enc, encoders in rows:
            per = "–" if n == 0 else f"{(cpu - base_cpu) / n / enc * 100:.1f} %"
            print(f"| {name} | {cpu:.3f} | {enc:.3f} | {encoders:.0f} | {per} |")
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
