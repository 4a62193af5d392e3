// Live page: monitoring windows from /api/monitoring/windows, kept current by /ws events.
import { api } from "./api.js";
import { connectEvents } from "./ws.js";

const rows = new Map();      // "start|version" -> window
const baselines = new Map(); // version -> training-time F1
const tbody = document.querySelector("#live-table tbody");

const num = (v, digits = 3) => (v === null || v === undefined ? "–" : Number(v).toFixed(digits));
const pct = (v) => (v === null || v === undefined ? "–" : `${(100 * v).toFixed(1)}%`);

async function baseline(version) {
  if (!baselines.has(version)) {
    baselines.set(version, null);
    try {
      const summary = await api(`/api/monitoring/summary?version=${encodeURIComponent(version)}`);
      baselines.set(version, summary.baseline ? summary.baseline.f1 : null);
    } catch { /* the version may be gone; shown as "–" */ }
    render();
  }
  return baselines.get(version);
}

function cell(text, name) {
  const td = document.createElement("td");
  td.textContent = text;
  td.dataset.field = name;
  return td;
}

function render() {
  const windows = [...rows.values()].sort((a, b) => b.start_timestamp - a.start_timestamp || (a.version < b.version ? 1 : -1));
  tbody.replaceChildren(...windows.map((w) => {
    const tr = document.createElement("tr");
    tr.dataset.window = String(w.start_timestamp);
    tr.dataset.version = w.version;
    const est = w.estimated || {};
    const band = est.band && est.band.f1 ? ` [${num(est.band.f1[0])}, ${num(est.band.f1[1])}]` : "";
    const realised = w.realised ? w.realised.f1 : null;
    const base = baselines.get(w.version);
    const drop = realised !== null && base !== null && base !== undefined && realised < base - 0.05;
    tr.append(cell(w.start.replace("T", " ").replace("Z", ""), "start"), cell(w.version, "version"),
      cell(String(w.predictions), "predictions"), cell(pct(w.positive_rate), "positive_rate"),
      cell(`${w.labelled} (${pct(w.label_coverage)})`, "labelled"), cell(num(realised), "realised_f1"),
      cell(`${num(est.f1)}${band}`, "estimated_f1"), cell(num(base), "baseline_f1"));
    if (drop) tr.classList.add("is-warning");
    baseline(w.version);
    return tr;
  }));
  document.getElementById("live-empty").hidden = windows.length > 0;
}

function put(window) {
  rows.set(`${window.start_timestamp}|${window.version}`, window);
  render();
}

function modelEvent(event) {
  const li = document.createElement("li");
  const when = new Date().toISOString().replace("T", " ").slice(0, 19);
  li.textContent = event.type === "rolled_back"
    ? `${when} UTC: rolled back to ${event.version}${event.reason ? ` (${event.reason})` : ""}`
    : `${when} UTC: ${event.version} activated`;
  li.dataset.kind = event.type;
  document.getElementById("live-events").prepend(li);
}

async function start() {
  const windows = await api("/api/monitoring/windows?limit=48");
  windows.forEach(put);
  render();
  connectEvents((event) => {
    if (event.type === "monitoring_window") put(event.window);
    else if (event.type === "rolled_back" || event.type === "version_activated") modelEvent(event);
  }, (state) => {
    const status = document.getElementById("live-ws");
    status.dataset.state = state;
    status.textContent = state;
  });
}

start();
