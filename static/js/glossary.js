// Feature and term descriptions from GET /api/glossary (written by the server's feature transformers).
import { api } from "./api.js";

let words = new Map();
let loadedFor;

/** Fetch the active version's glossary once per version; no model (404) leaves it empty. */
export async function loadGlossary(version) {
  if (version !== undefined && version === loadedFor) return;
  try {
    const data = await api("/api/glossary");
    words = new Map([
      ...Object.entries(data.terms || {}),
      ...Object.entries(data.groups || {}),
      ...(data.features || []).map((f) => [f.name, f.description]),
    ]);
    loadedFor = data.version;
  } catch (err) {
    if (err.status !== 404) throw err;
    words = new Map();
    loadedFor = null;
  }
}

/** The description of a feature, SHAP group or term ("base value"), or "" when unknown. */
export const describe = (name) => words.get(name) ?? words.get(String(name).replaceAll(" ", "_")) ?? "";
