// Metric cards: the active version's latest labelled window against its training-time F1 / ROC AUC.
// A drop of at least `alerts.f1_drop` (the alert rule's margin) marks the card.
import { api } from "../api.js";
import { num } from "../format.js";

const CARDS = [["m-f1", "f1", "F1"], ["m-auc", "roc_auc", "ROC AUC"]];
const cards = document.querySelector(".cards");
const margin = () => Number(cards?.dataset.f1Drop ?? 0.05);

function badge(id) {
  const card = document.getElementById(id).closest(".metric-card");
  let span = card.querySelector(".metric-live, .metric-drop");
  if (!span) {
    span = document.createElement("span");
    span.id = `${id}-live`;
    card.append(span);
  }
  return [card, span];
}

/** Show each card's live value; `windows` newest first, `baseline` the training-time metrics. */
export function renderDrops(windows, baseline) {
  const latest = windows.find((w) => w.realised);
  for (const [id, key, name] of CARDS) {
    const [card, span] = badge(id);
    const live = latest?.realised?.[key];
    const base = baseline?.[key];
    if (live === null || live === undefined || base === null || base === undefined) {
      span.hidden = true;
      card.dataset.drop = "false";
      continue;
    }
    const at = new Date(latest.start_timestamp * 1000).toISOString().slice(5, 16).replace("T", " ");
    const drop = live < base - margin();
    span.hidden = false;
    span.className = drop ? "metric-drop" : "metric-live";
    span.textContent = drop ? `▼ live ${num(live)} (−${num(base - live)})` : `live ${num(live)}`;
    span.append(Object.assign(document.createElement("small"), { className: "metric-when", textContent: `window ${at} UTC` }));
    span.title = `${name} realised on the ${latest.labelled} labelled flows of the window starting ${at} UTC; ` +
      `training ${num(base)}; marked when more than ${margin()} below`;
    card.dataset.drop = String(drop);
  }
}

/** Fetch and render for `version` (the serving one); nothing shown without a version. */
export async function loadDrops(version) {
  if (!version) { renderDrops([], null); return; }
  const q = `version=${encodeURIComponent(version)}`;
  const [windows, summary] = await Promise.all([api(`/api/monitoring/windows?${q}&limit=48`), api(`/api/monitoring/summary?${q}`)]);
  renderDrops(windows, summary.baseline);
}
