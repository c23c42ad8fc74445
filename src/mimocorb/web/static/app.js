// The mimocorb page: live dashboard of a run, or browser of finished runs.
// Every text that comes from the run (names, log lines, file names) is set as text, never as markup.
"use strict";

const HISTORY = 600; // points per buffer in the rate chart
const LOG_LINES = 2000; // lines kept in the log view
const PLOT_CONFIG = { responsive: true, displaylogo: false };
const STATUS_EVERY = 500; // ms between two drawings of the numbers and tables
const RATES_EVERY = 1000; // ms between two drawings of the rate chart
const LOG_EVERY = 250; // ms between two drawings of the log
const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];

const page = {
  token: null,
  mode: null,
  status: null,
  history: {}, // buffer -> {t: [], rate: []}
  log: [],
  sources: new Set(),
  layouts: {},
  views: {}, // view id -> newest data, drawn again when the page changes its width
  shownRun: null,
  loadingRun: false,
  closed: false,
};

// ------------------------------------------------------------------------------------ drawing ----
// Everything that changes with the run is drawn at most once per frame, each from its newest data: a page
// that cannot keep up (or a hidden tab, which gets no frames) skips pictures instead of queueing them.
// The numbers, the rate chart and the log are drawn at most every STATUS_EVERY, RATES_EVERY and
// LOG_EVERY ms.
const drawJobs = new Map();
let frameAsked = false;

function draw(key, job) {
  drawJobs.set(key, job);
  if (!frameAsked) {
    frameAsked = true;
    window.requestAnimationFrame(drawNow);
  }
}

function drawNow() {
  frameAsked = false;
  const jobs = [...drawJobs.values()];
  drawJobs.clear();
  for (const job of jobs) job();
}

const lastDrawn = new Map(); // key -> time of its last drawing
const drawLater = new Map(); // key -> job waiting for its turn

function drawAtMost(key, every, job) {
  const wait = (lastDrawn.get(key) || 0) + every - performance.now();
  if (wait <= 0) {
    lastDrawn.set(key, performance.now());
    draw(key, job);
    return;
  }
  if (!drawLater.has(key)) {
    window.setTimeout(() => {
      const latest = drawLater.get(key);
      drawLater.delete(key);
      lastDrawn.set(key, performance.now());
      draw(key, latest);
    }, wait);
  }
  drawLater.set(key, job);
}

// ------------------------------------------------------------------------------------ helpers ----
function $(id) {
  return document.getElementById(id);
}

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const cell of cells) {
    const td = document.createElement("td");
    if (cell instanceof Node) td.appendChild(cell);
    else td.textContent = cell === null || cell === undefined ? "–" : String(cell);
    tr.appendChild(td);
  }
  return tr;
}

function fillBody(table, rows) {
  const body = table.tBodies[0];
  body.replaceChildren(...rows);
}

// plotly understands a few tags in its texts; entities make sure a name is shown as it is
function plotText(value) {
  return String(value).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function rate(hz) {
  if (hz === null || hz === undefined) return "–";
  if (hz >= 1e4) return (hz / 1e3).toFixed(0) + " kHz";
  if (hz >= 10) return hz.toFixed(0) + " Hz";
  return hz.toFixed(1) + " Hz";
}

function seconds(s) {
  return s === null || s === undefined ? "–" : Number(s).toFixed(1) + " s";
}

function notice(text) {
  const box = $("notice");
  box.hidden = !text;
  box.textContent = text || "";
}

function setConnection(text, ok) {
  const badge = $("connection");
  badge.textContent = text;
  badge.className = "badge " + (ok ? "ok" : "bad");
}

function readToken() {
  const params = new URLSearchParams(window.location.search);
  const given = params.get("token");
  if (given) sessionStorage.setItem("mimocorb-token", given);
  page.token = given || sessionStorage.getItem("mimocorb-token");
}

async function getJSON(url) {
  const response = await fetch(url, { headers: page.token ? { Authorization: "Bearer " + page.token } : {} });
  if (!response.ok) throw new Error(url + ": " + response.status);
  return response.json();
}

function fileURL(run, name) {
  return "/api/file?run=" + encodeURIComponent(run) + "&name=" + encodeURIComponent(name);
}

// ----------------------------------------------------------------------------------- commands ----
async function sendCommand(word) {
  if (word === "end" && !window.confirm("End the run now?")) return;
  const result = $("command-result");
  if (!page.token) {
    $("token-box").hidden = false;
    result.textContent = "an access token is needed (the URL printed by mimocorb carries it)";
    return;
  }
  result.textContent = word + " …";
  try {
    const response = await fetch("/api/command", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: "Bearer " + page.token },
      body: JSON.stringify({ command: word }),
    });
    if (response.status === 401 || response.status === 403) {
      $("token-box").hidden = false;
      result.textContent = response.status === 401 ? "an access token is needed" : "wrong access token";
    } else if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      result.textContent = word + " refused: " + (body.detail || response.status);
    } else {
      result.textContent = word + " sent";
    }
  } catch (error) {
    result.textContent = word + " failed: " + error.message;
  }
}

