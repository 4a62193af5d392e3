// Classic (non-module) script in <head>: pick the theme before first paint.
(function () {
  var stored = null;
  try { stored = window.localStorage.getItem("theme"); } catch (e) { /* storage disabled */ }
  var prefersDark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
  var dark = stored ? stored === "dark" : prefersDark;
  document.documentElement.setAttribute("data-theme", dark ? "dark" : "light");
})();
