// pixelwire live viewer, served at /viewer.js for the page /streams/{name}.
//
// Paths (chosen by ?codec=, default h264):
//   h264  - WebSocket /api/streams/{name}/ws?codec=h264, Annex-B access units decoded with WebCodecs
//           VideoDecoder (optimizeForLatency, no description: SPS/PPS come inline before each IDR).
//           Falls back to jpeg when VideoDecoder is missing (e.g. not a secure context: WebCodecs
//           needs https or localhost), when isConfigSupported() says no, or after 3 decoder errors
//           within 10 s.
//   jpeg  - the same socket with ?codec=jpeg; each JPEG is decoded with createImageBitmap, and only
//           the newest undecoded JPEG is kept (never a queue).
//   whep  - (also ?transport=whep) the same H.264 over WebRTC: an RTCPeerConnection offer POSTed to
//           /api/streams/{name}/whep, frames drawn from a <video>; also where h264 is impossible
//           (no WebCodecs: plain http on a non-localhost name), with jpeg as the last resort.
//   mjpeg - <img src=/api/streams/{name}/mjpeg> (multipart/x-mixed-replace); the image is drawn into
//           the canvas every animation frame so the canvas holds what is shown.
//
// Socket protocol: a text "hello" first, then binary messages with a 16-byte little-endian header
// (u8 kind 1=H.264 2=JPEG, u8 flags bit0=keyframe, u16 width, u16 height, u16 reserved,
// u64 capture_time_us) followed by the payload; text {"type":"pong"} answers our pings, which
// estimate the clock offset (server ~ client + offset) from the pong with the smallest round trip.
// The client asks for an IDR with {"type":"keyframe"} whenever it (re)starts decoding. About once a
// second it reports what it measured since its previous report (docs/api.md, "Reports"):
// {"type":"report","codec":"h264"|"jpeg","decoded":n,"dropped":n,"latency_ms":[…]}, one latency
// sample per painted frame (wall clock at paint + clock offset - capture_time_us), which the server
// records in /metrics under the stream and codec of this socket. The MJPEG path has no socket and
// no capture times: it does not report.
//
// Test hooks: window.pixelwireViewer (see `hooks` below), read by integration tests through the
// DevTools protocol. Vanilla JS, no dependencies; data reaches the DOM only via textContent.
'use strict';
(() => {
  const WINDOW_MS = 2000;            // fps / bitrate / latency window
  const PING_MS = 2000;
  const STALL_MS = 7000;             // no message at all for this long: the socket is dead
  const BACKOFF_MIN_MS = 500, BACKOFF_MAX_MS = 8000;
  const MAX_DECODE_QUEUE = 3;        // decodeQueueSize above this: we are behind, resync
  const MAX_BEHIND_US = 500000;      // decoded frame older than the newest received by this: resync
  const KEYFRAME_REQUEST_MS = 1000;  // at most one keyframe request per this interval
  const REPORT_MS = 1000;            // how often the page reports its figures to the server
  const MAX_REPORT_SAMPLES = 240;    // latency samples kept for one report (the server takes 256)
  const ERRORS_FOR_FALLBACK = 3, ERROR_WINDOW_MS = 10000;
  const DEFAULT_CODEC = 'avc1.42E01E';
  const HEADER_BYTES = 16, KIND_H264 = 1, KIND_JPEG = 2, FLAG_KEY = 1;
  const DASH = '—';
  const $ = (id) => document.getElementById(id);
  const nowMs = () => performance.now();
  const wallUs = () => (performance.timeOrigin + performance.now()) * 1000;

  // ---------- stream name and requested path ----------
  const segment = location.pathname.split('/').filter(Boolean).pop() || '';
  let streamName = segment;
  try { streamName = decodeURIComponent(segment); } catch (_) { /* keep it raw */ }
  const params = new URLSearchParams(location.search);
  const asked = (params.get('codec') || params.get('transport') || '').toLowerCase();
  const requestedPath = asked === 'jpeg' || asked === 'mjpeg' || asked === 'whep' ? asked : 'h264';
  const apiBase = `/api/streams/${encodeURIComponent(streamName)}`;

  // ---------- DOM ----------
  const canvas = $('canvas');
  const ctx = canvas.getContext('2d', { alpha: false });
  const overlay = $('overlay');
  const o = {
    path: $('o-path'), state: $('o-state'), size: $('o-size'),
    fps: $('o-fps'), kbps: $('o-kbps'), latency: $('o-latency'),
  };
  function setText(e, t) { if (e && e.textContent !== t) e.textContent = t; }
  function setClass(e, c) { if (e && e.className !== c) e.className = c; }

  // ---------- test hooks ----------
  const hooks = {
    path: requestedPath,          // path in use: "h264" | "jpeg" | "mjpeg"
    requestedPath,                // what the URL asked for
    stream: streamName,
    framesPresented: 0,           // frames drawn into the canvas
    lastCaptureTimeUs: 0,         // capture_time_us of the newest presented frame (0 for mjpeg)
    latencyMsP50: null,           // capture-to-screen p50 over the last 2 s, null until known
    width: 0, height: 0,          // size of the newest presented frame
    error: null,                  // last error; cleared when frames are presented again
    fallbackReason: null,         // why h264 fell back to jpeg, if it did
    state: 'starting',            // connection state shown in the overlay
    fps: 0, kbps: 0,              // presented fps and payload kbit/s, last 2 s
    colorSpace: null,             // VideoFrame.colorSpace of the first decoded H.264 frame
    clockOffsetUs: null,          // server ~ client + offset
    rttMs: null,                  // round trip of the pong the offset came from
    framesReceived: 0, framesDropped: 0, decoderResets: 0, decoderErrors: 0,
    keyframeRequests: 0, reconnects: 0,
    framesDecoded: 0,             // WebCodecs outputs, or JPEGs decoded
    reportsSent: 0, latencySamplesSent: 0,   // reports to the server, and samples they carried
    whepSession: null,            // the WHEP session URL while one is open
    // Pixel of the canvas at (x, y) in the frame's own pixel space, as [r, g, b].
    sample(x, y) {
      const d = ctx.getImageData(Math.floor(x), Math.floor(y), 1, 1).data;
      return [d[0], d[1], d[2]];
    },
  };
  window.pixelwireViewer = hooks;

  // ---------- stats over a sliding window ----------
  class Sliding {
    constructor() { this.t = []; this.v = []; this.start = nowMs(); }
    push(v) { this.t.push(nowMs()); this.v.push(v); this.trim(); }
    trim() {
      const cut = nowMs() - WINDOW_MS;
      let i = 0;
      while (i < this.t.length && this.t[i] < cut) i++;
      if (i) { this.t.splice(0, i); this.v.splice(0, i); }
    }
    span() { return Math.min(WINDOW_MS, Math.max(1, nowMs() - this.start)) / 1000; }
    rate() { this.trim(); return this.t.length / this.span(); }
    sum() { this.trim(); let s = 0; for (const x of this.v) s += x; return s; }
    median() {
      this.trim();
      if (!this.v.length) return null;
      const s = this.v.slice().sort((a, b) => a - b), m = s.length >> 1;
      return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
    }
    reset() { this.t = []; this.v = []; this.start = nowMs(); }
  }
  const presented = new Sliding();   // values unused (count only)
  const received = new Sliding();    // payload bytes
  const latency = new Sliding();     // ms

  // ---------- clock offset ----------
  const pings = new Map();          // id -> client send time (µs)
  let pingId = 0;
  const offsets = [];               // last pongs: { rtt, offset } (µs)
  function onPong(m) {
    const sent = pings.get(m.id);
    if (sent === undefined || typeof m.server_us !== 'number') return;
    pings.delete(m.id);
    const recv = wallUs();
    offsets.push({ rtt: recv - sent, offset: m.server_us - (sent + recv) / 2 });
    if (offsets.length > 30) offsets.shift();      // about a minute: follows clock steps
    let best = offsets[0];
    for (const x of offsets) if (x.rtt < best.rtt) best = x;
    hooks.clockOffsetUs = best.offset;
    hooks.rttMs = best.rtt / 1000;
  }

  // ---------- reports to the server ----------
  // Paints wait here as [wall clock µs, capture µs] until a report carries them; the latency is
  // worked out when the report is sent, so frames painted before the first pong still count.
  const report = { paints: [], decodedAt: 0, droppedAt: 0 };
  function resetReport() {
    report.paints = [];
    report.decodedAt = hooks.framesDecoded;
    report.droppedAt = hooks.framesDropped;
  }
  function sendReport() {
    const ws = conn.ws;
    if (hooks.path === 'mjpeg' || !ws || ws.readyState !== 1) return;
    const decoded = hooks.framesDecoded - report.decodedAt;
    const dropped = hooks.framesDropped - report.droppedAt;
    const offset = hooks.clockOffsetUs;
    // Negative samples (clock offset error across machines) are sent as they are: the server
    // counts them as 0.
    const latencyMs = offset === null ? []
      : report.paints.map(([paintUs, captureUs]) => Math.round((paintUs + offset - captureUs) / 100) / 10);
    if (!decoded && !dropped && !latencyMs.length) return;
    send({ type: 'report', codec: hooks.path, decoded, dropped, latency_ms: latencyMs });
    report.decodedAt = hooks.framesDecoded;
    report.droppedAt = hooks.framesDropped;
    if (offset !== null) report.paints = [];
    hooks.reportsSent++;
    hooks.latencySamplesSent += latencyMs.length;
  }
  setInterval(sendReport, REPORT_MS);

  // ---------- presenting ----------
  function present(source, w, h, captureUs) {
    if (!(w > 0 && h > 0)) return;
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
    ctx.drawImage(source, 0, 0, w, h);
    if (hooks.framesPresented === 0) { canvas.classList.remove('empty'); $('placeholder').hidden = true; }
    hooks.framesPresented++;
    hooks.width = w; hooks.height = h;
    hooks.error = null;
    presented.push(1);
    if (captureUs > 0) {
      hooks.lastCaptureTimeUs = captureUs;
      report.paints.push([wallUs(), captureUs]);
      if (report.paints.length > MAX_REPORT_SAMPLES) report.paints.shift();   // the newest win
      if (hooks.clockOffsetUs !== null) {
        latency.push((wallUs() + hooks.clockOffsetUs - captureUs) / 1000);
        hooks.latencyMsP50 = latency.median();
      }
    }
    if (conn.state !== 'live') setState('live');
  }

  // ---------- connection state ----------
  const conn = {
    ws: null, gen: 0, state: 'starting', backoff: BACKOFF_MIN_MS, retryTimer: 0, pingTimer: 0,
    lastMessage: 0, gotMedia: false, failures: 0, retryAt: 0,
    missing: false,   // /api/streams does not list the stream (cleared by the next hello)
  };
  function setState(s) {
    conn.state = s;
    document.body.classList.toggle('stale', s !== 'live' && s !== 'connected' && hooks.framesPresented > 0);
    renderState();
  }
  function renderState() {
    const base = conn.missing && conn.state !== 'live' && conn.state !== 'connected' ? 'no such stream' : conn.state;
    hooks.state = base;   // "connecting" | "connected" | "live" | "reconnecting" | "no such stream"
    let s = base;
    if (s === 'reconnecting' && conn.retryAt) {
      s = `reconnecting in ${Math.max(0, Math.ceil((conn.retryAt - nowMs()) / 1000))} s`;
    }
    const cls = base === 'live' ? 'ok' : base === 'reconnecting' || base === 'no such stream' ? 'bad' : 'warn';
    setText(o.state, s);
    setClass(o.state, cls);
    setText($('state-badge'), s);
    setClass($('state-badge'), `badge ${cls === 'ok' ? 'ok' : cls === 'bad' ? 'warn' : 'dim'}`);
    if (hooks.framesPresented === 0) {
      setText($('placeholder'), base === 'no such stream'
        ? `The server has no stream named “${streamName}”. Retrying…`
        : base === 'live' ? '' : `${s}…`);
    }
  }

  function send(obj) {
    const ws = conn.ws;
    if (ws && ws.readyState === 1) { try { ws.send(JSON.stringify(obj)); } catch (_) { /* closing */ } }
  }
  function sendPing() {
    const id = ++pingId;
    pings.set(id, wallUs());
    if (pings.size > 20) pings.delete(pings.keys().next().value);
    send({ type: 'ping', id });
  }
  let lastKeyRequest = -Infinity;
  function requestKeyframe(force) {
    const t = nowMs();
    if (!force && t - lastKeyRequest < KEYFRAME_REQUEST_MS) return;
    lastKeyRequest = t;
    hooks.keyframeRequests++;
    send({ type: 'keyframe' });
  }

  function connect() {
    clearTimeout(conn.retryTimer);
    conn.retryAt = 0;
    const gen = ++conn.gen;
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const url = `${proto}//${location.host}${apiBase}/ws?codec=${hooks.path}`;
    setState('connecting');
    let ws;
    try { ws = new WebSocket(url); } catch (e) { hooks.error = `websocket: ${e.message || e}`; retry(); return; }
    ws.binaryType = 'arraybuffer';
    conn.ws = ws;
    conn.gotMedia = false;
    conn.lastMessage = nowMs();
    ws.onopen = () => {
      if (gen !== conn.gen) return;
      setState('connected');
      conn.lastMessage = nowMs();
      sendPing();
      clearInterval(conn.pingTimer);
      conn.pingTimer = setInterval(sendPing, PING_MS);
    };
    ws.onmessage = (ev) => {
      if (gen !== conn.gen) return;
      conn.lastMessage = nowMs();
      if (typeof ev.data === 'string') onText(ev.data);
      else if (ev.data instanceof ArrayBuffer) onBinary(ev.data);
    };
    ws.onclose = (ev) => {
      if (gen !== conn.gen) return;
      conn.ws = null;
      clearInterval(conn.pingTimer);
      player && player.stop();
      if (!conn.gotMedia) conn.failures++;
      hooks.error = `connection closed${ev.code ? ` (${ev.code}${ev.reason ? `: ${ev.reason}` : ''})` : ''}`;
      retry();
    };
    ws.onerror = () => { /* a close event follows */ };
  }
  // Drops the current socket (if any) and connects again, now or after the backoff.
  function reconnect(now) {
    const ws = conn.ws;
    conn.gen++;
    conn.ws = null;
    clearInterval(conn.pingTimer);
    if (ws) { try { ws.close(); } catch (_) { /* ignore */ } }
    player && player.stop();
    if (now) connect(); else retry();
  }
  function retry() {
    clearTimeout(conn.retryTimer);
    const wait = conn.backoff;
    conn.backoff = Math.min(BACKOFF_MAX_MS, conn.backoff * 2);
    conn.retryAt = nowMs() + wait;
    hooks.reconnects++;
    setState('reconnecting');
    conn.retryTimer = setTimeout(connect, wait);
    if (conn.failures >= 2) checkExists();
  }
  // After repeated failures before any media: tell "no such stream" apart from "server down".
  let checking = false;
  async function checkExists() {
    if (checking) return;
    checking = true;
    try {
      const res = await fetch('/api/streams', { cache: 'no-store' });
      if (res.ok) {
        const list = await res.json();
        const names = Array.isArray(list) ? list.map((s) => s && s.name) : [];
        conn.missing = !names.includes(streamName);
        if (conn.missing) hooks.error = `no such stream: ${streamName}`;
        renderState();
      }
    } catch (_) { /* server unreachable: the state already says so */ }
    checking = false;
  }
  // Half-open sockets: the server answers every ping, so silence means the connection is gone.
  setInterval(() => {
    if (conn.ws && nowMs() - conn.lastMessage > STALL_MS) { hooks.error = 'connection stalled'; reconnect(false); }
    if (conn.state === 'reconnecting') renderState();
  }, 500);

  // ---------- messages ----------
  let player = null;
  function onText(text) {
    let m;
    try { m = JSON.parse(text); } catch (_) { return; }
    if (!m || typeof m !== 'object') return;
    if (m.type === 'pong') onPong(m);
    else if (m.type === 'hello') onHello(m);
    else if (m.type === 'error') {
      hooks.error = String(m.message || m.error || 'server error');
      // The server cannot encode this stream as H.264 (its size): JPEG works at any size.
      if (m.fallback === 'jpeg') fallbackToJpeg(hooks.error);
    }
  }
  function onHello(m) {
    conn.missing = false;
    const codec = m.codec === 'jpeg' ? 'jpeg' : 'h264';
    if (codec !== hooks.path) {
      // The server chose another codec than asked: follow it.
      hooks.fallbackReason = hooks.fallbackReason || `server sent ${codec}`;
      setPath(codec);
    }
    if (m.width > 0 && m.height > 0 && hooks.framesPresented === 0 && canvas.width !== m.width) {
      canvas.width = m.width; canvas.height = m.height;   // right aspect before the first frame
    }
    if (!player || player.kind !== codec) {
      player && player.close();
      player = codec === 'h264' ? new H264Player() : new JpegPlayer();
    }
    player.start(m);
  }
  function onBinary(buf) {
    if (buf.byteLength < HEADER_BYTES) return;
    const v = new DataView(buf);
    const kind = v.getUint8(0), flags = v.getUint8(1);
    const hdr = {
      kind, key: (flags & FLAG_KEY) !== 0,
      width: v.getUint16(2, true), height: v.getUint16(4, true),
      captureUs: v.getUint32(8, true) + v.getUint32(12, true) * 4294967296,
    };
    const payload = new Uint8Array(buf, HEADER_BYTES);
    hooks.framesReceived++;
    received.push(payload.byteLength);
    if (!conn.gotMedia) { conn.gotMedia = true; conn.backoff = BACKOFF_MIN_MS; conn.failures = 0; }
    if (!player) onHello({ codec: kind === KIND_JPEG ? 'jpeg' : 'h264' });   // no hello: guess from the data
    if (kind === KIND_H264 && player.kind === 'h264') player.chunk(hdr, payload);
    else if (kind === KIND_JPEG && player.kind === 'jpeg') player.chunk(hdr, payload);
  }

  // ---------- H.264 via WebCodecs ----------
  const supportCache = new Map();   // codec string -> Promise<boolean>
  function h264Support(codec) {
    if (typeof VideoDecoder !== 'function' || typeof EncodedVideoChunk !== 'function') {
      return Promise.resolve(false);
    }
    if (!supportCache.has(codec)) {
      supportCache.set(codec, VideoDecoder.isConfigSupported({ codec, optimizeForLatency: true })
        .then((r) => !!(r && r.supported), () => false));
    }
    return supportCache.get(codec);
  }
  function whyNoWebCodecs() {
    if (typeof VideoDecoder === 'function') return null;
    return window.isSecureContext === false
      ? 'WebCodecs needs https or localhost' : 'this browser has no WebCodecs VideoDecoder';
  }

  // Colour space of the decoded frames. pixelwire converts RGB to I420 with BT.601 limited range
  // (crates/media/src/yuv.rs) and OpenH264 writes no VUI colour description, which
  // browsers read as BT.709: greens would come out ~15 % too dark. So by default the decoder is told
  // BT.601 via VideoDecoderConfig.colorSpace (Chromium 148 applies it only where the bitstream has
  // no colour description: a VUI the encoder writes still wins). The hello may carry
  // "color_space": {matrix, primaries, transfer, fullRange} (VideoColorSpaceInit names) to say
  // otherwise, or "color_space": "bitstream" to trust the bitstream.
  const DEFAULT_COLOR_SPACE = { matrix: 'smpte170m', primaries: 'bt709', transfer: 'bt709', fullRange: false };
  function colorSpaceInit(cs) {
    if (cs === 'bitstream') return null;
    if (!cs || typeof cs !== 'object') return DEFAULT_COLOR_SPACE;
    const out = {};
    for (const k of ['matrix', 'primaries', 'transfer']) if (typeof cs[k] === 'string') out[k] = cs[k];
    const full = cs.fullRange ?? cs.full_range;
    if (typeof full === 'boolean') out.fullRange = full;
    return Object.keys(out).length ? out : DEFAULT_COLOR_SPACE;
  }

  class H264Player {
    constructor() {
      this.kind = 'h264';
      this.decoder = null;
      this.codec = DEFAULT_CODEC;
      this.colorSpace = DEFAULT_COLOR_SPACE;
      this.ready = false;        // decoder configured and support confirmed
      this.needKey = true;       // drop until the next keyframe
      this.newestUs = 0;         // capture time of the newest received chunk
      this.errors = [];          // times of recent decoder errors
      this.closed = false;
    }
    start(hello) {
      this.codec = typeof hello.codec_string === 'string' && hello.codec_string ? hello.codec_string : DEFAULT_CODEC;
      this.colorSpace = colorSpaceInit(hello.color_space);
      this.ready = false;
      this.needKey = true;
      const codec = this.codec;
      h264Support(codec).then((ok) => {
        if (this.closed || codec !== this.codec) return;
        if (!ok) { fallbackToJpeg(whyNoWebCodecs() || `decoder does not support ${codec}`); return; }
        this.configure();
        requestKeyframe(true);
      });
    }
    configure() {
      this.teardown();
      const dec = new VideoDecoder({
        output: (frame) => this.output(dec, frame),
        error: (e) => this.failed(dec, e),
      });
      this.decoder = dec;
      this.needKey = true;
      try {
        const config = { codec: this.codec, optimizeForLatency: true };
        if (this.colorSpace) config.colorSpace = this.colorSpace;
        dec.configure(config);
      } catch (e) { this.failed(dec, e); return; }
      this.ready = true;
    }
    teardown() {
      const dec = this.decoder;
      this.decoder = null;
      this.ready = false;
      if (dec && dec.state !== 'closed') { try { dec.close(); } catch (_) { /* ignore */ } }
    }
    // Back to the live edge: fresh decoder, drop until the next keyframe, ask for one.
    resync(why) {
      hooks.decoderResets++;
      if (why) console.debug(`pixelwire viewer: resync (${why})`);
      this.configure();
      requestKeyframe(true);
    }
    chunk(hdr, payload) {
      if (hdr.captureUs > this.newestUs || this.newestUs - hdr.captureUs > 10e6) this.newestUs = hdr.captureUs;
      if (!this.ready || !this.decoder) { hooks.framesDropped++; return; }
      if (this.needKey) {
        if (!hdr.key) { hooks.framesDropped++; requestKeyframe(false); return; }
        this.needKey = false;
      } else if (this.decoder.decodeQueueSize > MAX_DECODE_QUEUE) {
        hooks.framesDropped++;
        this.resync(`decode queue ${this.decoder.decodeQueueSize}`);
        if (!hdr.key) return;
        this.needKey = false;
      }
      try {
        this.decoder.decode(new EncodedVideoChunk({
          type: hdr.key ? 'key' : 'delta', timestamp: hdr.captureUs, data: payload,
        }));
      } catch (e) { this.failed(this.decoder, e); }
    }
    output(dec, frame) {
      try {
        if (dec !== this.decoder || this.closed) return;
        hooks.framesDecoded++;
        if (this.newestUs - frame.timestamp > MAX_BEHIND_US) {
          hooks.framesDropped++;
          this.resync(`decoded frame ${Math.round((this.newestUs - frame.timestamp) / 1000)} ms behind`);
          return;
        }
        if (!hooks.colorSpace && frame.colorSpace) {
          try { hooks.colorSpace = frame.colorSpace.toJSON(); } catch (_) { /* old browser */ }
        }
        present(frame, frame.displayWidth, frame.displayHeight, frame.timestamp);
      } finally {
        frame.close();
      }
    }
    failed(dec, e) {
      if (dec !== this.decoder || this.closed) return;   // an old decoder, already replaced
      const msg = `decoder error: ${(e && e.message) || e}`;
      console.warn(`pixelwire viewer: ${msg}`);
      hooks.error = msg;
      hooks.decoderErrors++;
      const t = nowMs();
      this.errors = this.errors.filter((x) => t - x < ERROR_WINDOW_MS);
      this.errors.push(t);
      if (this.errors.length >= ERRORS_FOR_FALLBACK) {
        fallbackToJpeg(`${this.errors.length} decoder errors in ${ERROR_WINDOW_MS / 1000} s (${msg})`);
        return;
      }
      this.resync(msg);
    }
    stop() { this.teardown(); this.needKey = true; }   // socket gone; start() runs again on the next hello
    close() { this.closed = true; this.teardown(); }
  }

  // ---------- JPEG via createImageBitmap ----------
  class JpegPlayer {
    constructor() { this.kind = 'jpeg'; this.pending = null; this.busy = false; this.closed = false; }
    start() { /* nothing to configure */ }
    chunk(hdr, payload) {
      if (this.pending) hooks.framesDropped++;       // never queue: the newest wins
      this.pending = { hdr, payload };
      if (!this.busy) this.pump();
    }
    async pump() {
      this.busy = true;
      while (this.pending && !this.closed) {
        const { hdr, payload } = this.pending;
        this.pending = null;
        let bmp = null;
        try {
          bmp = await createImageBitmap(new Blob([payload], { type: 'image/jpeg' }));
          hooks.framesDecoded++;
          if (!this.closed) present(bmp, bmp.width, bmp.height, hdr.captureUs);
        } catch (e) {
          hooks.error = `jpeg decode failed: ${(e && e.message) || e}`;
          hooks.framesDropped++;
        } finally {
          if (bmp) bmp.close();
        }
      }
      this.busy = false;
    }
    stop() { this.pending = null; }
    close() { this.closed = true; this.pending = null; }
  }

  function fallbackToJpeg(reason) {
    if (hooks.path === 'jpeg') return;
    console.warn(`pixelwire viewer: falling back to jpeg: ${reason}`);
    hooks.fallbackReason = reason;
    hooks.error = reason;
    if (player) { player.close(); player = null; }
    if (hooks.path === 'whep') whepStop();
    setPath('jpeg');
    reconnect(true);
  }

  // ---------- MJPEG via <img> ----------
  // fps here counts *changes*: every animation frame the <img> is drawn into the canvas and also
  // into a 16x16 scratch canvas; when those 256 pixels differ from the previous ones a new frame is
  // counted. A static scene therefore shows 0 fps. No capture times, so no latency; no bitrate.
  function startMjpeg() {
    const img = document.createElement('img');
    img.className = 'source';
    img.alt = '';
    img.decoding = 'sync';
    $('stage').appendChild(img);
    const probe = document.createElement('canvas');
    probe.width = probe.height = 16;
    const pctx = probe.getContext('2d', { willReadFrequently: true });
    let prev = null, lastChange = nowMs(), retryTimer = 0;
    const load = () => {
      clearTimeout(retryTimer);
      setState(hooks.framesPresented ? 'reconnecting' : 'connecting');
      img.src = `${apiBase}/mjpeg?t=${Date.now()}`;
      lastChange = nowMs();
      prev = null;   // the first image of the new response counts as a frame (and makes us live)
    };
    img.onerror = () => {
      hooks.error = 'mjpeg stream failed';
      if (++conn.failures >= 2) checkExists();
      const wait = conn.backoff;
      conn.backoff = Math.min(BACKOFF_MAX_MS, conn.backoff * 2);
      conn.retryAt = nowMs() + wait;
      hooks.reconnects++;
      setState('reconnecting');
      retryTimer = setTimeout(load, wait);
    };
    const tick = () => {
      requestAnimationFrame(tick);
      // `complete` stays false while a multipart response goes on; a decoded part sets naturalWidth.
      if (!img.naturalWidth) return;
      const w = img.naturalWidth, h = img.naturalHeight;
      let changed = false;
      try {
        pctx.drawImage(img, 0, 0, 16, 16);
        const d = pctx.getImageData(0, 0, 16, 16).data;
        changed = !prev || prev.length !== d.length || w !== hooks.width || h !== hooks.height;
        for (let i = 0; !changed && i < d.length; i++) if (d[i] !== prev[i]) changed = true;
        prev = d;
      } catch (_) { changed = true; }
      if (changed) {
        lastChange = nowMs();
        conn.backoff = BACKOFF_MIN_MS;
        conn.failures = 0;
        conn.missing = false;
        present(img, w, h, 0);
      } else {
        ctx.drawImage(img, 0, 0, w, h);   // keep the canvas identical to the image
        // A multipart response that ended leaves the last image; reload after a long silence.
        if (nowMs() - lastChange > 15000) load();
      }
    };
    load();
    requestAnimationFrame(tick);
  }

  // ---------- H.264 via WebRTC (WHEP) ----------
  // Where WebCodecs is missing (plain http on a non-localhost name) or with ?codec=whep: an
  // RTCPeerConnection receives the stream's shared H.264 encode (docs/api.md, "WHEP"). The offer
  // is POSTed to /api/streams/{name}/whep; the answer carries the server's host candidates (it is
  // ICE-lite, no trickle). Each frame the <video> presents is drawn into the canvas
  // (requestVideoFrameCallback), so the overlay, the test hooks and sample() work as on the other
  // paths. Latency: the server sends each frame with RTP timestamp = capture time (µs since the
  // epoch) × 90 kHz mod 2^32, so the capture time of a painted frame is recovered from its
  // rtpTimestamp next to the server clock (offset from GET /api/webrtc round trips, the
  // smallest round trip wins, as with the socket's pings).
  const RTP_PERIOD_US = 4294967296 * 100 / 9;   // the 32-bit 90 kHz clock wraps every 13.25 h
  const whep = { pc: null, video: null, location: null, gen: 0, statsTimer: 0, bytes: 0, retryTimer: 0 };
  function whepCaptureUs(rtp) {
    if (typeof rtp !== 'number' || hooks.clockOffsetUs === null) return 0;
    const approx = wallUs() + hooks.clockOffsetUs;
    const base = rtp * 100 / 9;
    return base + Math.round((approx - base) / RTP_PERIOD_US) * RTP_PERIOD_US;
  }
  async function whepClock() {
    for (let i = 0; i < 5; i++) {
      const sent = wallUs();
      try {
        const r = await fetch('/api/webrtc', { cache: 'no-store' });
        const m = await r.json();
        const recv = wallUs();
        if (typeof m.server_us === 'number') {
          offsets.push({ rtt: recv - sent, offset: m.server_us - (sent + recv) / 2 });
          if (offsets.length > 30) offsets.shift();
          let best = offsets[0];
          for (const x of offsets) if (x.rtt < best.rtt) best = x;
          hooks.clockOffsetUs = best.offset;
          hooks.rttMs = best.rtt / 1000;
        }
        if (i === 0 && !m.enabled) return m;
        if (i === 4) return m;
      } catch (_) { return null; }
    }
    return null;
  }
  function whepStop() {
    whep.gen++;
    clearInterval(whep.statsTimer);
    clearTimeout(whep.retryTimer);
    if (whep.location) {
      // Best effort: the server also ends a session whose ICE goes quiet.
      fetch(whep.location, { method: 'DELETE', keepalive: true }).catch(() => {});
      whep.location = null;
      hooks.whepSession = null;
    }
    if (whep.pc) { try { whep.pc.close(); } catch (_) { /* ignore */ } whep.pc = null; }
  }
  function whepRetry(why) {
    whepStop();
    hooks.error = why;
    const wait = conn.backoff;
    conn.backoff = Math.min(BACKOFF_MAX_MS, conn.backoff * 2);
    conn.retryAt = nowMs() + wait;
    hooks.reconnects++;
    setState('reconnecting');
    whep.retryTimer = setTimeout(startWhep, wait);
  }
  async function startWhep() {
    whepStop();
    const gen = whep.gen;
    setState(hooks.framesPresented ? 'reconnecting' : 'connecting');
    const info = await whepClock();
    if (gen !== whep.gen) return;
    if (!info) { whepRetry('cannot reach the server'); return; }
    if (!info.enabled || typeof RTCPeerConnection !== 'function') {
      fallbackToJpeg(info.enabled ? 'this browser has no RTCPeerConnection' : 'WebRTC (WHEP) is off on the server');
      return;
    }
    let pc;
    try {
      pc = new RTCPeerConnection({ iceServers: Array.isArray(info.ice_servers) ? info.ice_servers : [] });
    } catch (e) { fallbackToJpeg(`RTCPeerConnection: ${e.message || e}`); return; }
    whep.pc = pc;
    const tr = pc.addTransceiver('video', { direction: 'recvonly' });
    try {
      // Only what the server sends: Constrained Baseline / Baseline, packetization mode 1.
      const caps = RTCRtpReceiver.getCapabilities('video');
      const h264 = caps.codecs.filter((c) => /h264/i.test(c.mimeType)
        && /packetization-mode=1/.test(c.sdpFmtpLine || '') && /profile-level-id=42/i.test(c.sdpFmtpLine || ''));
      if (h264.length) tr.setCodecPreferences(h264.concat(caps.codecs.filter((c) => /rtx/i.test(c.mimeType))));
    } catch (_) { /* older browser: the server picks H.264 from the full offer */ }
    if (!whep.video) {
      const v = document.createElement('video');
      v.className = 'source';
      v.muted = true; v.autoplay = true; v.playsInline = true;
      $('stage').appendChild(v);
      whep.video = v;
      const onFrame = (_now, meta) => {
        v.requestVideoFrameCallback(onFrame);
        hooks.framesDecoded++;
        present(v, meta.width || v.videoWidth, meta.height || v.videoHeight, whepCaptureUs(meta.rtpTimestamp));
      };
      if (typeof v.requestVideoFrameCallback === 'function') v.requestVideoFrameCallback(onFrame);
    }
    pc.ontrack = (e) => {
      whep.video.srcObject = e.streams && e.streams[0] ? e.streams[0] : new MediaStream([e.track]);
      whep.video.play().catch(() => { /* muted autoplay is allowed; a retry follows the next frame */ });
    };
    pc.onconnectionstatechange = () => {
      if (gen !== whep.gen) return;
      const s = pc.connectionState;
      if (s === 'connected') { conn.backoff = BACKOFF_MIN_MS; conn.failures = 0; if (conn.state !== 'live') setState('connected'); }
      else if (s === 'failed' || s === 'closed') whepRetry(`WebRTC connection ${s}`);
    };
    try {
      await pc.setLocalDescription(await pc.createOffer());
      const r = await fetch(`${apiBase}/whep`, {
        method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: pc.localDescription.sdp,
      });
      if (gen !== whep.gen) return;
      if (r.status !== 201) {
        let msg = `WHEP ${r.status}`;
        try { const j = await r.json(); if (j && j.error) msg += `: ${j.error}`; } catch (_) { /* no JSON */ }
        if (r.status === 404) conn.missing = true;
        whepRetry(msg);
        return;
      }
      whep.location = r.headers.get('Location');
      hooks.whepSession = whep.location;
      await pc.setRemoteDescription({ type: 'answer', sdp: await r.text() });
    } catch (e) {
      if (gen === whep.gen) whepRetry(`WHEP: ${e.message || e}`);
      return;
    }
    conn.missing = false;
    whep.bytes = 0;
    whep.statsTimer = setInterval(async () => {
      if (gen !== whep.gen) return;
      try {
        const stats = await pc.getStats();
        stats.forEach((s) => {
          if (s.type === 'inbound-rtp' && s.kind === 'video') {
            const d = s.bytesReceived - whep.bytes;
            whep.bytes = s.bytesReceived;
            if (d > 0) received.push(d);
            hooks.framesReceived = s.framesReceived || hooks.framesReceived;
            hooks.framesDropped = s.framesDropped || hooks.framesDropped;
          }
        });
      } catch (_) { /* closed */ }
      // The video's current picture again: a frame callback can come before Chromium has the
      // picture to draw (a black first draw), and a still stream sends no next frame to mend it.
      const v = whep.video;
      if (v && v.readyState >= 2 && canvas.width === v.videoWidth && canvas.height === v.videoHeight) {
        ctx.drawImage(v, 0, 0, canvas.width, canvas.height);
      }
      if (hooks.framesPresented && nowMs() - (presented.t[presented.t.length - 1] || 0) > STALL_MS
          && pc.connectionState !== 'connected') whepRetry('no frames');
    }, 1000);
  }
  window.addEventListener('pagehide', () => { if (hooks.path === 'whep') whepStop(); });

  // ---------- overlay ----------
  function setPath(p) {
    hooks.path = p;
    for (const q of ['h264', 'jpeg', 'mjpeg', 'whep']) {
      const a = $(`codec-${q}`);
      if (q === p) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    }
    setText($('path-badge'), p);
    const note = hooks.fallbackReason && p !== requestedPath ? `${requestedPath} → ${p}: ${hooks.fallbackReason}` : '';
    setText($('fallback'), note);
    $('fallback').title = note;
    presented.reset(); received.reset(); latency.reset();
    resetReport();   // figures of the old codec are not this socket's
    renderOverlay();
  }
  function renderOverlay() {
    hooks.fps = presented.rate();
    hooks.kbps = received.sum() * 8 / 1000 / received.span();
    if (hooks.clockOffsetUs !== null) hooks.latencyMsP50 = latency.median();
    const mj = hooks.path === 'mjpeg';
    setText(o.path, hooks.path === 'h264' ? 'h264 · WebCodecs' : hooks.path === 'jpeg' ? 'jpeg · WebSocket'
      : hooks.path === 'whep' ? 'h264 · WebRTC (WHEP)' : 'mjpeg · <img>');
    setText(o.size, hooks.width ? `${hooks.width}×${hooks.height}` : DASH);
    setText(o.fps, `${hooks.fps.toFixed(1)}${mj ? ' (changes)' : ''}`);
    setText(o.kbps, mj ? 'n/a' : `${Math.round(hooks.kbps).toLocaleString('en-US')} kbit/s`);
    let lat;
    if (mj) lat = 'n/a';
    else if (hooks.clockOffsetUs === null) lat = '…';
    else if (hooks.latencyMsP50 === null) lat = DASH;
    else lat = `${hooks.latencyMsP50.toFixed(0)} ms p50`;
    setText(o.latency, lat);
    renderState();
  }
  setInterval(renderOverlay, 500);

  let overlayShown = true;
  try { overlayShown = localStorage.getItem('pixelwire.viewer.overlay') !== 'off'; } catch (_) { /* no storage */ }
  overlay.hidden = !overlayShown;
  $('stage').addEventListener('click', () => {
    overlayShown = !overlayShown;
    overlay.hidden = !overlayShown;
    try { localStorage.setItem('pixelwire.viewer.overlay', overlayShown ? 'on' : 'off'); } catch (_) { /* ignore */ }
  });

  // ---------- start ----------
  document.title = `${streamName} · pixelwire`;
  setText($('stream-name'), streamName || DASH);
  setPath(requestedPath);
  if (!streamName) {
    hooks.error = 'no stream name in the URL';
    conn.missing = true;
    setState('no such stream');
  } else if (requestedPath === 'mjpeg') {
    startMjpeg();
  } else if (requestedPath === 'jpeg') {
    connect();
  } else if (requestedPath === 'whep') {
    startWhep();
  } else {
    // Check support up front so the first keyframe is not lost waiting for isConfigSupported.
    h264Support(DEFAULT_CODEC).then((ok) => {
      if (ok) { connect(); return; }
      hooks.fallbackReason = whyNoWebCodecs() || `decoder does not support ${DEFAULT_CODEC}`;
      // The same H.264 over WebRTC needs no secure context; JPEG when that is not possible either.
      if (typeof RTCPeerConnection === 'function') { setPath('whep'); startWhep(); } else { setPath('jpeg'); connect(); }
    });
  }
})();
