// fetch wrapper for the JSON API; failures become ApiError carrying the envelope's message and fields.
export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `request failed with HTTP ${status}`);
    this.status = status;
    this.code = error.code || "http_error";
    this.fields = error.fields || {};
    this.body = body;
  }
}

const TOKEN_KEY = "apiToken"; // only needed when the server is configured with a token

export function apiToken() {
  try { return sessionStorage.getItem(TOKEN_KEY) || ""; } catch { return ""; }
}

export function setApiToken(value) {
  try {
    if (value) sessionStorage.setItem(TOKEN_KEY, value); else sessionStorage.removeItem(TOKEN_KEY);
  } catch { /* storage disabled: the token lasts until reload */ }
}

export async function api(path, { method = "GET", body, signal } = {}) {
  const init = { method, signal, headers: { Accept: "application/json" } };
  if (apiToken()) init.headers.Authorization = `Bearer ${apiToken()}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, { error: { code: "network", message: `cannot reach the server (${err.message})` } });
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export const postJSON = (path, body = {}) => api(path, { method: "POST", body });

/** The record fields the predict/explain endpoints take, in form order. */
export const FLOW_FIELDS = ["packet_size", "bytes_sent", "source_ip", "dest_ip", "protocol", "timestamp_seconds", "hour"];
