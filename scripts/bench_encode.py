#!/usr/bin/env python3
"""Issue 17's encode cost: pixelwire's camera path against ffmpeg/libx264 on the same JPEGs.

Two 300-frame 640x480 clips from `camera_frames` (quality 85): the moving `pattern` (full motion)
and `--scene camera` (a fixed camera: still scene, sensor noise of sigma ~3 in every frame, an
object crossing during the middle third). On each, side by side, --runs times, alternating:

* pixelwire: `camera_encode` (the shared encoder's path: still detection from the JPEG's DC
  coefficients, JPEG -> I420 straight from its planes, OpenH264 at the server's settings), CPU
  time of the process;
* ffmpeg: `ffmpeg -f image2pipe -framerate 30 -c:v mjpeg -i - -c:v libx264 -preset ultrafast
  -tune zerolatency -f h264 out.h264` (the issue's command plus input rate and output), CPU time
  (user+sys) of the child, fed the same files from memory.

Both outputs are scored against the decoded source frames: pixelwire's in `camera_encode` (a
skipped frame scores what the viewer still shows), ffmpeg's with its own psnr filter; both are
the PSNR of the mean squared error over Y, U and V and the whole clip. Markdown on stdout.

Run from the workspace root:
  cargo build --release -p pixelwire --example camera_frames --example camera_encode
  scripts/bench_encode.py [--runs 5]
"""

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile

FFMPEG = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "image2pipe", "-framerate", "30",
          "-c:v", "mjpeg", "-i", "-", "-c:v", "libx264", "-preset", "ultrafast", "-tune",
          "zerolatency", "-f", "h264"]


def bins():
    root = os.environ.get("CARGO_TARGET_DIR", "target")
    return os.path.join(root, "release", "examples")


def child_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def ffmpeg_run(frames, out):
    t0 = child_cpu()
    p = subprocess.Popen(FFMPEG + ["-y", out], stdin=subprocess.PIPE)
    for f in frames:
        p.stdin.write(f)
    p.stdin.close()
    if p.wait() != 0:
        sys.exit("ffmpeg failed")
    return (child_cpu() - t0) * 1000 / len(frames)


def ffmpeg_psnr(out, clip):
    r = subprocess.run(["ffmpeg", "-hide_banner", "-framerate", "30", "-i", out, "-framerate", "30", "-i",
                        os.path.join(clip, "frame_%05d.jpg"), "-lavfi",
                        # Frame n against frame n: the raw H.264 has another time base.
                        "[0:v]settb=1/30,setpts=N[a];[1:v]settb=1/30,setpts=N[b];[a][b]psnr", "-f",
                        "null", "-"], capture_output=True, text=True)
    m = re.search(r"average:([0-9.]+|inf)", r.stderr)
    if not m:
        sys.exit("no psnr in ffmpeg's output:\n" + r.stderr[-2000:])
    return float(m.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    b = bins()
    work = tempfile.mkdtemp(prefix="pw-bench-encode-")
    rows = []
    for scene in ["camera", "pattern"]:
        clip = os.path.join(work, scene)
        subprocess.run([os.path.join(b, "camera_frames"), "--dir", clip, "--scene", scene],
                       check=True, stdout=subprocess.DEVNULL)
        names = sorted(n for n in os.listdir(clip) if n.endswith(".jpg"))
        frames = [open(os.path.join(clip, n), "rb").read() for n in names]
        out = os.path.join(work, scene + ".h264")
        pw, ff = [], []
        for i in range(a.runs):
            print(f"{scene}: run {i + 1}/{a.runs}", file=sys.stderr)
            t0 = child_cpu()
            res = subprocess.run([os.path.join(b, "camera_encode"), "--dir", clip, "--passes", "1"],
                                 check=True, capture_output=True, text=True)
            pw_cpu = (child_cpu() - t0) * 1000 / len(frames)
            j = json.loads(res.stdout.strip().splitlines()[-1])
            j["process_ms"] = pw_cpu
            pw.append(j)
            ff.append(ffmpeg_run(frames, out))
        psnr_ff = ffmpeg_psnr(out, clip)
        kbps_ff = os.path.getsize(out) * 8 / 1000 / (len(frames) / 30)
        pw_ms = statistics.median(j["cpu_ms_per_frame"] for j in pw)
        ff_ms = statistics.median(ff)
        rows.append((scene, pw_ms, ff_ms, pw[-1], psnr_ff, kbps_ff, [round(j["cpu_ms_per_frame"] / f, 2) for j, f in zip(pw, ff)]))
    print("| clip | pixelwire CPU ms/frame | ffmpeg CPU ms/frame | ratio (median; per run) | frames encoded | pixelwire kbit/s, PSNR | ffmpeg kbit/s, PSNR |")
    print("|---|---:|---:|---|---:|---|---|")
    for scene, pw_ms, ff_ms, j, psnr_ff, kbps_ff, ratios in rows:
        print(f"| {scene} | {pw_ms:.2f} | {ff_ms:.2f} | **{pw_ms / ff_ms:.2f}×** ({', '.join(map(str, ratios))}) | "
              f"{j['encoded']}/{j['frames']} | {j['kbps']:.0f}, {j['psnr']:.2f} dB | {kbps_ff:.0f}, {psnr_ff:.2f} dB |")


if __name__ == "__main__":
    main()
