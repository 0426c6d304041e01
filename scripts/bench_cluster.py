#!/usr/bin/env python3
"""Cluster benchmark (issue 12, part 2): two nodes + NATS against one node, same load.

A 640x480 camera at 30 fps (`camera_frames`' JPEGs, quality 85) pushes into node A
(`/ws/camera/cam`); A and B are `pixelwire serve` processes joined through a `nats-server` on
loopback ports. Per run:

* **local**: N H.264 viewers (`viewer_load`) on A, and one MJPEG client on A;
* **cross**: the same N viewers and MJPEG client on B (the stream comes over NATS: JPEG frames
  for the MJPEG client, H.264 units from A's one encoder for the viewers).

Figures per phase: the viewers' latency p50/p95 (receive time minus the frame's capture time on
A, one host so one clock), CPU seconds per second of A, B and nats-server (/proc/PID/stat), and
in the cross phase the bytes A published to NATS per second (`pixelwire_cluster_published_bytes`)
beside the camera's own bit rate and A's H.264 bit rate. Targets: cross-node p95 at most 10 ms
above local; CPU per cross-node viewer at most 1.2x a local one; NATS bytes about the camera's
bit rate plus H.264 once.

Run from the workspace root after building (binaries from $CARGO_TARGET_DIR, else ./target):
  cargo build --release -p pixelwire --examples --bin pixelwire
  scripts/bench_cluster.py [--runs 3] [--viewers 1,20] [--duration 15]

Python 3.11, stdlib only; needs nats-server. Markdown on stdout, progress on stderr.
"""

import argparse
import http.client
import os
import re
import subprocess
import sys
import tempfile
import time

from bench_common import cpu_seconds, free_port
from bench_camera import FPS, SIZE, Feeder, MjpegReader, ViewerLoad, WsCamera, log, med


def wait_port(port, what, timeout=15):
    import socket
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} never listened on {port}")


