#!/usr/bin/env python3
"""One-node load envelope and mixed soak (issue 12 part 1), driving `pixelwire-load`.

Each run starts a fresh release `pixelwire serve` on loopback ports with `load-0..N` declared as
camera streams (default_stream `load-0` for the emulated displays; the per-peer connection caps
raised, since every client is 127.0.0.1 where real devices each have an address), runs the generator against it
and reads, beside the generator's own figures, the server's: CPU seconds per second and RSS from
/proc (and the generator's CPU, and what the rest of the machine used), and counter deltas from /metrics (camera frames and
drops, stream frames, frames the H.264 encoder encoded / found unchanged / never took because a
newer one superseded them, viewer and display skips, display frames sent). Load average is
recorded beside every figure: the machine is shared.

A step is **over the limit** when any frame was lost or skipped anywhere: camera ticks the
generator could not send in time, camera frames the server dropped, frames the encoder never took
(superseded), viewer frames skipped at a backed-up socket, or a viewer short of its camera's frames
by more than 2 (window edges); or the slowest H.264 viewer got under 29 fps, or latency p95 passed
100 ms. "viewer gaps" (units more than 1.5 frame periods apart by capture time) is shown but is no
loss by itself: a camera sending late on a busy machine makes one. For displays (rate control
skips frames on a 300 kB/s link by design) the limit is a display's fps under 90 % of a single
display's or its p95 more than 100 ms above a single display's.

Modes:
  cameras   N cameras at 640x480@30, one H.264 viewer each; --ramp 4,8,12,16,20,24
  viewers   1 camera, N H.264 viewers;                   --ramp 50,100,200,400,800
  displays  1 camera, N emulated 320x240 displays on a 300 kB/s link each; --ramp 1,2,4,8,16
  soak      16 cameras, 200 viewers over 4 of them, MJPEG and snapshot clients, 8 displays, for
            --duration s (600), sampled every --interval s (10): a CSV (--csv) and a markdown table

`--perf S` records the server with `perf record` for S seconds of each step and splits its samples
by component (H.264 encode, JPEG decode, display sinks, WebSocket/tokio, kernel, ...);
`--perf-file F` only does that split for an existing recording; `soak --summarise soak.csv`
condenses a soak's CSV to one row a minute.

Frames: the 640x480 `pattern` JPEGs of `camera_frames` (quality 85) if --frames-dir names them, else
the generator's moving bars. Binaries from $CARGO_TARGET_DIR/release (else target/release):
  cargo build --release -p pixelwire -p pixelwire-devtools --bin pixelwire --bin pixelwire-load
  scripts/bench_envelope.py cameras --ramp 4,8,12,16,20 --duration 20
  scripts/bench_envelope.py soak --duration 600 --csv soak.csv
Python 3.11, stdlib only. Markdown on stdout, progress on stderr.
"""

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request

from bench_common import TICK, cpu_seconds, free_port

CONFIG_HEAD = """
[server]
http = "127.0.0.1:{http}"
display = "127.0.0.1:{display}"
default_stream = "load-0"
data_dir = "{data_dir}"
max_connections = 4000
max_connections_per_peer = 4000
[cameras]
websocket_listen = []
viewer_listen = []
http_listen = []
tcp_listen = []
[rtsp]
listen = []
[webrtc]
enabled = false
[limits]
display_connections_per_peer = 256
"""
STREAM = """[[streams]]
name = "load-{i}"
source = "camera"
"""

COUNTERS = {
    "camera_frames": "pixelwire_camera_frames_total",
    "camera_dropped": "pixelwire_camera_dropped_frames_total",
    "stream_frames": "pixelwire_stream_frames_total",
    "encoded": "pixelwire_stream_h264_encode_seconds_count",
    "unchanged": "pixelwire_stream_h264_unchanged_frames_total",
    "superseded": "pixelwire_stream_h264_superseded_frames_total",
    "encode_errors": "pixelwire_stream_h264_encode_errors_total",
    "viewer_skipped": "pixelwire_viewer_skipped_frames_total",
    "display_sent": "pixelwire_display_frames_sent_total",
    "display_skipped": "pixelwire_display_frames_skipped_total",
}


