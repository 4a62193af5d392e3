// The version table: metrics, top SHAP features, phase durations, badges, downloads, rollback.
import { el, label, num, seconds, when } from "../format.js";

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

function row(version, onRollback) {
  const m = version.metrics || {};
  const top = (version.shap_top || []).slice(0, 3).map((s) => label(s.feature)).join(", ") || "–";
  return el("tr", {
    class: [version.active ? "is-active" : "", version.pruned ? "is-pruned" : ""].join(" ").trim() || null,
    dataset: { version: version.timestamp },
  },
  el("th", { scope: "row" }, el("code", {}, version.timestamp),
    el("span", { class: "sub" }, `${label(version.model_type)} · ${when(version.created_at)}`)),
  el("td", {}, status(version)),
  el("td", { class: "num" }, num(m.f1_score)), el("td", { class: "num" }, num(m.precision)),
  el("td", { class: "num" }, num(m.recall)), el("td", { class: "num" }, num(m.auc_roc)),
  el("td", { class: "top-shap" }, top),
  el("td", {}, phaseList(version.phase_durations)),
  el("td", {}, actions(version, onRollback)));
}

export function renderVersions(versions, onRollback) {
  const body = document.querySelector("#versions-table tbody");
  if (!versions.length) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: "9", class: "muted" }, "No versions yet.")));
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
