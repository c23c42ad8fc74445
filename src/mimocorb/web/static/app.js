// The mimocorb page: live dashboard of a run, or browser of finished runs.
// Every text that comes from the run (names, log lines, file names) is set as text, never as markup.
"use strict";

const HISTORY = 600; // points per buffer in the rate chart
const LOG_LINES = 2000; // lines kept in the log view
const PLOT_CONFIG = { responsive: true, displaylogo: false };
const STATUS_EVERY = 500; // ms between two drawings of the numbers and tables
const RATES_EVERY = 1000; // ms between two drawings of the rate chart
const LOG_EVERY = 250; // ms between two drawings of the log

const page = {
  token: null,
  mode: null,
  status: null,
  history: {}, // buffer -> {t: [], rate: []}
  log: [],
  sources: new Set(),
  layouts: {},
  views: {}, // view id -> newest data, drawn when its chart comes into sight
  historyRevision: 0, // counts the snapshots added to the history
  commands: [], // the run's command table (GET /api/commands): one button each
  shownRun: null,
  loadingRun: false,
  closed: false,
};

// ------------------------------------------------------------------------------------ drawing ----
// Everything that changes with the run is drawn in an animation frame, each from its newest data: a page
// that cannot keep up (or a hidden tab, which gets no frames) skips pictures instead of queueing them.
// The numbers, the rate chart and the log are drawn at most every STATUS_EVERY, RATES_EVERY and
// LOG_EVERY ms. Of the charts one is redrawn per frame, the one waiting longest first, so that a frame
// never holds several chart redraws.
const drawJobs = new Map(); // key -> job, all drawn in the next frame
const chartJobs = new Map(); // key -> job, one drawn per frame (a Map keeps the order of first asking)
let frameAsked = false;

function draw(key, job) {
  drawJobs.set(key, job);
  askFrame();
}

function drawChart(key, job) {
  chartJobs.set(key, job);
  askFrame();
}

function askFrame() {
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
  const next = chartJobs.keys().next();
  if (!next.done) {
    const job = chartJobs.get(next.value);
    chartJobs.delete(next.value);
    job();
  }
  if (chartJobs.size) askFrame();
}

const lastDrawn = new Map(); // key -> time of its last drawing
const drawLater = new Map(); // key -> job waiting for its turn

