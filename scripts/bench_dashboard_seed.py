#!/usr/bin/env python3
"""Reference measurement: seed 000's PROMETHEUS_MONITOR screen, re-created with Pillow + numpy.

pixelwire's Prometheus dashboard replaces seed 000's (vpuhoff/Python-ESP32-TFT-Stream) Python
`PROMETHEUS_MONITOR` mode. The seed's code is not available here, so this is a RE-CREATION from
the spec, not the seed's code: it draws what `/work/shared/reference/seed-protocols.md` §A.7
describes and sends it the way §A.5 (resize, one-bounding-box diff against the whole previous
frame, 8192-byte row bands, colour correction, truncating RGB565) and §A.2 (12-byte `!HHHH I`
header per packet) describe. Titles, the disk write colour and the font (DejaVu Sans standing in
for arial.ttf) are our choices; HEAD's Floyd-Steinberg dithering (numba) is not reproduced.

Per frame, a new sample in every series (after 120 points of backfilled history), then for each
variant, interleaved: draw, `resize` to the target (LANCZOS; a copy when the size already matches),
diff, correction + RGB565, and the bytes on the wire (payload + 12 per packet). Variants:
  * seed era 320x240: draw at 640x480, LANCZOS to 320x240, gamma 2.8, threshold 5;
  * seed HEAD 320x240: draw at the target size. The spec does not say whether HEAD scales its
    pixel sizes (18/36/20 px fonts, offsets); unscaled they overflow a 106x120 cell, so we scale
    them by 0.5 (our assumption). Gamma 2.2, threshold 10;
  * seed HEAD 640x480: draw at 640x480 with the spec's sizes (both readings agree), threshold 10.
Thresholds are the controllers' minimums, where they stay (most generated frames are identical).

Setup: python3 -m venv /tmp/seedbench-venv && /tmp/seedbench-venv/bin/pip install pillow numpy
       (and `apt-get install fonts-dejavu-core` if DejaVuSans.ttf is missing)
Run:   /tmp/seedbench-venv/bin/python scripts/bench_dashboard_seed.py [--frames 300] [--save DIR]
Prints a markdown table, medians / p95 over the frames of one run.
"""

import argparse
import math
import os
import platform
import statistics
import struct
import sys
import time

import numpy as np  # needs Pillow and numpy: see "Setup" above
import PIL
from PIL import Image, ImageDraw, ImageFont

LANCZOS = Image.Resampling.LANCZOS
FONT_PATH = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
HISTORY = 120
GIB, MIB = 1024.0**3, 1024.0**2
BACKGROUND, FOREGROUND, VALUE = (10, 15, 25), (200, 220, 220), (0, 255, 255)  # §A.7 colours
GRID, BORDER = (80, 110, 140), (60, 80, 100)
DISK_WRITE = (255, 170, 0)  # color_write is not in the spec: ours
LAYOUT = [["gpu_load", "gpu_ram", "gpu_temp"], ["cpu_load", "ram_usage", "disk_usage"]]
METRICS = {  # key: (title, unit, range); ram and disk ranges are computed
    "gpu_load": ("GPU Load", "%", (0.0, 100.0)),
    "gpu_ram": ("GPU RAM", "%", (0.0, 100.0)),
    "gpu_temp": ("GPU Temp", "°C", (20.0, 100.0)),
    "cpu_load": ("CPU Load", "%", (0.0, 100.0)),
    "ram_usage": ("RAM", "GB", None),
    "disk_usage": ("Disk I/O", "", None),
}
MAX_CHUNK = 8192
HEADER = struct.Struct("!HHHHI")


class Noise:
    """xorshift64 in 0..1, the generator of crates/server/benches/common/dashboard_data.rs."""

    def __init__(self):
        self.s = 0x9E3779B97F4A7C15

    def next(self):
        s = self.s
        s ^= (s << 13) & 0xFFFFFFFFFFFFFFFF
        s ^= s >> 7
        s ^= (s << 17) & 0xFFFFFFFFFFFFFFFF
        self.s = s
        return (s >> 11) / float(1 << 53)


