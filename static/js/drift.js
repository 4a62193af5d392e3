// Drift panel: open-alert banner (count, most severe), alert list with acknowledge, heat-map of column drift per window.
import { api } from "./api.js";
import { toast } from "./toast.js";
import { connectEvents } from "./ws.js";

const banner = document.getElementById("alert-banner");
const list = document.querySelector("#alert-list tbody");
const heat = document.querySelector("#drift-heatmap tbody");
const heatWrap = document.querySelector(".drift-heatmap-wrap");
const heatEmpty = document.getElementById("drift-empty");

// Most severe first. Realised F1 below the baseline is the page (critical, as config/prometheus/alerts.yml says);
// the estimate and drift are warnings; coverage and rate are about the data feed, not the model.
const RULES = {
  f1_drop: ["realised F1 below training", "critical"],
  estimated_f1_drop: ["estimated F1 below training", "warning"],
  error_change: ["error rate changed", "warning"],
  dataset_drift: ["dataset drift", "warning"],
  feature_drift: ["top feature drifted", "warning"],
  prediction_drift: ["prediction drift", "warning"],
  probability_change: ["probability stream changed", "warning"],
  prediction_rate: ["prediction rate unusual", "info"],
  label_coverage: ["label coverage low", "info"],
};
const RANK = Object.keys(RULES);
const STATUS_ORDER = { open: 0, acknowledged: 1, resolved: 2 };
const ruleName = (rule) => RULES[rule]?.[0] ?? rule.replaceAll("_", " ");
const severityOf = (rule) => RULES[rule]?.[1] ?? "warning";
const rank = (rule) => (RANK.includes(rule) ? RANK.indexOf(rule) : RANK.length);
const utc = (iso) => (iso ? String(iso).replace("T", " ").slice(0, 16) : "–");
const windowTime = (start) => new Date(start * 1000).toISOString().replace("T", " ").slice(0, 16);

function cell(tag, text, label) {
  const el = document.createElement(tag);
  el.textContent = text;
  if (label) el.dataset.label = label;
  return el;
}

// How far past its threshold a column is, 0..1 (p-value tests: smaller is worse).
function severity(test) {
  const pTest = ["ks", "chisquare", "z"].includes(test.test);
  const ratio = pTest ? test.threshold / Math.max(test.statistic, 1e-12) : test.statistic / Math.max(test.threshold, 1e-12);
  return Math.max(0, Math.min(1, Math.log10(Math.max(ratio, 1e-3)) / 2 + 0.5));
}

function renderBanner(alerts) {
  const open = alerts.filter((a) => a.status === "open").sort((a, b) => rank(a.rule) - rank(b.rule));
  const seen = alerts.filter((a) => a.status === "acknowledged").length;
  banner.hidden = open.length === 0;
  banner.dataset.open = String(open.length);
  if (!open.length) { banner.replaceChildren(); delete banner.dataset.severity; return; }
  const worst = open[0];
  banner.dataset.severity = severityOf(worst.rule);
  banner.dataset.rule = worst.rule;
  const count = document.createElement("strong");
  count.className = "alert-count";
  count.textContent = `${open.length} open alert${open.length === 1 ? "" : "s"}`;
  const detail = cell("span", ` · most severe: ${ruleName(worst.rule)} (${severityOf(worst.rule)}) on ${worst.version}` +
    `, window ${windowTime(worst.window_start)} UTC${seen ? ` · ${seen} acknowledged` : ""}`);
  const link = Object.assign(document.createElement("a"), { href: "#drift-panel", textContent: "see the alerts" });
  banner.replaceChildren(count, detail, " · ", link);
}

async function acknowledge(alert, button) {
  button.disabled = true;
  try {
    await api(`/api/alerts/${alert.id}/ack`, { method: "POST", body: { by: "dashboard" } });
    toast(`Acknowledged: ${ruleName(alert.rule)} on ${alert.version}`, "success");
  } catch (err) {
    const hint = err.status === 401 ? " (this server needs the API token: set it under Dashboard, API token)" : "";
    toast(`Could not acknowledge the alert: ${err.message}${hint}`, "error");
  }
  await loadAlerts().catch(() => {});
}

async function loadAlerts() {
  const { alerts } = await api("/api/alerts?status=all&limit=50");
  renderBanner(alerts);
  const ordered = [...alerts].sort((a, b) => STATUS_ORDER[a.status] - STATUS_ORDER[b.status] || b.id - a.id);
  list.replaceChildren();
  if (!alerts.length) list.append(Object.assign(document.createElement("tr"), { innerHTML: "<td colspan=5>No alerts yet.</td>" }));
  for (const a of ordered) {
    const row = document.createElement("tr");
    row.dataset.status = a.status;
    row.dataset.alertId = String(a.id);
    row.dataset.severity = severityOf(a.rule);
    const rule = cell("th", ruleName(a.rule));
    rule.scope = "row";
    rule.title = a.rule;
    const status = a.status === "acknowledged" ? `acknowledged by ${a.acknowledged_by}` :
      a.status === "resolved" ? `resolved ${utc(a.resolved_at)}` : "open";
    row.append(rule, cell("td", a.version, "Version"), cell("td", `${windowTime(a.window_start)}`, "Window (UTC)"),
      cell("td", status, "Status"));
    const action = cell("td", "", "");
    action.className = "actions-cell";
    if (a.status === "open") {
      const button = cell("button", "Acknowledge");
      button.type = "button";
      button.className = "btn btn-small";
      button.addEventListener("click", () => acknowledge(a, button));
      action.append(button);
    }
    row.append(action);
    list.append(row);
  }
}

const counted = (n, noun, plural = `${noun}s`) => `${n} ${n === 1 ? noun : plural}`;

function span(seconds) {
  if (seconds % 3600 === 0) return `${seconds / 3600}-hour`;
  return seconds % 60 === 0 ? `${seconds / 60}-minute` : `${seconds}-second`;
}

// Why there is no column test to draw yet, in the terms of server/monitoring: windows close on event time,
// small windows and versions without a reference profile are reported but not tested.
function emptyMessage({ windows, window_s: windowS, min_window_rows: minRows }) {
  if (!windows.length) {
    return `No drift windows yet: drift is computed for each ${span(windowS)} window of served predictions ` +
      "(by their timestamp_seconds; ?observe=false ones do not count) once it closes, that is when a prediction " +
      "from a later window arrives.";
  }
  const small = windows.filter((w) => w.status === "too_small");
  const unprofiled = windows.filter((w) => w.status === "no_profile").length;
  const reasons = [];
  if (small.length) {
    reasons.push(`${counted(small.length, "closed window")} had too few predictions to test ` +
      `(at most ${Math.max(...small.map((w) => w.rows))}, ${minRows} needed)`);
  }
  if (unprofiled) {
    reasons.push(`${counted(unprofiled, "window belongs", "windows belong")} to a version trained without ` +
      "a reference profile");
  }
  return `No drift results yet: ${reasons.join("; ") || "no window has column tests"}.`;
}

async function loadHeatmap() {
  const body = await api("/api/drift?limit=24");
  const { windows } = body;
  const ordered = windows.filter((w) => w.status === "ok").reverse();
  heatWrap.hidden = ordered.length === 0;
  heatEmpty.hidden = ordered.length > 0;
  if (!ordered.length) {
    heatEmpty.textContent = emptyMessage(body);
    heat.replaceChildren();
    return;
  }
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