function setupControls() {
  for (const button of $("controls").querySelectorAll("button[data-command]")) {
    button.addEventListener("click", () => sendCommand(button.dataset.command));
  }
  $("token-save").addEventListener("click", () => {
    page.token = $("token-input").value.trim() || null;
    if (page.token) sessionStorage.setItem("mimocorb-token", page.token);
    $("token-box").hidden = true;
    $("command-result").textContent = "";
  });
}

function updateButtons(state) {
  const active = ["running", "paused", "stopped"].includes(state);
  $("btn-pause").disabled = state !== "running";
  $("btn-resume").disabled = state !== "paused";
  $("btn-stop").disabled = !(state === "running" || state === "paused");
  $("btn-end").disabled = !active;
}

// -------------------------------------------------------------------------------- live charts ----
// The charts of the live run are drawn on canvases: a few hundred lines or bars several times a second
// cost a fraction of what a chart library's redrawing costs. Labels are drawn as text, never as markup.
const FONT = "12px system-ui, sans-serif";
const AXIS = "#66707a";
const GRID = "#e6e9ec";

function canvasIn(holder, height) {
  let canvas = holder.querySelector("canvas");
  if (!canvas) {
    canvas = el("canvas");
    canvas.setAttribute("role", "img");
    holder.appendChild(canvas);
  }
  const ratio = window.devicePixelRatio || 1;
  const width = Math.max(holder.clientWidth - 2, 100);
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    canvas.style.height = height + "px";
  }
  const ctx = canvas.getContext("2d", { alpha: false }); // opaque: nothing below it to blend
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, width, height);
  ctx.font = FONT;
  return { canvas, ctx, width, height };
}

function niceStep(span, count) {
  const raw = span / Math.max(count, 1);
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const unit = [1, 2, 2.5, 5, 10].find((m) => m * power >= raw) || 10;
  return unit * power;
}

