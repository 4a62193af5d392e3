// Live page: monitoring windows from /api/monitoring/windows as charts and a table, kept current by /ws events.
import { api } from "./api.js";
import { renderLiveCharts } from "./live/charts.js";
import { connectEvents } from "./ws.js";

const rows = new Map();      // "start|version" -> window
const baselines = new Map(); // version -> training-time F1
let changes = [];            // model changes from /api/monitoring/events, newest first
let active = null;           // the serving version
let followActive = true;     // the selector follows the serving version until the user picks one
const windowS = Number(document.getElementById("live-charts").dataset.windowS);
const tbody = document.querySelector("#live-table tbody");
const select = document.getElementById("live-version");

const num = (v, digits = 3) => (v === null || v === undefined ? "–" : Number(v).toFixed(digits));
const pct = (v) => (v === null || v === undefined ? "–" : `${(100 * v).toFixed(1)}%`);
/** "20261202_072826" -> "…072826": enough to tell versions apart on a marker (the list below has the full tags). */
const shortTag = (tag) => (/^\d{8}_\d{6}$/.test(tag) ? `…${tag.slice(9)}` : tag);

async function baseline(version) {
  if (!baselines.has(version)) {
    baselines.set(version, null);
    try {
      const summary = await api(`/api/monitoring/summary?version=${encodeURIComponent(version)}`);
      baselines.set(version, summary.baseline ? summary.baseline.f1 : null);
    } catch { /* the version may be gone; shown as "–" */ }
    schedule();
  }
  return baselines.get(version);
}

function cell(text, name, label, numeric = true) {
  const td = document.createElement("td");
  td.textContent = text;
  td.dataset.field = name;
  td.dataset.label = label;
  if (numeric) td.className = "num";
  return td;
}

function renderTable(windows) {
  tbody.replaceChildren(...windows.map((w) => {
    const tr = document.createElement("tr");
    tr.dataset.window = String(w.start_timestamp);
    tr.dataset.version = w.version;
    const est = w.estimated || {};
    const band = est.band && est.band.f1 ? ` [${num(est.band.f1[0])}, ${num(est.band.f1[1])}]` : "";
    const realised = w.realised ? w.realised.f1 : null;
    const base = baselines.get(w.version);
    const drop = realised !== null && base !== null && base !== undefined && realised < base - 0.05;
    tr.append(cell(w.start.replace("T", " ").replace("Z", ""), "start", "Window", false), cell(w.version, "version", "Version", false),
      cell(String(w.predictions), "predictions", "Predictions"), cell(pct(w.positive_rate), "positive_rate", "Congested"),
      cell(`${w.labelled} (${pct(w.label_coverage)})`, "labelled", "Labelled"), cell(num(realised), "realised_f1", "Realised F1"),
      cell(`${num(est.f1)}${band}`, "estimated_f1", "Estimated F1"), cell(num(base), "baseline_f1", "Training F1"));
    if (drop) tr.classList.add("is-warning");
    baseline(w.version);
    return tr;
  }));
  document.getElementById("live-empty").hidden = windows.length > 0;
}

function renderSelector(versions) {
  const wanted = new Set([...versions, ...(active ? [active] : [])]);
  const have = new Set([...select.options].map((o) => o.value).filter(Boolean));
  for (const version of [...wanted].sort().reverse()) {
    if (!have.has(version)) select.append(new Option(version, version));
  }
  for (const option of select.options) {
    if (option.value) option.textContent = option.value === active ? `${option.value} (serving)` : option.value;
  }
  if (followActive && active && select.value !== active) select.value = active;
}

/** Markers: where each change sits among the windows (its first served flow), else its wall-clock time. */
function marks() {
  return changes.map((c) => ({ x: c.event_timestamp ?? Date.parse(c.time) / 1000,
    text: `${c.kind === "rolled_back" ? "↩ to" : "▶"} ${shortTag(c.version)}`, kind: c.kind, version: c.version }));
}

function renderChanges() {
  document.getElementById("live-events").replaceChildren(...changes.slice(0, 10).map((c) => {
    const li = document.createElement("li");
    const when = String(c.time).replace("T", " ").slice(0, 19);
    const marker = document.createElement("span");
    marker.className = "marker-dot";
    marker.setAttribute("aria-hidden", "true");
    li.append(marker, c.kind === "rolled_back"
      ? `${when} UTC: rolled back to ${c.version}${c.from_version ? ` from ${c.from_version}` : ""}${c.reason ? ` (${c.reason})` : ""}`
      : `${when} UTC: ${c.version} ${c.kind === "promoted" ? "promoted" : "activated"}${c.reason ? ` (${c.reason})` : ""}`);
    li.dataset.kind = c.kind;
    return li;
  }));
}

function render() {
  const windows = [...rows.values()].sort((a, b) => b.start_timestamp - a.start_timestamp || (a.version < b.version ? 1 : -1));
  renderTable(windows);
  const versions = [...new Set(windows.map((w) => w.version))];
  renderSelector(versions);
  const shown = select.value ? [select.value] : versions.sort();
  const series = shown.map((version) => ({ version, baseline: baselines.get(version) ?? null,
    windows: windows.filter((w) => w.version === version).reverse() }));
  const drawn = renderLiveCharts(series, marks(), windowS);
  document.getElementById("live-charts").dataset.marks = String(drawn.marks.length);
  renderChanges();
}

let pending = null; // bursts of /ws events coalesce into one redraw
function schedule() {
  if (pending === null) pending = setTimeout(() => { pending = null; render(); }, 100);
}

let loadingChanges = null;
async function loadChanges() {
  if (loadingChanges) return loadingChanges;
  loadingChanges = api("/api/monitoring/events?limit=50").then((found) => { changes = found; schedule(); })
    .catch(() => {}).finally(() => { loadingChanges = null; });
  return loadingChanges;
}

function put(window) {
  rows.set(`${window.start_timestamp}|${window.version}`, window);
  // The newest change waits for its first served flow to be placed on the event-time axis (an older change
  // without one never served before the next: it keeps its wall-clock time).
  if (changes.length && changes[0].event_timestamp === null) loadChanges();
  schedule();
}

async function start() {
  select.addEventListener("change", () => { followActive = select.value === active; render(); });
  const [windows, summary] = await Promise.all([api("/api/monitoring/windows?limit=200"), api("/api/monitoring/summary"),
    loadChanges()]);
  active = summary.version;
  if (summary.version) baselines.set(summary.version, summary.baseline ? summary.baseline.f1 : null);
  windows.forEach((w) => rows.set(`${w.start_timestamp}|${w.version}`, w));
  render();
  connectEvents((event) => {
    if (event.type === "monitoring_window") put(event.window);
    else if (["rolled_back", "version_activated"].includes(event.type)) {
      active = event.version;
      loadChanges();
    }
  }, (state) => {
    const status = document.getElementById("live-ws");
    status.dataset.state = state;
    status.textContent = state;
  });
}

start();