class Model:
    """What the seed's poller thread stores: 120-point histories, ram_total, disk range."""

    def __init__(self):
        keys = ["gpu_load", "gpu_ram", "gpu_temp", "cpu_load", "ram_usage", "disk_read", "disk_write"]
        self.hist = {k: [0.0] * HISTORY for k in keys}
        self.ram_total, self.disk_range = 15.6 * GIB, 10 * MIB  # disk: from 10 MiB/s, never shrinks

    def poll(self, tick, noise):
        t = float(tick)
        gpu = min(100.0, max(0.0, 35 + 25 * math.sin(t / 11) + 20 * noise.next()))
        read = 40 * MIB * noise.next() if tick % 23 < 4 else 0.2 * MIB * noise.next()
        write = 40 * MIB * noise.next() if tick % 37 < 3 else 2 * MIB * noise.next()
        sample = {
            "gpu_load": gpu, "gpu_ram": 42 + 3 * noise.next(), "gpu_temp": 45 + gpu / 4 + 2 * noise.next(),
            "cpu_load": min(100.0, max(0.0, 35 + 25 * math.sin(t / 17) + 15 * noise.next())),
            "ram_usage": 5.2 * GIB + 0.2 * GIB * noise.next(), "disk_read": read, "disk_write": write,
        }
        for k, v in sample.items():
            self.hist[k] = self.hist[k][1:] + [v]
        if max(read, write) > 0.9 * self.disk_range:
            self.disk_range = max(1 * MIB, 1.2 * max(read, write))


def format_bytes(n, decimals):
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.{decimals}f} {unit}"
        n /= 1024.0


