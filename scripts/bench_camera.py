#!/usr/bin/env python3
"""Camera benchmark: one 640x480 camera at 30 fps, JPEG in, H.264 + MJPEG out (issue 3).

`camera_frames` writes a fixed JPEG sequence (the moving `pattern`, quality 85); the same files are
replayed at 30 fps into `pixelwire serve` (one WebSocket message each, `/ws/camera/cam`) and into
`ffmpeg -f image2pipe -framerate 30 -c:v mjpeg -i - -c:v libx264 -preset ultrafast -tune zerolatency`
(stdin), on one schedule, so both encode identical input in the same interval.

Per run (a fresh server each; --runs runs, medians reported):
* **CPU**: utime+stime of the server and of ffmpeg (/proc/PID/stat, all threads) over --duration s
  while the server has one H.264 viewer (`viewer_load`, 1 socket) and one MJPEG client, and over a
  shorter camera-only window before them (the ingest cost alone).
* **latency**: that H.264 viewer's receive time minus the frame's `capture_time_us` (the server's
  ingest time; clock offset checked by ping/pong), p50/p95 over the CPU window and the snapshot
  requests that follow, beside the H.264 encode time of the CPU window from `pixelwire_stream_h264_encode_seconds` (mean exact; p95 interpolated in the
  histogram's 5/10 ms buckets). Includes the JPEG decode, which the histogram does not.
* **snapshot**: --snapshots `GET /api/streams/cam/snapshot.jpg`, a new connection each (as curl or
  Home Assistant do), timed connect to last byte, while the camera streams to both viewers.
* **memory**: server VmRSS idle, with the camera, and with the camera + both viewers.

Then the **viewer ramp** on one more server, pinned to one CPU with `taskset` (the clients, this
script and `viewer_load` with one runtime thread, on the other CPUs): for N in --ramp, N H.264
viewers, each N --runs times; per-viewer fps, latency (and p95 minus the encode mean of the same
window), server CPU and RSS. What one core serves: the largest N at which every viewer of every run
got >= 29 fps, and the largest at which latency p95 also stayed within encode + 20 ms. RSS and
kernel TCP memory against N give the memory per viewer.

Last, `camera_pipeline` on the same JPEGs: CPU ms per frame of the server's decode and encode.

Run from the workspace root after building (binaries from $CARGO_TARGET_DIR, else ./target):
  cargo build --release -p pixelwire --examples --bin pixelwire
  scripts/bench_camera.py [--runs 3] [--duration 20] [--ramp 1,200,400,800,1000,1300]

Python 3.11, stdlib only; needs ffmpeg with libx264 and taskset. Markdown on stdout, progress on
stderr.
"""

import argparse
import base64
import hashlib
import http.client
import json
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from bench_common import TICK, cpu_seconds, free_port

PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
STREAM = "cam"
FPS = 30.0
SIZE = "640x480"

CONFIG = """
[server]
http = "127.0.0.1:{http}"
display = "127.0.0.1:{display}"
default_stream = "{stream}"
data_dir = "{data_dir}"
[cameras]
websocket_listen = []
viewer_listen = []
http_listen = []
tcp_listen = []
[[streams]]
name = "{stream}"
source = "camera"
"""

FFMPEG = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostats", "-f", "image2pipe", "-framerate", "30",
          "-c:v", "mjpeg", "-i", "-", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
          "-f", "h264", "-y"]  # + output file


def log(*a):
    print("#", *a, file=sys.stderr, flush=True)




