// Sample flows scored by the active model, and the latest local explanation; both re-decide on threshold changes.
import { postJSON } from "../api.js";
import { explanationView } from "../contrib.js";
import { el, num } from "../format.js";
import { PRESETS } from "../presets.js";
import { getThreshold, onThreshold, paintDecision } from "../threshold.js";

const LAST_FLOW = "lastFlow"; // the predict page stores the record it last explained
const $ = (id) => document.getElementById(id);
const view = explanationView("local");
let scored = [];

function lastExplained() {
  try { return JSON.parse(localStorage.getItem(LAST_FLOW) || "null"); } catch { return null; }
}

function flows() {
  const last = lastExplained();
  const list = PRESETS.map((p) => ({ key: p.key, name: p.name, flow: p.flow }));
  return last ? [{ key: "last", name: "Last explained on the predict page", flow: last }, ...list] : list;
}

function paintSamples() {
  const t = getThreshold();
  document.querySelectorAll("#samples-table tbody tr").forEach((tr, i) => {
    const decision = tr.querySelector(".badge");
    if (scored[i]?.probability !== undefined) paintDecision(decision, scored[i].probability, t);
  });
}

export async function scoreSamples() {
  // observe=false: sample flows are "what if" questions, not traffic for the online windows.
  const results = await postJSON("/api/predict?observe=false", PRESETS.map((p) => p.flow));
  scored = results;
  $("samples-table").tBodies[0].replaceChildren(...PRESETS.map((p, i) => el("tr", { dataset: { preset: p.key } },
    el("th", { scope: "row" }, p.name),
    el("td", { class: "num probability" }, num(results[i].probability)),
    el("td", {}, el("span", { class: "badge", dataset: { decision: "" } }, "–")))));
  paintSamples();
}

export async function explainSelected() {
  const choice = flows().find((f) => f.key === $("local-flow").value) || flows()[0];
  const data = await postJSON("/api/explain?n=8&collapse_pairs=true", choice.flow);
  view.show(data, getThreshold());
}

export function initSamples(onError) {
  $("local-flow").replaceChildren(...flows().map((f) => el("option", { value: f.key }, f.name)));
  $("local-form").addEventListener("submit", (event) => {
    event.preventDefault();
    explainSelected().catch(onError);
  });
  onThreshold((t) => { paintSamples(); view.setThreshold(t); });
}