def log(*a):
    print("#", *a, file=sys.stderr, flush=True)


def binary(name):
    target = os.environ.get("CARGO_TARGET_DIR", "target")
    path = os.path.join(target, "release", name)
    if not os.path.exists(path):
        sys.exit(f"{path} missing: cargo build --release -p pixelwire -p pixelwire-devtools")
    return path


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:")) / 1024


def metrics(http):
    """Sum of each counter of COUNTERS over its labels, and the display latency histogram."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{http}/metrics", timeout=10).read().decode()
    out = {}
    for key, name in COUNTERS.items():
        out[key] = sum(float(m.group(1)) for m in re.finditer(
            r"^%s(?:\{[^}]*\})? ([0-9.e+-]+)$" % re.escape(name), text, re.M))
    buckets = {}
    for m in re.finditer(r'^pixelwire_display_latency_seconds_bucket\{[^}]*le="([^"]+)"[^}]*\} ([0-9.e+-]+)$',
                         text, re.M):
        le = float("inf") if m.group(1) == "+Inf" else float(m.group(1))
        buckets[le] = buckets.get(le, 0.0) + float(m.group(2))
    out["display_latency_buckets"] = buckets
    return out


def delta(a, b):
    d = {k: b[k] - a[k] for k in COUNTERS}
    d["display_latency_buckets"] = {le: b["display_latency_buckets"].get(le, 0) - n
                                    for le, n in a["display_latency_buckets"].items()}
    return d


def hist_p(buckets, p):
    """Upper bucket edge holding the p-th percentile of a cumulative histogram, ms."""
    items = sorted(buckets.items())
    total = items[-1][1] if items else 0
    if total <= 0:
        return None
    for le, n in items:
        if n >= total * p / 100:
            return le * 1000
    return None


class Server:
    def __init__(self, cameras, data_dir):
        self.http, self.display = free_port(), free_port()
        cfg = CONFIG_HEAD.format(http=self.http, display=self.display, data_dir=data_dir)
        cfg += "".join(STREAM.format(i=i) for i in range(max(1, cameras)))
        path = os.path.join(data_dir, "config.toml")
        with open(path, "w") as f:
            f.write(cfg)
        self.log = open(os.path.join(data_dir, "server.log"), "w")
        self.proc = subprocess.Popen([binary("pixelwire"), "serve", "--config", path],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     env={**os.environ, "RUST_LOG": "warn"})
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.http}/api/status", timeout=1)
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("server did not come up")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def busy_seconds():
    """CPU seconds the whole machine spent not idle (user, nice, system, irq, softirq, steal)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / TICK


class Sample:
    """Server and generator figures between two points in time, and what the rest of the machine
    (other engineers' builds) used meanwhile."""

    def __init__(self, srv, gen_pid):
        self.srv, self.pid, self.gen = srv, srv.proc.pid, gen_pid
        self.reset()

    def read(self):
        return (time.monotonic(), cpu_seconds(self.pid), cpu_seconds(self.gen), busy_seconds(),
                metrics(self.srv.http))

    def reset(self):
        self.t, self.cpu, self.gen_cpu, self.busy, self.m = self.read()

    def take(self):
        t, cpu, gen_cpu, busy, m = self.read()
        wall = t - self.t
        out = {
            "wall_s": wall,
            "cpu": (cpu - self.cpu) / wall,
            "gen_cpu": (gen_cpu - self.gen_cpu) / wall,
            "others": max(0.0, (busy - self.busy) - (cpu - self.cpu) - (gen_cpu - self.gen_cpu)) / wall,
            "rss_mb": rss_mb(self.pid),
            "load": loadavg(),
            **delta(self.m, m),
        }
        self.t, self.cpu, self.gen_cpu, self.busy, self.m = t, cpu, gen_cpu, busy, m
        return out