def busy_seconds():
    """CPU seconds the whole machine spent not idle (user, nice, system, irq, softirq, steal)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / TICK


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))


def tcp_mem_kb():
    """Kernel memory of all TCP sockets (both ends of loopback connections), kB."""
    with open("/proc/net/sockstat") as f:
        parts = next(l for l in f if l.startswith("TCP:")).split()
    return int(parts[parts.index("mem") + 1]) * PAGE_KB


class CpuMeter:
    """CPU seconds per second of named processes over one interval; `others` is what the rest of
    the machine used meanwhile (other work on a shared machine)."""

    def __init__(self, pids):
        self.pids = pids
        self.t0, self.b0 = time.monotonic(), busy_seconds()
        self.c0 = {k: cpu_seconds(p) for k, p in pids.items()}

    def stop(self):
        wall = time.monotonic() - self.t0
        used = {k: cpu_seconds(p) - self.c0[k] for k, p in self.pids.items()}
        out = {k: v / wall for k, v in used.items()}
        out["others"] = max(0.0, busy_seconds() - self.b0 - sum(used.values())) / wall
        return out


def pct(values, p):
    """Nearest-rank percentile."""
    s = sorted(values)
    return s[max(1, min(len(s), -(-p * len(s) // 100))) - 1] if s else None


def med(values):
    v = [x for x in values if x is not None]
    return statistics.median(v) if v else None


# ---------------------------------------------------------------------------------------------
# Clients


class WsCamera:
    """A minimal RFC 6455 client: one JPEG per masked, unfragmented binary message."""

    def __init__(self, port, path):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise RuntimeError("camera handshake: connection closed")
            head += chunk
        accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode())
                                  .digest()).decode()
        if b" 101 " not in head.split(b"\r\n")[0] or accept.encode() not in head:
            raise RuntimeError(f"camera handshake failed: {head[:200]!r}")

    def send(self, payload):
        n = len(payload)
        if n < 126:
            header = bytes([0x82, 0x80 | n])
        elif n < 65536:
            header = bytes([0x82, 0x80 | 126]) + n.to_bytes(2, "big")
        else:
            header = bytes([0x82, 0x80 | 127]) + n.to_bytes(8, "big")
        mask = os.urandom(4)
        key = int.from_bytes((mask * (n // 4 + 1))[:n], "little")
        self.sock.sendall(header + mask + (int.from_bytes(payload, "little") ^ key).to_bytes(n, "little"))

    def close(self):
        try:
            self.sock.sendall(bytes([0x88, 0x82]) + b"\0\0\0\0" + (1000).to_bytes(2, "big"))
        except OSError:
            pass
        self.sock.close()


class Feeder(threading.Thread):
    """Calls every sender with frames[i % len] at t0 + i/FPS; ticks missed by more than a frame are
    skipped and counted."""

    def __init__(self, frames, senders):
        super().__init__(daemon=True)
        self.frames, self.senders = frames, senders
        self.stop_flag = threading.Event()
        self.sent = self.skipped = 0
        self.error = None

    def run(self):
        t0, i = time.monotonic(), 0
        try:
            while not self.stop_flag.is_set():
                delay = t0 + i / FPS - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                frame = self.frames[i % len(self.frames)]
                for send in self.senders:
                    send(frame)
                self.sent += 1
                i += 1
                late = int((time.monotonic() - t0) * FPS) - i
                if late > 0:
                    self.skipped += late
                    i += late
        except (OSError, RuntimeError, ValueError) as e:
            self.error = e

    def stop(self):
        self.stop_flag.set()
        self.join(timeout=5)


class MjpegReader(threading.Thread):
    """Reads `GET /api/streams/NAME/mjpeg` and counts parts."""

    BOUNDARY = b"--pixelwireframe"

    def __init__(self, port):
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.sendall(f"GET /api/streams/{STREAM}/mjpeg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        self.parts = 0

    def run(self):
        tail = b""
        try:
            while chunk := self.sock.recv(1 << 16):
                data = tail + chunk
                self.parts += data.count(self.BOUNDARY)
                tail = data[-(len(self.BOUNDARY) - 1):]
        except OSError:
            pass

    def stop(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.join(timeout=5)
        self.sock.close()


class ViewerLoad:
    """`viewer_load` with N H.264 viewers; `wait_measuring()` returns when its window opens."""

    def __init__(self, binary, port, viewers, warmup, duration, cpus=None):
        url = f"ws://127.0.0.1:{port}/api/streams/{STREAM}/ws?codec=h264"
        cmd = [binary, "--url", url, "--viewers", str(viewers), "--warmup", str(warmup),
               "--duration", str(duration)]
        self.proc = subprocess.Popen(pinned(cmd, cpus), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.pid = self.proc.pid

    def wait_measuring(self):
        lines = []
        while line := self.proc.stderr.readline():
            if line.startswith("measuring"):
                return
            lines.append(line)
        raise RuntimeError("viewer_load ended early:\n" + "".join(lines))

    def summary(self, timeout):
        out, err = self.proc.communicate(timeout=timeout)
        line = next((l for l in out.splitlines() if l.startswith("summary ")), None)
        if line is None:
            raise RuntimeError(f"viewer_load failed (exit {self.proc.returncode}):\n{out}\n{err}")
        return json.loads(line[len("summary "):])

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


def pinned(cmd, cpus):
    """`cmd` under `taskset -c cpus` (taskset execs it, so the pid stays the same)."""
    return ["taskset", "-c", cpus, *cmd] if cpus else list(cmd)


# ---------------------------------------------------------------------------------------------
# Server


class Server:
    def __init__(self, binary, workdir, cpus=None):
        self.http = free_port()
        self.data_dir = tempfile.mkdtemp(prefix="data-", dir=workdir)
        config = os.path.join(self.data_dir, "bench.toml")
        with open(config, "w") as f:
            f.write(CONFIG.format(http=self.http, display=free_port(), data_dir=self.data_dir, stream=STREAM))
        self.log = open(os.path.join(self.data_dir, "server.log"), "w")
        self.proc = subprocess.Popen(pinned([binary, "serve", "--config", config], cpus),
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.pid = self.proc.pid
        deadline = time.monotonic() + 15
        while self.get("/api/status")[0] != 200:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"server did not start; see {self.log.name}")
            time.sleep(0.1)

    def get(self, path):
        try:
            c = http.client.HTTPConnection("127.0.0.1", self.http, timeout=10)
            c.request("GET", path)
            r = c.getresponse()
            out = (r.status, r.read())
            c.close()
            return out
        except OSError:
            return (None, b"")

    def encode_histogram(self):
        """({le: cumulative count}, sum s, count) of the stream's H.264 encode histogram."""
        buckets, total, count = {}, 0.0, 0
        for line in self.get("/metrics")[1].decode().splitlines():
            if not line.startswith("pixelwire_stream_h264_encode_seconds") or f'stream="{STREAM}"' not in line:
                continue
            name, value = line.rsplit(" ", 1)
            if "_bucket" in name:
                le = re.search(r'le="([^"]+)"', name).group(1)
                buckets[float(le)] = float(value)  # float("+Inf") is inf
            elif "_sum" in name:
                total = float(value)
            elif "_count" in name:
                count = int(float(value))
        return buckets, total, count

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def encode_stats(a, b):
    """Encode time (ms) between two histogram scrapes: frames, mean, p95 (linear within a bucket)."""
    (ba, sa, ca), (bb, sb, cb) = a, b
    n = cb - ca
    if n <= 0:
        return {"frames": 0, "mean_ms": None, "p95_ms": None}
    prev_le, prev_c, p95 = 0.0, 0.0, None
    for le in sorted(bb):
        c = bb[le] - ba.get(le, 0.0)
        if c >= 0.95 * n:
            p95 = prev_le if le == float("inf") else prev_le + (le - prev_le) * (0.95 * n - prev_c) / (c - prev_c)
            break
        prev_le, prev_c = le, c
    return {"frames": n, "mean_ms": (sb - sa) / n * 1000, "p95_ms": p95 * 1000}


