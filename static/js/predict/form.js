// The flow form: fill from a record, read back to a request body, show the API's field errors.
import { FLOW_FIELDS } from "../api.js";

const form = () => document.getElementById("predict-form");
const NUMERIC = new Set(["packet_size", "bytes_sent", "timestamp_seconds", "hour"]);

export function fill(flow) {
  for (const name of FLOW_FIELDS) {
    const input = form().elements[name];
    if (input && flow[name] !== undefined) input.value = String(flow[name]);
  }
  describeTimestamp();
  clearErrors();
}

/** Empty fields are left out so the API names them as missing. */
export function read() {
  const body = {};
  for (const name of FLOW_FIELDS) {
    const raw = form().elements[name].value.trim();
    if (raw === "") continue;
    body[name] = NUMERIC.has(name) && !Number.isNaN(Number(raw)) ? Number(raw) : raw;
  }
  return body;
}

export function clearErrors() {
  for (const node of form().querySelectorAll(".field-error")) node.textContent = "";
  for (const node of form().querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  const general = document.getElementById("form-error");
  general.hidden = true;
  general.textContent = "";
}

/** Put each `fields` reason next to its input ("body.hour" or "hour"); the rest above the form. */
export function showErrors(message, fields) {
  clearErrors();
  const leftovers = [];
  let first = null;
  for (const [key, reason] of Object.entries(fields || {})) {
    const name = key.split(".").pop();
    const input = FLOW_FIELDS.includes(name) ? form().elements[name] : null;
    if (!input) { leftovers.push(`${key}: ${reason}`); continue; }
    document.getElementById(`f-${name}-error`).textContent = reason;
    input.setAttribute("aria-invalid", "true");
    first ??= input;
  }
  const general = document.getElementById("form-error");
  general.textContent = [message, ...leftovers].join(" · ");
  general.hidden = false;
  first?.focus();
}

export function describeTimestamp() {
  const value = Number(form().elements.timestamp_seconds.value);
  const help = document.getElementById("f-timestamp_seconds-help-text");
  help.textContent = Number.isFinite(value) && value > 0
    ? new Date(value * 1000).toUTCString().replace("GMT", "UTC") : "Seconds since 1970-01-01 UTC";
}

/** Keep the hour in step when the timestamp is edited. */
export function syncHourFromTimestamp() {
  const value = Number(form().elements.timestamp_seconds.value);
  if (Number.isFinite(value) && value > 0) form().elements.hour.value = String(Math.floor(value / 3600) % 24);
  describeTimestamp();
}
