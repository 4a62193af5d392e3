// Metric cards of the active version and the trend charts (with rollback markers).
import { makeChart, markersPlugin } from "../charts.js";
import { el, int, num, when } from "../format.js";

const CARDS = { "m-precision": "precision", "m-recall": "recall", "m-f1": "f1_score", "m-auc": "auc_roc" };

export function renderCards(metrics) {
  document.getElementById("no-model").hidden = Boolean(metrics);
  for (const [id, key] of Object.entries(CARDS)) document.getElementById(id).textContent = num(metrics?.[key]);
  // "samples" counts every row; the confusion counts add up to the held-out test rows only.
  document.getElementById("m-samples").textContent = int(metrics?.samples);
  const test = metrics ? ["tn", "fp", "fn", "tp"].reduce((sum, k) => sum + (metrics[k] ?? 0), 0) : null;
  const hint = document.getElementById("m-samples-hint");
  hint.textContent = metrics ? `${int(metrics.samples - test)} train · ${int(test)} test` : "train + test";
  hint.title = "All rows of the data; precision, recall and the confusion counts use the test rows only";
  const features = metrics?.features;
  document.getElementById("m-features").textContent = Array.isArray(features) ? features.length : int(features);
  document.getElementById("active-version").textContent = metrics?.version ?? "none";
  document.getElementById("active-model-type").textContent = metrics ? `(${metrics.model_type.replaceAll("_", " ")})` : "";
  renderCeiling(metrics?.bayes_ceiling);
  renderMetricsThreshold(metrics?.threshold);
}

/** The cards were measured at the threshold recorded with them, which need not be today's slider value. */
function renderMetricsThreshold(threshold) {
  const line = document.getElementById("m-threshold");
  if (!line) return;
  line.hidden = threshold == null;
  line.textContent = threshold == null ? "" : `Precision, recall, F1 and the confusion counts: test rows at threshold ${num(threshold, 2)}, as recorded when trained`;
}

/** Generated data knows its own limit: show it beside the cards, so a low F1 on dense data reads as the data's. */
function renderCeiling(ceiling) {
  const line = document.getElementById("m-ceiling");
  if (!line) return;
  line.hidden = !ceiling;
  line.textContent = ceiling
    ? `Bayes ceiling of this data (generator p_true on the hold-out): F1 ${num(ceiling.f1)}, ROC AUC ${num(ceiling.auc_roc)}` +
      ` (model gap ${num(ceiling.f1_gap)} F1, ${num(ceiling.auc_roc_gap)} AUC)`
    : "";
}

/** "20261126_070512" -> "11-26 07:05:12" */
const shortTag = (tag) => (/^\d{8}_\d{6}$/.test(tag) ? `${tag.slice(4, 6)}-${tag.slice(6, 8)} ${tag.slice(9, 11)}:${tag.slice(11, 13)}:${tag.slice(13)}` : tag);

const clock = (iso) => new Date(iso).toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" });

/** One marker per gap between trained versions, labelled with when the rollbacks happened. */
function rollbackMarks(history, trained) {
  const gaps = new Map();
  for (const event of history.filter((e) => e.type === "rolled_back")) {
    let index = -1;
    trained.forEach((t, i) => { if (t.time <= event.time) index = i; });
    const gap = Math.min(index + 0.5, trained.length - 0.5);
    gaps.set(gap, [...(gaps.get(gap) || []), event]);
  }
  return [...gaps].map(([x, events]) => {
    const last = events[events.length - 1];
    const text = events.length === 1 ? `↩ ${clock(last.time)}` : `↩ ${events.length}× · last ${clock(last.time)}`;
    return { x, text, events };
  });
}

function lineChart(canvas, labels, series, marks, yOptions) {
  return makeChart(canvas, {
    type: "line",
    data: { labels, datasets: series.map(([name, data]) => ({ label: name, data, tension: 0.2, pointRadius: 3, borderWidth: 2 })) },
    options: {
      interaction: { mode: "index", intersect: false },
      plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } }, markers: { marks } },
      scales: { x: { offset: true }, y: yOptions },
    },
    plugins: [markersPlugin],
  }, (c, chart) => chart.data.datasets.forEach((ds, i) => {
    ds.borderColor = c.series[i % c.series.length];
    ds.backgroundColor = c.series[i % c.series.length];
  }));
}

export function renderTrends(history) {
  const trained = history.filter((e) => e.type === "trained");
  const labels = trained.map((t) => shortTag(t.version));
  const marks = rollbackMarks(history, trained);
  const pick = (key) => trained.map((t) => t[key] ?? null);
  lineChart(document.getElementById("trend-chart"), labels,
    [["F1", pick("f1_score")], ["Precision", pick("precision")], ["Recall", pick("recall")]], marks,
    { suggestedMin: 0, suggestedMax: 1 });
  lineChart(document.getElementById("confusion-chart"), labels,
    [["TN", pick("tn")], ["FP", pick("fp")], ["FN", pick("fn")], ["TP", pick("tp")]], marks,
    { beginAtZero: true });
  const events = history.filter((e) => e.type === "rolled_back").reverse().slice(0, 5);
  document.getElementById("rollback-events").replaceChildren(...events.map((e) =>
    el("li", {}, el("span", { class: "marker-dot", "aria-hidden": "true" }),
      `${when(e.time)}: rolled back to `, el("code", {}, e.version),
      e.from_version ? [" from ", el("code", {}, e.from_version)] : "",
      e.reason ? ` (${e.reason})` : "")));
}