# ---------------------------------------------------------------------------------------------
# Phases


def snapshot_latencies(port, n):
    """n sequential GET snapshot.jpg on a new connection each; ms from connect to the last byte."""
    out = []
    for _ in range(n):
        t = time.perf_counter()
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", f"/api/streams/{STREAM}/snapshot.jpg")
        r = c.getresponse()
        body = r.read()
        out.append((time.perf_counter() - t) * 1000)
        c.close()
        if r.status != 200 or body[:2] != b"\xff\xd8":
            raise RuntimeError(f"snapshot failed: {r.status}")
    return out


def cpu_run(a, frames, bins, workdir, index):
    """One fresh server: idle, camera only, then camera + MJPEG + H.264 with ffmpeg beside it."""
    r = {}
    srv = Server(bins["pixelwire"], workdir)
    cam = ff = feed = mj = vl = None
    ff_out = os.path.join(workdir, f"ffmpeg-{index}.h264")
    try:
        time.sleep(1.0)
        r["rss_idle_kb"] = rss_kb(srv.pid)
        cam = WsCamera(srv.http, f"/ws/camera/{STREAM}")
        with open(ff_out + ".log", "w") as ff_log:
            ff = subprocess.Popen([*FFMPEG, ff_out], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                  stderr=ff_log)

        def to_ffmpeg(frame):
            ff.stdin.write(frame)
            ff.stdin.flush()

        time.sleep(1.0)  # ffmpeg start-up
        feed = Feeder(frames, [cam.send, to_ffmpeg])
        feed.start()
        # ffmpeg probes the first ~5 MB (6 s) before it encodes, then catches up: the headline
        # window opens at least --warmup + --phase + --warmup (default 11 s) after the feed.
        time.sleep(a.warmup)
        m = CpuMeter({"server": srv.pid})
        time.sleep(a.phase)
        c = m.stop()
        r["rss_camera_kb"] = rss_kb(srv.pid)
        r["camera_cpu"] = c["server"]

        # Headline: camera + 1 MJPEG + 1 H.264 viewer. viewer_load runs on through the snapshots.
        mj = MjpegReader(srv.http)
        mj.start()
        snap_s = a.snapshots * 0.01 + 2
        vl = ViewerLoad(bins["viewer_load"], srv.http, 1, a.warmup, a.duration + snap_s)
        vl.wait_measuring()
        h0, parts0, skipped0 = srv.encode_histogram(), mj.parts, feed.skipped
        m = CpuMeter({"server": srv.pid, "ffmpeg": ff.pid, "viewer_load": vl.pid, "driver": os.getpid()})
        time.sleep(a.duration)
        c = m.stop()
        r["encode"] = encode_stats(h0, srv.encode_histogram())
        r["mjpeg_fps"] = (mj.parts - parts0) / a.duration
        r["skipped_in_window"] = feed.skipped - skipped0
        r["rss_viewers_kb"] = rss_kb(srv.pid)
        r.update(cpu=c["server"], ffmpeg_cpu=c["ffmpeg"], viewer_load_cpu=c["viewer_load"],
                 driver_cpu=c["driver"], others_cpu=c["others"])

        snaps = snapshot_latencies(srv.http, a.snapshots)
        r["snapshot"] = {"n": len(snaps), "p50_ms": pct(snaps, 50), "p99_ms": pct(snaps, 99), "max_ms": max(snaps)}
        r["viewer"] = vl.summary(timeout=snap_s + 60)
        if feed.error:
            raise RuntimeError(f"feeder failed: {feed.error}")
        r["feeder_skipped"] = feed.skipped
        return r
    finally:
        if vl is not None:
            vl.kill()
        if feed is not None:
            feed.stop()
        if mj is not None:
            mj.stop()
        if cam is not None:
            cam.close()
        if ff is not None:
            try:
                ff.stdin.close()
            except OSError:
                pass
            try:
                ff.wait(timeout=10)
            except subprocess.TimeoutExpired:
                ff.kill()
                ff.wait()
            if feed is not None and os.path.exists(ff_out):
                r.update(ffmpeg_bytes=os.path.getsize(ff_out), ffmpeg_seconds=feed.sent / FPS)
        srv.stop()


