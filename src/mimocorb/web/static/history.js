// The History page: variables of the output directory's history over a span of time, across runs.
// The span and the variables are kept in the address (#vars=a,b&since=..&until=..), so a view can be
// bookmarked. Zooming in the chart asks the server again for the zoomed span, at the finer resolution it
// then allows. Gaps (no run sampling) are breaks in the lines, pauses are shaded.
"use strict";

const SPANS = [["1h", 3600], ["6h", 21600], ["1d", 86400], ["7d", 604800], ["30d", 2592000], ["90d", 7776000], ["1y", 31536000]];
const PLOT_CONFIG = { responsive: true, displaylogo: false };
const PAUSE_COLOR = "rgba(230, 160, 40, 0.18)";

const state = { token: null, variables: [], chosen: [], since: null, until: null, live: true, drawing: false };

function $(id) {
  return document.getElementById(id);
}

function notice(text) {
  const box = $("notice");
  box.textContent = text;
  box.hidden = !text;
}

function setConnection(text, ok) {
  const badge = $("connection");
  badge.textContent = text;
  badge.className = "badge " + (ok ? "ok" : "bad");
}

function readToken() {
  const given = new URLSearchParams(window.location.search).get("token");
  if (given) sessionStorage.setItem("mimocorb-token", given);
  state.token = given || sessionStorage.getItem("mimocorb-token");
}

async function getJSON(url) {
  const response = await fetch(url, { headers: state.token ? { Authorization: "Bearer " + state.token } : {} });
  if (!response.ok) {
    let detail = String(response.status);
    try {
      detail = (await response.json()).detail || detail;
    } catch {
      // not JSON: the status says enough
    }
    throw new Error(detail);
  }
  return response.json();
}

// ---------------------------------------------------------------------------------- the address ----
function readHash() {
  const params = new URLSearchParams(window.location.hash.slice(1));
  const vars = params.get("vars");
  if (vars) state.chosen = vars.split(",").filter((v) => v);
  const now = Date.now() / 1000;
  const span = SPANS.find(([name]) => name === params.get("span"));
  if (params.get("since") && params.get("until")) {
    state.since = Number(params.get("since"));
    state.until = Number(params.get("until"));
    state.live = false;
  } else {
    const seconds = span ? span[1] : 86400;
    state.until = now;
    state.since = now - seconds;
    state.live = true;
    state.span = span ? span[0] : "1d";
  }
}

function writeHash() {
  const params = new URLSearchParams();
  params.set("vars", state.chosen.join(","));
  if (state.live) params.set("span", state.span);
  else {
    params.set("since", state.since.toFixed(0));
    params.set("until", state.until.toFixed(0));
  }
  window.history.replaceState(null, "", "#" + params.toString());
}

function query(kind) {
  const params = new URLSearchParams({ vars: state.chosen.join(","), since: state.since, until: state.until });
  if (kind === "csv" && state.token) params.set("token", state.token);
  return "/api/history/" + kind + "?" + params.toString();
}

// ------------------------------------------------------------------------------------ controls ----
function showSpans() {
  const box = $("spans");
  for (const [name, seconds] of SPANS) {
    const button = document.createElement("button");
    button.textContent = name;
    button.dataset.span = name;
    button.addEventListener("click", () => {
      state.until = Date.now() / 1000;
      state.since = state.until - seconds;
      state.live = true;
      state.span = name;
      update();
    });
    box.appendChild(button);
  }
}

function showVariables() {
  const list = $("var-list");
  const filter = $("var-filter").value.trim().toLowerCase();
  list.textContent = "";
  for (const name of state.variables) {
    if (filter && !name.toLowerCase().includes(filter) && !state.chosen.includes(name)) continue;
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.value = name;
    box.checked = state.chosen.includes(name);
    box.addEventListener("change", () => {
      state.chosen = box.checked ? [...state.chosen, name] : state.chosen.filter((v) => v !== name);
      update();
    });
    label.appendChild(box);
    label.appendChild(document.createTextNode(" " + name));
    list.appendChild(label);
  }
}

// --------------------------------------------------------------------------------------- chart ----
function traces(name, series, axis, resolution) {
  const x = series.t.map((t) => new Date(t * 1000));
  const y = "y" + (axis === 1 ? "" : axis);
  const shown = [];
  if (resolution !== "full") {
    const band = { x, xaxis: "x", yaxis: y, mode: "lines", line: { width: 0 }, hoverinfo: "skip", showlegend: false };
    shown.push(Object.assign({ y: series.max, name: name + " max" }, band));
    shown.push(Object.assign({ y: series.min, name: name + " min", fill: "tonexty", fillcolor: "rgba(44, 93, 143, 0.18)" }, band));
  }
  // few points get markers, so that a short run is seen in a long span
  const mode = series.t.length < 300 ? "lines+markers" : "lines";
  const line = { width: 1.3, color: "#2c5d8f" };
  shown.push({ x, y: series.mean, xaxis: "x", yaxis: y, mode, name, line, marker: { size: 4 }, connectgaps: false });
  return shown;
}

