#!/usr/bin/env python3
"""Print the results of scripts/bench-screen.sh as a markdown table.

Usage: table.py RESULTS_FILE

RESULTS_FILE has one run per line as space-separated key=value pairs (the analysis line of
pixelwire-scene-analyze plus the driver's size, fps, mode, scene and CPU figures). After every
pixelwire row that has a pixelflux row with the same size, fps, mode and scene, a ratio row
follows: pixelwire / pixelflux for rates, CPU and latency, and the PSNR difference in dB.
"""

import sys

COLUMNS = [
    ("system", "system"),
    ("size", "size"),
    ("fps_target", "fps"),
    ("mode", "mode"),
    ("scene", "scene"),
    ("fps", "fps achieved"),
    ("stripes_per_s", "stripes/s"),
    ("mb_per_s", "MB/s"),
    ("runner_cpu", "runner CPU (core·s/s)"),
    ("xvfb_cpu", "Xvfb CPU"),
    ("scene_cpu", "scene CPU"),
    ("lat_p50_ms", "lat p50 ms"),
    ("lat_p95_ms", "lat p95 ms"),
    ("psnr_mean", "PSNR-Y mean dB"),
    ("psnr_p5", "PSNR-Y p5 dB"),
]
RATIO = {"fps", "stripes_per_s", "mb_per_s", "runner_cpu", "xvfb_cpu", "lat_p50_ms", "lat_p95_ms"}
DIFF = {"psnr_mean", "psnr_p5"}


def parse(line):
    row = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
    if "bytes_per_s" in row:
        row["mb_per_s"] = f"{float(row['bytes_per_s']) / 1e6:.3f}"
    return row


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def ratio_row(pw, pf):
    out = ["**pixelwire/pixelflux**", pw["size"], pw["fps_target"], pw["mode"], pw["scene"]]
    for key, _ in COLUMNS[5:]:
        a, b = num(pw.get(key)), num(pf.get(key))
        if key in DIFF and a is not None and b is not None:
            out.append(f"{a - b:+.2f} dB")
        elif key in RATIO and a is not None and b:
            out.append(f"{a / b:.2f}x")
        else:
            out.append("–")
    return out


def main():
    rows = [parse(l) for l in open(sys.argv[1]) if l.strip()]
    print("| " + " | ".join(h for _, h in COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    key = lambda r: (r.get("size"), r.get("fps_target"), r.get("mode"), r.get("scene"))
    flux = {key(r): r for r in rows if r.get("system", "").startswith("pixelflux")}
    for r in rows:
        print("| " + " | ".join(r.get(k, "–") for k, _ in COLUMNS) + " |")
        if r.get("system", "").startswith("pixelwire") and key(r) in flux:
            print("| " + " | ".join(ratio_row(r, flux[key(r)])) + " |")


if __name__ == "__main__":
    main()
