// Predict page: presets, randomise, submit to /api/explain, show the result; the threshold re-decides locally.
import { postJSON } from "../api.js";
import { explanationView } from "../contrib.js";
import { el } from "../format.js";
import { loadGlossary } from "../glossary.js";
import { PRESETS, presetByKey } from "../presets.js";
import { bindThreshold, getThreshold, onThreshold } from "../threshold.js";
import { toastError } from "../toast.js";
import { clearErrors, describeTimestamp, fill, read, showErrors, syncHourFromTimestamp } from "./form.js";
import { randomFlow } from "./randomise.js";

const $ = (id) => document.getElementById(id);
const view = explanationView("predict");
bindThreshold($("threshold"), $("threshold-value"));
onThreshold((t) => view.setThreshold(t));

/** A result is only ever shown next to the flow it belongs to. */
function clearResult(message) {
  view.hide();
  $("result-empty").textContent = message;
  $("result-empty").hidden = false;
}

async function submit(event) {
  event.preventDefault();
  clearErrors();
  const flow = read();
  const button = $("predict-submit");
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    const threshold = getThreshold().toFixed(2);
    const data = await postJSON(`/api/explain?n=8&collapse_pairs=true&threshold=${threshold}`, flow);
    $("result-empty").hidden = true;
    view.show(data, getThreshold());
    try { localStorage.setItem("lastFlow", JSON.stringify(flow)); } catch { /* ignore */ }
  } catch (err) {
    clearResult("No result: the API refused this flow (see the form).");
    if (err.fields && Object.keys(err.fields).length) showErrors(err.message, err.fields);
    else toastError(err, "Prediction failed");
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

function presetButtons() {
  $("preset-buttons").replaceChildren(...PRESETS.map((p) => el("button", {
    type: "button", class: "btn btn-small preset", dataset: { preset: p.key },
    onclick: () => { fill(presetByKey(p.key).flow); $("predict-form").requestSubmit(); },
  }, p.name)));
}

$("predict-form").addEventListener("submit", submit);
$("f-timestamp_seconds").addEventListener("change", syncHourFromTimestamp);
$("predict-form").addEventListener("input", (event) => {
  if (event.target.name !== "threshold" && view.last) clearResult("The flow changed: press “Predict & explain” to score it.");
});
$("randomise").addEventListener("click", async () => {
  try {
    fill(await randomFlow());
    clearResult("A random flow from the training distribution: press “Predict & explain” to score it.");
  } catch (err) {
    toastError(err, "Cannot randomise");
  }
});
presetButtons();
loadGlossary().catch((err) => toastError(err, "Glossary unavailable"));
fill(PRESETS[0].flow);
describeTimestamp();