class Dashboard:
    """A width x height PROMETHEUS_MONITOR canvas; `scale` multiplies every §A.7 pixel size."""

    def __init__(self, width, height, scale):
        self.size, self.s = (width, height), scale
        self.font_title, self.font_value, self.font_unit = (
            ImageFont.truetype(FONT_PATH, self.px(v)) for v in (18, 36, 20))

    def px(self, v):
        return max(1, round(v * self.s))

    def draw(self, model):
        img = Image.new("RGB", self.size, BACKGROUND)
        d = ImageDraw.Draw(img)
        cw, ch = self.size[0] // len(LAYOUT[0]), self.size[1] // len(LAYOUT)
        for r, row in enumerate(LAYOUT):
            for c, key in enumerate(row):
                self.cell(d, key, model, c * cw, r * ch, cw, ch)
        return img

    def cell(self, d, key, model, x, y, cw, ch):
        px, (title, unit, rng) = self.px, METRICS[key]
        d.rectangle([x, y, x + cw - 1, y + ch - 1], outline=BORDER, width=px(2))
        d.text((x + px(10), y + px(10)), title, font=self.font_title, fill=FOREGROUND)
        if key == "disk_usage":
            r, w = model.hist["disk_read"][-1], model.hist["disk_write"][-1]
            text = f"{format_bytes(r, 0)}/s R\n{format_bytes(w, 0)}/s W"
            lo, hi = 0.0, model.disk_range
            series = [(model.hist["disk_read"], VALUE), (model.hist["disk_write"], DISK_WRITE)]
        else:
            v = model.hist[key][-1]
            if key == "ram_usage":
                text, (lo, hi) = format_bytes(v, 1).replace(" GB", ""), (0.0, model.ram_total)
            else:
                text, (lo, hi) = (f"{v:.0f}" if unit in ("%", "°C") else f"{v:.1f}"), rng
            series = [(model.hist[key], VALUE)]
        vx, vy = x + px(10), y + px(10) + px(18) + px(10)
        d.text((vx, vy), text, font=self.font_value, fill=VALUE, anchor="la")
        box = d.textbbox((vx, vy), text, font=self.font_value, anchor="la")
        if unit:
            baseline = vy + self.font_value.getmetrics()[0]
            d.text((box[2] + px(5), baseline), unit, font=self.font_unit, fill=FOREGROUND, anchor="ls")
        # Graph: value bottom + 15 .. cell bottom - 5 (min 10 px), 3 + 4 grid lines, 2-px polyline.
        gx0, gx1 = x + px(10), x + cw - 1 - px(10)
        gy0 = box[3] + px(15)
        gy1 = max(gy0 + px(10), y + ch - 1 - px(5))
        gw, gh = gx1 - gx0, gy1 - gy0
        for i in range(1, 4):
            d.line([(gx0, gy0 + gh * i // 4), (gx1, gy0 + gh * i // 4)], fill=GRID, width=1)
        for i in range(1, 5):
            d.line([(gx0 + gw * i // 5, gy0), (gx0 + gw * i // 5, gy1)], fill=GRID, width=1)
        span = (hi - lo) or 1.0
        for hist, colour in series:
            pts = [(gx0 + gw * i / (HISTORY - 1), gy1 - gh * (min(hi, max(lo, v)) - lo) / span)
                   for i, v in enumerate(hist)]
            d.line(pts, fill=colour, width=px(2))


def bounding_box(prev, cur, threshold):
    """§A.5 diff: one box around the pixels with |dR|+|dG|+|dB| > threshold; None if none."""
    if prev is None or prev.shape != cur.shape:
        return (0, 0, cur.shape[1], cur.shape[0])
    mask = np.abs(cur.astype(np.int16) - prev.astype(np.int16)).sum(axis=2) > threshold
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return (int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1))


def packets(arr, rect, gamma, wb):
    """Row bands of <= 8192 payload bytes, each colour-corrected, RGB565 BE, with its header."""
    x, y, w, h = rect
    chunk_h = max(1, MAX_CHUNK // (w * 2))
    out = []
    for by in range(y, y + h, chunk_h):
        band = arr[by : min(by + chunk_h, y + h), x : x + w]
        f = (band.astype(np.float32) / 255.0) ** gamma  # float32 power, then float64 scale
        c = np.clip(f * (np.array(wb) * 255.0), 0, 255).astype(np.uint8).astype(np.uint16)
        payload = (((c[..., 0] & 0xF8) << 8) | ((c[..., 1] & 0xFC) << 3) | (c[..., 2] >> 3)).astype(">u2").tobytes()
        out.append(HEADER.pack(x, by, w, band.shape[0], len(payload)) + payload)
    return out


VARIANTS = [  # name, canvas, scale, target, gamma, wb, threshold
    ("seed era 320x240 (640x480 + LANCZOS)", (640, 480), 1.0, (320, 240), 2.8, (0.85, 0.95, 0.75), 5),
    ("seed HEAD 320x240 (direct, sizes x0.5)", (320, 240), 0.5, (320, 240), 2.2, (1.0, 1.0, 1.0), 10),
    ("seed HEAD 640x480 (direct)", (640, 480), 1.0, (640, 480), 2.2, (1.0, 1.0, 1.0), 10),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--save", metavar="DIR", help="write each variant's last frame as PNG")
    args = ap.parse_args()
    if not os.path.exists(FONT_PATH):
        sys.exit(f"{FONT_PATH} missing: apt-get install fonts-dejavu-core")

    model, noise, tick = Model(), Noise(), 1_000_000
    for _ in range(HISTORY):  # a full history before the first frame
        model.poll(tick, noise)
        tick += 1
    boards = [Dashboard(*v[1], v[2]) for v in VARIANTS]
    # Warm-up (glyph caches) and the previous frame the first update diffs against.
    prev = [np.asarray(b.draw(model).resize(v[3], LANCZOS)) for b, v in zip(boards, VARIANTS)]
    stats = [{k: [] for k in ("draw", "resize", "render", "send", "bytes", "packets")} for _ in VARIANTS]
    clock, last = time.perf_counter, [None] * len(VARIANTS)
    for _ in range(args.frames):
        model.poll(tick, noise)
        tick += 1
        for i, (_, _, _, target, gamma, wb, threshold) in enumerate(VARIANTS):
            t0 = clock()
            img = boards[i].draw(model)
            t1 = clock()
            img = img.resize(target, LANCZOS)  # the consumer's resize; a copy if the size matches
            t2 = clock()
            arr = np.asarray(img)
            rect = bounding_box(prev[i], arr, threshold)
            pk = packets(arr, rect, gamma, wb) if rect else []
            t3 = clock()
            prev[i] = arr  # the seed keeps the whole new frame (§A.8 bug 1)
            s = stats[i]
            s["draw"].append(t1 - t0); s["resize"].append(t2 - t1); s["render"].append(t2 - t0)
            s["send"].append(t3 - t2); s["bytes"].append(sum(map(len, pk))); s["packets"].append(len(pk))
            last[i] = img
    if args.save:
        os.makedirs(args.save, exist_ok=True)
        for i, img in enumerate(last):
            img.save(os.path.join(args.save, f"variant{i}.png"))

    def med_p95(v, scale=1.0, fmt="{:.2f}"):
        v = sorted(x * scale for x in v)
        return f"{fmt.format(statistics.median(v))} / {fmt.format(v[round((len(v) - 1) * 0.95)])}"

    print(f"Python {platform.python_version()}, Pillow {PIL.__version__}, numpy {np.__version__}; "
          f"{args.frames} frames, one poll each; median / p95; load {open('/proc/loadavg').read().split()[0]}\n")
    print("| variant | draw ms | resize ms | render ms (draw + resize) | diff + correction + RGB565 ms "
          "| bytes per update | packets per update |")
    print("|---|---|---|---|---|---|---|")
    for (name, *_), s in zip(VARIANTS, stats):
        print(f"| {name} | {med_p95(s['draw'], 1e3)} | {med_p95(s['resize'], 1e3)} | {med_p95(s['render'], 1e3)} "
              f"| {med_p95(s['send'], 1e3)} | {med_p95(s['bytes'], fmt='{:.0f}')} "
              f"| {statistics.median(s['packets']):.0f} |")


if __name__ == "__main__":
    main()
