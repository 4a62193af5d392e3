// The threshold as a cost decision: live precision/recall/F1/counts from the hold-out curve, the
// expected cost per threshold with its minimum marked, and saving the threshold (audited).
import { api, postJSON } from "../api.js";
import { makeChart } from "../charts.js";
import { getThreshold, onThreshold } from "../threshold.js";
import { toast, toastError } from "../toast.js";

const $ = (id) => document.getElementById(id);
let curve = null;
let chart = null;
let slider = null;

const pct = (v) => `${(100 * v).toFixed(1)}%`;

function pointAt(threshold) {
  if (!curve) return null;
  const t = Math.round(Number(threshold) * 100) / 100;
  return curve.points.find((p) => Math.abs(p.threshold - t) < 1e-9) ?? null;
}

function paintReadout(threshold) {
  const point = pointAt(threshold);
  $("curve-readout").hidden = !point;
  if (!point) return;
  $("curve-precision").textContent = pct(point.precision);
  $("curve-recall").textContent = pct(point.recall);
  $("curve-f1").textContent = point.f1.toFixed(3);
  $("curve-counts").textContent = `TP ${point.tp} · FP ${point.fp} · FN ${point.fn} · TN ${point.tn}`;
  $("curve-cost").textContent = `${point.cost.toLocaleString()} (${point.cost_per_flow.toFixed(3)} per flow)`;
  if (chart) {
    chart.$current = point.threshold;
    chart.update("none");
  }
}

const thresholdLines = {
  id: "thresholdLines",
  afterDatasetsDraw(target) {
    const { ctx, chartArea, scales } = target;
    const lines = [[target.$best, target.$colors?.pos ?? "green", "min cost"], [target.$current, target.$colors?.fg ?? "#333", "now"]];
    for (const [value, color, label] of lines) {
      if (value === undefined || value === null) continue;
      const x = scales.x.getPixelForValue(value);
      ctx.save();
      ctx.strokeStyle = color;
      ctx.fillStyle = color;
      ctx.setLineDash(label === "now" ? [4, 3] : []);
      ctx.beginPath();
      ctx.moveTo(x, chartArea.top);
      ctx.lineTo(x, chartArea.bottom);
      ctx.stroke();
      ctx.fillText(label, Math.min(x + 4, chartArea.right - 40), chartArea.top + (label === "now" ? 24 : 12));
      ctx.restore();
    }
  },
};

function drawCost() {
  chart = makeChart($("cost-chart"), {
    type: "line",
    data: { datasets: [{ label: "expected cost", data: curve.points.map((p) => ({ x: p.threshold, y: p.cost })), pointRadius: 0, borderWidth: 2 }] },
    options: {
      parsing: false,
      plugins: { legend: { display: false } },
      scales: { x: { type: "linear", min: 0, max: 1, title: { display: true, text: "threshold" } },
                y: { title: { display: true, text: `cost (FN × ${curve.cost_fn}, FP × ${curve.cost_fp})` } } },
    },
    plugins: [thresholdLines],
  }, (c, target) => {
    target.data.datasets[0].borderColor = c.series[0];
    target.$colors = c;
  });
  chart.$best = curve.recommended.threshold;
  chart.$current = getThreshold();
  chart.update("none");
}

/** Fetch the curve of the active version at the costs in the form; draw it and the readout. */
export async function loadCurve() {
  const costFn = Number($("cost-fn").value);
  const costFp = Number($("cost-fp").value);
  try {
    curve = await api(`/api/threshold/curve?cost_fn=${encodeURIComponent(costFn)}&cost_fp=${encodeURIComponent(costFp)}`);
  } catch (err) {
    curve = null;
    $("curve-panel").hidden = true;
    if (err.status !== 404 && err.status !== 409) toastError(err, "Could not load the threshold curve");
    return;
  }
  $("curve-panel").hidden = false;
  $("curve-live").textContent = curve.live_threshold.toFixed(2);
  $("curve-best").textContent = `${curve.recommended.threshold.toFixed(2)} (cost ${curve.recommended.cost.toLocaleString()})`;
  $("curve-rows").textContent = `${curve.rows.toLocaleString()} hold-out rows of version ${curve.version}`;
  drawCost();
  paintReadout(getThreshold());
}

async function save() {
  const reason = $("threshold-reason").value.trim();
  if (!reason) {
    $("threshold-reason").focus();
    toast("Say why the threshold changes: the reason is kept with the change", "error");
    return;
  }
  try {
    const body = { threshold: getThreshold(), reason, cost_fn: Number($("cost-fn").value), cost_fp: Number($("cost-fp").value) };
    const result = await postJSON("/api/threshold", body);
    $("threshold-reason").value = "";
    toast(`Serving threshold of ${result.version}: ${result.previous.toFixed(2)} → ${result.threshold.toFixed(2)}`, "success");
    await loadCurve();
  } catch (err) {
    toastError(err, "Could not save the threshold");
  }
}

/** Wire the cost form and buttons; `thresholdControl.set(v)` moves the page's slider. */
export function initCurve(thresholdControl) {
  slider = thresholdControl;
  onThreshold(paintReadout);
  $("cost-form").addEventListener("submit", (event) => { event.preventDefault(); loadCurve(); });
  $("threshold-recommended").addEventListener("click", () => curve && slider.set(curve.recommended.threshold));
  $("threshold-live").addEventListener("click", () => curve && slider.set(curve.live_threshold));
  $("threshold-save").addEventListener("click", save);
}
