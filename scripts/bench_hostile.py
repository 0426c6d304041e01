#!/usr/bin/env python3
"""Issue 13's figures: each attack of its defects 1-5 against `pixelwire serve` while a good
display (`pixelwire display-emu`, 320x240 on the moving `pattern`), a good camera
(`pixelwire mock-camera`, 640x480 JPEG over WebSocket at 15 fps) and a good H.264 viewer of that
camera (`examples/viewer_load`, 1 viewer) run. Per attack: the server's peak RSS, the good
display's fps and latency p95, and the good viewer's fps and latency p95, over the attack's
window. Run it for two server binaries to get "before" and "after":

    python3 scripts/bench_hostile.py SERVER_BINARY [--attacks 1,2,3,4,5] [--seconds 10]

The clients are always this tree's (`target/release/pixelwire` and `viewer_load`); only the
server binary changes, with a config both versions understand. stdlib only, loopback only,
bounded in count and time.
"""
import argparse, json, os, re, socket, struct, subprocess, sys, tempfile, threading, time
sys.path.insert(0, os.path.dirname(__file__))
from bench_common import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLIENT = os.path.join(ROOT, "target/release/pixelwire")
VIEWER = os.path.join(ROOT, "target/release/examples/viewer_load")


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def start_server(binary, d):
    http, disp, ws, tcp = free_port(), free_port(), free_port(), free_port()
    cfg = os.path.join(d, "pixelwire.toml")
    with open(cfg, "w") as f:
        f.write(f'''[server]
http = "127.0.0.1:{http}"
display = "127.0.0.1:{disp}"
data_dir = "{d}/data"
default_stream = "pattern"
[cameras]
websocket_listen = ["127.0.0.1:{ws}"]
viewer_listen = []
http_listen = []
tcp_listen = ["127.0.0.1:{tcp}"]
[[streams]]
name = "pattern"
source = "pattern"
fps = 30
[[streams]]
name = "cam"
source = "camera"
[[displays]]
id = "good"
stream = "pattern"
''')
    p = subprocess.Popen([binary, "serve", "--config", cfg], stdout=subprocess.DEVNULL,
                         stderr=open(os.path.join(d, "serve.log"), "w"), env={**os.environ, "RUST_LOG": "warn"})
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", http), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    return p, http, disp, ws, tcp


def jpeg(w, h):
    """A real JPEG of w x h (ffmpeg makes it: a test pattern)."""
    out = subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"testsrc2=size={w}x{h}:rate=1",
                          "-frames:v", "1", "-q:v", "5", "-f", "mjpeg", "-"], capture_output=True, check=True)
    return out.stdout


def hello_4096(i):
    """A display HELLO for the protocol's largest panel (docs/protocol.md, HELLO)."""
    dev, fw = f"flood-{i}".encode(), b"x"
    p = b"PXWL" + struct.pack("<HHHBHHIB", 1, 4096, 4096, 0, 7, 8192, 0, 2)
    p += bytes([len(dev)]) + dev + bytes([len(fw)]) + fw
    return struct.pack("<BBH", 1, 0, len(p)) + p


def drain(s, stop):
    """Reads and discards until `stop` or the connection ends."""
    s.settimeout(0.5)
    while not stop.is_set():
        try:
            if not s.recv(65536):
                return
        except socket.timeout:
            continue
        except OSError:
            return


