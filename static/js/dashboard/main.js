// Dashboard entry: loads everything from the JSON API, then follows /ws for live changes.
import { api, postJSON, setApiToken } from "../api.js";
import { loadGlossary } from "../glossary.js";
import { bindThreshold } from "../threshold.js";
import { toast, toastError } from "../toast.js";
import { connectEvents } from "../ws.js";
import { initCurve, loadCurve } from "./curve.js";
import { loadDrops } from "./drops.js";
import { initGallery, renderGallery } from "./gallery.js";
import { renderCards, renderTrends } from "./metrics.js";
import { explainSelected, initSamples, scoreSamples } from "./samples.js";
import { initGlobalShap, loadGlobalShap } from "./shap.js";
import { handleTrainingEvent, initTraining } from "./training.js";
import { confirmRollback, renderVersions } from "./versions.js";

const $ = (id) => document.getElementById(id);
const AUTO_KEY = "autoRefresh";
const threshold = bindThreshold($("threshold"), $("threshold-value"));
let shownVersion; // undefined until the first load; null when no model is active
let busy = null;
let again = false;
let ownRollback = null;

async function activeMetrics() {
  try {
    return await api("/api/metrics");
  } catch (err) {
    if (err.status === 404) return null;
    throw err;
  }
}

async function load() {
  const [metrics, history, versions] = await Promise.all([
    activeMetrics(), api("/api/metrics/history?limit=50"), api("/api/versions/detail")]);
  await loadGlossary(metrics?.version ?? null); // before anything that names features
  renderCards(metrics);
  await loadDrops(metrics?.version ?? null).catch(() => {}); // monitoring off or down: cards without live values
  const best = metrics?.best_f1_threshold;
  $("threshold-best").hidden = best === undefined || best === null;
  if (best !== undefined && best !== null) {
    $("threshold-best").dataset.value = best;
    $("threshold-best").textContent = `Best-F1 (${Number(best).toFixed(2)})`;
  }
  renderTrends(history.history);
  renderVersions(versions.versions, rollback);
  renderGallery(versions.versions);
  await loadCurve();
  const version = metrics?.version ?? null;
  if (version !== shownVersion) {
    shownVersion = version;
    await loadGlobalShap(Boolean(metrics));
    if (metrics) await Promise.all([scoreSamples(), explainSelected()]);
  }
}

/** Reload; calls arriving during a reload coalesce into one more reload. */
function refresh() {
  if (busy) { again = true; return busy; }
  busy = load().catch((err) => toastError(err, "Could not load the dashboard")).finally(() => {
    busy = null;
    if (again) { again = false; refresh(); }
  });
  return busy;
}

async function rollback(tag) {
  const answer = await confirmRollback(tag);
  if (!answer) return;
  ownRollback = tag;
  try {
    const result = await postJSON(`/api/versions/rollback/${encodeURIComponent(tag)}`, answer.reason ? { reason: answer.reason } : {});
    toast(result.changed ? `Rolled back to ${result.version} (was ${result.previous ?? "none"})` : `${result.version} is already active`, "success");
  } catch (err) {
    ownRollback = null;
    toastError(err, "Rollback failed");
  }
  refresh();
}

let dropsTimer = null; // window updates come in bursts: one reload of the card indicators per burst
function onEvent(event) {
  if (event.type === "monitoring_window" && event.window?.version === shownVersion && dropsTimer === null) {
    dropsTimer = setTimeout(() => { dropsTimer = null; loadDrops(shownVersion).catch(() => {}); }, 250);
  }
  if (handleTrainingEvent(event)) { refresh(); return; }
  if (event.type === "hello" && shownVersion !== undefined && (event.version ?? null) !== shownVersion) refresh();
  if (event.type === "version_activated") {
    if (event.source === "database") toast(changedElsewhere(event), "info");
    refresh();
  }
  if (event.type === "threshold_changed") loadCurve();
  if (event.type === "promotion_decided" && event.outcome !== "promoted") {
    toast(`Version ${event.version} was ${event.outcome} by the promotion gate: ${event.reason}`, "info", { timeout: 15000 });
  }
  if (event.type === "rolled_back") {
    if (ownRollback !== event.version) toast(`Rolled back to ${event.version} elsewhere`, "info");
    ownRollback = null;
    refresh();
  }
}

const WHO = { cli: "the CLI", api: "another server", startup: "a server starting up", system: "the server" };

/** Words for a version change another process made (the registry's follower noticed it). */
function changedElsewhere(event) {
  const who = WHO[event.actor] ?? "another process";
  const why = event.reason && event.reason !== "rollback" ? ` (${event.reason})` : "";
  return event.kind === "rolled_back"
    ? `Changed elsewhere: rolled back to ${event.version} by ${who}${why}`
    : `Changed elsewhere: version ${event.version} activated by ${who}${why}`;
}

function initToolbar() {
  const auto = $("auto-refresh");
  let timer = null;
  const arm = () => {
    clearInterval(timer);
    timer = auto.checked ? setInterval(refresh, 30000) : null;
  };
  try { auto.checked = localStorage.getItem(AUTO_KEY) === "on"; } catch { /* ignore */ }
  auto.addEventListener("change", () => {
    try { localStorage.setItem(AUTO_KEY, auto.checked ? "on" : "off"); } catch { /* ignore */ }
    arm();
  });
  arm();
  $("refresh-now").addEventListener("click", refresh);
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    setApiToken($("api-token").value.trim());
    $("api-token").value = "";
    toast("API token saved for this tab; reconnecting", "info");
    location.reload(); // the WebSocket picks the token up on connect
  });
  for (const id of ["threshold-default", "threshold-best"]) {
    $(id).addEventListener("click", () => threshold.set($(id).dataset.value));
  }
}

function wsStatus(state) {
  $("ws-status").dataset.state = state;
  $("ws-status").textContent = { live: "live", connecting: "connecting…", reconnecting: "reconnecting…" }[state];
}

initToolbar();
initTraining();
initGlobalShap();
initGallery();
initSamples((err) => toastError(err, "Explanation failed"));
initCurve(threshold);
refresh().then(() => connectEvents(onEvent, wsStatus));
