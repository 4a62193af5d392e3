// Retrain controls and the live phase list fed by /ws events.
import { postJSON } from "../api.js";
import { seconds } from "../format.js";
import { toast, toastError } from "../toast.js";

const $ = (id) => document.getElementById(id);
const TIME_TEXT = { running: "running…", failed: "failed", cancelled: "cancelled" };
let runId = null;
let runPhase = null;
let startedAt = null; // performance.now() at the run's start, re-anchored by every server elapsed_s
let ticker = null;

/** The run title ticks every second between events, from the server's own elapsed_s. */
function anchor(elapsed) {
  if (elapsed !== undefined && elapsed !== null) startedAt = performance.now() - Number(elapsed) * 1000;
  else startedAt ??= performance.now();
}

function paintTitle() {
  if (runId === null || startedAt === null) return;
  const elapsed = seconds(Math.max(0, (performance.now() - startedAt) / 1000));
  $("run-title").textContent = `Run ${runId}${runPhase ? `: ${runPhase}` : " started"} · ${elapsed}`;
  $("run-title").dataset.elapsed = String(Math.round(performance.now() - startedAt));
}

function startTicking() {
  clearInterval(ticker);
  ticker = setInterval(paintTitle, 1000);
  paintTitle();
}

function stopTicking() {
  clearInterval(ticker);
  ticker = null;
  startedAt = null;
  runPhase = null;
}

function phaseNode(name) {
  return document.querySelector(`#phases [data-phase="${CSS.escape(name)}"]`);
}

function setPhase(name, statusValue, duration) {
  const node = phaseNode(name);
  if (!node) return;
  node.dataset.status = statusValue;
  node.querySelector(".phase-time").textContent =
    statusValue === "done" && duration !== undefined && duration !== null ? seconds(duration)
      : TIME_TEXT[statusValue] ?? "";
}

function setRunning(id, title) {
  if (id === null) stopTicking();
  runId = id;
  $("run").dataset.state = id === null ? "idle" : "running";
  $("train-start").disabled = id !== null;
  $("train-cancel").hidden = id === null;
  if (title) $("run-title").textContent = title;
}

function resetPhases() {
  delete $("run").dataset.outcome;
  document.querySelectorAll("#phases .phase").forEach((n) => setPhase(n.dataset.phase, "pending"));
  $("fits").hidden = true;
}

function setProgress(done, total) {
  if (!total) return;
  $("fits").hidden = false;
  $("fits-bar").max = total;
  $("fits-bar").value = done;
  $("fits-text").textContent = `${done} / ${total}`;
}

function body() {
  const payload = {};
  if ($("train-model").value) payload.model_type = $("train-model").value;
  const iterations = $("train-iterations").value.trim();
  if (iterations) payload.search_iterations = Number(iterations);
  if ($("train-generate").checked) payload.generate_data = true;
  return payload;
}

async function start(event) {
  event.preventDefault();
  try {
    const answer = await postJSON("/api/train/async", body());
    resetPhases();
    setRunning(answer.run_id, `Run ${answer.run_id} started…`);
  } catch (err) {
    if (err.body?.error?.run_id) setRunning(err.body.error.run_id, `Run ${err.body.error.run_id} is in progress.`);
    toastError(err, "Training not started");
  }
}

async function cancel() {
  if (runId === null) return;
  try {
    await postJSON(`/api/train/${runId}/cancel`);
  } catch (err) {
    toastError(err, "Cancel failed");
  }
}

/** Handle one /ws event; returns true when the run ended and the page should reload its data. */
export function handleTrainingEvent(event) {
  const elapsed = event.elapsed_s !== undefined ? ` · ${seconds(event.elapsed_s)}` : "";
  if (runId !== null && event.run_id === runId && ticker !== null) anchor(event.elapsed_s);
  switch (event.type) {
    case "snapshot":
      resetPhases();
      setRunning(event.run_id, `Run ${event.run_id} in progress…`);
      for (const p of event.phases || []) setPhase(p.phase, p.status === "finished" ? "done" : p.status, p.duration_s);
      runPhase = (event.phases || []).filter((p) => p.status === "running").map((p) => p.phase).pop() ?? null;
      if (event.progress) setProgress(event.progress.done, event.progress.total);
      anchor(event.elapsed_s);
      startTicking();
      return false;
    case "run_started":
      if (runId !== event.run_id) resetPhases();
      setRunning(event.run_id, `Run ${event.run_id} started…`);
      anchor(event.elapsed_s ?? 0);
      startTicking();
      return false;
    case "phase_started":
      setPhase(event.phase, "running");
      if (runId !== event.run_id) { setRunning(event.run_id); startTicking(); }
      runPhase = event.phase;
      anchor(event.elapsed_s);
      paintTitle();
      return false;
    case "phase_finished":
      setPhase(event.phase, "done", event.duration_s);
      return false;
    case "progress":
      setProgress(event.done, event.total);
      return false;
    case "run_finished":
      setRunning(null, `Run ${event.run_id} finished: version ${event.version}${elapsed}.`);
      toast(`Training finished: version ${event.version}`, "success");
      return true;
    case "run_failed": {
      // A cancelled run stopped on request: its phase reads "cancelled", in neutral colours.
      const outcome = event.status === "cancelled" ? "cancelled" : "failed";
      // The phase it stopped in; a run stopped between two phases stopped before the next one.
      const stopped = document.querySelector('#phases [data-status="running"]')
        ?? document.querySelector('#phases [data-status="pending"]');
      if (stopped) setPhase(stopped.dataset.phase, outcome);
      $("run").dataset.outcome = outcome;
      setRunning(null, `Run ${event.run_id} ${outcome}${elapsed}.`);
      toast(outcome === "cancelled" ? `Training run ${event.run_id} cancelled` : `Training failed: ${event.error || "no details"}`,
        outcome === "cancelled" ? "info" : "error");
      return true;
    }
    default:
      return false;
  }
}

export function initTraining() {
  $("train-form").addEventListener("submit", start);
  $("train-cancel").addEventListener("click", cancel);
}
