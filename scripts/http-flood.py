#!/usr/bin/env python3
# Half-sent request flood against `pixelwire serve` (issue 13, defect 2), BENCHMARKS.md:
#   python3 scripts/http-flood.py BINARY N FD_LIMIT
# starts BINARY serve limited to FD_LIMIT descriptors; up to N connections from 127.0.0.1 each send
# a partial request head (it stops after 20 connections in a row fail); then a good client on
# 127.0.0.2 asks /api/status once a second, 8 times. Prints what the good client got.
import socket, subprocess, sys, time, os, re, threading
binary, n, fdlimit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
import tempfile
d = tempfile.mkdtemp(prefix="pixelwire-flood-")
cfg = os.path.join(d, "pixelwire.toml")
open(cfg, "w").write(f'[server]\ndata_dir = "{d}/data"\n[cameras]\nwebsocket_listen = []\nviewer_listen = []\nhttp_listen = []\ntcp_listen = []\n')
p = subprocess.Popen(["sh", "-c", f'ulimit -n {fdlimit} && exec "$0" "$@"', binary, "serve", "--config", cfg,
                      "--http", "127.0.0.1:0", "--display", "127.0.0.1:0"],
                     stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env={**os.environ, "RUST_LOG": "info"}, text=True)
http = None
log = []
def drain():
    global http
    for line in p.stderr:
        log.append(line)
        m = re.search(r"http=(\S+)", line)
        if m and http is None: http = m.group(1)
threading.Thread(target=drain, daemon=True).start()
while http is None: time.sleep(0.05)
host, port = http.rsplit(":", 1); port = int(port)
socks = []
for i in range(n):
    try:
        s = socket.socket(); s.bind(("127.0.0.1", 0)); s.settimeout(0.3); s.connect((host, port))
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n"); socks.append(s)
        streak = 0
    except OSError:
        failed = globals().get("failed", 0) + 1; globals()["failed"] = failed
        streak = globals().get("streak", 0) + 1; globals()["streak"] = streak
        if streak >= 20: break
print(f"attacker: {len(socks)} half-sent requests sent, {globals().get('failed', 0)} connections failed or refused")
def good():
    t0 = time.time()
    try:
        s = socket.socket(); s.bind(("127.0.0.2", 0)); s.settimeout(3); s.connect((host, port))
        s.sendall(b"GET /api/status HTTP/1.1\r\nHost: ok\r\nConnection: close\r\n\r\n")
        r = s.recv(12); s.close()
        return r.decode(errors="replace") or "closed", time.time() - t0
    except OSError as e:
        return f"error {e}", time.time() - t0
for k in range(8):
    print("good client:", *good()); time.sleep(1)
fails = [l for l in log if "accept failed" in l]
print(f"accept-failure log lines in ~10 s: {len(fails)}")
p.kill(); p.wait()
