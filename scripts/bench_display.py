#!/usr/bin/env python3
"""End-to-end display benchmark: `pixelwire serve` plus one `pixelwire display-emu` at a time.

For each built-in screen (bios at 1 fps, cpu redrawn at 30 fps, pattern at 30 fps) and each link
(unthrottled; 300 kB/s with 10 ms RTT), one emulated 320x240 display runs for DURATION seconds after
a warm-up. Reported: delivered fps, bytes per frame, capture-to-display latency p50/p95 (measured by
the emulator against the server clock via PING/PONG), the delivered quality (mean PSNR of the panel
against its source before RGB565 over the frames sent in the measured window, from the server's
`pixelwire_display_psnr_db` histogram: the emulator has no source frame to compare with), and server CPU seconds per second while that
display was the only one (read from /proc/<pid>/stat; this includes rendering the screen, since a
screen renders only while watched) next to the rendering time alone (from /metrics).

Usage: scripts/bench_display.py [--duration 20] [--warmup 3] [--runs 3] [--binary target/release/pixelwire]
                                [--screens pattern] [--links slow] [--prefer detail]
                                [--cpu esp32c3] [--codecs raw,rle,palette_rle]
`--cpu esp32c3` makes the emulated device take the ESP32-C3 cost model's decode time (and the
server weigh it); `--codecs` sets what it declares (default: every codec, DCT included).
`--prefer` sets every display's rate-control policy (`prefer` in docs/config.md; default motion,
the server's default); a row's screen then reads e.g. `pattern (detail)`.
Prints a markdown table (medians over runs) for BENCHMARKS.md.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from bench_common import cpu_seconds, free_port

CONFIG = """
[server]
http = "127.0.0.1:{http}"
display = "127.0.0.1:{display}"
data_dir = "{data_dir}"
[cameras]
websocket_listen = []
viewer_listen = []
http_listen = []
tcp_listen = []
[[streams]]
name = "bios"
source = "bios"
fps = 1
[[streams]]
name = "cpu"
source = "cpu"
fps = 30
[[streams]]
name = "pattern"
source = "pattern"
fps = 30
[[displays]]
id = "bench-bios"
stream = "bios"
prefer = "{prefer}"
[[displays]]
id = "bench-cpu"
stream = "cpu"
prefer = "{prefer}"
[[displays]]
id = "bench-pattern"
stream = "pattern"
prefer = "{prefer}"
"""

LINKS = [("unthrottled", []), ("300 kB/s, 10 ms RTT", ["--link-kbps", "300", "--rtt-ms", "10"])]
SCREENS = ["bios", "cpu", "pattern"]




def render_seconds(http, stream):
    text = urllib.request.urlopen(f"http://127.0.0.1:{http}/metrics", timeout=5).read().decode()
    m = re.search(r'pixelwire_stream_render_seconds_sum\{stream="%s"\} ([0-9.e+-]+)' % stream, text)
    return float(m.group(1)) if m else 0.0


def psnr_sum_count(http, display_id):
    """(sum, count) of the display's PSNR histogram, (0, 0) before it has one."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{http}/metrics", timeout=5).read().decode()
    out = []
    for part in ("sum", "count"):
        m = re.search(r'pixelwire_display_psnr_db_%s\{display="%s"\} ([0-9.e+-]+)' % (part, display_id), text)
        out.append(float(m.group(1)) if m else 0.0)
    return tuple(out)


