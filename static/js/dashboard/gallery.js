// The active version's PNG plots (evaluation and EDA artifacts); a click opens one enlarged in a <dialog>.
import { el, label } from "../format.js";

const TITLES = { pr: "precision–recall", roc: "ROC curve", shap_global: "global SHAP importance" };
const title = (name) => {
  const key = name.replace(/_\d{8}_\d{6}\.png$/, "");
  return TITLES[key] ?? label(key);
};
const $ = (id) => document.getElementById(id);
let plots = [];
let shown = -1;

function show(index) {
  shown = (index + plots.length) % plots.length;
  const plot = plots[shown];
  $("lightbox-image").src = plot.src;
  $("lightbox-image").alt = plot.alt;
  $("lightbox-title").textContent = plot.title;
  $("lightbox-download").href = plot.url;
  $("lightbox-download").setAttribute("download", plot.name);
  $("lightbox-count").textContent = `${shown + 1} / ${plots.length}`;
  if (!$("lightbox").open) $("lightbox").showModal();
}

export function initGallery() {
  const dialog = $("lightbox");
  $("lightbox-close").addEventListener("click", () => dialog.close());
  $("lightbox-prev").addEventListener("click", () => show(shown - 1));
  $("lightbox-next").addEventListener("click", () => show(shown + 1));
  dialog.addEventListener("keydown", (event) => {
    if (event.key === "ArrowLeft") show(shown - 1);
    if (event.key === "ArrowRight") show(shown + 1);
  });
  dialog.addEventListener("click", (event) => { if (event.target === dialog) dialog.close(); }); // backdrop
  dialog.addEventListener("close", () => { $("gallery-grid").querySelectorAll("a")[shown]?.focus(); });
}

export function renderGallery(versions) {
  const active = versions.find((v) => v.active);
  const artifacts = (active?.artifacts || []).filter((a) => a.kind === "plot" && a.url);
  plots = artifacts.map((a) => ({ url: a.url, name: a.name, src: `${a.url}?inline=1`, title: title(a.name),
    alt: `${title(a.name)} plot of version ${active.timestamp}` }));
  $("gallery-empty").hidden = plots.length > 0;
  $("gallery-grid").replaceChildren(...plots.map((p, i) => el("figure", { class: "plot" },
    // A real link (new tab, middle click) that opens the lightbox on a plain click.
    el("a", { href: p.src, "aria-label": `Enlarge ${p.title}`, onclick: (event) => {
      if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey) return;
      event.preventDefault();
      show(i);
    } }, el("img", { src: p.src, alt: p.alt, width: "640", height: "480" })),
    el("figcaption", {}, p.title))));
}
