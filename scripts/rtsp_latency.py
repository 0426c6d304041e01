#!/usr/bin/env python3
"""Capture -> RTSP client latency: plays rtsp://HOST:PORT/NAME over TCP like ffmpeg does
(DESCRIBE, SETUP interleaved, PLAY), maps each access unit's RTP time to its capture time through
the server's RTCP sender reports (NTP wall clock), and prints p50/p95/max of (arrival of the
unit's last packet - capture time) over --seconds, after --warmup. On one host the two clocks are
the same wall clock; this is what a player gets before its decode and display.

  scripts/rtsp_latency.py rtsp://127.0.0.1:8554/cam [--seconds 20]
"""

import argparse
import socket
import statistics
import sys
import time
from urllib.parse import urlparse


def request(sock, buf, cseq, method, url, headers=""):
    sock.sendall(f"{method} {url} RTSP/1.0\r\nCSeq: {cseq}\r\n{headers}\r\n".encode())
    while True:
        while buf and buf[0] == 0x24 and len(buf) >= 4:
            n = int.from_bytes(buf[2:4], "big")
            if len(buf) < 4 + n:
                break
            del buf[:4 + n]
        end = buf.find(b"\r\n\r\n")
        if end >= 0 and buf[0] != 0x24:
            head = buf[:end].decode()
            length = 0
            for line in head.split("\r\n"):
                if line.lower().startswith("content-length:"):
                    length = int(line.split(":")[1])
            if len(buf) >= end + 4 + length:
                del buf[:end + 4 + length]
                return head
        chunk = sock.recv(65536)
        if not chunk:
            sys.exit("connection closed")
        buf += chunk


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--warmup", type=float, default=2)
    a = ap.parse_args()
    u = urlparse(a.url)
    sock = socket.create_connection((u.hostname, u.port or 8554))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = bytearray()
    request(sock, buf, 1, "DESCRIBE", a.url, "Accept: application/sdp\r\n")
    head = request(sock, buf, 2, "SETUP", a.url + "/trackID=0", "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n")
    session = [l.split(":", 1)[1].strip().split(";")[0] for l in head.split("\r\n") if l.lower().startswith("session:")][0]
    request(sock, buf, 3, "PLAY", a.url, f"Session: {session}\r\n")
    mapping = None
    samples = []
    start = time.time()
    while time.time() - start < a.warmup + a.seconds:
        while len(buf) >= 4 and buf[0] == 0x24:
            n = int.from_bytes(buf[2:4], "big")
            if len(buf) < 4 + n:
                break
            ch, pkt = buf[1], bytes(buf[4:4 + n])
            del buf[:4 + n]
            now = time.time()
            if ch == 1 and len(pkt) >= 20 and pkt[1] == 200:
                ntp_s = int.from_bytes(pkt[8:12], "big") - 2_208_988_800
                ntp_f = int.from_bytes(pkt[12:16], "big") / 2**32
                mapping = (ntp_s + ntp_f, int.from_bytes(pkt[16:20], "big"))
            elif ch == 0 and mapping and pkt[1] & 0x80:
                ts = int.from_bytes(pkt[4:8], "big")
                capture = mapping[0] + ((ts - mapping[1]) & 0xFFFFFFFF if ts >= mapping[1] else -((mapping[1] - ts) & 0xFFFFFFFF)) / 90000
                if now - start >= a.warmup:
                    samples.append((now - capture) * 1000)
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
    if not samples:
        sys.exit("no access units with a sender report")
    samples.sort()
    q = lambda p: samples[min(len(samples) - 1, int(p * len(samples)))]
    print(f"{len(samples)} units: latency p50 {q(0.5):.1f} ms, p95 {q(0.95):.1f} ms, max {samples[-1]:.1f} ms")


if __name__ == "__main__":
    main()