def run_one(binary, http, display, screen, link_args, duration, warmup, device_args):
    args = [binary, "display-emu", "--connect", f"127.0.0.1:{display}", "--size", "320x240",
            "--id", f"bench-{screen}", "--duration", str(duration + warmup), "--warmup", str(warmup),
            "--report-interval", "1"] + link_args + device_args
    emu = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return emu


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=20)
    ap.add_argument("--warmup", type=float, default=3)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--binary", default="target/release/pixelwire")
    ap.add_argument("--screens", default=",".join(SCREENS), help="comma-separated subset of " + ",".join(SCREENS))
    ap.add_argument("--links", default="all", choices=["all", "unthrottled", "slow"],
                    help="slow: 300 kB/s with 10 ms RTT only")
    ap.add_argument("--prefer", default="motion", choices=["motion", "detail"],
                    help="rate-control policy of every display")
    ap.add_argument("--cpu", default="", choices=["", "esp32c3"],
                    help="emulate the device CPU (display-emu --cpu): decode time from the ESP32-C3 cost model")
    ap.add_argument("--codecs", default="", help="codecs the emulated device declares (display-emu --codecs)")
    a = ap.parse_args()
    device_args = (["--cpu", a.cpu] if a.cpu else []) + (["--codecs", a.codecs] if a.codecs else [])
    screens = [x for x in a.screens.split(",") if x in SCREENS]
    links = LINKS if a.links == "all" else [LINKS[0]] if a.links == "unthrottled" else [LINKS[1]]
    if not os.path.exists(a.binary):
        sys.exit(f"{a.binary} not found: run `cargo build --release -p pixelwire` first")
    http, display = free_port(), free_port()
    cfg = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
    cfg.write(CONFIG.format(http=http, display=display, prefer=a.prefer, data_dir=tempfile.mkdtemp(prefix="pixelwire-bench-")))
    cfg.close()
    server = subprocess.Popen([a.binary, "serve", "--config", cfg.name],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        rows = []
        for link_name, link_args in links:
            for screen in screens:
                samples = []
                for _ in range(a.runs):
                    emu = run_one(a.binary, http, display, screen, link_args, a.duration, a.warmup, device_args)
                    time.sleep(a.warmup)
                    cpu0, r0, t0 = cpu_seconds(server.pid), render_seconds(http, screen), time.time()
                    q0 = psnr_sum_count(http, f"bench-{screen}")
                    out, err = emu.communicate(timeout=a.duration + a.warmup + 30)
                    cpu1, r1, t1 = cpu_seconds(server.pid), render_seconds(http, screen), time.time()
                    q1 = psnr_sum_count(http, f"bench-{screen}")
                    line = next((l for l in out.splitlines() if l.startswith("summary ")), None)
                    if line is None:
                        sys.exit(f"display-emu failed:\n{out}\n{err}")
                    s = json.loads(line[len("summary "):])
                    wall = t1 - t0
                    s["cpu_per_s"] = (cpu1 - cpu0) / wall
                    s["render_per_s"] = (r1 - r0) / wall
                    frames = q1[1] - q0[1]
                    s["psnr_db"] = (q1[0] - q0[0]) / frames if frames > 0 else None
                    samples.append(s)
                    time.sleep(1.0)
                med = lambda k: statistics.median([x[k] for x in samples if x[k] is not None]) \
                    if any(x[k] is not None for x in samples) else None
                tags = ([a.prefer] if a.prefer != "motion" else []) + ([a.cpu] if a.cpu else []) \
                    + ([a.codecs] if a.codecs else [])
                label = f"{screen} ({', '.join(tags)})" if tags else screen
                rows.append((link_name, label, med("fps"), med("bytes_per_frame"), med("bytes_per_s"),
                             med("latency_p50_ms"), med("latency_p95_ms"), med("psnr_db"), med("cpu_per_s"),
                             med("render_per_s")))
                print(f"# {link_name} {screen}: " + json.dumps(samples[-1]), file=sys.stderr)
        print("| link | screen | delivered fps | bytes/frame | kB/s | latency p50 ms | latency p95 ms "
              "| mean PSNR dB | server CPU %/display | of which rendering % |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        fmt = lambda v, f: "n/a" if v is None else f.format(v)
        for link_name, screen, fps, bpf, bps, p50, p95, psnr, cpu, rend in rows:
            print(f"| {link_name} | {screen} | {fmt(fps, '{:.1f}')} | {fmt(bpf, '{:.0f}')} | "
                  f"{fmt(bps / 1000 if bps is not None else None, '{:.1f}')} | {fmt(p50, '{:.1f}')} | "
                  f"{fmt(p95, '{:.1f}')} | {fmt(psnr, '{:.1f}')} | {fmt(cpu * 100 if cpu is not None else None, '{:.2f}')} | "
                  f"{fmt(rend * 100 if rend is not None else None, '{:.2f}')} |")
    finally:
        server.terminate()
        server.wait(timeout=10)
        os.unlink(cfg.name)


if __name__ == "__main__":
    main()