function drawAtMost(key, every, job, drawIn = draw) {
  const wait = (lastDrawn.get(key) || 0) + every - performance.now();
  if (wait <= 0) {
    lastDrawn.set(key, performance.now());
    drawIn(key, job);
    return;
  }
  if (!drawLater.has(key)) {
    window.setTimeout(() => {
      const latest = drawLater.get(key);
      drawLater.delete(key);
      lastDrawn.set(key, performance.now());
      drawIn(key, latest);
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
async function sendCommand(command, argument) {
  if (command.confirm && !window.confirm(command.confirm)) return;
  const word = command.name;
  const body = argument ? { command: word, argument: argument } : { command: word };
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
      body: JSON.stringify(body),
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

// One button per command of the run's table, in its order; a command that cannot be undone (it asks
// before it is sent) looks dangerous.
function setupControls(commands) {
  page.commands = commands;
  const result = $("command-result");
  for (const command of commands) {
    const button = el("button", command.name.charAt(0).toUpperCase() + command.name.slice(1));
    button.id = "btn-" + command.name;
    button.title = command.does + " (" + command.key + " on the keyboard)";
    if (command.confirm) button.className = "danger";
    button.addEventListener("click", () => sendCommand(command));
    result.before(button);
  }
  $("token-save").addEventListener("click", () => {
    page.token = $("token-input").value.trim() || null;
    if (page.token) sessionStorage.setItem("mimocorb-token", page.token);
    $("token-box").hidden = true;
    $("command-result").textContent = "";
  });
}

// A button is enabled in the states its command's table entry lists.
function updateButtons(state) {
  for (const command of page.commands) $("btn-" + command.name).disabled = !command.states.includes(state);
}

// -------------------------------------------------------------------------------- live charts ----
// The charts of the live run are plotly charts kept cheap: static (no hover, no modebar, no zoom), no
// transitions, axis ranges fixed where they are known (the scope's display ranges, the histograms' bins
// and frequency range) so that a new picture redraws the traces and not the axes, the scope's waveforms
// thinned to about one point per pixel, histograms as one filled step line each (a path per histogram,
// not one per bar), and a chart redrawn only when its data changed.
const LIVE_CONFIG = { staticPlot: true, displaylogo: false };
// a data-only update of a chart with fixed axes: plotly draws the new traces into the axes it has,
// at once (no transition) and dropping an update it has not drawn yet when a newer one comes
const TRACES_ONLY = { transition: { duration: 0 }, frame: { duration: 0, redraw: false }, mode: "immediate" };
const HIST_HEIGHT = 240; // px per row of histograms

function liveLayout(extra) {
  // the legend above the plot, where it does not cover the axis title at phone width
  const legend = { orientation: "h", x: 0, y: 1.02, yanchor: "bottom" };
  const base = { margin: { l: 55, r: 10, t: 30, b: 40 }, height: 280, legend };
  return Object.assign(base, { hovermode: false, datarevision: 0 }, extra);
}

const plotted = new Map(); // chart holder -> the layout object it was drawn with

// Draws the traces in the chart. The layout object is the same from one picture to the next as long as
// the chart keeps its form; with `fixed` axes plotly then redraws the traces only, else the whole chart
// (its data revision tells plotly that the data is new). The width is the holder's, set here rather
// than followed by plotly, so that a chart out of sight is not redrawn when the page changes its width.
function plotLive(holder, traces, layout, fixed) {
  const width = holder.clientWidth || undefined;
  if (fixed && plotted.get(holder) === layout && layout.width === width && holder.data.length === traces.length) {
    const update = { data: traces, traces: traces.map((_, i) => i) };
    // an update dropped for a newer one rejects its promise: nothing to report
    window.Plotly.animate(holder, update, TRACES_ONLY).catch(() => {});
    return;
  }
  layout.width = width;
  layout.datarevision += 1;
  window.Plotly.react(holder, traces, layout, LIVE_CONFIG);
  plotted.set(holder, layout);
}

const drawnData = new Map(); // chart holder -> key of the data it shows

// Draws a chart with job() unless it is out of sight or already shows the data of this key.
function drawFresh(holder, key, job) {
  if (!inSight(holder) || drawnData.get(holder) === key) return;
  drawnData.set(holder, key);
  job();
}

// The points of a waveform kept for a chart of about `buckets` pairs of pixels: the lowest and highest
// sample of each bucket, in their order, so that no peak is lost.
function thinned(x, y, buckets) {
  if (y.length <= 2 * buckets) return { x, y };
  const out = { x: [], y: [] };
  for (let b = 0; b < buckets; b++) {
    const from = Math.floor((b * y.length) / buckets);
    const to = Math.floor(((b + 1) * y.length) / buckets);
    let lo = from;
    let hi = from;
    for (let i = from + 1; i < to; i++) {
      if (y[i] < y[lo]) lo = i;
      if (y[i] > y[hi]) hi = i;
    }
    for (const i of lo === hi ? [lo] : [Math.min(lo, hi), Math.max(lo, hi)]) {
      out.x.push(x[i]);
      out.y.push(y[i]);
    }
  }
  return out;
}

// ------------------------------------------------------------------------------------- status ----
function showStatus(s) {
  page.status = s;
  addHistory(s);
  drawAtMost("status", STATUS_EVERY, () => drawStatus(s));
  drawAtMost("rates", RATES_EVERY, drawRates, drawChart);
  if (s.state === "ended") showLiveRun();
}

function drawStatus(s) {
  setText($("state"), s.state);
  $("state").className = "big state-" + s.state.replace(/[^a-z]/g, "");
  setText($("active"), seconds(s.active_time));
  setText($("events"), s.events);
  drawSeries(s.series);
  const limits = [];
  if (s.limits && s.limits.runtime_s > 0) limits.push(s.limits.runtime_s + " s");
  if (s.limits && s.limits.runevents > 0) limits.push(s.limits.runevents + " events");
  setText($("limits"), limits.length ? "(ends after " + limits.join(" or ") + ")" : "(no end condition)");
  $("progress").value = s.progress === null ? 0 : s.progress;
  setText($("progress-text"), s.progress === null ? "" : (100 * s.progress).toFixed(0) + " %");
  updateButtons(s.state);
  drawAlarms(s.alarms || [], s.state);
  syncRows($("buffers"), s.buffers, bufferCells);
  syncRows($("workers"), s.workers, (w) => [w.name, w.function, w.state, w.pid, w.restarts], (w) => "worker-" + String(w.state).replace(/[^a-z]/g, ""));
  $("links-part").hidden = !s.links.length;
  syncRows($("links"), s.links, (l) => [l.name || l.address || "link", l.state || ""]);
}

// A run of a series: which step it is and the values the step sets.
function drawSeries(series) {
  $("series").hidden = !series;
  if (!series) return;
  const again = series.run > 1 ? ", run " + series.run : "";
  setText($("series"), "series " + series.name + ": step " + series.step + " of " + series.steps + again + " — " + series.overrides);
}

// The banner of raised alarms: one line each, with a button that acknowledges it (the acknowledge
// command of the run's table, with the alarm's name); redrawn only when the alarms or their states change.
let drawnAlarms = "";
function drawAlarms(alarms, state) {
  const key = JSON.stringify(alarms.map((a) => [a.alarm, a.acknowledged, a.time])) + state;
  if (key === drawnAlarms) return;
  drawnAlarms = key;
  const banner = $("alarms");
  banner.replaceChildren();
  banner.hidden = !alarms.length;
  const acknowledge = page.commands.find((c) => c.name === "acknowledge");
  for (const a of alarms) {
    const line = el("div", null, "alarm alarm-" + a.severity + (a.acknowledged ? " acknowledged" : ""));
    line.id = "alarm-" + a.alarm;
    const values = Object.entries(a.values || {}).map(([k, v]) => k + " = " + v).join(", ");
    const since = new Date(a.time * 1000).toLocaleTimeString();
    line.append(el("strong", a.alarm), el("span", " " + a.severity + " since " + since + ": " + a.condition + (values ? " [" + values + "]" : "")));
    if (a.acknowledged) line.append(el("span", " (acknowledged)", "muted"));
    else if (acknowledge) {
      const button = el("button", "Acknowledge");
      button.id = "ack-" + a.alarm;
      button.disabled = !acknowledge.states.includes(state);
      button.addEventListener("click", () => sendCommand(acknowledge, a.alarm));
      line.append(" ", button);
    }
    banner.append(line);
  }
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
  page.historyRevision += 1;
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
  drawFresh(holder, page.historyRevision, () => {
    // copies: the history goes on growing while plotly holds the arrays it drew
    const series = Object.entries(page.history);
    const traces = series.map(([name, h]) => ({ x: h.t.slice(), y: h.rate.slice(), name: plotText(name), mode: "lines" }));
    const yaxis = { title: { text: "rate (Hz)" }, rangemode: "tozero" };
    plotLive(holder, traces, liveLayout({ xaxis: { type: "date" }, yaxis, datarevision: page.historyRevision }));
    const latest = series.map(([name, h]) => name + " " + rate(h.rate[h.rate.length - 1]));
    holder.setAttribute("aria-label", "rates: " + latest.join(", "));
  });
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
  drawChart("view-" + data.id, () => drawView(data));
}

function drawView(data) {
  const layout = page.layouts[data.id];
  const holder = $("view-" + data.id);
  // drawn from its newest data when it is scrolled into sight
  if (layout.kind === "scope") drawFresh(holder, data.counter, () => drawScope(holder, layout, data));
  else drawFresh(holder, data.histograms.map((h) => h.entries).join(), () => drawHistograms(holder, layout, data));
}

const plotLayouts = {}; // view id (and columns) -> plotly layout, the same object while the chart keeps its form

function scopeLayout(layout) {
  const shapes = [];
  if (layout.trigger !== null) {
    const line = { dash: "dash", color: "darkred", width: 1 };
    shapes.push({ type: "line", xref: "paper", x0: 0, x1: 1, y0: layout.trigger, y1: layout.trigger, line });
  }
  return liveLayout({
    xaxis: { title: { text: plotText(layout.xlabel) }, range: layout.xlim, autorange: false },
    yaxis: { title: { text: plotText(layout.ylabel) }, range: layout.ylim, autorange: false },
    shapes,
  });
}

function drawScope(holder, layout, data) {
  const plot = plotLayouts[layout.id] || (plotLayouts[layout.id] = scopeLayout(layout));
  const buckets = Math.max(50, Math.ceil(holder.clientWidth / 2));
  const traces = layout.names.map((name) => {
    const points = thinned(layout.x, data.traces[name], buckets);
    return { x: points.x, y: points.y, name: plotText(name), mode: "lines", line: { width: 1.5 } };
  });
  plotLive(holder, traces, plot, true);
  const info = "event " + data.counter;
  holder.setAttribute("aria-label", layout.title + ", " + info);
  setText($("view-info-" + data.id), info);
}

// One panel per histogram, in up to three columns (one on a narrow screen), each with the axes of its
// bins and of its frequency range, so that new counts redraw the histograms only.
function histogramsLayout(layout, columns) {
  const n = layout.histograms.length;
  const rows = Math.ceil(n / columns);
  const axes = {};
  layout.histograms.forEach((spec, i) => {
    const suffix = i === 0 ? "" : String(i + 1);
    const range = [spec.edges[0], spec.edges[spec.edges.length - 1]];
    axes["xaxis" + suffix] = { title: { text: plotText(spec.label) }, range, autorange: false };
    const [low, top] = spec.ylim;
    axes["yaxis" + suffix] = spec.log
      ? { type: "log", range: [Math.log10(low), Math.log10(top)], autorange: false }
      : { range: [low, top], autorange: false };
  });
  const grid = { rows, columns, pattern: "independent" };
  return Object.assign(liveLayout({ grid, height: HIST_HEIGHT * rows, showlegend: false }), axes);
}

// The frequencies of a histogram as a step line filled down to the axis; on a log scale from the bottom
// of its range, as empty bins have no logarithm.
function histogramTrace(spec, h, i) {
  const suffix = i === 0 ? "" : String(i + 1);
  const low = spec.log ? spec.ylim[0] : 0;
  const heights = h.counts.map((c) => Math.max(c / Math.max(h.entries, 1), low));
  heights.push(heights[heights.length - 1]); // the last step reaches the last edge
  const line = { shape: "hv", width: 1 };
  return { x: spec.edges, y: heights, mode: "lines", line, fill: "tozeroy", xaxis: "x" + suffix, yaxis: "y" + suffix };
}

function drawHistograms(holder, layout, data) {
  const columns = Math.max(1, Math.min(layout.histograms.length, holder.clientWidth < 700 ? 1 : 3));
  const key = layout.id + "/" + columns;
  const plot = plotLayouts[key] || (plotLayouts[key] = histogramsLayout(layout, columns));
  plotLive(holder, layout.histograms.map((spec, i) => histogramTrace(spec, data.histograms[i], i)), plot, true);
  const info = layout.histograms
    .map((spec, i) => {
      const h = data.histograms[i];
      const mean = h.mean === null ? "–" : h.mean.toPrecision(4);
      const std = h.std === null ? "–" : h.std.toPrecision(4);
      return spec.label + ": " + h.entries + " sampled, mean " + mean + ", std " + std;
    })
    .join("; ");
  holder.setAttribute("aria-label", layout.title + ": " + info);
  setText($("view-info-" + data.id), info);
}

// A new width: the charts in sight take it now, the others when they come into sight.
function resizeCharts() {
  drawnData.clear();
  redrawCharts();
}

function redrawCharts() {
  if (page.status) drawChart("rates", drawRates);
  for (const data of Object.values(page.views)) drawChart("view-" + data.id, () => drawView(data));
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
  window.addEventListener("resize", () => draw("resize", resizeCharts));
  watchSight($("rate-chart"));
}

async function showLiveRun() {
  if (page.shownRun || page.loadingRun) return; // once, and never two loads at a time
  page.loadingRun = true;
  try {
    const runs = await getJSON("/api/runs");
    if (runs.length && runs[0].finished) await showRun(runs[0].id);
  } catch {
    // the summary is written at the very end; the next status tries again
  } finally {
    page.loadingRun = false;
  }
}

// -------------------------------------------------------------------------------- run browser ----
// The runs the search fields ask for; the server filters them as `mimocorb runs --grep --tag` does.
async function showRuns() {
  const query = new URLSearchParams();
  if ($("runs-grep").value.trim()) query.set("grep", $("runs-grep").value.trim());
  if ($("runs-tag").value.trim()) query.set("tag", $("runs-tag").value.trim());
  const runs = await getJSON("/api/runs?" + query);
  notice("");
  fillBody(
    $("runs"),
    runs.map((r) => {
      const link = el("a", r.date ? r.date.replace("T", " ") : r.name);
      link.href = "#run=" + encodeURIComponent(r.id);
      const cells = [link, r.setup, r.state, r.end_reason, r.events, rate(r.rate_hz), r.files, r.tags.join(", "), r.notes];
      const tr = row(cells);
      tr.className = r.state === "crashed" ? "crashed" : r.clean === false ? "unclean" : "";
      return tr;
    }),
  );
  if (!runs.length) fillBody($("runs"), [row([query.toString() ? "no run matches" : "no run directories found"])]);
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
    ["state", data.catalog.state],
    ["tags", data.catalog.tags.join(", ")],
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
  // notes.js shows the run's notes and the box that adds one
  document.dispatchEvent(new CustomEvent("mimocorb:run", { detail: { id, live: page.mode === "live" } }));
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
  let info;
  try {
    info = await getJSON("/api/info");
    page.mode = info.mode;
  } catch (error) {
    setConnection("no access", false);
    notice("The server refused: " + error.message + " (open the URL that mimocorb printed, with its token)");
    return;
  }
  if (page.mode === "live") {
    $("live").hidden = false;
    setupControls(await getJSON("/api/commands"));
    startLive();
    document.dispatchEvent(new CustomEvent("mimocorb:live", { detail: { notes: info.notes } }));
  } else {
    setConnection("run browser", true);
    window.addEventListener("hashchange", () => route().catch((e) => notice(e.message)));
    for (const field of ["runs-grep", "runs-tag"]) {
      $(field).addEventListener("input", () => drawAtMost("runs", 300, () => showRuns().catch((e) => notice(e.message))));
    }
    await route().catch((e) => notice(e.message));
  }
}

document.addEventListener("DOMContentLoaded", start);
