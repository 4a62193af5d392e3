// An explanation: probability, client-side decision, local SHAP chart, contribution table, CSV export.
import { signedBars } from "./charts.js";
import { el, label, num, pct } from "./format.js";
import { describe } from "./glossary.js";
import { paintDecision } from "./threshold.js";

const COLUMNS = ["feature", "value", "shap", "percent", "cumulative_percent"];

function csvCell(value) {
  const text = value === null || value === undefined ? "" : String(value);
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function toCSV(contributions) {
  const lines = [COLUMNS.join(",")];
  for (const row of contributions) lines.push(COLUMNS.map((c) => csvCell(row[c])).join(","));
  return `${lines.join("\r\n")}\r\n`;
}

function download(text, filename) {
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
  const link = el("a", { href: url, download: filename, class: "sr-only" });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function rawValue(value) {
  if (typeof value === "number") return Number.isInteger(value) ? value.toLocaleString("en-US") : value.toFixed(3);
  return value ?? "–";
}

function tableRow(row, maxAbs) {
  const bar = el("span", { class: `bar ${row.shap >= 0 ? "bar-pos" : "bar-neg"}` });
  bar.style.width = `${maxAbs ? (Math.abs(row.shap) / maxAbs) * 100 : 0}%`; // CSSOM is CSP-safe
  return el("tr", { dataset: { feature: row.feature } },
    el("th", { scope: "row" }, el("span", { class: describe(row.feature) ? "term" : null, title: describe(row.feature) || null }, label(row.feature))),
    el("td", { class: "num", "data-label": "Value" }, rawValue(row.value)),
    el("td", { class: `num ${row.shap >= 0 ? "pos" : "neg"}`, "data-label": "SHAP" }, `${row.shap >= 0 ? "+" : ""}${num(row.shap, 4)}`),
    el("td", { class: "num", "data-label": "%" }, pct(row.percent)),
    el("td", { class: "num", "data-label": "Cum. %" }, pct(row.cumulative_percent)),
    el("td", { class: "bar-cell", "aria-hidden": "true" }, el("span", { class: "bar-track" }, bar)));
}

/** Descriptions of the names an explanation shows, as a definition list (readable on touch screens). */
function paintGlossary(list, names) {
  const items = [...new Set(names)].filter((n) => describe(n))
    .map((n) => [el("dt", {}, label(n)), el("dd", {}, describe(n))]);
  list.replaceChildren(...items.flat());
  list.closest("details").hidden = items.length === 0;
  for (const term of document.querySelectorAll(".term[data-term]")) term.title = describe(term.dataset.term);
}

/** Binds one explanation block (ids prefixed by `prefix`, see the contributions macro). */
export function explanationView(prefix) {
  const $ = (suffix) => document.getElementById(`${prefix}-${suffix}`);
  let last = null;

  $("export-csv").addEventListener("click", () => {
    if (last) download(toCSV(last.contributions || []), `contributions_${last.version || "explanation"}.csv`);
  });

  function setThreshold(threshold) {
    if (!last) return;
    paintDecision($("decision"), last.probability, threshold);
    $("threshold-shown").textContent = Number(threshold).toFixed(2);
  }

  function show(data, threshold) {
    last = data;
    const rows = data.contributions || [];
    $("explanation").hidden = false;
    $("probability").textContent = num(data.probability, 3);
    $("expected").textContent = num(data.expected_value, 3);
    $("version").textContent = data.version ?? "–";
    setThreshold(threshold);
    const warnings = (data.warnings || []).map((w) => el("li", {}, typeof w === "string" ? w : w.message || JSON.stringify(w)));
    $("warnings").replaceChildren(...warnings);
    const maxAbs = Math.max(0, ...rows.map((r) => Math.abs(r.shap)));
    $("contrib-table").tBodies[0].replaceChildren(...rows.map((r) => tableRow(r, maxAbs)));
    signedBars($("local-chart"), rows.map((r) => label(r.feature)), rows.map((r) => r.shap), "SHAP value (probability towards congestion)",
      rows.map((r) => describe(r.feature)));
    paintGlossary($("glossary-list"), [...rows.map((r) => r.feature), "base value", "SHAP", "online windows"]);
  }

  /** Take the result away (the form no longer holds the flow it explains). */
  function hide() {
    last = null;
    $("explanation").hidden = true;
  }

  return { show, hide, setThreshold, get last() { return last; } };
}
