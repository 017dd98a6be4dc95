// The streamd page: route list, a route's video with its timeline and signal
// plots that follow the video's cursor, and the live camera with process status.
// window.streamd holds what the page has shown (frames drawn, points plotted),
// for whoever wants to check it (the browser test does).
'use strict';

const $ = (id) => document.getElementById(id);
const token = new URLSearchParams(location.search).get('token');
const url = (path) => (token ? `${path}${path.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}` : path);
const DEFAULT_SIGNALS = ['modelV2.modelExecutionTime', 'modelV2.frameDropPerc', 'qRoadEncodeIdx.len',
                         'roadCameraState.processingTime'];
const state = window.streamd = { frames: 0, liveFrames: 0, plots: {}, processes: {}, view: '' };

async function getJson(path) {
  const r = await fetch(url(path));
  if (!r.ok) throw new Error(`${path}: ${(await r.text()).trim()}`);
  return r.json();
}

function showError(e) { $('error').textContent = e ? String(e.message || e) : ''; }

function mb(bytes) { return `${(bytes / 1e6).toFixed(1)} MB`; }

// ---- routes ----------------------------------------------------------------

async function showRoutes() {
  const body = $('routes').tBodies[0];
  body.replaceChildren();
  for (const r of await getJson('/routes')) {
    const tr = body.insertRow();
    const a = document.createElement('a');
    a.href = `#/route/${encodeURIComponent(r.name)}`;
    a.textContent = r.name;
    tr.insertCell().append(a);
    tr.insertCell().textContent = r.segments;
    tr.insertCell().textContent = mb(r.bytes);
    tr.insertCell().textContent = r.recording ? 'recording' : '';
  }
}

// ---- one route: video, timeline, plots ----------------------------------

let route = null;  // {name, info, signals}

async function showRoute(name) {
  const info = await getJson(`/routes/${encodeURIComponent(name)}`);
  route = { name, info, signals: null };
  $('route-name').textContent = name;
  const video = $('video');
  video.src = url(`/routes/${encodeURIComponent(name)}/video.mp4`);
  countFrames(video, 'frames');
  $('files').replaceChildren(...info.segments.map((s) => {
    const span = document.createElement('span');
    span.append(`segment ${s.number}: `);
    for (const f of Object.keys(s.files)) {
      const a = document.createElement('a');
      a.href = url(`/routes/${encodeURIComponent(name)}/${s.number}/${f}`);
      a.textContent = f;
      span.append(a, ' ');
    }
    span.append(document.createElement('br'));
    return span;
  }));
  if (!$('signals').value) $('signals').value = DEFAULT_SIGNALS.join(',');
  await loadSignals();
  requestAnimationFrame(drawCursor);
}

async function loadSignals() {
  if (!route) return;
  const names = $('signals').value.split(',').map((s) => s.trim()).filter(Boolean);
  const got = await getJson(`/routes/${encodeURIComponent(route.name)}/signals?s=${encodeURIComponent(names.join(','))}`);
  route.signals = got.signals;
  state.plots = {};
  $('plots').replaceChildren(...Object.entries(got.signals).map(([n, s]) => {
    state.plots[n] = s.t.length;
    const c = document.createElement('canvas');
    c.className = 'plot';
    c.dataset.signal = n;
    c.width = 640;
    c.height = 120;
    c.addEventListener('click', (e) => seekTo(c, e));
    return c;
  }));
}

// Seconds of video shown across the timeline and the plots.
function span() {
  const v = $('video');
  let end = isFinite(v.duration) ? v.duration : 0;
  for (const s of Object.values(route.signals || {})) end = Math.max(end, s.t.length ? s.t[s.t.length - 1] : 0);
  return Math.max(end, 1);
}

function seekTo(canvas, e) {
  const r = canvas.getBoundingClientRect();
  $('video').currentTime = Math.max(0, ((e.clientX - r.left) / r.width) * span());
}

function drawTimeline(t) {
  const c = $('timeline'), g = c.getContext('2d'), total = span();
  g.fillStyle = '#222';
  g.fillRect(0, 0, c.width, c.height);
  const v0 = route.info.video_start_ns;
  route.info.segments.forEach((s, i) => {
    if (!s.qcamera_start_ns || !v0) return;
    const x = ((s.qcamera_start_ns - v0) / 1e9 / total) * c.width;
    g.fillStyle = i % 2 ? '#345' : '#456';
    g.fillRect(x, 4, c.width - x, c.height - 8);
    g.fillStyle = '#aaa';
    g.fillText(`${s.number}`, x + 3, c.height - 9);
  });
  g.fillStyle = '#fc4';
  g.fillRect((t / total) * c.width - 1, 0, 3, c.height);
}

function drawPlot(c, s, t) {
  const g = c.getContext('2d'), total = span(), w = c.width, h = c.height;
  g.fillStyle = '#181818';
  g.fillRect(0, 0, w, h);
  if (!s.t.length) {
    g.fillStyle = '#888';
    g.fillText(`${c.dataset.signal}: no messages in this route`, 6, 11);
    return;
  }
  let lo = Infinity, hi = -Infinity;
  for (const v of s.v) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  if (hi === lo) { hi += 1; lo -= 1; }
  const y = (v) => h - 14 - ((v - lo) / (hi - lo)) * (h - 28);
  g.strokeStyle = '#6cf';
  g.beginPath();
  s.t.forEach((tt, i) => { const x = (tt / total) * w; i ? g.lineTo(x, y(s.v[i])) : g.moveTo(x, y(s.v[i])); });
  g.stroke();
  // the value at the cursor: the last sample at or before it
  let k = -1;
  for (let i = 0; i < s.t.length && s.t[i] <= t; i++) k = i;
  g.fillStyle = '#ddd';
  g.fillText(`${c.dataset.signal}  ${k >= 0 ? s.v[k].toPrecision(4) : '–'}   [${lo.toPrecision(3)} … ${hi.toPrecision(3)}]`, 6, 11);
  g.fillStyle = '#fc4';
  g.fillRect((t / total) * w - 1, 0, 2, h);
}

