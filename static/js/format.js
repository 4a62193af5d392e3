// Number formatting and a tiny DOM builder (textContent only: nothing from the API becomes HTML).
export const num = (value, digits = 3) =>
  value === null || value === undefined || Number.isNaN(Number(value)) ? "–" : Number(value).toFixed(digits);

export const int = (value) =>
  value === null || value === undefined ? "–" : Number(value).toLocaleString("en-US");

export const pct = (value, digits = 1) => (value === null || value === undefined ? "–" : `${Number(value).toFixed(digits)}%`);

export function seconds(value) {
  if (value === null || value === undefined) return "–";
  const s = Number(value);
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 60) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} m ${Math.round(s % 60)} s`;
}

export function bytes(value) {
  let n = Number(value);
  for (const unit of ["B", "KB", "MB", "GB"]) {
    if (n < 1024 || unit === "GB") return `${unit === "B" ? n : n.toFixed(1)} ${unit}`;
    n /= 1024;
  }
  return "";
}

export const label = (name) => String(name ?? "").replaceAll("_", " ");

export function when(iso) {
  if (!iso) return "–";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short" });
}

/** el("td", {class: "num", dataset: {x: 1}}, "text", child) */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}