function linearTicks(lo, hi, count) {
  if (!(hi > lo)) return [lo];
  const step = niceStep(hi - lo, count);
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

function tickText(v) {
  const a = Math.abs(v);
  if (a >= 1e6 || (a > 0 && a < 1e-3)) return v.toExponential(0);
  return String(Number(v.toPrecision(4)));
}

function clockText(ms) {
  return new Date(ms).toTimeString().slice(0, 8);
}

// a linear or logarithmic axis: value -> pixel
function scale(lo, hi, from, to, log) {
  if (log) {
    const a = Math.log10(lo);
    const b = Math.log10(hi);
    return (v) => from + ((Math.log10(Math.max(v, lo)) - a) / (b - a || 1)) * (to - from);
  }
  return (v) => from + ((v - lo) / (hi - lo || 1)) * (to - from);
}

function logTicks(lo, hi) {
  const out = [];
  for (let p = Math.ceil(Math.log10(lo)); p <= Math.floor(Math.log10(hi)); p++) out.push(Math.pow(10, p));
  return out.length ? out : [lo, hi];
}

// One panel: frame, grid, ticks, titles and the series, in box {x, y, w, h} of the canvas.
// spec: {x: [lo, hi], y: [lo, hi], ylog, xtime, xtitle, ytitle, lines: [{x, y, color}], bars: {edges,
// heights, color}, level: y of a dashed line, legend: [[name, color]]}
function drawPanel(ctx, box, spec) {
  const left = box.x + 52;
  const right = box.x + box.w - 8;
  const top = box.y + 8;
  const bottom = box.y + box.h - 36;
  const [x0, x1] = spec.x;
  const [y0, y1] = spec.y;
  const sx = scale(x0, x1, left, right, false);
  const sy = scale(y0, y1, bottom, top, spec.ylog);
  ctx.lineWidth = 1;
  ctx.strokeStyle = GRID;
  ctx.fillStyle = AXIS;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const v of spec.ylog ? logTicks(y0, y1) : linearTicks(y0, y1, Math.max(2, (bottom - top) / 40))) {
    const py = Math.round(sy(v)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(left, py);
    ctx.lineTo(right, py);
    ctx.stroke();
    ctx.fillText(tickText(v), left - 4, py);
  }
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  const xstep = spec.xtime ? Math.max(1000, niceStep(x1 - x0, (right - left) / 90)) : 0;
  const xticks = spec.xtime ? linearTicks(x0, x1, (x1 - x0) / xstep) : linearTicks(x0, x1, (right - left) / 70);
  for (const v of xticks) {
    const px = Math.round(sx(v)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(px, top);
    ctx.lineTo(px, bottom);
    ctx.stroke();
    const label = spec.xtime ? clockText(v) : tickText(v);
    const half = ctx.measureText(label).width / 2; // kept inside the panel at its edges
    ctx.fillText(label, Math.min(Math.max(px, box.x + half), box.x + box.w - half), bottom + 4);
  }
  if (spec.xtitle) ctx.fillText(spec.xtitle, (left + right) / 2, bottom + 19);
  if (spec.ytitle) {
    ctx.save();
    ctx.translate(box.x + 10, (top + bottom) / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = "middle";
    ctx.fillText(spec.ytitle, 0, 0);
    ctx.restore();
  }
  ctx.save();
  ctx.beginPath();
  ctx.rect(left, top, right - left, bottom - top);
  ctx.clip();
  if (spec.bars) drawBars(ctx, spec.bars, sx, sy, bottom);
  for (const line of spec.lines || []) drawLine(ctx, line, sx, sy);
  if (spec.level !== undefined && spec.level !== null) {
    ctx.strokeStyle = "darkred";
    ctx.setLineDash([6, 4]);
    ctx.beginPath();
    ctx.moveTo(left, Math.round(sy(spec.level)) + 0.5);
    ctx.lineTo(right, Math.round(sy(spec.level)) + 0.5);
    ctx.stroke();
    ctx.setLineDash([]);
  }
  ctx.restore();
  ctx.strokeStyle = AXIS;
  ctx.strokeRect(left + 0.5, top + 0.5, right - left, bottom - top);
  if (spec.legend) drawLegend(ctx, spec.legend, right, top);
}

function drawLine(ctx, line, sx, sy) {
  ctx.strokeStyle = line.color;
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  let pen = false;
  for (let i = 0; i < line.y.length; i++) {
    const v = line.y[i];
    if (v === null || v === undefined) {
      pen = false;
      continue;
    }
    const px = sx(line.x[i]);
    const py = sy(v);
    if (pen) ctx.lineTo(px, py);
    else ctx.moveTo(px, py);
    pen = true;
  }
  ctx.stroke();
  ctx.lineWidth = 1;
}

function drawBars(ctx, bars, sx, sy, bottom) {
  ctx.fillStyle = bars.color;
  ctx.beginPath();
  for (let i = 0; i < bars.heights.length; i++) {
    if (!(bars.heights[i] > 0)) continue;
    const a = sx(bars.edges[i]);
    const top = sy(bars.heights[i]);
    ctx.rect(a, top, Math.max(sx(bars.edges[i + 1]) - a, 1), bottom - top);
  }
  ctx.fill();
}

function drawLegend(ctx, entries, right, top) {
  ctx.textAlign = "left";
  ctx.textBaseline = "middle";
  const widths = entries.map(([name]) => ctx.measureText(name).width + 26);
  let x = right - widths.reduce((a, b) => a + b, 0) - 4;
  entries.forEach(([name, color], i) => {
    ctx.fillStyle = color;
    ctx.fillRect(x, top + 10, 14, 3);
    ctx.fillStyle = AXIS;
    ctx.fillText(name, x + 18, top + 11);
    x += widths[i];
  });
}

// [lo, hi] of the finite values, widened to include 0 (linear) or to whole decades (logarithmic)
function valueRange(values, log) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v === null || !Number.isFinite(v) || (log && v <= 0)) continue;
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  if (log) {
    if (!(hi > 0)) return [0.1, 1];
    return [Math.pow(10, Math.floor(Math.log10(lo))), Math.pow(10, Math.ceil(Math.log10(hi) + 1e-9))];
  }
  if (!(hi > 0)) return [0, 1];
  return [Math.min(0, lo), hi * 1.08];
}

// ------------------------------------------------------------------------------------- status ----
function showStatus(s) {
  page.status = s;
  addHistory(s);
  drawAtMost("status", STATUS_EVERY, () => drawStatus(s));
  drawAtMost("rates", RATES_EVERY, drawRates);
  if (s.state === "ended") showLiveRun();
}

function drawStatus(s) {
  setText($("state"), s.state);
  $("state").className = "big state-" + s.state.replace(/[^a-z]/g, "");
  setText($("active"), seconds(s.active_time));
  setText($("events"), s.events);
  const limits = [];
  if (s.limits && s.limits.runtime_s > 0) limits.push(s.limits.runtime_s + " s");
  if (s.limits && s.limits.runevents > 0) limits.push(s.limits.runevents + " events");
  setText($("limits"), limits.length ? "(ends after " + limits.join(" or ") + ")" : "(no end condition)");
  $("progress").value = s.progress === null ? 0 : s.progress;
  setText($("progress-text"), s.progress === null ? "" : (100 * s.progress).toFixed(0) + " %");
  updateButtons(s.state);
  syncRows($("buffers"), s.buffers, bufferCells);
  syncRows($("workers"), s.workers, (w) => [w.name, w.function, w.state, w.pid, w.restarts], (w) => "worker-" + String(w.state).replace(/[^a-z]/g, ""));
  $("links-part").hidden = !s.links.length;
  syncRows($("links"), s.links, (l) => [l.name || l.address || "link", l.state || ""]);
}

function setText(node, value) {
  const text = value === null || value === undefined ? "–" : String(value);
  if (node.textContent !== text) node.textContent = text;
}

// The rows of a table brought up to date in place: a cell is touched only when its text changed.
// A cell is a value (shown as text) or {fill: fraction, text} (a fill bar).
function syncRows(table, items, cellsOf, classOf) {
  const body = table.tBodies[0];
  while (body.rows.length > items.length) body.lastElementChild.remove();
  items.forEach((item, i) => {
    const cells = cellsOf(item);
    let tr = body.rows[i];
    if (!tr || tr.cells.length !== cells.length) {
      const fresh = document.createElement("tr");
      for (let k = 0; k < cells.length; k++) fresh.appendChild(document.createElement("td"));
      if (tr) body.replaceChild(fresh, tr);
      else body.appendChild(fresh);
      tr = fresh;
    }
    cells.forEach((cell, k) => setCell(tr.cells[k], cell));
    const cls = classOf ? classOf(item) : "";
    if (tr.className !== cls) tr.className = cls;
  });
}

function setCell(td, cell) {
  if (cell === null || typeof cell !== "object") {
    setText(td, cell);
    return;
  }
  let bar = td.querySelector(".fill-bar");
  if (!bar) {
    const fill = el("div", null, "fill");
    bar = el("div", null, "fill-bar");
    fill.appendChild(bar);
    fill.appendChild(el("span", null, "fill-text"));
    td.replaceChildren(fill);
  }
  const width = (100 * cell.fill).toFixed(1) + "%";
  if (bar.style.width !== width) bar.style.width = width;
  setText(td.querySelector(".fill-text"), cell.text);
}

function bufferCells(b) {
  const fill = { fill: b.slots ? b.fill / b.slots : 0, text: b.fill + "/" + b.slots };
  const consumers = b.consumers.map((c) => c.label + ": " + c.pending).join("\n");
  const deadtime = b.deadtime < 0 ? "–" : (100 * b.deadtime).toFixed(1) + " %"; // < 0: not measured
  return [b.name, b.events, rate(b.rate_hz), fill, deadtime, b.lost, consumers];
}

function addHistory(s) {
  for (const b of s.buffers) {
    const h = page.history[b.name] || (page.history[b.name] = { t: [], rate: [] });
    h.t.push(s.time * 1000);
    h.rate.push(b.rate_hz);
    if (h.t.length > HISTORY) {
      h.t.shift();
      h.rate.shift();
    }
  }
}

function drawRates() {
  const holder = $("rate-chart");
  if (!inSight(holder)) return;
  const { canvas, ctx, width, height } = canvasIn(holder, 280);
  const series = Object.entries(page.history);
  const times = series.flatMap(([, h]) => [h.t[0], h.t[h.t.length - 1]]).filter(Number.isFinite);
  const x = times.length ? [Math.min(...times), Math.max(...times)] : [0, 1];
  if (!(x[1] > x[0])) x[1] = x[0] + 1000;
  const lines = series.map(([, h], i) => ({ x: h.t, y: h.rate, color: COLORS[i % COLORS.length] }));
  const legend = series.map(([name], i) => [name, COLORS[i % COLORS.length]]);
  drawPanel(ctx, { x: 0, y: 0, w: width, h: height }, { x, y: valueRange(series.flatMap(([, h]) => h.rate), false), xtime: true, ytitle: "rate (Hz)", lines, legend });
  const span = (x[1] - x[0]) / 1000;
  canvas.dataset.span = span.toFixed(1);
  canvas.setAttribute("aria-label", "rates over " + span.toFixed(0) + " s: " + series.map(([name, h]) => name + " " + rate(h.rate[h.rate.length - 1])).join(", "));
}

// ---------------------------------------------------------------------------------------- log ----
function addLog(line) {
  page.log.push(line);
  if (page.log.length > LOG_LINES) page.log.shift();
  if (!page.sources.has(line.source)) {
    page.sources.add(line.source);
    const option = el("option", line.source);
    option.value = line.source;
    $("log-source").appendChild(option);
  }
}

function showLog() {
  const source = $("log-source").value;
  const text = $("log-text").value;
  const shown = page.log.filter((l) => (!source || l.source === source) && (!text || l.text.includes(text)));
  const out = $("log");
  const atBottom = out.scrollTop + out.clientHeight >= out.scrollHeight - 4;
  out.textContent = shown
    .map((l) => new Date(l.time * 1000).toLocaleTimeString() + " [" + l.source + "] " + l.text)
    .join("\n");
  if (atBottom) out.scrollTop = out.scrollHeight;
}

// -------------------------------------------------------------------------------------- views ----
function createViews(layouts) {
  const box = $("views");
  box.replaceChildren();
  page.views = {};
  for (const layout of layouts) {
    page.layouts[layout.id] = layout;
    box.appendChild(el("h2", layout.title + " (" + layout.buffer + ")"));
    const div = el("div", null, "chart view");
    div.id = "view-" + layout.id;
    div.dataset.kind = layout.kind;
    box.appendChild(div);
    watchSight(div);
    const info = el("div", "waiting for events …", "muted view-info");
    info.id = "view-info-" + layout.id;
    box.appendChild(info);
  }
}

function showView(data) {
  if (!page.layouts[data.id]) return;
  page.views[data.id] = data;
  draw("view-" + data.id, () => drawView(data));
}

function drawView(data) {
  const layout = page.layouts[data.id];
  const holder = $("view-" + data.id);
  if (!inSight(holder)) return; // drawn from its newest data when it is scrolled into sight
  if (layout.kind === "scope") drawScope(holder, layout, data);
  else drawHistograms(holder, layout, data);
}

function drawScope(holder, layout, data) {
  const { canvas, ctx, width, height } = canvasIn(holder, 280);
  const lines = layout.names.map((name, i) => ({ x: layout.x, y: data.traces[name], color: COLORS[i % COLORS.length] }));
  const legend = layout.names.map((name, i) => [name, COLORS[i % COLORS.length]]);
  const spec = { x: layout.xlim, y: layout.ylim, xtitle: layout.xlabel, ytitle: layout.ylabel, lines, legend, level: layout.trigger };
  drawPanel(ctx, { x: 0, y: 0, w: width, h: height }, spec);
  const info = "event " + data.counter;
  canvas.setAttribute("aria-label", layout.title + ", " + info);
  setText($("view-info-" + data.id), info);
}

function drawHistograms(holder, layout, data) {
  const n = layout.histograms.length;
  const columns = Math.max(1, Math.min(n, holder.clientWidth < 700 ? 1 : 3));
  const rows = Math.ceil(n / columns);
  const { canvas, ctx, width, height } = canvasIn(holder, 240 * rows);
  const w = width / columns;
  layout.histograms.forEach((spec, i) => {
    const h = data.histograms[i];
    const heights = h.counts.map((c) => c / Math.max(h.entries, 1));
    const box = { x: (i % columns) * w, y: Math.floor(i / columns) * 240, w, h: 240 };
    const x = [spec.edges[0], spec.edges[spec.edges.length - 1]];
    const bars = { edges: spec.edges, heights, color: COLORS[0] };
    drawPanel(ctx, box, { x, y: valueRange(heights, spec.log), ylog: spec.log, xtitle: spec.label + " (" + h.entries + " sampled)", bars });
  });
  const info = layout.histograms
    .map((spec, i) => {
      const h = data.histograms[i];
      const mean = h.mean === null ? "–" : h.mean.toPrecision(4);
      const std = h.std === null ? "–" : h.std.toPrecision(4);
      return spec.label + ": " + h.entries + " sampled, mean " + mean + ", std " + std;
    })
    .join("; ");
  canvas.setAttribute("aria-label", layout.title + ": " + info);
  setText($("view-info-" + data.id), info);
}

function redrawCharts() {
  if (page.status) draw("rates", drawRates);
  for (const data of Object.values(page.views)) draw("view-" + data.id, () => drawView(data));
}

// Charts scrolled out of sight are not drawn (a phone shows one at a time); they are drawn again from
// their newest data as they come into sight.
const sighted = new Map(); // chart holder -> in sight
let sightWatch = null;

function watchSight(holder) {
  if (!window.IntersectionObserver) return;
  if (!sightWatch) {
    sightWatch = new IntersectionObserver(
      (entries) => {
        for (const entry of entries) sighted.set(entry.target, entry.isIntersecting);
        if (entries.some((entry) => entry.isIntersecting)) redrawCharts();
      },
      { rootMargin: "100px" },
    );
  }
  sightWatch.observe(holder);
}

function inSight(holder) {
  return sighted.get(holder) !== false;
}

// ------------------------------------------------------------------------------- live channel ----
function startLive() {
  const stream = new EventSource("/api/events");
  stream.addEventListener("hello", (event) => {
    const hello = JSON.parse(event.data);
    setConnection("live", true);
    createViews(hello.layouts);
    page.log = [];
    for (const line of hello.log) addLog(line);
    showLog();
    showStatus(hello.status);
    for (const view of hello.views) showView(view);
  });
  stream.addEventListener("status", (event) => showStatus(JSON.parse(event.data)));
  stream.addEventListener("log", (event) => {
    addLog(JSON.parse(event.data));
    drawAtMost("log", LOG_EVERY, showLog);
  });
  stream.addEventListener("view", (event) => showView(JSON.parse(event.data)));
  stream.addEventListener("closing", () => {
    page.closed = true;
    stream.close();
    setConnection("server ended", false);
    notice("The run's web server has ended; mimocorb serve DIR shows finished runs.");
    updateButtons("ended");
  });
  stream.onerror = () => {
    if (!page.closed) setConnection("reconnecting…", false);
  };
  $("log-source").addEventListener("change", showLog);
  $("log-text").addEventListener("input", showLog);
  window.addEventListener("resize", redrawCharts);
  watchSight($("rate-chart"));
}

async function showLiveRun() {
  if (page.shownRun || page.loadingRun) return; // once, and never two loads at a time
  page.loadingRun = true;
  try {
    const runs = await getJSON("/api/runs");
    if (runs.length && runs[0].finished) await showRun(runs[0].id);
  } catch (error) {
    // the summary is written at the very end; the next status tries again
  } finally {
    page.loadingRun = false;
  }
}

// -------------------------------------------------------------------------------- run browser ----
async function showRuns() {
  const runs = await getJSON("/api/runs");
  fillBody(
    $("runs"),
    runs.map((r) => {
      const link = el("a", r.date ? r.date.replace("T", " ") : r.name);
      link.href = "#run=" + encodeURIComponent(r.id);
      const tr = row([link, r.setup, r.end_reason, r.events, rate(r.rate_hz), r.files]);
      tr.className = r.clean === false ? "unclean" : "";
      return tr;
    }),
  );
  if (!runs.length) fillBody($("runs"), [row(["no run directories found", "", "", "", "", ""])]);
}

async function showRun(id) {
  const data = await getJSON("/api/run?id=" + encodeURIComponent(id));
  page.shownRun = id;
  $("run").hidden = false;
  $("back").hidden = page.mode !== "browse";
  $("run-title").textContent = "Run " + data.run.name;
  const s = data.summary || {};
  const facts = [
    ["setup", data.run.setup],
    ["start", s.start],
    ["end", s.end],
    ["end reason", s.end_reason],
    ["active time", seconds(s.active_time_s)],
    ["events", s.events],
    ["pauses", s.pauses],
    ["exit code", s.exit_code],
  ];
  for (const [name, b] of Object.entries(s.buffers || {})) {
    facts.push([name, b.events + " events, " + rate(b.mean_rate_hz) + ", deadtime " + (100 * b.mean_deadtime).toFixed(1) + " %"]);
  }
  for (const [name, f] of Object.entries(s.files || {})) facts.push([name, f.events + " events (" + f.format + ")"]);
  for (const failure of s.failures || []) facts.push(["failure", failure]);
  fillBody($("run-summary"), facts.map(([k, v]) => row([k, v])));
  const traces = Object.entries(data.stats).map(([name, h]) => ({
    x: h.time_s,
    y: h.rate_hz,
    name: plotText(name),
    mode: "lines",
  }));
  const layout = {
    margin: { l: 55, r: 10, t: 30, b: 40 },
    height: 280,
    xaxis: { title: { text: "time (s)" } },
    yaxis: { title: { text: "rate (Hz)" }, rangemode: "tozero" },
    legend: { orientation: "h", y: -0.25 },
  };
  draw("run-chart", () => window.Plotly.react($("run-chart"), traces, layout, PLOT_CONFIG));
  const pictures = $("run-pictures");
  pictures.replaceChildren();
  const files = $("run-files");
  files.replaceChildren();
  for (const f of data.files) {
    const url = fileURL(id, f.name);
    if (f.kind === "picture" && !f.name.toLowerCase().endsWith(".svg")) {
      const figure = el("figure");
      const img = el("img");
      img.src = url;
      img.alt = f.name;
      if (page.mode === "browse") img.loading = "lazy"; // a live server may end soon: load them now
      figure.appendChild(img);
      figure.appendChild(el("figcaption", f.name));
      pictures.appendChild(figure);
    }
    const li = el("li");
    const a = el("a", f.name);
    a.href = url;
    li.appendChild(a);
    li.appendChild(el("span", " " + (f.size / 1024).toFixed(1) + " kB", "muted"));
    files.appendChild(li);
  }
}

async function route() {
  const match = window.location.hash.match(/^#run=(.*)$/);
  if (page.mode === "browse") {
    $("browse").hidden = !!match;
    $("run").hidden = !match;
    if (match) await showRun(decodeURIComponent(match[1]));
    else await showRuns();
  }
}

// ------------------------------------------------------------------------------------- start ----
async function start() {
  readToken();
  try {
    const info = await getJSON("/api/info");
    page.mode = info.mode;
  } catch (error) {
    setConnection("no access", false);
    notice("The server refused: " + error.message + " (open the URL that mimocorb printed, with its token)");
    return;
  }
  if (page.mode === "live") {
    $("live").hidden = false;
    setupControls();
    startLive();
  } else {
    setConnection("run browser", true);
    window.addEventListener("hashchange", () => route().catch((e) => notice(e.message)));
    await route().catch((e) => notice(e.message));
  }
}

document.addEventListener("DOMContentLoaded", start);
