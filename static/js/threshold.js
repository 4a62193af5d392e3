// The decision threshold: one value shared by the page (and remembered across pages).
const KEY = "threshold";
const listeners = new Set();
let current = null;

export const decide = (probability, threshold) => Number(probability) >= Number(threshold);
export const decisionText = (congested) => (congested ? "congested" : "not congested");

export function getThreshold() {
  return current;
}

export function onThreshold(fn) {
  listeners.add(fn);
}

function set(value, input, output) {
  current = Math.min(0.99, Math.max(0.01, Number(value)));
  input.value = String(current);
  output.textContent = current.toFixed(2);
  try { localStorage.setItem(KEY, String(current)); } catch { /* ignore */ }
  for (const fn of listeners) fn(current);
}

/** Wire a range input; the initial value is the remembered one or the server's default. */
export function bindThreshold(input, output) {
  let initial = Number(document.body.dataset.defaultThreshold || 0.5);
  try {
    const remembered = localStorage.getItem(KEY);
    if (remembered !== null && !Number.isNaN(Number(remembered))) initial = Number(remembered);
  } catch { /* ignore */ }
  current = initial;
  input.value = String(initial);
  output.textContent = Number(initial).toFixed(2);
  input.addEventListener("input", () => set(input.value, input, output));
  return { set: (value) => set(value, input, output) };
}

/** Paint a decision badge element. */
export function paintDecision(node, probability, threshold) {
  const congested = decide(probability, threshold);
  node.textContent = decisionText(congested);
  node.dataset.decision = congested ? "congested" : "clear";
}
