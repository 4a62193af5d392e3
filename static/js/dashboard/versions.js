// The version table: metrics, top SHAP features, phase durations, badges, downloads, rollback.
import { el, label, num, seconds, when } from "../format.js";
import { describe } from "../glossary.js";

const PHASES = ["data", "features", "training", "scoring", "shap", "plots", "save"];
const DOWNLOADS = { pipeline: "model", preprocessor: "preprocessor", metrics: "metrics" };

function status(version) {
  if (version.active) return el("span", { class: "badge badge-active", dataset: { badge: "active" } }, "active");
  if (version.pruned) return el("span", { class: "badge badge-pruned" }, "pruned");
  return el("span", { class: "muted" }, "–");
}

function phaseList(durations) {
  const items = PHASES.filter((p) => durations?.[p] !== undefined)
    .map((p) => el("li", {}, el("span", { class: "muted" }, p), " ", seconds(durations[p])));
  return items.length ? el("ul", { class: "phase-durations" }, items) : "–";
}

function actions(version, onRollback) {
  const links = (version.artifacts || []).filter((a) => DOWNLOADS[a.kind] && a.url)
    .map((a) => el("a", { class: "btn btn-small btn-ghost", href: a.url, download: a.name, title: `${a.name} (sha256 ${a.sha256.slice(0, 12)}…)` }, DOWNLOADS[a.kind]));
  const rollback = el("button", {
    type: "button", class: "btn btn-small btn-danger rollback", dataset: { version: version.timestamp },
    disabled: version.active || version.pruned, "aria-label": `Roll back to ${version.timestamp}`,
    onclick: () => onRollback(version.timestamp),
  }, "Roll back");
  return el("div", { class: "actions" }, links, rollback);
}

/** The promotion gate's decision: outcome and the same-rows deltas against the champion it faced. */
function gate(version) {
  const p = version.promotion;
  if (!p) return "–";
  const delta = (name) => (p.delta && p.delta[name] !== null && p.delta[name] !== undefined
    ? `${name === "f1_score" ? "F1" : "PR AUC"} ${p.delta[name] >= 0 ? "+" : ""}${p.delta[name].toFixed(3)}` : null);
  const deltas = [delta("f1_score"), delta("pr_auc")].filter(Boolean).join(", ");
  return el("span", { class: `gate gate-${p.outcome}`, title: p.reason || "" }, p.outcome,
    deltas ? el("span", { class: "sub" }, `vs ${p.champion}: ${deltas}`) : null);
}

function row(version, onRollback) {
  const m = version.metrics || {};
  const names = (version.shap_top || []).slice(0, 3).map((s) => s.feature);
  const top = names.length ? el("span", {}, names.flatMap((n, i) => [i ? ", " : "", el("span", { class: describe(n) ? "term" : null, title: describe(n) || null }, label(n))])) : "–";
  return el("tr", {
    class: [version.active ? "is-active" : "", version.pruned ? "is-pruned" : ""].join(" ").trim() || null,
    dataset: { version: version.timestamp },
  },
  el("th", { scope: "row" }, el("code", {}, version.timestamp),
    el("span", { class: "sub" }, `${label(version.model_type)} · ${when(version.created_at)}`)),
  // data-label names each cell on narrow screens, where every row becomes a card.
  el("td", { "data-label": "Status" }, status(version)),
  el("td", { "data-label": "Gate" }, gate(version)),
  el("td", { class: "num", "data-label": "F1" }, num(m.f1_score)),
  el("td", { class: "num", "data-label": "Precision" }, num(m.precision)),
  el("td", { class: "num", "data-label": "Recall" }, num(m.recall)),
  el("td", { class: "num", "data-label": "ROC AUC" }, num(m.auc_roc)),
  el("td", { class: "top-shap", "data-label": "Top SHAP" }, top),
  el("td", { class: "phases-cell", "data-label": "Phases" }, phaseList(version.phase_durations)),
  el("td", { class: "actions-cell" }, actions(version, onRollback)));
}

export function renderVersions(versions, onRollback) {
  const body = document.querySelector("#versions-table tbody");
  if (!versions.length) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: "10", class: "muted" }, "No versions yet.")));
    return;
  }
  body.replaceChildren(...versions.map((v) => row(v, onRollback)));
}

/** Ask with the <dialog>; resolves to {reason} on confirm, null on cancel/Escape. */
export function confirmRollback(tag) {
  const dialog = document.getElementById("rollback-dialog");
  document.getElementById("rollback-target").textContent = tag;
  const reason = document.getElementById("rollback-reason");
  reason.value = "";
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "confirm" ? { reason: reason.value.trim() } : null);
    }, { once: true });
  });
}
