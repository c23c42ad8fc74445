// The mimocorb page: live dashboard of a run, or browser of finished runs.
// Every text that comes from the run (names, log lines, file names) is set as text, never as markup.
"use strict";

const HISTORY = 600; // points per buffer in the rate chart
const LOG_LINES = 2000; // lines kept in the log view
const PLOT_CONFIG = { responsive: true, displaylogo: false };

const page = {
  token: null,
  mode: null,
  status: null,
  history: {}, // buffer -> {t: [], rate: []}
  log: [],
  sources: new Set(),
  layouts: {},
  shownRun: null,
  loadingRun: false,
  closed: false,
};

// ------------------------------------------------------------------------------------ drawing ----
// Charts and the log are drawn at most once per frame, each from its newest data: a page that cannot
// keep up (or a hidden tab, which gets no frames) skips pictures instead of queueing them.
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

// ------------------------------------------------------------------------------------- status ----
function showStatus(s) {
  page.status = s;
  $("state").textContent = s.state;
  $("state").className = "big state-" + s.state.replace(/[^a-z]/g, "");
  $("active").textContent = seconds(s.active_time);
  $("events").textContent = s.events;
  const limits = [];
  if (s.limits && s.limits.runtime_s > 0) limits.push(s.limits.runtime_s + " s");
  if (s.limits && s.limits.runevents > 0) limits.push(s.limits.runevents + " events");
  $("limits").textContent = limits.length ? "(ends after " + limits.join(" or ") + ")" : "(no end condition)";
  $("progress").value = s.progress === null ? 0 : s.progress;
  $("progress-text").textContent = s.progress === null ? "" : (100 * s.progress).toFixed(0) + " %";
  updateButtons(s.state);
  fillBody($("buffers"), s.buffers.map(bufferRow));
  fillBody(
    $("workers"),
    s.workers.map((w) => {
      const r = row([w.name, w.function, w.state, w.pid, w.restarts]);
      r.className = "worker-" + String(w.state).replace(/[^a-z]/g, "");
      return r;
    }),
  );
  $("links-part").hidden = !s.links.length;
  fillBody(
    $("links"),
    s.links.map((l) => row([l.name || l.address || "link", l.state || ""])),
  );
  addHistory(s);
  if (s.state === "ended") showLiveRun();
}

function bufferRow(b) {
  const fill = el("div", null, "fill");
  const bar = el("div", null, "fill-bar");
  bar.style.width = (b.slots ? (100 * b.fill) / b.slots : 0).toFixed(1) + "%";
  fill.appendChild(bar);
  fill.appendChild(el("span", b.fill + "/" + b.slots, "fill-text"));
  const consumers = el("div");
  for (const c of b.consumers) consumers.appendChild(el("div", c.label + ": " + c.pending));
  const deadtime = b.deadtime < 0 ? "–" : (100 * b.deadtime).toFixed(1) + " %"; // < 0: not measured
  return row([b.name, b.events, rate(b.rate_hz), fill, deadtime, b.lost, consumers]);
}

function addHistory(s) {
  for (const b of s.buffers) {
    const h = page.history[b.name] || (page.history[b.name] = { t: [], rate: [] });
    h.t.push(new Date(s.time * 1000));
    h.rate.push(b.rate_hz);
    if (h.t.length > HISTORY) {
      h.t.shift();
      h.rate.shift();
    }
  }
  draw("rates", drawRates);
}

function drawRates() {
  // new arrays each time: plotly redraws only data it sees changed
  const traces = Object.entries(page.history).map(([name, h]) => ({
    x: h.t.slice(),
    y: h.rate.slice(),
    name: plotText(name),
    mode: "lines",
  }));
  window.Plotly.react($("rate-chart"), traces, chartLayout("rate (Hz)", { type: "date" }), PLOT_CONFIG);
}

function chartLayout(ytitle, xaxis, extra) {
  return Object.assign(
    {
      margin: { l: 55, r: 10, t: 30, b: 40 },
      height: 280,
      yaxis: { title: { text: plotText(ytitle) }, rangemode: "tozero" },
      xaxis: xaxis || {},
      legend: { orientation: "h", y: -0.25 },
    },
    extra || {},
  );
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
  for (const layout of layouts) {
    page.layouts[layout.id] = layout;
    box.appendChild(el("h2", layout.title + " (" + layout.buffer + ")"));
    const div = el("div", null, "chart view");
    div.id = "view-" + layout.id;
    div.dataset.kind = layout.kind;
    box.appendChild(div);
    const info = el("div", "waiting for events …", "muted view-info");
    info.id = "view-info-" + layout.id;
    box.appendChild(info);
  }
}

function showView(data) {
  if (page.layouts[data.id]) draw("view-" + data.id, () => drawView(data));
}

function drawView(data) {
  const layout = page.layouts[data.id];
  const div = $("view-" + data.id);
  if (layout.kind === "scope") {
    const traces = layout.names.map((name) => ({ x: layout.x, y: data.traces[name], name: plotText(name), mode: "lines" }));
    const shapes = [];
    if (layout.trigger !== null) {
      shapes.push({ type: "line", xref: "paper", x0: 0, x1: 1, y0: layout.trigger, y1: layout.trigger, line: { dash: "dash", color: "darkred", width: 1 } });
    }
    const plot = chartLayout(layout.ylabel, { title: { text: plotText(layout.xlabel) }, range: layout.xlim }, { shapes });
    plot.yaxis = { title: { text: plotText(layout.ylabel) }, range: layout.ylim };
    window.Plotly.react(div, traces, plot, PLOT_CONFIG);
    $("view-info-" + data.id).textContent = "event " + data.counter;
  } else {
    const traces = [];
    const axes = {};
    const n = layout.histograms.length;
    layout.histograms.forEach((spec, i) => {
      const h = data.histograms[i];
      const centres = spec.edges.slice(0, -1).map((e, k) => (e + spec.edges[k + 1]) / 2);
      const heights = h.counts.map((c) => c / Math.max(h.entries, 1));
      const suffix = i === 0 ? "" : String(i + 1);
      traces.push({ type: "bar", x: centres, y: heights, name: plotText(spec.label), xaxis: "x" + suffix, yaxis: "y" + suffix });
      axes["xaxis" + suffix] = { title: { text: plotText(spec.label + " (" + h.entries + " sampled)") } };
      axes["yaxis" + suffix] = spec.log ? { type: "log" } : { rangemode: "tozero" };
    });
    const columns = Math.min(n, window.innerWidth < 700 ? 1 : 3);
    const rows = Math.ceil(n / Math.max(columns, 1));
    const plot = chartLayout("", {}, Object.assign({ grid: { rows, columns, pattern: "independent" }, height: 240 * rows, showlegend: false, bargap: 0 }, axes));
    window.Plotly.react(div, traces, plot, PLOT_CONFIG);
    $("view-info-" + data.id).textContent = layout.histograms
      .map((spec, i) => {
        const h = data.histograms[i];
        return spec.label + ": mean " + (h.mean === null ? "–" : h.mean.toPrecision(4)) + ", std " + (h.std === null ? "–" : h.std.toPrecision(4));
      })
      .join("; ");
  }
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
    draw("log", showLog);
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
  const axis = { title: { text: "time (s)" } };
  draw("run-chart", () => window.Plotly.react($("run-chart"), traces, chartLayout("rate (Hz)", axis), PLOT_CONFIG));
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
