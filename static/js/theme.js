// Dark-mode toggle: remembered in localStorage; follows the OS until the user chooses.
const KEY = "theme";
const root = document.documentElement;
const button = document.getElementById("theme-toggle");
const media = window.matchMedia("(prefers-color-scheme: dark)");

function stored() {
  try { return localStorage.getItem(KEY); } catch { return null; }
}

function apply(theme) {
  root.dataset.theme = theme;
  const dark = theme === "dark";
  button.setAttribute("aria-pressed", String(dark));
  button.querySelector(".theme-toggle-label").textContent = dark ? "Light mode" : "Dark mode";
  document.dispatchEvent(new CustomEvent("themechange", { detail: { theme } }));
}

button.addEventListener("click", () => {
  const next = root.dataset.theme === "dark" ? "light" : "dark";
  try { localStorage.setItem(KEY, next); } catch { /* private mode: still toggles */ }
  apply(next);
});

media.addEventListener("change", (event) => {
  if (!stored()) apply(event.matches ? "dark" : "light");
});

apply(root.dataset.theme === "dark" ? "dark" : "light");
