// The active version's PNG plots (evaluation and EDA artifacts).
import { el, label } from "../format.js";

const TITLES = { pr: "precision–recall", roc: "ROC curve", shap_global: "global SHAP importance" };
const title = (name) => {
  const key = name.replace(/_\d{8}_\d{6}\.png$/, "");
  return TITLES[key] ?? label(key);
};

export function renderGallery(versions) {
  const active = versions.find((v) => v.active);
  const plots = (active?.artifacts || []).filter((a) => a.kind === "plot" && a.url);
  document.getElementById("gallery-empty").hidden = plots.length > 0;
  document.getElementById("gallery-grid").replaceChildren(...plots.map((a) => el("figure", { class: "plot" },
    el("a", { href: `${a.url}?inline=1`, target: "_blank", rel: "noopener" },
      el("img", { src: `${a.url}?inline=1`, alt: `${title(a.name)} plot of version ${active.timestamp}`, width: "640", height: "480" })),
    el("figcaption", {}, title(a.name)))));
}