def attack(n, ports, stop, big_jpeg):
    http, disp, ws, tcp = ports
    held = []
    try:
        if n == 0:  # no attack: the baseline
            pass
        elif n == 1:  # largest panels: ten HELLOs of 4096x4096 that keep reading
            for i in range(10):
                s = socket.create_connection(("127.0.0.1", disp))
                s.sendall(hello_4096(i))
                held.append(s)
                threading.Thread(target=drain, args=(s, stop), daemon=True).start()
        elif n == 2:  # half-sent requests, as many as the server takes
            for i in range(3000):
                if stop.is_set():
                    break
                try:
                    s = socket.socket(); s.settimeout(0.3)
                    s.bind(("127.0.0.3", 0)); s.connect(("127.0.0.1", http))
                    s.send(b"GET /api/status HTTP/1.1\r\nHo"); held.append(s)
                except OSError:
                    time.sleep(0.01)
        elif n == 3:  # one frame under each of 3,000 new camera names
            small = jpeg(64, 48)
            for i in range(3000):
                if stop.is_set():
                    break
                try:
                    s = socket.create_connection(("127.0.0.1", http), timeout=2)
                    s.sendall(f"POST /api/v1/stream/stream HTTP/1.1\r\nHost: x\r\nX-API-Key: dev-api-key-change-in-production\r\nX-Device-Id: spam-{i}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(small)}\r\nConnection: close\r\n\r\n".encode() + small)
                    s.recv(512); s.close()
                except OSError:
                    pass
        elif n == 4:  # a huge JPEG, ten snapshots of it at once, and 50 Picamera lengths of 16 MiB
            try:
                s = socket.create_connection(("127.0.0.1", http), timeout=10)
                s.sendall(f"POST /api/v1/stream/stream HTTP/1.1\r\nHost: x\r\nX-API-Key: dev-api-key-change-in-production\r\nX-Device-Id: huge\r\nContent-Type: image/jpeg\r\nContent-Length: {len(big_jpeg)}\r\nConnection: close\r\n\r\n".encode() + big_jpeg)
                s.recv(512); s.close()
            except OSError:
                pass
            def snap():
                try:
                    s = socket.create_connection(("127.0.0.1", http), timeout=30)
                    s.sendall(b"GET /api/streams/huge/snapshot.png HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    while s.recv(65536):
                        pass
                except OSError:
                    pass
            for _ in range(10):
                threading.Thread(target=snap, daemon=True).start()
            for _ in range(50):
                s = socket.create_connection(("127.0.0.1", tcp))
                s.send(struct.pack("<I", 16 << 20) + b"\xff" * 1024)
                held.append(s)
        elif n == 5:  # MJPEG readers that stop reading
            for _ in range(5):
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
                s.connect(("127.0.0.1", http))
                s.send(b"GET /api/streams/cam/mjpeg HTTP/1.1\r\nHost: x\r\n\r\n")
                held.append(s)
        stop.wait()
    finally:
        for s in held:
            try:
                s.close()
            except OSError:
                pass


def summary(text):
    m = re.search(r"^summary (\{.*\})$", text, re.M)
    return json.loads(m.group(1)) if m else {}


def run(binary, n, seconds, big_jpeg):
    d = tempfile.mkdtemp(prefix="pixelwire-hostile-")
    p, http, disp, ws, tcp = start_server(binary, d)
    cam = subprocess.Popen([CLIENT, "mock-camera", "--to", f"ws://127.0.0.1:{ws}/cam", "--fps", "15",
                            "--size", "640x480"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.5)
    total = seconds + 4
    emu = subprocess.Popen([CLIENT, "display-emu", "--connect", f"127.0.0.1:{disp}", "--id", "good",
                            "--duration", str(total), "--warmup", "4"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    viewer = subprocess.Popen([VIEWER, "--url", f"ws://127.0.0.1:{http}/api/streams/cam/ws?codec=h264",
                               "--viewers", "1", "--warmup", "3", "--duration", str(seconds)],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    time.sleep(4)
    stop = threading.Event()
    t = threading.Thread(target=attack, args=(n, (http, disp, ws, tcp), stop, big_jpeg), daemon=True)
    base = rss_mib(p.pid)
    peak = base
    t.start()
    end = time.time() + seconds
    while time.time() < end:
        if p.poll() is not None:
            break
        peak = max(peak, rss_mib(p.pid))
        time.sleep(0.2)
    stop.set()
    emu_out, _ = emu.communicate(timeout=60)
    view_out, _ = viewer.communicate(timeout=60)
    alive = p.poll() is None
    for q in (cam, p):
        q.terminate()
    e, v = summary(emu_out), summary(view_out)
    return {
        "attack": n, "rss_before_mib": round(base), "rss_peak_mib": round(peak), "server_alive": alive,
        "display_fps": round(e.get("fps", 0.0), 1), "display_p95_ms": e.get("latency_p95_ms"),
        "viewer_fps": v.get("fps_p50"), "viewer_p95_ms": v.get("latency_p95_ms"),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--attacks", default="0,1,2,3,4,5", help="0 is no attack (the baseline)")
    ap.add_argument("--seconds", type=int, default=10)
    a = ap.parse_args()
    big = jpeg(8192, 8192)
    for n in [int(x) for x in a.attacks.split(",")]:
        print(json.dumps(run(a.binary, n, a.seconds, big)), flush=True)


if __name__ == "__main__":
    main()
