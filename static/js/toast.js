// Toast notifications in the page's aria-live region.
const region = () => document.getElementById("toasts");

export function toast(message, kind = "info", { timeout } = {}) {
  const box = document.createElement("div");
  box.className = `toast toast-${kind}`;
  box.dataset.kind = kind;
  if (kind === "error") box.setAttribute("role", "alert");
  const text = document.createElement("span");
  text.className = "toast-text";
  text.textContent = message;
  const close = document.createElement("button");
  close.type = "button";
  close.className = "toast-close";
  close.setAttribute("aria-label", "Dismiss notification");
  close.textContent = "×";
  close.addEventListener("click", () => box.remove());
  box.append(text, close);
  region().append(box);
  const ms = timeout ?? (kind === "error" ? 10000 : 6000);
  if (ms > 0) setTimeout(() => box.remove(), ms);
  return box;
}

/** Show an API (or any) error's message; the API's own words, never just "error". */
export const toastError = (err, prefix = "") => toast(prefix ? `${prefix}: ${err.message}` : err.message, "error");
