// Global SHAP importance, grouped (sin/cos pairs, protocol one-hots summed) or per feature.
import { api } from "../api.js";
import { describedTooltip, makeChart } from "../charts.js";
import { label } from "../format.js";
import { describe } from "../glossary.js";

const $ = (id) => document.getElementById(id);
let summary = null;

function draw() {
  const grouped = $("shap-grouped").checked;
  const rows = (grouped ? summary?.groups : summary?.features) || [];
  $("global-shap-empty").hidden = rows.length > 0;
  const top = [...rows].sort((a, b) => b.importance - a.importance).slice(0, 15);
  makeChart($("global-shap-chart"), {
    type: "bar",
    data: { labels: top.map((r) => label(r.feature)), datasets: [{ label: "mean |SHAP|", data: top.map((r) => r.importance) }] },
    options: {
      indexAxis: "y",
      plugins: { legend: { display: false }, tooltip: describedTooltip(top.map((r) => describe(r.feature))) },
      scales: { x: { beginAtZero: true, title: { display: true, text: "mean |SHAP value|" } }, y: { ticks: { autoSkip: false } } },
    },
  }, (c, chart) => { chart.data.datasets[0].backgroundColor = c.series[0]; });
}

export async function loadGlobalShap(hasModel) {
  summary = null;
  if (hasModel) {
    try {
      summary = await api("/api/explain/global");
    } catch (err) {
      if (err.status !== 404) throw err;
    }
  }
  draw();
}

export function initGlobalShap() {
  $("shap-grouped").addEventListener("change", draw);
}