def get(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body


def metric(port, name_with_labels):
    _, body = get(port, "/metrics")
    for line in body.decode().splitlines():
        if line.startswith(name_with_labels + " "):
            return float(line.split()[-1])
    return 0.0


class Node:
    def __init__(self, binary, name, nats_port, workdir):
        self.http = free_port()
        data = os.path.join(workdir, f"data-{name}")
        os.makedirs(data, exist_ok=True)
        cfg = os.path.join(workdir, f"{name}.toml")
        with open(cfg, "w") as f:
            f.write(f'[server]\nhttp = "127.0.0.1:{self.http}"\ndisplay = "127.0.0.1:{free_port()}"\n'
                    f'default_stream = "{name}_pat"\ndata_dir = "{data}"\n'
                    f'[[streams]]\nname = "{name}_pat"\nsource = "pattern"\n'
                    '[rtsp]\nlisten = []\n'
                    '[cameras]\nwebsocket_listen = []\nviewer_listen = []\nhttp_listen = []\ntcp_listen = []\n'
                    f'[cluster]\nnats_url = "nats://127.0.0.1:{nats_port}"\nnode_name = "{name}"\n')
        self.proc = subprocess.Popen([binary, "serve", "--config", cfg], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.pid = self.proc.pid
        wait_port(self.http, f"node {name}")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def run_once(a, bins, frames, workdir, viewers):
    nats_port = free_port()
    nats = subprocess.Popen(["nats-server", "-a", "127.0.0.1", "-p", str(nats_port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(nats_port, "nats-server")
    na = Node(bins["pixelwire"], "a", nats_port, workdir)
    nb = Node(bins["pixelwire"], "b", nats_port, workdir)
    cam = WsCamera(na.http, "/ws/camera/cam")
    feeder = Feeder(frames, [cam.send])
    feeder.start()
    out = {}
    try:
        # B must know the stream before its viewers ask for it.
        deadline = time.monotonic() + 15
        while get(nb.http, "/api/streams")[1].find(b'"name":"cam"') < 0:
            if time.monotonic() > deadline:
                raise RuntimeError("node b never listed the camera")
            time.sleep(0.1)
        for phase, node in (("local", na), ("cross", nb)):
            mj = MjpegReader(node.http)
            mj.start()
            vl = ViewerLoad(bins["viewer_load"], node.http, viewers, a.warmup, a.duration)
            vl.wait_measuring()
            pids = {"a": na.pid, "b": nb.pid, "nats": nats.pid}
            c0 = {k: cpu_seconds(p) for k, p in pids.items()}
            pub0 = {k: metric(na.http, f'pixelwire_cluster_published_bytes_total{{stream="cam",kind="{k}"}}')
                    for k in ("frame", "h264")}
            cam0 = metric(na.http, 'pixelwire_camera_received_bytes_total{stream="cam"}')
            t0 = time.monotonic()
            s = vl.summary(a.duration + a.warmup + 60)
            dt = time.monotonic() - t0
            c1 = {k: cpu_seconds(p) for k, p in pids.items()}
            pub1 = {k: metric(na.http, f'pixelwire_cluster_published_bytes_total{{stream="cam",kind="{k}"}}')
                    for k in ("frame", "h264")}
            cam1 = metric(na.http, 'pixelwire_camera_received_bytes_total{stream="cam"}')
            mj.stop()
            out[phase] = {
                "p50": s["latency_p50_ms"], "p95": s["latency_p95_ms"],
                "fps_min": s.get("fps_min"),
                "cpu": {k: (c1[k] - c0[k]) / dt for k in pids},
                "nats_kbit": {k: (pub1[k] - pub0[k]) * 8 / 1000 / dt for k in pub0},
                "camera_kbit": (cam1 - cam0) * 8 / 1000 / dt,
            }
            log(f"{viewers} viewers {phase}: p95 {out[phase]['p95']:.2f} ms, cpu "
                + ", ".join(f"{k} {v:.3f}" for k, v in out[phase]["cpu"].items())
                + f", NATS kbit/s {out[phase]['nats_kbit']}, camera {out[phase]['camera_kbit']:.0f}")
            time.sleep(2)
    finally:
        feeder.stop()
        cam.close()
        na.stop()
        nb.stop()
        nats.terminate()
        nats.wait()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--viewers", default="1,20")
    ap.add_argument("--duration", type=float, default=15)
    ap.add_argument("--warmup", type=float, default=3)
    ap.add_argument("--frames", type=int, default=150)
    a = ap.parse_args()
    target = os.environ.get("CARGO_TARGET_DIR", "target")
    bins = {n: os.path.join(target, "release", *sub) for n, sub in (
        ("pixelwire", ["pixelwire"]), ("viewer_load", ["examples", "viewer_load"]),
        ("camera_frames", ["examples", "camera_frames"]))}
    for p in bins.values():
        if not os.path.exists(p):
            sys.exit(f"{p} not found: cargo build --release -p pixelwire --examples --bin pixelwire")
    workdir = tempfile.mkdtemp(prefix="pixelwire-bench-cluster-")
    frame_dir = os.path.join(workdir, "frames")
    subprocess.run([bins["camera_frames"], "--dir", frame_dir, "--frames", str(a.frames), "--size", SIZE,
                    "--fps", str(FPS), "--quality", "85"], check=True, capture_output=True, text=True)
    frames = [open(os.path.join(frame_dir, n), "rb").read() for n in sorted(os.listdir(frame_dir))]
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    print(f"640x480 camera at {FPS:.0f} fps into node a; load average at start {load}; medians of {a.runs} runs.\n")
    print("| viewers | phase | p50 ms | p95 ms | CPU a s/s | CPU b s/s | CPU nats s/s | total s/s "
          "| NATS frames kbit/s | NATS h264 kbit/s | camera kbit/s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for n in [int(x) for x in a.viewers.split(",") if x]:
        runs = [run_once(a, bins, frames, workdir, n) for _ in range(a.runs)]
        for phase in ("local", "cross"):
            g = lambda f: med([f(r[phase]) for r in runs])
            cpu = lambda k: g(lambda r: r["cpu"][k])
            total = g(lambda r: sum(r["cpu"].values()))
            print(f"| {n} | {phase} | {g(lambda r: r['p50']):.2f} | {g(lambda r: r['p95']):.2f} | {cpu('a'):.3f} "
                  f"| {cpu('b'):.3f} | {cpu('nats'):.3f} | {total:.3f} | {g(lambda r: r['nats_kbit']['frame']):.0f} "
                  f"| {g(lambda r: r['nats_kbit']['h264']):.0f} | {g(lambda r: r['camera_kbit']):.0f} |")


if __name__ == "__main__":
    main()