def ramp(a, frames, bins, workdir):
    """One server pinned to one CPU, one camera; N H.264 viewers for each N in --ramp."""
    srv = Server(bins["pixelwire"], workdir, a.server_cpu)
    if a.client_cpus:
        os.sched_setaffinity(0, {int(c) for c in a.client_cpus.split(",")})
    cam = feed = None
    res = {"points": {}}
    try:
        time.sleep(1.0)
        cam = WsCamera(srv.http, f"/ws/camera/{STREAM}")
        feed = Feeder(frames, [cam.send])
        feed.start()
        time.sleep(a.warmup)
        res["rss_camera_kb"] = rss_kb(srv.pid)
        for n in a.ramp:
            samples = []
            for run in range(a.runs):
                vl = ViewerLoad(bins["viewer_load"], srv.http, n, a.warmup, a.ramp_duration, a.client_cpus)
                try:
                    vl.wait_measuring()
                    h0 = srv.encode_histogram()
                    m = CpuMeter({"server": srv.pid, "viewer_load": vl.pid})
                    time.sleep(a.ramp_duration * 0.9)
                    c = m.stop()
                    enc = encode_stats(h0, srv.encode_histogram())
                    rss, tcp = rss_kb(srv.pid), tcp_mem_kb()
                    s = vl.summary(timeout=a.ramp_duration + 120)
                finally:
                    vl.kill()
                s.update(server_cpu=c["server"], viewer_load_cpu=c["viewer_load"], others_cpu=c["others"],
                         rss_kb=rss, tcp_mem_kb=tcp, encode_mean_ms=enc["mean_ms"],
                         beyond_encode_ms=s["latency_p95_ms"] - enc["mean_ms"])
                samples.append(s)
                log(f"ramp n={n} run={run}: server {c['server']:.3f} s/s, viewer_load {c['viewer_load']:.3f}, "
                    f"others {c['others']:.2f}; {s['connected']} connected, fps min {s['fps_min'] or 0:.1f}, "
                    f"{s['viewers_below_min_fps']} below 29; latency p50 {s['latency_p50_ms'] or 0:.1f} "
                    f"p95 {s['latency_p95_ms'] or 0:.1f} ms; rss {rss / 1024:.1f} MiB")
                time.sleep(1.5)
            res["points"][n] = samples
            if all(s["viewers_below_min_fps"] > 0 or s["connected"] < n for s in samples):
                log(f"no run kept every viewer at 29 fps at N={n}: ramp stops")
                break
        if feed.error:
            raise RuntimeError(f"feeder failed: {feed.error}")
        res["feeder_skipped"] = feed.skipped
        return res
    finally:
        if feed is not None:
            feed.stop()
        if cam is not None:
            cam.close()
        srv.stop()
        os.sched_setaffinity(0, set(range(os.cpu_count())))


