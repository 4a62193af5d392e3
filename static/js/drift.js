// Drift panel: open-alert banner, alert list with acknowledge, heat-map of column drift per window.
import { api } from "./api.js";
import { connectEvents } from "./ws.js";

const banner = document.getElementById("alert-banner");
const list = document.querySelector("#alert-list tbody");
const heat = document.querySelector("#drift-heatmap tbody");

function cell(tag, text) {
  const el = document.createElement(tag);
  el.textContent = text;
  return el;
}

// How far past its threshold a column is, 0..1 (p-value tests: smaller is worse).
function severity(test) {
  const pTest = ["ks", "chisquare", "z"].includes(test.test);
  const ratio = pTest ? test.threshold / Math.max(test.statistic, 1e-12) : test.statistic / Math.max(test.threshold, 1e-12);
  return Math.max(0, Math.min(1, Math.log10(Math.max(ratio, 1e-3)) / 2 + 0.5));
}

async function loadAlerts() {
  const { alerts } = await api("/api/alerts?status=all&limit=50");
  const open = alerts.filter((a) => a.status !== "resolved");
  banner.hidden = open.length === 0;
  banner.textContent = open.length ? `${open.length} open alert(s): ${[...new Set(open.map((a) => a.rule))].join(", ")}` : "";
  list.replaceChildren();
  if (!alerts.length) list.append(Object.assign(document.createElement("tr"), { innerHTML: "<td colspan=5>No alerts yet.</td>" }));
  for (const a of alerts) {
    const row = document.createElement("tr");
    row.dataset.status = a.status;
    row.append(cell("td", a.rule), cell("td", a.version), cell("td", a.opened_at), cell("td", a.status));
    const action = document.createElement("td");
    if (a.status === "open") {
      const button = cell("button", "Acknowledge");
      button.className = "btn btn-small";
      button.addEventListener("click", async () => { await api(`/api/alerts/${a.id}/ack`, { method: "POST", body: { by: "dashboard" } }); loadAlerts(); });
      action.append(button);
    }
    row.append(action);
    list.append(row);
  }
}

async function loadHeatmap() {
  const { windows } = await api("/api/drift?limit=24");
  const ordered = windows.filter((w) => w.status === "ok").reverse();
  const columns = [...new Set(ordered.flatMap((w) => Object.keys(w.columns)))].sort();
  heat.replaceChildren();
  const head = document.createElement("tr");
  head.append(cell("th", "column"), ...ordered.map((w) => cell("th", new Date(w.start * 1000).toISOString().slice(11, 16))));
  heat.append(head);
  for (const column of columns) {
    const row = document.createElement("tr");
    row.append(cell("th", column));
    for (const w of ordered) {
      const test = w.columns[column];
      const td = cell("td", test ? (test.drift ? "●" : "") : "–");
      if (test) {
        td.title = `${test.test} ${test.statistic.toPrecision(3)} (threshold ${test.threshold})`;
        td.dataset.drift = String(test.drift);
        td.style.setProperty("--sev", severity(test).toFixed(2));
      }
      row.append(td);
    }
    heat.append(row);
  }
}

function refresh() { loadAlerts().catch(() => {}); loadHeatmap().catch(() => {}); }
refresh();
connectEvents((event) => {
  if (["drift_window", "alert_opened", "alert_resolved", "alert_acknowledged"].includes(event.type)) refresh();
});
