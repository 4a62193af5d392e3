// Retrain controls and the live phase list fed by /ws events.
import { postJSON } from "../api.js";
import { seconds } from "../format.js";
import { toast, toastError } from "../toast.js";

const $ = (id) => document.getElementById(id);
let runId = null;

function phaseNode(name) {
  return document.querySelector(`#phases [data-phase="${CSS.escape(name)}"]`);
}

function setPhase(name, statusValue, duration) {
  const node = phaseNode(name);
  if (!node) return;
  node.dataset.status = statusValue;
  node.querySelector(".phase-time").textContent =
    statusValue === "done" && duration !== undefined && duration !== null ? seconds(duration)
      : statusValue === "running" ? "running…" : statusValue === "failed" ? "failed" : "";
}

function setRunning(id, title) {
  runId = id;
  $("run").dataset.state = id === null ? "idle" : "running";
  $("train-start").disabled = id !== null;
  $("train-cancel").hidden = id === null;
  if (title) $("run-title").textContent = title;
}

function resetPhases() {
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
  switch (event.type) {
    case "snapshot":
      resetPhases();
      setRunning(event.run_id, `Run ${event.run_id} in progress…`);
      for (const p of event.phases || []) setPhase(p.phase, p.status === "finished" ? "done" : p.status, p.duration_s);
      if (event.progress) setProgress(event.progress.done, event.progress.total);
      return false;
    case "run_started":
      if (runId !== event.run_id) resetPhases();
      setRunning(event.run_id, `Run ${event.run_id} started…`);
      return false;
    case "phase_started":
      setPhase(event.phase, "running");
      $("run-title").textContent = `Run ${event.run_id}: ${event.phase}${elapsed}`;
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
    case "run_failed":
      document.querySelectorAll('#phases [data-status="running"]').forEach((n) => setPhase(n.dataset.phase, "failed"));
      setRunning(null, `Run ${event.run_id} ${event.status || "failed"}.`);
      toast(`Training ${event.status || "failed"}: ${event.error || "no details"}`, event.status === "cancelled" ? "info" : "error");
      return true;
    default:
      return false;
  }
}

export function initTraining() {
  $("train-form").addEventListener("submit", start);
  $("train-cancel").addEventListener("click", cancel);
}