def generator_args(a, srv, **load):
    args = [binary("pixelwire-load"), "--server", f"127.0.0.1:{srv.http}",
            "--display", f"127.0.0.1:{srv.display}", "--warmup", str(a.warmup),
            "--duration", str(a.duration), "--interval", str(a.interval)]
    if a.frames_dir:
        args += ["--frames-dir", a.frames_dir]
    for k, v in load.items():
        args += [f"--{k.replace('_', '-')}", str(v)]
    return args


def run_step(a, cameras, on_interval=None, **load):
    """One fresh server and one generator run: (generator summary, server figures over its window)."""
    with tempfile.TemporaryDirectory(prefix="pw-envelope-") as data_dir:
        srv = Server(cameras, data_dir)
        try:
            gen = subprocess.Popen(generator_args(a, srv, cameras=cameras, **load),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            err = []
            for line in gen.stderr:
                err.append(line)
                if line.startswith("measuring for"):
                    break
            rss_start = rss_mb(srv.proc.pid)
            perf = start_perf(a, srv.proc.pid, data_dir)
            every, whole, summary, server = Sample(srv, gen.pid), Sample(srv, gen.pid), None, None
            for line in gen.stdout:
                if line.startswith("interval ") and on_interval:
                    on_interval(json.loads(line[len("interval "):]), every.take())
                elif line.startswith("summary "):
                    summary = json.loads(line[len("summary "):])
                    server = whole.take()
                    server["rss_start_mb"] = rss_start
            gen.wait()
            if perf:
                server["perf"] = perf_report(perf, data_dir)
            err += gen.stderr.readlines()
            if summary is None or server is None:
                raise RuntimeError("generator failed: " + "".join(err)[-2000:])
            return summary, server
        finally:
            srv.stop()


def start_perf(a, pid, data_dir):
    """`perf record` of the server for --perf seconds from the start of the window, if asked."""
    if not a.perf:
        return None
    return subprocess.Popen(["perf", "record", "-F", "499", "-g", "-p", str(pid), "-o",
                             os.path.join(data_dir, "perf.data"), "--", "sleep", str(a.perf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


PERF_GROUPS = [  # (group, symbol or object patterns), first match wins
    ("H.264 encode (OpenH264)", r"Wels|loop_get_satd|McHor|McCopy|McChroma|WelsEnc|Sad|Satd|Dct|Quant|Cavlc|DeblockLuma|DeblockChroma|PixelAvg|AnalysisVaa|MdInter|_pred_|ExpandPicture|bgd_|openh264"),
    ("JPEG decode (libjpeg-turbo)", r"decode_mcu|jsimd_|jpeg_|tjDecompress|decompress|ycc_|h2v2|process_data|turbojpeg"),
    ("display sinks (resize, RGB565, change detection, codecs, PSNR)", r"fast_image_resize|pixelwire_core|pixelwire_proto|xxhash|__sin|__cos"),
    ("WebSocket / HTTP / tokio", r"tungstenite|tokio|hyper|axum|futures|mio|pixelwire_server::(viewer|http|bus)"),
    ("kernel (TCP, scheduling)", r"^\[k\]"),
    ("libc memcpy/memset", r"mem(move|cpy|set)"),
    ("allocator", r"malloc|_int_free|cfree|unlink_chunk"),
]


def perf_report(proc, data_dir):
    """Share of the server's samples by component (self time, symbol patterns of PERF_GROUPS)."""
    proc.wait()
    text = subprocess.run(["perf", "report", "-i", os.path.join(data_dir, "perf.data"), "--stdio",
                           "--no-children", "-g", "none", "--percent-limit", "0", "--sort", "sym"],
                          capture_output=True, text=True).stdout
    return perf_groups(text)


def perf_groups(text):
    groups = {}
    for line in text.splitlines():
        m = re.match(r"\s*([0-9.]+)%\s+(\[.\]\s+.*)$", line)
        if not m:
            continue
        pct, sym = float(m.group(1)), m.group(2)
        name = next((g for g, pat in PERF_GROUPS if re.search(pat, sym)), "other")
        groups[name] = groups.get(name, 0.0) + pct
    return {k: round(v, 1) for k, v in sorted(groups.items(), key=lambda kv: -kv[1])}


def losses(g, s):
    """Frames lost or skipped anywhere, by where."""
    return {
        "camera_missed": g["camera"]["missing"],
        "camera_dropped": s["camera_dropped"],
        "superseded": s["superseded"],
        "viewer_skipped": s["viewer_skipped"],
        "viewer_short": g["h264"].get("shortfall", 0),
        "errors": sum(g[k]["errors"] for k in ("camera", "h264", "mjpeg", "snapshot")),
    }


def fmt(x, spec=".1f"):
    return "–" if x is None else format(x, spec)


def ramp(a):
    default = {"cameras": "4,8,12,16,20,24", "viewers": "50,100,200,400,800",
               "displays": "1,2,4,8,16,32"}[a.mode]
    steps = [int(x) for x in (a.ramp or default).split(",")]
    print(f"### {a.mode}: {a.duration:.0f} s per step after {a.warmup:.0f} s warm-up\n")
    print("| N | load avg | server CPU (cores) | generator / others CPU (cores) | camera frames/s | h264 units/s | "
          "slowest viewer fps | latency p50 / p95 / p99 ms | display fps / kB/s / p95 ms | lost: missed, dropped, "
          "superseded, skipped, viewer short, errors | viewer gaps | RSS MB | verdict |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    base, past = None, 0
    for n in steps:
        if a.mode == "cameras":
            g, s = run_step(a, n, viewers=n)
        elif a.mode == "viewers":
            g, s = run_step(a, 1, viewers=n)
        else:
            g, s = run_step(a, 1, displays=n)
        lost = losses(g, s)
        lat = g["h264"].get("latency_ms", {})
        d = g.get("displays")
        reasons = [k for k, v in lost.items() if v > 0]
        if a.mode != "displays":
            if (g["h264"].get("viewer_fps_min") or 0) < 29.0:
                reasons.append("viewer fps < 29")
            if (lat.get("p95") or 1e9) > 100.0:
                reasons.append("p95 > 100 ms")
        else:
            base = base or d
            if d["fps_min"] < 0.9 * base["fps_mean"]:
                reasons.append("display fps < 90% of one display's")
            if (d["latency_p95_ms_worst"] or 1e9) > (base["latency_p95_ms_worst"] or 0) + 100.0:
                reasons.append("display p95 > one display's + 100 ms")
        verdict = "over: " + ", ".join(reasons) if reasons else "ok"
        dcol = f"{d['fps_mean']:.1f} / {d['kbytes_per_s_mean']:.0f} / {fmt(d['latency_p95_ms_worst'], '.0f')}" if d else "–"
        print(f"| {n} | {s['load']:.2f} | {s['cpu']:.2f} | {s['gen_cpu']:.2f} / {s['others']:.2f} | {g['camera']['per_s']:.0f} | "
              f"{g['h264']['per_s']:.0f} | {fmt(g['h264'].get('viewer_fps_min'))} | "
              f"{fmt(lat.get('p50'))} / {fmt(lat.get('p95'))} / {fmt(lat.get('p99'))} | {dcol} | "
              f"{lost['camera_missed']:.0f}, {lost['camera_dropped']:.0f}, {lost['superseded']:.0f}, "
              f"{lost['viewer_skipped']:.0f}, {lost['viewer_short']:.0f}, {lost['errors']:.0f} | {g['h264']['missing']} | "
              f"{s['rss_mb']:.0f} | {verdict} |", flush=True)
        if "perf" in s:
            log(f"perf, share of server samples by component: {json.dumps(s['perf'])}")
        log(f"{a.mode} N={n}: {verdict}; generator {json.dumps(g)}; server "
            f"{json.dumps({k: v for k, v in s.items() if k != 'display_latency_buckets'})}")
        if reasons:
            past += 1
            if past > a.past:
                break


def soak(a):
    rows = []
    t0 = time.monotonic()

    def on_interval(g, s):
        lat = g["h264"].get("latency_ms", {})
        snap = g["snapshot"].get("latency_ms", {})
        row = {
            "t_s": round(g["t_s"]), "load": s["load"], "rss_mb": round(s["rss_mb"], 1),
            "cpu": round(s["cpu"], 2), "gen_cpu": round(s["gen_cpu"], 2), "others": round(s["others"], 2),
            "camera_fps": round(g["camera"]["per_s"], 1), "h264_units_s": round(g["h264"]["per_s"]),
            "slowest_viewer_fps": round(g["h264"].get("slowest_viewer_fps") or 0, 1),
            "lat_p50": lat.get("p50"), "lat_p95": lat.get("p95"), "lat_p99": lat.get("p99"),
            "mjpeg_parts_s": round(g["mjpeg"]["per_s"]), "snapshots": g["snapshot"]["frames"],
            "snapshot_failed": g["snapshot"].get("failed", 0), "snapshot_p95": snap.get("p95"),
            "display_sent": s["display_sent"], "display_skipped": s["display_skipped"],
            "display_p95": hist_p(s["display_latency_buckets"], 95),
            "camera_frames": s["camera_frames"], "stream_frames": s["stream_frames"],
            "encoded": s["encoded"], "unchanged": s["unchanged"], "superseded": s["superseded"],
            "encode_errors": s["encode_errors"],
            **{k: v for k, v in losses(g, s).items() if k != "superseded"},
            "viewer_gaps": g["h264"]["missing"],
        }
        rows.append(row)
        log(f"soak {row['t_s']} s ({time.monotonic() - t0:.0f} s wall): {json.dumps(row)}")

    g, s = run_step(a, 16, on_interval, viewers=200, viewed_cameras=4, mjpeg=a.mjpeg,
                    snapshots=a.snapshots, displays=8)
    if a.csv:
        with open(a.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    cols = ["t_s", "load", "others", "rss_mb", "cpu", "gen_cpu", "camera_fps", "h264_units_s", "slowest_viewer_fps", "lat_p50",
            "lat_p95", "lat_p99", "mjpeg_parts_s", "snapshots", "snapshot_p95", "display_sent",
            "display_skipped", "display_p95", "camera_frames", "stream_frames", "encoded", "superseded",
            "camera_missed", "camera_dropped", "viewer_skipped", "viewer_short", "viewer_gaps", "errors"]
    print(f"### soak: 16 cameras, 200 H.264 viewers over 4, {a.mjpeg} MJPEG, {a.snapshots} snapshot pollers, "
          f"8 displays at 300 kB/s; {a.duration:.0f} s\n")
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(fmt(r[c], ".1f") if isinstance(r[c], float) else str(r[c]) for c in cols) + " |")
    rss = [r["rss_mb"] for r in rows]
    print(f"\nRSS start {s['rss_start_mb']:.1f} MB, first sample {rss[0]:.1f}, end {rss[-1]:.1f}, max {max(rss):.1f}; "
          f"server CPU mean {s['cpu']:.2f} cores, generator {s['gen_cpu']:.2f}, others {s['others']:.2f}; load avg mean {sum(r['load'] for r in rows) / len(rows):.2f}")
    print(f"whole run: generator {json.dumps(g)}")
    print(f"whole run: server {json.dumps({k: v for k, v in s.items() if k != 'display_latency_buckets'})}")


def summarise(path, minutes=1):
    """A soak CSV condensed to one row per `minutes`: means, maxima and sums of its samples."""
    with open(path) as f:
        rows = list(csv.DictReader(f))
    span = 60 * minutes
    print("| s | load avg | others (cores) | server CPU | generator | RSS MB end / max | camera fps | slowest viewer "
          "fps | latency p50 mean / p95 max / p99 max ms | MJPEG parts/s | snapshots ok / failed / p95 max ms | "
          "display fps / p95 max ms | lost: missed, dropped, superseded, skipped, viewer short | camera = stream frames |")
    print("|" + "---|" * 14)
    end = max(float(r["t_s"]) for r in rows)
    t = 0
    while t < end:
        rs = [r for r in rows if t < float(r["t_s"]) <= t + span]
        t += span
        if not rs:
            continue
        v = lambda k: [float(r[k]) for r in rs]
        mean = lambda k: sum(v(k)) / len(rs)
        print(f"| {t - span:.0f}–{t:.0f} | {mean('load'):.1f} | {mean('others'):.2f} | {mean('cpu'):.2f} | "
              f"{mean('gen_cpu'):.2f} | {v('rss_mb')[-1]:.1f} / {max(v('rss_mb')):.1f} | {mean('camera_fps'):.0f} | "
              f"{min(v('slowest_viewer_fps')):.1f} | {mean('lat_p50'):.1f} / {max(v('lat_p95')):.1f} / "
              f"{max(v('lat_p99')):.1f} | {mean('mjpeg_parts_s'):.0f} | {sum(v('snapshots')):.0f} / "
              f"{sum(v('snapshot_failed')):.0f} / {max(v('snapshot_p95')):.0f} | "
              f"{sum(v('display_sent')) / span / 8:.1f} / {max(v('display_p95')):.0f} | "
              f"{sum(v('camera_missed')):.0f}, {sum(v('camera_dropped')):.0f}, {sum(v('superseded')):.0f}, "
              f"{sum(v('viewer_skipped')):.0f}, {sum(v('viewer_short')):.0f} | "
              f"{sum(v('camera_frames')):.0f} = {sum(v('stream_frames')):.0f} |")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["cameras", "viewers", "displays", "soak"])
    p.add_argument("--ramp", default=None)
    p.add_argument("--duration", type=float, default=None)
    p.add_argument("--warmup", type=float, default=5.0)
    p.add_argument("--interval", type=float, default=None)
    p.add_argument("--frames-dir", default=None)
    p.add_argument("--csv", default=None)
    p.add_argument("--perf-file", default=None, help="only group an existing `perf record` file's symbols")
    p.add_argument("--summarise", default=None, metavar="CSV", help="only condense a soak CSV to one row a minute")
    p.add_argument("--past", type=int, default=1, help="steps run past the first over the limit")
    p.add_argument("--perf", type=float, default=0, help="perf record the server this many seconds per step")
    p.add_argument("--mjpeg", type=int, default=8, help="soak: MJPEG readers")
    p.add_argument("--snapshots", type=int, default=8, help="soak: snapshot pollers (one a second each)")
    a = p.parse_args()
    if a.summarise:
        summarise(a.summarise)
        return
    if a.perf_file:
        text = subprocess.run(["perf", "report", "-i", a.perf_file, "--stdio", "--no-children", "-g", "none",
                               "--percent-limit", "0", "--sort", "sym"], capture_output=True, text=True).stdout
        print(json.dumps(perf_groups(text)))
        return
    if a.mode == "soak":
        a.duration = a.duration or 600.0
        a.interval = a.interval or 10.0
        soak(a)
    else:
        a.duration = a.duration or 20.0
        a.interval = a.interval or a.duration
        ramp(a)


if __name__ == "__main__":
    main()
