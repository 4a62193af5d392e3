// Live page charts: traffic and congested share, realised vs estimated F1 (band) vs training, label coverage.
// x is the windows' event time in Unix seconds (a point sits at its window's middle); model changes are markers.
import { makeChart, markersPlugin } from "../charts.js";

const HOUR = 3600;

/** "14:00" within a day, "11-26 14:00" across days (UTC: windows are aligned in UTC). */
function tickFormat(span) {
  return (value) => {
    const iso = new Date(value * 1000).toISOString();
    return span > 24 * HOUR ? `${iso.slice(5, 10)} ${iso.slice(11, 16)}` : iso.slice(11, 16);
  };
}

function timeScale(range) {
  // Ticks on window boundaries: at most ~6 of them, each a whole number of windows apart.
  const windows = Math.max(1, Math.round((range.max - range.min) / range.window));
  const step = range.window * Math.ceil(windows / 6);
  return { type: "linear", min: range.min, max: range.max,
    ticks: { stepSize: step, autoSkip: false, maxRotation: 0, callback: tickFormat(range.max - range.min) },
    title: { display: true, text: "event time (UTC)" } };
}

/** "#1f5fbf" at opacity `a` (the theme's series colours are hex). */
function fade(color, a) {
  const hex = /^#([0-9a-f]{6})$/i.exec(color);
  if (!hex) return color;
  const n = parseInt(hex[1], 16);
  return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${a})`;
}

function recolor(roles) {
  return (c, chart) => chart.data.datasets.forEach((ds, i) => {
    const role = roles[i] ?? { color: i };
    const color = role.band ? c.band : c.series[role.color % c.series.length];
    ds.borderColor = role.band ? "transparent" : color;
    ds.backgroundColor = role.band ? c.band : role.bar ? fade(color, 0.45) : color;
  });
}

function options(range, marks, y, extra = {}) {
  return {
    parsing: true,
    interaction: { mode: "nearest", axis: "x", intersect: false },
    plugins: {
      legend: { position: "bottom", labels: { boxWidth: 12, sort: (a, b) => a.datasetIndex - b.datasetIndex,
        filter: (item, data) => !data.datasets[item.datasetIndex].$hideLegend } },
      markers: { marks },
      tooltip: { callbacks: { title: (items) => items.length ? tickFormat(0)(items[0].parsed.x - range.half) + " UTC window" : "" } },
    },
    scales: { x: timeScale(range), ...y },
    animation: false, // redrawn on every window update: no replayed grow-in, no half-drawn frames
    datasets: { line: { clip: 6 } }, // points at 100% or F1 1.0 are drawn whole, not cut at the edge
    ...extra,
  };
}

function draw(canvas, type, datasets, roles, range, marks, y) {
  const chart = makeChart(canvas, { type, data: { datasets }, options: options(range, marks, y), plugins: [markersPlugin] },
    recolor(roles));
  canvas.dataset.points = String(datasets.reduce((n, ds) => n + ds.data.filter((p) => p.y !== null).length, 0));
  return chart;
}

/** Render the three charts for `series`: [{version, windows (oldest first), baseline}] (one entry per shown version). */
export function renderLiveCharts(series, marks, windowS) {
  const all = series.flatMap((s) => s.windows);
  const starts = all.map((w) => w.start_timestamp);
  const range = starts.length
    ? { min: Math.min(...starts), max: Math.max(...starts) + windowS, half: windowS / 2, window: windowS }
    : { min: 0, max: windowS, half: windowS / 2, window: windowS };
  const point = (w, value) => ({ x: w.start_timestamp + windowS / 2, y: value ?? null });
  const shown = marks.filter((m) => m.x >= range.min && m.x <= range.max);
  const single = series.length === 1;
  const name = (s, what) => (single ? what : `${what} · ${s.version}`);

  // Traffic: predictions per window (bars) and congested share (line, right axis).
  const traffic = [];
  const trafficRoles = [];
  series.forEach((s, i) => {
    traffic.push({ type: "bar", label: name(s, "Predictions"), data: s.windows.map((w) => point(w, w.predictions)), yAxisID: "y",
      stack: "predictions", barPercentage: 0.9, categoryPercentage: 1, order: 2 }); // under the share lines
    trafficRoles.push({ color: i, bar: true });
  });
  series.forEach((s, i) => {
    traffic.push({ type: "line", label: name(s, "Congested share"), data: s.windows.map((w) => point(w, w.positive_rate === null ? null : 100 * w.positive_rate)),
      yAxisID: "y1", borderWidth: 2, pointRadius: 3, tension: 0.2, borderDash: single ? [] : [4, 3], order: 1 });
    trafficRoles.push({ color: single ? 1 : i });
  });
  draw(document.getElementById("live-traffic-chart"), "bar", traffic, trafficRoles, range, shown, {
    y: { beginAtZero: true, stacked: true, title: { display: true, text: "predictions" } },
    y1: { position: "right", min: 0, max: 100, grid: { drawOnChartArea: false }, title: { display: true, text: "congested %" } },
  });

  // Performance: realised F1, and for one version the CBPE estimate with its band and the training baseline.
  const perf = [];
  const perfRoles = [];
  if (single) {
    const [s] = series;
    const band = (k) => s.windows.map((w) => point(w, w.estimated?.band?.f1?.[k]));
    perf.push({ label: "band low", data: band(0), pointRadius: 0, borderWidth: 0, fill: false, $hideLegend: true, spanGaps: false });
    perf.push({ label: "Estimated F1 ±3σ", data: band(1), pointRadius: 0, borderWidth: 0, fill: "-1", spanGaps: false });
    perfRoles.push({ band: true }, { band: true });
    perf.push({ label: "Estimated F1", data: s.windows.map((w) => point(w, w.estimated?.f1)), borderDash: [6, 4], borderWidth: 2, pointRadius: 2 });
    perfRoles.push({ color: 0 });
    perf.push({ label: "Realised F1", data: s.windows.map((w) => point(w, w.realised?.f1)), borderWidth: 2.5, pointRadius: 3 });
    perfRoles.push({ color: 1 });
    if (s.baseline !== null && s.baseline !== undefined) {
      perf.push({ label: "Training F1", data: [{ x: range.min, y: s.baseline }, { x: range.max, y: s.baseline }], borderWidth: 1.5, pointRadius: 0, borderDash: [2, 3] });
      perfRoles.push({ color: 2 });
    }
  } else {
    series.forEach((s, i) => {
      perf.push({ label: `Realised F1 · ${s.version}`, data: s.windows.map((w) => point(w, w.realised?.f1)), borderWidth: 2, pointRadius: 3 });
      perfRoles.push({ color: i });
    });
  }
  draw(document.getElementById("live-f1-chart"), "line", perf, perfRoles, range, shown,
    { y: { min: 0, max: 1, title: { display: true, text: "F1" } } });

  // Label coverage per window.
  const coverage = series.map((s) => ({ label: name(s, "Label coverage"), data: s.windows.map((w) => point(w, w.label_coverage === null ? null : 100 * w.label_coverage)),
    borderWidth: 2, pointRadius: 3, tension: 0.2 }));
  draw(document.getElementById("live-coverage-chart"), "line", coverage, series.map((_, i) => ({ color: single ? 2 : i })), range, shown,
    { y: { min: 0, max: 100, title: { display: true, text: "labelled %" } } });
  return { range, marks: shown };
}
