// pixelwire operations page: polls GET /api/status once per second and renders it.
// Vanilla JS, no dependencies. Stream and display cards live in Maps keyed by stream
// name / display id and are updated in place (images never flicker); cards whose
// stream/display disappeared are removed. Data reaches the DOM only via textContent.
'use strict';
(() => {
  const POLL_MS = 1000, IMG_MS = 1000, FETCH_TIMEOUT_MS = 4000;
  const DASH = '—';
  const $ = (id) => document.getElementById(id);

  // ---------- formatting ----------
  const isNum = (v) => typeof v === 'number' && Number.isFinite(v);
  const num = (v, d = 0) => isNum(v)
    ? v.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }) : DASH;
  const str = (v) => (v === null || v === undefined || v === '') ? DASH : String(v);
  const size = (w, h) => (isNum(w) && isNum(h)) ? `${w}×${h}` : DASH;
  const unit = (v, d, u) => isNum(v) ? `${num(v, d)} ${u}` : DASH;
  const pad = (n) => String(n).padStart(2, '0');
  function duration(s) {
    if (!isNum(s) || s < 0) return DASH;
    s = Math.floor(s);
    const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600);
    const m = Math.floor(s % 3600 / 60), sec = s % 60;
    if (d) return `${d}d ${h}h`;
    if (h) return `${h}h ${pad(m)}m`;
    if (m) return `${m}m ${pad(sec)}s`;
    return `${sec}s`;
  }
  // Only http(s) or same-origin relative URLs are ever put into src/href.
  function safeUrl(u) {
    if (typeof u !== 'string' || !u) return null;
    try {
      const x = new URL(u, location.href);
      return (x.protocol === 'http:' || x.protocol === 'https:') ? x.href : null;
    } catch (_) { return null; }
  }

  // ---------- tiny DOM helpers ----------
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function setText(e, t) { if (e.textContent !== t) e.textContent = t; }
  function setClass(e, c) { if (e.className !== c) e.className = c; }
  // A <dl> of label/value rows; returns { key: <dd> }.
  function kvList(parent, rows, cls = '') {
    const dl = parent.appendChild(el('dl', `kv ${cls}`.trim())), out = {};
    for (const [key, label] of rows) {
      const row = dl.appendChild(el('div'));
      row.appendChild(el('dt', '', label));
      out[key] = row.appendChild(el('dd', 'num', DASH));
    }
    return out;
  }

  // ---------- live image: reload about once per second, never more than one request in flight ----------
  class LiveImage {
    constructor(caption) {
      this.frame = el('figure', 'frame');
      this.img = this.frame.appendChild(el('img'));
      this.img.alt = '';
      this.img.decoding = 'async';
      this.frame.appendChild(el('figcaption', '', caption || ''));
      this.base = null; this.busy = false; this.timer = 0; this.started = 0; this.dims = '';
      this.img.onload = () => this.done(true);
      this.img.onerror = () => this.done(false);
    }
    // Natural size from the JSON: keeps the aspect ratio before the first image arrives
    // and caps the rendered width at 2x natural size (CSS caps it at the card width).
    setSize(w, h) {
      const dims = (isNum(w) && isNum(h) && w > 0 && h > 0) ? `${w}/${h}` : '';
      if (dims === this.dims) return;
      this.dims = dims;
      this.img.style.aspectRatio = dims ? `${w} / ${h}` : '';
      this.img.style.maxWidth = dims ? `${2 * w}px` : '';
    }
    setUrl(u) {
      const url = safeUrl(u);
      if (url === this.base) return;
      this.base = url;
      this.frame.classList.toggle('none', !url);
      if (!url) { clearTimeout(this.timer); this.img.removeAttribute('src'); return; }
      if (!this.busy) { clearTimeout(this.timer); this.load(); }
    }
    load() {
      if (!this.base) return;
      const u = new URL(this.base);
      u.searchParams.set('t', String(Date.now()));
      this.busy = true;
      this.started = performance.now();
      this.img.src = u.href;
    }
    done(ok) {
      this.busy = false;
      this.frame.classList.toggle('broken', !ok);
      if (!this.base) return;
      const wait = Math.max(0, IMG_MS - (performance.now() - this.started));
      this.timer = setTimeout(() => this.load(), wait);
    }
    stop() {
      this.base = null;
      clearTimeout(this.timer);
      this.img.onload = this.img.onerror = null;
    }
  }

  // ---------- keyed card lists ----------
  // items: array from the API; key(item) -> string; make() -> card; update(card, item).
  function syncCards(container, cards, items, key, make, update) {
    const seen = new Set();
    let i = 0;
    for (const item of Array.isArray(items) ? items : []) {
      if (!item || typeof item !== 'object') continue;
      const k = String(key(item));
      if (seen.has(k)) continue;
      seen.add(k);
      let card = cards.get(k);
      if (!card) { card = make(); cards.set(k, card); }
      update(card, item);
      const at = container.children[i];
      if (at !== card.root) container.insertBefore(card.root, at || null);
      i++;
    }
    for (const [k, card] of cards) {
      if (seen.has(k)) continue;
      card.image.stop();
      card.root.remove();
      cards.delete(k);
    }
    return seen.size;
  }

  // ---------- streams ----------
  const streamCards = new Map();
  function makeStream() {
    const root = el('article', 'card');
    const image = new LiveImage();
    root.appendChild(image.frame);
    const body = root.appendChild(el('div', 'body'));
    const head = body.appendChild(el('div', 'head'));
    const title = head.appendChild(el('a', 'title'));
    const kind = head.appendChild(el('span', 'badge'));
    const state = head.appendChild(el('span', 'badge'));
    const source = body.appendChild(el('div', 'sub mono'));
    const f = kvList(body, [['size', 'size'], ['fps', 'fps'], ['frames', 'frames'], ['watchers', 'watchers']], 'wide');
    const rec = makeRecordings(body);
    return { root, image, title, kind, state, source, f, rec };
  }

  // ---------- recordings (GET /api/streams/{name}/recordings, docs/recording.md) ----------
  // Each stream card asks for its recordings every REC_MS (one request in flight at most); a
  // stream that is not recorded and has no files shows nothing.
  const REC_MS = 5000, REC_SPANS = 5;
  function makeRecordings(body) {
    const root = body.appendChild(el('div', 'rec'));
    root.hidden = true;
    const head = root.appendChild(el('div', 'head'));
    const state = head.appendChild(el('span', 'badge'));
    const button = head.appendChild(el('button', 'rec-toggle'));
    button.type = 'button';
    const error = root.appendChild(el('div', 'sub error'));
    error.hidden = true;
    const spans = root.appendChild(el('ul', 'spans'));
    const video = root.appendChild(el('video', 'rec-video'));
    video.controls = true;
    video.muted = true;
    video.preload = 'metadata';
    video.hidden = true;
    const r = { root, state, button, error, spans, video, name: null, at: 0, busy: false, data: null };
    button.addEventListener('click', () => toggleRecording(r));
    return r;
  }
  function refreshRecordings(r, name) {
    if (r.name !== name) { r.name = name; r.at = 0; r.data = null; }
    if (r.busy || Date.now() - r.at < REC_MS) return;
    r.busy = true;
    r.at = Date.now();
    fetch(`/api/streams/${encodeURIComponent(name)}/recordings`, { cache: 'no-store' })
      .then((res) => res.ok ? res.json() : null)
      .then((d) => { r.data = d && typeof d === 'object' ? d : null; renderRecordings(r); })
      .catch(() => {})
      .finally(() => { r.busy = false; });
  }
  function renderRecordings(r) {
    const d = r.data;
    const spans = d && Array.isArray(d.spans) ? d.spans.filter((x) => x && typeof x === 'object') : [];
    r.root.hidden = !d || (d.mode === 'off' && spans.length === 0);
    if (r.root.hidden) return;
    const on = d.recording === true;
    setText(r.state, on ? `● recording (${str(d.mode)})` : `recording ${str(d.mode)}`);
    setClass(r.state, on ? 'badge warn' : 'badge dim');
    r.button.hidden = d.mode !== 'on_demand';
    setText(r.button, on ? 'stop' : 'record');
    const list = document.createDocumentFragment();
    for (const sp of spans.slice(-REC_SPANS).reverse()) {
      const li = list.appendChild(el('li'));
      const when = new Date(sp.start);
      const label = `${isNaN(when) ? str(sp.start) : when.toLocaleString()} · ${duration(sp.duration_s)} · ${bytes(sp.bytes)}${sp.open ? ' · open' : ''}`;
      const play = li.appendChild(el('button', 'linkish', label));
      play.type = 'button';
      play.title = 'play this span';
      const url = safeUrl(sp.url);
      play.disabled = !url;
      play.addEventListener('click', () => {
        if (!url) return;
        r.video.hidden = false;
        r.video.src = url;
        r.video.play().catch(() => {});
      });
    }
    r.spans.replaceChildren(list);
  }
  async function toggleRecording(r) {
    if (!r.name || !r.data) return;
    const action = r.data.recording ? 'stop' : 'start';
    r.button.disabled = true;
    let error = '';
    try {
      const res = await fetch(`/api/streams/${encodeURIComponent(r.name)}/recording`, {
        method: 'POST', cache: 'no-store',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ action }),
      });
      const body = await res.json().catch(() => null);
      if (!res.ok) error = (body && typeof body.error === 'string') ? body.error : `HTTP ${res.status}`;
      else if (body) r.data.recording = body.recording === true;
    } catch (e) {
      error = (e && e.message) || 'network error';
    }
    r.button.disabled = false;
    r.error.hidden = !error;
    setText(r.error, error ? `could not ${action}: ${error}` : '');
    r.at = 0;
    renderRecordings(r);
  }
  function updateStream(c, s) {
    setText(c.title, str(s.name));
    const viewer = safeUrl(s.viewer);
    if (viewer) { if (c.title.href !== viewer) c.title.href = viewer; } else c.title.removeAttribute('href');
    c.root.classList.toggle('linked', !!viewer);
    setText(c.kind, str(s.kind));
    // A stream relayed from another cluster node is "offline" while that node is unreachable.
    const offline = s.online === false;
    setText(c.state, offline ? 'offline' : s.active ? 'active' : 'idle');
    setClass(c.state, offline ? 'badge warn' : s.active ? 'badge ok' : 'badge dim');
    c.state.title = offline ? `its node ${str(s.origin)} is unreachable` : s.active ? 'rendering' : 'not watched: generated streams render only while watched';
    setText(c.source, s.origin ? `${str(s.source)} on ${str(s.origin)}` : str(s.source));
    setText(c.f.size, size(s.width, s.height));
    setText(c.f.fps, num(s.fps, 1));
    setText(c.f.frames, num(s.frames));
    setText(c.f.watchers, num(s.watchers));
    c.image.img.alt = `snapshot of stream ${str(s.name)}`;
    c.image.setSize(s.width, s.height);
    c.image.setUrl(s.snapshot);
    if (typeof s.name === 'string') refreshRecordings(c.rec, s.name);
  }

  // ---------- displays ----------
  const displayCards = new Map();
  let lastStreams = [];
  const streamNames = () => lastStreams;
  function makeDisplay() {
    const root = el('article', 'card');
    const image = new LiveImage('what the panel shows');
    root.appendChild(image.frame);
    const body = root.appendChild(el('div', 'body'));
    const head = body.appendChild(el('div', 'head'));
    const title = head.appendChild(el('span', 'title'));
    const proto = head.appendChild(el('span', 'badge'));
    const sub = body.appendChild(el('div', 'sub'));
    const address = sub.appendChild(el('span', 'mono'));
    sub.appendChild(document.createTextNode(' · shows '));
    const stream = sub.appendChild(el('b'));
    // Switching the stream: PUT /api/displays/{id} (docs/api.md); errors are shown under it.
    const pick = body.appendChild(el('label', 'pick'));
    pick.appendChild(el('span', '', 'stream '));
    const select = pick.appendChild(el('select'));
    // What the rate controller gives up first on a slow link: PUT {"prefer": …} (docs/api.md).
    pick.appendChild(el('span', '', ' prefer '));
    const preferSelect = pick.appendChild(el('select'));
    preferSelect.title = 'motion keeps the frame rate (colour coarsens); detail keeps colour (the frame rate falls)';
    const pickError = body.appendChild(el('div', 'pick-error'));
    pickError.hidden = true;
    const f = kvList(body, [
      ['fps', 'fps'], ['kbps', 'kB/s'], ['lat', 'latency p50 / p95'], ['inflight', 'in flight'],
      ['quality', 'quality'], ['psnr', 'PSNR last / mean'], ['cap', 'link capacity'], ['rtt', 'RTT'], ['conn', 'connected for'],
      ['panel', 'panel'], ['sent', 'frames sent / shown'],
    ]);
    const foot = body.appendChild(el('div', 'sub foot'));
    foot.appendChild(document.createTextNode('firmware '));
    const firmware = foot.appendChild(el('span', 'mono'));
    foot.appendChild(document.createTextNode(' · '));
    const sentBytes = foot.appendChild(el('span', 'num'));
    const devBox = body.appendChild(el('div', 'device'));
    devBox.appendChild(el('div', 'label', 'Device reports'));
    const dev = kvList(devBox, [['fps', 'fps'], ['rssi', 'RSSI'], ['heap', 'free heap'], ['decode', 'decode']], 'wide');
    const c = { root, image, title, proto, address, stream, f, firmware, sentBytes, devBox, dev,
      select, preferSelect, pickError, id: null, busy: false, options: '', preferOptions: '' };
    select.addEventListener('change', () => switchStream(c));
    preferSelect.addEventListener('change', () => switchPrefer(c));
    return c;
  }
  // The select's options: the configured route (value '' sends null), then every stream.
  function syncStreamOptions(c, d) {
    const names = streamNames();
    const configured = str(d.configured_stream);
    const key = `${configured}\n${names.join('\n')}`;
    if (key !== c.options && document.activeElement !== c.select) {
      c.options = key;
      const opts = [el('option', '', `configured (${configured})`)];
      opts[0].value = '';
      for (const n of names) { const o = el('option', '', n); o.value = n; opts.push(o); }
      c.select.replaceChildren(...opts);
    }
    if (!c.busy && document.activeElement !== c.select) {
      const want = d.stream_origin === 'override' ? String(d.stream) : '';
      if (c.select.value !== want) c.select.value = want;
    }
  }
  // The policy select: the configured policy (value '' sends null), then both policies.
  function syncPreferOptions(c, d) {
    const configured = d.prefer_origin === 'override' ? null : str(d.prefer);
    const key = String(configured);
    if (key !== c.preferOptions && document.activeElement !== c.preferSelect) {
      c.preferOptions = key;
      const opts = [el('option', '', configured ? `configured (${configured})` : 'configured')];
      opts[0].value = '';
      for (const n of ['motion', 'detail']) { const o = el('option', '', n); o.value = n; opts.push(o); }
      c.preferSelect.replaceChildren(...opts);
    }
    if (!c.busy && document.activeElement !== c.preferSelect) {
      const want = d.prefer_origin === 'override' ? String(d.prefer) : '';
      if (c.preferSelect.value !== want) c.preferSelect.value = want;
    }
  }
  function switchStream(c) {
    const v = c.select.value;
    return putDisplay(c, { stream: v === '' ? null : v });
  }
  function switchPrefer(c) {
    const v = c.preferSelect.value;
    return putDisplay(c, { prefer: v === '' ? null : v });
  }
  async function putDisplay(c, change) {
    if (!c.id) return;
    c.busy = true;
    c.select.disabled = true;
    c.preferSelect.disabled = true;
    let error = '';
    try {
      const res = await fetch(`/api/displays/${encodeURIComponent(c.id)}`, {
        method: 'PUT', cache: 'no-store',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(change),
      });
      const body = await res.json().catch(() => null);
      if (!res.ok) error = (body && typeof body.error === 'string') ? body.error : `HTTP ${res.status}`;
      else if (body && body.status && typeof body.status === 'object') updateDisplay(c, body.status);
    } catch (e) {
      error = (e && e.message) || 'network error';
    }
    c.busy = false;
    c.select.disabled = false;
    c.preferSelect.disabled = false;
    c.pickError.hidden = !error;
    setText(c.pickError, error ? `could not switch: ${error}` : '');
  }
  function updateDisplay(c, d) {
    c.id = typeof d.id === 'string' ? d.id : null;
    setText(c.title, str(d.id));
    const legacy = d.protocol === 'legacy';
    setText(c.proto, str(d.protocol));
    setClass(c.proto, legacy ? 'badge warn' : 'badge accent');
    const q = isNum(d.quality_level) ? d.quality_level : null;
    setText(c.f.quality, q === null ? DASH : q === 0 ? 'exact' : `level ${q}`);
    c.f.quality.title = '0 = exact … 3 = coarsest';
    setClass(c.f.quality, q !== null && q >= 2 ? 'num warn' : 'num');
    setText(c.f.psnr, (isNum(d.psnr_db) || isNum(d.psnr_db_mean))
      ? `${num(d.psnr_db, 1)} / ${num(d.psnr_db_mean, 1)} dB` : DASH);
    c.f.psnr.title = 'panel against its source before RGB565; 100 = equal, about 39 = RGB565 itself';
    setClass(c.f.psnr, isNum(d.psnr_db_mean) && d.psnr_db_mean < 28 ? 'num warn' : 'num');
    setText(c.address, str(d.address));
    setText(c.stream, str(d.stream));
    c.stream.title = d.stream_origin === 'override'
      ? `chosen on this page or through the API; the configuration says ${str(d.configured_stream)}` : 'from the configuration';
    syncStreamOptions(c, d);
    syncPreferOptions(c, d);
    setText(c.f.fps, num(d.fps, 1));
    setText(c.f.kbps, num(d.kbytes_per_s, 1));
    setText(c.f.lat, (isNum(d.latency_ms_p50) || isNum(d.latency_ms_p95))
      ? `${num(d.latency_ms_p50, 1)} / ${num(d.latency_ms_p95, 1)} ms` : DASH);
    setText(c.f.inflight, num(d.frames_in_flight));
    setText(c.f.cap, isNum(d.capacity_kbytes_per_s) ? unit(d.capacity_kbytes_per_s, 0, 'kB/s') : 'measuring…');
    setText(c.f.rtt, unit(d.rtt_ms, 1, 'ms'));
    setText(c.f.panel, size(d.width, d.height) + (d.pixel_format && d.pixel_format !== 'rgb565' ? ` ${d.pixel_format}` : ''));
    setText(c.f.conn, duration(d.connected_s));
    setText(c.f.sent, `${num(d.frames_sent)} / ${num(d.frames_presented)}`);
    setText(c.sentBytes, `${bytes(d.bytes_sent)} sent`);
    setText(c.firmware, str(d.firmware));
    const dev = d.device && typeof d.device === 'object' ? d.device : null;
    c.devBox.hidden = !dev;
    if (dev) {
      setText(c.dev.fps, num(dev.fps, 1));
      setText(c.dev.rssi, unit(dev.rssi_dbm, 0, 'dBm'));
      setText(c.dev.heap, isNum(dev.free_heap_bytes) ? unit(dev.free_heap_bytes / 1024, 1, 'KiB') : DASH);
      setText(c.dev.decode, unit(dev.decode_ms, 1, 'ms'));
    }
    c.image.img.alt = `preview of display ${str(d.id)}`;
    c.image.setSize(d.width, d.height);
    c.image.setUrl(d.preview);
  }
  function bytes(n) {
    if (!isNum(n)) return DASH;
    if (n < 1024) return `${n} B`;
    if (n < 1048576) return `${num(n / 1024, 1)} KiB`;
    return `${num(n / 1048576, 1)} MiB`;
  }

  // ---------- devices (camera registry; optional) ----------
  function renderDevices(list) {
    const section = $('devices-section');
    const rows = Array.isArray(list) ? list.filter((x) => x && typeof x === 'object') : [];
    section.hidden = rows.length === 0;
    if (!rows.length) return;
    setText($('devices-count'), String(rows.length));
    const body = document.createDocumentFragment();
    for (const v of rows) {
      const tr = body.appendChild(el('tr'));
      const online = v.online === true || v.state === 'online' || v.status === 'online';
      tr.appendChild(el('td', 'mono', str(v.id)));
      tr.appendChild(el('td', '', str(v.name)));
      tr.appendChild(el('td', '', str(v.type ?? v.kind)));
      tr.appendChild(el('td')).appendChild(el('span', online ? 'badge ok' : 'badge dim', online ? 'online' : 'offline'));
      tr.appendChild(el('td', 'num', lastSeen(v)));
      tr.appendChild(el('td', 'num r', num(v.fps, 1)));
      tr.appendChild(el('td', 'num r', num(v.kbytes_per_s, 1)));
    }
    $('devices').replaceChildren(body);
  }
  function lastSeen(v) {
    if (isNum(v.last_seen_s)) return v.last_seen_s < 2 ? 'now' : `${duration(v.last_seen_s)} ago`;
    if (isNum(v.last_seen) && v.last_seen > 1e9) return `${duration(Date.now() / 1000 - v.last_seen)} ago`;
    return str(v.last_seen);
  }

  // ---------- render + poll ----------
  function render(st) {
    setText($('version'), st.version ? `v${st.version}` : '');
    setText($('uptime'), duration(st.uptime_s));
    // The HTTPS certificate's fingerprint, to compare with what the browser shows before trusting
    // a self-signed one (docs/security.md, "HTTPS").
    const tls = st.https && typeof st.https === 'object' ? st.https : null;
    $('https').hidden = !tls;
    setText($('https-fingerprint'), tls ? str(tls.fingerprint_sha256) : '');
    if (tls) $('https').title = tls.self_signed ? 'self-signed, made by the server' : str(tls.cert_file);
    lastStreams = (Array.isArray(st.streams) ? st.streams : [])
      .map((s) => s && typeof s.name === 'string' ? s.name : null).filter((n) => n !== null);
    const ns = syncCards($('streams'), streamCards, st.streams, (s) => s.name, makeStream, updateStream);
    $('streams-empty').hidden = ns > 0;
    setText($('streams-count'), String(ns));
    const nd = syncCards($('displays'), displayCards, st.displays, (d) => d.id, makeDisplay, updateDisplay);
    $('displays-empty').hidden = nd > 0;
    setText($('displays-count'), String(nd));
    renderDevices(st.devices);
  }

  let lastOk = 0;
  function setOnline(ok, why) {
    document.body.classList.toggle('stale', !ok);
    $('banner').hidden = ok;
    if (ok) {
      lastOk = Date.now();
      setText($('updated'), `updated ${new Date(lastOk).toLocaleTimeString()}`);
    } else {
      const ago = lastOk ? `last update ${duration((Date.now() - lastOk) / 1000)} ago` : 'no data yet';
      setText($('banner-detail'), `(${why}; ${ago})`);
    }
  }

  async function poll() {
    const started = performance.now();
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), FETCH_TIMEOUT_MS);
    let st = null;
    try {
      const res = await fetch('/api/status', { cache: 'no-store', signal: ctl.signal });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      st = await res.json();
      if (!st || typeof st !== 'object') throw new Error('bad response');
    } catch (e) {
      setOnline(false, !e ? 'error' : e.name === 'AbortError' ? 'timeout'
        : e.name === 'TypeError' ? 'network error' : e.message || 'error');
    } finally {
      clearTimeout(timer);
    }
    if (st) {
      try { render(st); setOnline(true); } catch (e) { console.error('render failed', e); }
    }
    setTimeout(poll, Math.max(0, POLL_MS - (performance.now() - started)));
  }

  setText($('emu-cmd'), `pixelwire display-emu --connect ${location.hostname || 'HOST'}:8888`);
  poll();
})();
