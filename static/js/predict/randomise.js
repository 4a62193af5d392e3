// Sample a flow from the active version's training distribution (its "distribution" JSON artifact).
import { api } from "../api.js";

const KNOTS = [["min", 0], ["p1", 0.01], ["p5", 0.05], ["p25", 0.25], ["p50", 0.5], ["p75", 0.75], ["p95", 0.95], ["p99", 0.99], ["max", 1]];
let cached = null;

/** Inverse CDF by linear interpolation between the stored quantiles. */
export function sampleQuantiles(stats, u = Math.random()) {
  const knots = KNOTS.filter(([key]) => typeof stats[key] === "number").map(([key, q]) => [q, stats[key]]);
  for (let i = 1; i < knots.length; i += 1) {
    const [q0, v0] = knots[i - 1];
    const [q1, v1] = knots[i];
    if (u <= q1) return q1 === q0 ? v1 : v0 + ((u - q0) / (q1 - q0)) * (v1 - v0);
  }
  return knots.length ? knots[knots.length - 1][1] : 0;
}

function sampleCategory(frequencies) {
  const entries = Object.entries(frequencies);
  let u = Math.random() * entries.reduce((sum, [, p]) => sum + p, 0);
  for (const [name, p] of entries) {
    u -= p;
    if (u <= 0) return name;
  }
  return entries[entries.length - 1]?.[0];
}

const pick = (list) => list[Math.floor(Math.random() * list.length)];

async function distribution() {
  if (cached) return cached;
  const { versions } = await api("/api/versions/detail");
  const active = versions.find((v) => v.active);
  const artifact = active?.artifacts.find((a) => a.kind === "distribution" && a.url);
  if (!artifact) throw new Error("the active version has no stored training distribution");
  cached = await api(artifact.url);
  return cached;
}

export async function randomFlow() {
  const d = await distribution();
  const ts = Math.round(sampleQuantiles(d.timestamp_seconds));
  return {
    packet_size: Math.max(1, Math.round(sampleQuantiles(d.packet_size))),
    bytes_sent: Math.max(0, Math.round(sampleQuantiles(d.bytes_sent))),
    source_ip: pick(d.source_ip.sample),
    dest_ip: pick(d.dest_ip.sample),
    protocol: sampleCategory(d.protocol),
    timestamp_seconds: ts,
    hour: Math.floor(ts / 3600) % 24, // consistent with the timestamp, as in the training data
  };
}