# ---------------------------------------------------------------------------------------------
# Report


def fmt(v, f="{:.3f}"):
    return "n/a" if v is None else f.format(v)


def report(a, frames, runs, rr, stages):
    print(f"\n{SIZE} @ {FPS:.0f} fps camera: {len(frames)} distinct JPEGs (quality 85, mean "
          f"{statistics.fmean(map(len, frames)) / 1000:.1f} kB) looped; {os.cpu_count()} CPUs; "
          f"load average at the start {a.loadavg}.")
    if runs:
        g = lambda k: med([r[k] for r in runs])
        v = lambda k: med([r["viewer"][k] for r in runs])
        e = lambda k: med([r["encode"][k] for r in runs])
        ratio = med([r["cpu"] / r["ffmpeg_cpu"] for r in runs])
        ff_kbit = med([r["ffmpeg_bytes"] * 8 / 1000 / r["ffmpeg_seconds"] for r in runs if r.get("ffmpeg_seconds")])
        print(f"\n### CPU seconds per second, same interval (median of {len(runs)} runs)\n")
        print("| window | pixelwire | ffmpeg | pixelwire / ffmpeg | other processes |")
        print("|---|---:|---:|---:|---:|")
        print(f"| camera only (ingest, no viewers), {a.phase:.0f} s | {fmt(g('camera_cpu'))} | (probing) | | |")
        print(f"| camera + 1 MJPEG + 1 H.264 viewer, {a.duration:.0f} s | {fmt(g('cpu'))} | {fmt(g('ffmpeg_cpu'))} | "
              f"**{fmt(ratio, '{:.2f}x')}** | {fmt(g('others_cpu'), '{:.2f}')} |")
        print("\nPer run (pixelwire / ffmpeg): " + ", ".join(f"{r['cpu']:.3f} / {r['ffmpeg_cpu']:.3f}" for r in runs)
              + f". viewer_load {fmt(g('viewer_load_cpu'))} s/s, this script {fmt(g('driver_cpu'))} s/s. "
              f"MJPEG client {fmt(g('mjpeg_fps'), '{:.1f}')} fps, H.264 viewer {fmt(v('fps_p50'), '{:.1f}')} fps at "
              f"{fmt(v('kbytes_per_s_p50') * 8, '{:.0f}')} kbit/s; ffmpeg wrote {fmt(ff_kbit, '{:.0f}')} kbit/s. "
              f"Feeder ticks skipped in the CPU windows: {sum(r['skipped_in_window'] for r in runs)}.")

        print(f"\n### Latency, ingest to H.264 viewer (median of {len(runs)} runs)\n")
        print("| p50 ms | p95 ms | p99 ms | encode mean ms | encode p95 ms | p95 − encode p95 | p95 − encode mean |")
        print("|---:|---:|---:|---:|---:|---:|---:|")
        d95 = med([r["viewer"]["latency_p95_ms"] - r["encode"]["p95_ms"] for r in runs if r["encode"]["p95_ms"]])
        d95m = med([r["viewer"]["latency_p95_ms"] - r["encode"]["mean_ms"] for r in runs if r["encode"]["mean_ms"]])
        print(f"| {fmt(v('latency_p50_ms'), '{:.2f}')} | {fmt(v('latency_p95_ms'), '{:.2f}')} | "
              f"{fmt(v('latency_p99_ms'), '{:.2f}')} | {fmt(e('mean_ms'), '{:.2f}')} | {fmt(e('p95_ms'), '{:.2f}')} | "
              f"{fmt(d95, '{:.2f}')} | {fmt(d95m, '{:.2f}')} |")
        print("\nPer run p50/p95 ms: " + ", ".join(
            f"{r['viewer']['latency_p50_ms']:.2f}/{r['viewer']['latency_p95_ms']:.2f}" for r in runs))

        s = lambda k: med([r["snapshot"][k] for r in runs])
        print(f"\n### Snapshot, new connection per request, while streaming (median of {len(runs)} runs)\n")
        print(f"{runs[0]['snapshot']['n']} requests per run: p50 {fmt(s('p50_ms'))} ms, p99 {fmt(s('p99_ms'))} ms, "
              f"max {fmt(s('max_ms'))} ms.")

        print("\n### Memory (server VmRSS, medians)\n")
        print(f"idle {g('rss_idle_kb') / 1024:.1f} MiB; camera only {g('rss_camera_kb') / 1024:.1f} MiB "
              f"(+{(g('rss_camera_kb') - g('rss_idle_kb')) / 1024:.1f}); camera + encoder + 1 H.264 + 1 MJPEG viewer "
              f"{g('rss_viewers_kb') / 1024:.1f} MiB (+{(g('rss_viewers_kb') - g('rss_idle_kb')) / 1024:.1f} over idle).")

    if rr is not None:
        pts = rr["points"]
        print(f"\n### H.264 viewers on one stream, server on CPU {a.server_cpu} only "
              f"(median of {a.runs} runs per N)\n")
        print("| viewers | server CPU s/s | viewer_load CPU s/s | other processes s/s | fps min | viewers < 29 fps "
              "(worst run) | latency p50 ms | latency p95 ms | p95 − encode mean ms | server RSS MiB "
              "| kernel TCP MiB |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        served, served_lat = [], []
        for n, ss in pts.items():
            m = lambda k: med([x[k] for x in ss])
            worst = max(x["viewers_below_min_fps"] + n - x["connected"] for x in ss)
            if worst == 0:
                served.append(n)
                if m("beyond_encode_ms") <= 20:
                    served_lat.append(n)
            print(f"| {n} | {fmt(m('server_cpu'))} | {fmt(m('viewer_load_cpu'))} | {fmt(m('others_cpu'), '{:.2f}')} | "
                  f"{fmt(m('fps_min'), '{:.1f}')} | {worst} | {fmt(m('latency_p50_ms'), '{:.1f}')} | "
                  f"{fmt(m('latency_p95_ms'), '{:.1f}')} | {fmt(m('beyond_encode_ms'), '{:.1f}')} | "
                  f"{m('rss_kb') / 1024:.1f} | {m('tcp_mem_kb') / 1024:.1f} |")
        print(f"\nLargest N with every viewer >= 29 fps in every run: {max(served) if served else 'none'}; "
              f"with latency p95 also <= encode mean + 20 ms: {max(served_lat) if served_lat else 'none'}.")
        ns = list(pts)
        # A saturated core batches more per wake-up: fit only the points below 0.95 s/s.
        xs = [n for n in ns if med([x["server_cpu"] for x in pts[n]]) < 0.95]
        if len(xs) >= 2:
            ys = [med([x["server_cpu"] for x in pts[n]]) for n in xs]
            mx, my = statistics.fmean(xs), statistics.fmean(ys)
            slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
            print(f"Fit over N = {xs}: server CPU ≈ {my - slope * mx:.3f} + {slope * 1000:.3f} ms/s per viewer "
                  f"→ 1.0 s/s at N ≈ {fmt((1 - my + slope * mx) / slope if slope > 0 else None, '{:.0f}')}.")
        lo, hi = ns[0], (max(served) if served else ns[-1])
        if hi > lo:
            d = lambda k: (med([x[k] for x in pts[hi]]) - med([x[k] for x in pts[lo]])) / (hi - lo)
            print(f"Per viewer from N={lo} to N={hi}: RSS {d('rss_kb'):.0f} kB (kernel TCP memory, both ends of "
                  "the loopback connections, is in the table: near zero while viewers keep up).")

    if stages:
        print("\n### Per-frame stage costs (`camera_pipeline`, one thread)\n")
        print(stages.strip())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", type=float, default=20, help="seconds of the headline CPU/latency window")
    ap.add_argument("--phase", type=float, default=5, help="seconds of the camera-only window")
    ap.add_argument("--warmup", type=float, default=3)
    ap.add_argument("--snapshots", type=int, default=300)
    ap.add_argument("--ramp", default="1,200,400,800,1000,1300")
    ap.add_argument("--ramp-duration", type=float, default=10)
    ap.add_argument("--server-cpu", default=str(os.cpu_count() - 1), help="ramp: the server's CPU (taskset)")
    ap.add_argument("--client-cpus", default=",".join(map(str, range(os.cpu_count() - 1))),
                    help="ramp: CPUs of this script and viewer_load")
    ap.add_argument("--frames", type=int, default=300, help="distinct JPEGs (looped)")
    ap.add_argument("--skip-cpu", action="store_true")
    ap.add_argument("--skip-ramp", action="store_true")
    ap.add_argument("--json", help="also write every sample here")
    a = ap.parse_args()
    a.ramp = [int(x) for x in a.ramp.split(",") if x]
    with open("/proc/loadavg") as f:
        a.loadavg = " ".join(f.read().split()[:3])
    target = os.environ.get("CARGO_TARGET_DIR", "target")
    bins = {n: os.path.join(target, "release", *sub) for n, sub in (
        ("pixelwire", ["pixelwire"]), ("viewer_load", ["examples", "viewer_load"]),
        ("camera_frames", ["examples", "camera_frames"]), ("camera_pipeline", ["examples", "camera_pipeline"]))}
    for p in bins.values():
        if not os.path.exists(p):
            sys.exit(f"{p} not found: cargo build --release -p pixelwire --examples --bin pixelwire")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 65536)), hard))

    workdir = tempfile.mkdtemp(prefix="pixelwire-bench-camera-")
    frame_dir = os.path.join(workdir, "frames")
    out = subprocess.run([bins["camera_frames"], "--dir", frame_dir, "--frames", str(a.frames), "--size", SIZE,
                          "--fps", str(FPS), "--quality", "85"], check=True, capture_output=True, text=True)
    log(out.stdout.strip(), f"(workdir {workdir}; load average {a.loadavg})")
    frames = [open(os.path.join(frame_dir, n), "rb").read() for n in sorted(os.listdir(frame_dir))]

    runs, rr = [], None
    if not a.skip_cpu:
        for i in range(a.runs):
            r = cpu_run(a, frames, bins, workdir, i)
            log(f"cpu run {i}: pixelwire {r['cpu']:.3f} vs ffmpeg {r['ffmpeg_cpu']:.3f} s/s (others "
                f"{r['others_cpu']:.2f}); latency p50 {r['viewer']['latency_p50_ms']:.2f} p95 "
                f"{r['viewer']['latency_p95_ms']:.2f} ms, encode mean {fmt(r['encode']['mean_ms'], '{:.2f}')} ms; "
                f"snapshot p99 {r['snapshot']['p99_ms']:.2f} ms")
            runs.append(r)
    if not a.skip_ramp:
        rr = ramp(a, frames, bins, workdir)
    stages = subprocess.run([bins["camera_pipeline"], "--dir", frame_dir, "--passes", "3"],
                            check=True, capture_output=True, text=True).stdout
    report(a, frames, runs, rr, stages)
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"runs": runs, "ramp": rr}, fh, indent=1)


if __name__ == "__main__":
    main()
