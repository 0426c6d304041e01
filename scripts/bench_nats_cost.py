#!/usr/bin/env python3
"""What one message costs a NATS server (the per-message figures `docs/design/cluster-scale.md`
sizes a cluster from).

Starts `nats-server` on a loopback port, then for each payload size and fan-out: one publisher
sends `--seconds` of messages at a fixed rate on one subject and F subscribers (each its own
connection) drain them. nats-server's CPU (utime+stime from /proc/PID/stat) over the window,
divided by the messages it took in and the copies it delivered, is its cost per message; the
publisher and subscribers speak the NATS text protocol directly (PUB/SUB/MSG), so there is no
client library in the figure.

Sizes stand for what pixelwire sends: 3 kB (an H.264 P unit of a 640x480 camera), 40 kB (a
640x480 JPEG, or an H.264 keyframe), 150 kB (a 1080p JPEG).

  scripts/bench_nats_cost.py [--seconds 8]

Python 3.11, stdlib only; needs nats-server. Markdown on stdout, progress on stderr.
"""

import argparse
import socket
import subprocess
import sys
import threading
import time

from bench_common import cpu_seconds, free_port


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.recv(4096)  # INFO
    s.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\nPING\r\n')
    buf = b""
    while b"PONG" not in buf:
        buf += s.recv(4096)
    return s


class Subscriber(threading.Thread):
    def __init__(self, port, subject):
        super().__init__(daemon=True)
        self.sock = connect(port)
        self.sock.sendall(f"SUB {subject} 1\r\nPING\r\n".encode())
        buf = b""
        while b"PONG" not in buf:
            buf += self.sock.recv(4096)
        self.bytes = 0
        self.stop = False

    def run(self):
        self.sock.settimeout(0.5)
        while not self.stop:
            try:
                chunk = self.sock.recv(1 << 20)
            except socket.timeout:
                continue
            except OSError:
                return
            if not chunk:
                return
            if b"PING\r\n" in chunk:
                self.sock.sendall(b"PONG\r\n")
            self.bytes += len(chunk)


def measure(port, pid, size, fanout, rate, seconds):
    subject = f"bench.s{size}.f{fanout}"
    subs = [Subscriber(port, subject) for _ in range(fanout)]
    for s in subs:
        s.start()
    pub = connect(port)
    msg = f"PUB {subject} {size}\r\n".encode() + bytes(size) + b"\r\n"
    c0, t0 = cpu_seconds(pid), time.monotonic()
    sent = 0
    while True:
        now = time.monotonic() - t0
        if now >= seconds:
            break
        due = int(now * rate) + 1
        if sent < due:
            pub.sendall(msg * (due - sent))
            sent = due
        else:
            time.sleep(0.0005)
    pub.sendall(b"PING\r\n")
    buf = b""
    while b"PONG" not in buf:
        buf += pub.recv(4096)
    time.sleep(0.3)
    c1, t1 = cpu_seconds(pid), time.monotonic()
    for s in subs:
        s.stop = True
    per_copy = size + len(f"MSG {subject} 1 {size}\r\n\r\n")
    delivered = sum(s.bytes for s in subs) / per_copy
    pub.close()
    for s in subs:
        s.join(timeout=2)
        s.sock.close()
    cpu = c1 - c0
    return {
        "sent": sent, "delivered": delivered, "cpu_s_per_s": cpu / (t1 - t0),
        "us_per_msg_in": cpu / sent * 1e6 if sent else 0,
        "us_per_copy": cpu / max(delivered, 1) * 1e6,
        "mb_out_per_s": delivered * size / (t1 - t0) / 1e6,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=8)
    a = ap.parse_args()
    port = free_port()
    nats = subprocess.Popen(["nats-server", "-a", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        with open("/proc/loadavg") as f:
            load = " ".join(f.read().split()[:3])
        out = subprocess.run(["nats-server", "--version"], capture_output=True, text=True).stdout.strip()
        print(f"{out}, loopback, load average at start {load}.\n")
        print("| payload | subscribers | msgs in/s | copies out/s | out MB/s | nats CPU s/s | µs per msg in | µs per copy out |")
        print("|---|---|---|---|---|---|---|---|")
        for size in (3_000, 40_000, 150_000):
            for fanout in (1, 4, 16):
                # At most ~120 MB/s out, at most 2000 messages per second in.
                rate = max(10, min(2000, int(120e6 / (size * fanout))))
                r = measure(port, nats.pid, size, fanout, rate, a.seconds)
                log(f"{size} B x{fanout} at {rate}/s: {r}")
                print(f"| {size // 1000} kB | {fanout} | {r['sent'] / a.seconds:.0f} | "
                      f"{r['delivered'] / a.seconds:.0f} | {r['mb_out_per_s']:.1f} | {r['cpu_s_per_s']:.3f} | "
                      f"{r['us_per_msg_in']:.1f} | {r['us_per_copy']:.1f} |")
    finally:
        nats.terminate()
        nats.wait()


if __name__ == "__main__":
    main()
