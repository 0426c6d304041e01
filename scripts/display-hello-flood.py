#!/usr/bin/env python3
"""Issue 13, defect 1: N peers each send a display HELLO for the largest panel the protocol allows
(4096x4096), then read and discard what the server sends and PING once a second, for HOLD_S
seconds. Prints the server's VmRSS before and at its peak, and the ERRORs the peers got.

    pixelwire serve --config my.toml &      # any config; the display port below
    scripts/display-hello-flood.py $! 8888 10 40
"""
import socket
import struct
import sys
import threading
import time

pid, port, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
hold = float(sys.argv[4]) if len(sys.argv) > 4 else 30


def rss_mib():
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) // 1024
    return 0


def hello(i):
    dev, fw = f"flood-{i}".encode(), b"x"
    # magic, version 1, 4096x4096, RGB565 BE, codecs RAW|RLE|PALETTE_RLE, 8 kB packets,
    # frame_buffer_bytes 0, window 2, id, firmware (docs/protocol.md, HELLO)
    p = b"PXWL" + struct.pack("<HHHBHHIB", 1, 4096, 4096, 0, 7, 8192, 0, 2)
    p += bytes([len(dev)]) + dev + bytes([len(fw)]) + fw
    return struct.pack("<BBH", 1, 0, len(p)) + p


errors = {}


def peer(i):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(hello(i))
    s.settimeout(0.2)
    end, first, last_ping = time.time() + hold, b"", 0.0
    while time.time() < end:
        if time.time() - last_ping > 1:
            try:
                s.sendall(struct.pack("<BBHQ", 3, 0, 8, int(time.time() * 1e6)))
                last_ping = time.time()
            except OSError:
                break
        try:
            b = s.recv(65536)
            if not b:
                break
            if len(first) < 256:
                first += b
        except socket.timeout:
            pass
        except OSError:
            break
    if first[:1] == b"\x7f":
        length = struct.unpack("<H", first[2:4])[0]
        errors[i] = (first[4], first[5 : 4 + length].decode(errors="replace"))
    s.close()


before = peak = rss_mib()
threads = [threading.Thread(target=peer, args=(i,)) for i in range(n)]
for t in threads:
    t.start()
end = time.time() + hold
while time.time() < end:
    peak = max(peak, rss_mib())
    time.sleep(0.2)
for t in threads:
    t.join()
print(
    f"peers={n} rss_before={before}MiB rss_peak={peak}MiB "
    f"per_peer={(peak - before) / n:.0f}MiB refused={len(errors)} {sorted(set(errors.values()))[:3]}"
)