function drawCursor() {
  if (state.view !== 'route' || !route) return;
  const t = $('video').currentTime;
  drawTimeline(t);
  for (const c of $('plots').children) {
    const s = route.signals[c.dataset.signal];
    if (s) drawPlot(c, s, t);
  }
  state.cursor = t;
  requestAnimationFrame(drawCursor);
}

// Counts frames the video element presents (state[key]).
function countFrames(video, key) {
  if (!video.requestVideoFrameCallback) return;
  const tick = () => { state[key]++; video.requestVideoFrameCallback(tick); };
  if (!video.dataset.counting) {
    video.dataset.counting = '1';
    video.requestVideoFrameCallback(tick);
  }
}

// ---- live: fragmented MP4 through MediaSource, status over SSE -----------

let live = null;  // {abort, events}

function codecOf(init) {
  // avc1.PPCCLL from the avcC box of the init segment
  for (let i = 4; i + 8 < init.length; i++) {
    if (init[i] === 0x61 && init[i + 1] === 0x76 && init[i + 2] === 0x63 && init[i + 3] === 0x43) {
      const hex = (b) => b.toString(16).padStart(2, '0');
      return `avc1.${hex(init[i + 5])}${hex(init[i + 6])}${hex(init[i + 7])}`;
    }
  }
  return 'avc1.42e01e';
}

async function startLive() {
  stopLive();
  const ctl = new AbortController();
  live = { abort: ctl, events: new EventSource(url('/live/events')) };
  live.events.onmessage = (m) => showStatus(JSON.parse(m.data));
  const video = $('live');
  countFrames(video, 'liveFrames');
  try {
    const r = await fetch(url('/live/video'), { signal: ctl.signal });
    if (!r.ok) throw new Error((await r.text()).trim());
    const reader = r.body.getReader();
    const ms = new MediaSource();
    video.src = URL.createObjectURL(ms);
    await new Promise((ok) => ms.addEventListener('sourceopen', ok, { once: true }));
    let pending = [], sb = null, first = true;
    const pump = () => {
      if (!sb || sb.updating || !pending.length) return;
      const buf = new Uint8Array(pending.reduce((n, b) => n + b.length, 0));
      let o = 0;
      for (const b of pending) { buf.set(b, o); o += b.length; }
      pending = [];
      sb.appendBuffer(buf);
    };
    $('live-state').textContent = 'playing';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (!sb) {
        sb = ms.addSourceBuffer(`video/mp4; codecs="${codecOf(value)}"`);
        sb.mode = 'segments';
        sb.addEventListener('updateend', () => {
          const b = sb.buffered;
          if (b.length) {
            const end = b.end(b.length - 1);
            // Stay at the live edge: start there, jump back there after a stall or a skipped stretch.
            if (first || end - video.currentTime > 1.0) video.currentTime = Math.max(b.start(b.length - 1), end - 0.2);
            first = false;
            if (b.start(0) < end - 30 && !sb.updating) { sb.remove(0, end - 20); return; }
          }
          pump();
        });
      }
      pending.push(value);
      pump();
      if (video.paused) video.play().catch(() => {});
    }
    $('live-state').textContent = 'stream ended';
  } catch (e) {
    if (e.name !== 'AbortError') $('live-state').textContent = `no live video: ${e.message}`;
  }
}

function stopLive() {
  if (!live) return;
  live.abort.abort();
  live.events.close();
  live = null;
}

// ev: one Event as JSON, {"logMonoTime", "valid", SERVICE: {...}} (tools/mcap/event_json.h)
function showStatus(ev) {
  const service = Object.keys(ev).find((k) => k !== 'logMonoTime' && k !== 'valid');
  const data = ev[service];
  if (service === 'managerState') {
    const body = $('procs').tBodies[0];
    body.replaceChildren();
    for (const p of data.processes || []) {
      if (!p.shouldBeRunning && !p.running) continue;
      state.processes[p.name] = p.running;
      const tr = body.insertRow();
      tr.insertCell().textContent = p.name;
      const st = tr.insertCell();
      st.textContent = p.running ? 'running' : 'stopped';
      st.className = p.running ? 'running' : 'stopped';
      tr.insertCell().textContent = p.pid;
      tr.insertCell().textContent = p.restartCount;
    }
  } else if (service === 'loggerdState') {
    $('logger').textContent = `recording ${data.route} segment ${data.segmentNum}, ${mb(Number(data.bytesWritten))} written`;
  }
}

// ---- views -----------------------------------------------------------------

async function route_() {
  const h = location.hash || '#/';
  for (const v of ['routes-view', 'route-view', 'live-view']) $(v).hidden = true;
  showError(null);
  if (h !== '#/live') stopLive();
  try {
    if (h.startsWith('#/route/')) {
      state.view = 'route';
      $('route-view').hidden = false;
      await showRoute(decodeURIComponent(h.slice(8)));
    } else if (h === '#/live') {
      state.view = 'live';
      $('live-view').hidden = false;
      await startLive();
    } else {
      state.view = 'routes';
      $('routes-view').hidden = false;
      await showRoutes();
    }
  } catch (e) {
    showError(e);
  }
}

$('signal-form').addEventListener('submit', (e) => { e.preventDefault(); loadSignals().catch(showError); });
$('timeline').addEventListener('click', (e) => seekTo($('timeline'), e));
window.addEventListener('hashchange', route_);
route_();