function layoutFor(names, data) {
  const n = Math.max(names.length, 1);
  const layout = {
    height: 120 + 170 * n,
    margin: { l: 60, r: 10, t: 20, b: 40 },
    showlegend: false,
    hovermode: "x",
    xaxis: { type: "date", range: [new Date(data.since * 1000), new Date(data.until * 1000)], anchor: "y" + (n === 1 ? "" : n) },
    shapes: [],
  };
  names.forEach((name, i) => {
    const key = "yaxis" + (i === 0 ? "" : i + 1);
    const top = 1 - i / n;
    layout[key] = { domain: [Math.max(0, top - 1 / n + 0.06), top], title: { text: name, font: { size: 11 } } };
  });
  for (const run of data.runs) {
    for (const [a, b] of run.pauses) {
      layout.shapes.push({
        type: "rect", xref: "x", yref: "paper", x0: new Date(a * 1000), x1: new Date(b * 1000), y0: 0, y1: 1,
        fillcolor: PAUSE_COLOR, line: { width: 0 }, layer: "below",
      });
    }
  }
  return layout;
}

function showRuns(runs) {
  const body = $("history-runs").querySelector("tbody");
  body.textContent = "";
  for (const run of runs) {
    const tr = document.createElement("tr");
    const cells = [run.name, run.setup, new Date(run.start * 1000).toLocaleString(), new Date(run.end * 1000).toLocaleString(), String(run.pauses.length)];
    for (const text of cells) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.appendChild(td);
    }
    body.appendChild(tr);
  }
}

async function update() {
  writeHash();
  $("csv").href = query("csv");
  showVariables();
  for (const button of $("spans").querySelectorAll("button")) {
    button.classList.toggle("chosen", state.live && button.dataset.span === state.span);
  }
  const chart = $("history-chart");
  if (!state.chosen.length) {
    window.Plotly.purge(chart);
    $("history-info").textContent = "Choose variables to show.";
    return;
  }
  const data = await getJSON(query("data"));
  const names = state.chosen.filter((name) => name in data.series);
  const shown = names.flatMap((name, i) => traces(name, data.series[name], i + 1, data.resolution));
  state.drawing = true;
  await window.Plotly.react(chart, shown, layoutFor(names, data), PLOT_CONFIG);
  state.drawing = false;
  const points = names.reduce((sum, name) => sum + data.series[name].mean.filter((v) => v !== null).length, 0);
  $("history-info").textContent =
    new Date(data.since * 1000).toLocaleString() + " – " + new Date(data.until * 1000).toLocaleString() +
    " · " + data.resolution + " resolution · " + points + " points · " + data.runs.length + " run(s)";
  chart.dataset.resolution = data.resolution;
  chart.dataset.points = String(points);
  showRuns(data.runs);
}

function followZoom() {
  $("history-chart").on("plotly_relayout", (change) => {
    if (state.drawing) return;
    if (change["xaxis.autorange"]) {
      readHash();
    } else if (change["xaxis.range[0]"] !== undefined || change["xaxis.range"] !== undefined) {
      const range = change["xaxis.range"] || [change["xaxis.range[0]"], change["xaxis.range[1]"]];
      state.since = new Date(range[0]).getTime() / 1000;
      state.until = new Date(range[1]).getTime() / 1000;
      state.live = false;
    } else {
      return;
    }
    update().catch((error) => notice(error.message));
  });
}

async function start() {
  readToken();
  readHash();
  showSpans();
  $("var-filter").addEventListener("input", showVariables);
  try {
    const found = await getJSON("/api/history/variables");
    state.variables = found.variables;
    setConnection(found.variables.length + " variables", true);
  } catch (error) {
    setConnection("no history", false);
    notice(error.message);
    return;
  }
  state.chosen = state.chosen.filter((name) => state.variables.includes(name));
  if (!state.chosen.length) state.chosen = state.variables.filter((name) => name.endsWith(".rate_hz")).slice(0, 1);
  await update().catch((error) => notice(error.message));
  followZoom();
}

document.addEventListener("DOMContentLoaded", start);
