// Chart.js (vendored UMD, window.Chart) with colours from the CSS theme; charts recolour on theme change.
const Chart = window.Chart;
const charts = new Set();

export function colors() {
  const css = getComputedStyle(document.documentElement);
  const v = (name) => css.getPropertyValue(name).trim();
  return {
    fg: v("--fg"), muted: v("--muted"), grid: v("--grid"), pos: v("--pos"), neg: v("--neg"),
    series: [v("--c1"), v("--c2"), v("--c3"), v("--c4")], marker: v("--marker"),
  };
}

function applyTheme(target, c) {
  const options = target.options;
  options.color = c.fg;
  for (const scale of Object.values(options.scales || {})) {
    scale.ticks = { ...(scale.ticks || {}), color: c.muted };
    scale.grid = { ...(scale.grid || {}), color: c.grid };
    if (scale.title) scale.title.color = c.muted;
  }
  if (options.plugins?.legend) options.plugins.legend.labels = { ...options.plugins.legend.labels, color: c.fg };
  target.$recolor?.(c, target);
}

/** Create a chart; `recolor(colors, chartOrConfig)` sets dataset colours, again on theme change. */
export function makeChart(canvas, config, recolor) {
  const old = Chart.getChart(canvas);
  if (old) { charts.delete(old); old.destroy(); }
  const full = {
    ...config,
    options: { responsive: true, maintainAspectRatio: false, animation: { duration: 250 }, ...config.options },
    $recolor: recolor,
  };
  applyTheme(full, colors()); // before construction, so the first paint has the theme's colours
  const chart = new Chart(canvas, full);
  chart.$recolor = recolor;
  charts.add(chart);
  return chart;
}

document.addEventListener("themechange", () => {
  const c = colors();
  for (const chart of charts) { applyTheme(chart, c); chart.update("none"); }
});

/** Horizontal signed bar chart (SHAP): positive bars push towards congestion. */
export function signedBars(canvas, labels, values, axisTitle) {
  return makeChart(canvas, {
    type: "bar",
    data: { labels, datasets: [{ label: axisTitle, data: values, borderWidth: 0 }] },
    options: {
      indexAxis: "y",
      plugins: { legend: { display: false } },
      scales: { x: { title: { display: true, text: axisTitle } }, y: { ticks: { autoSkip: false } } },
    },
  }, (c, chart) => {
    const ds = chart.data.datasets[0];
    ds.backgroundColor = ds.data.map((v) => (v >= 0 ? c.pos : c.neg));
  });
}

/** Vertical dashed lines at fractional x positions: {x, text} (rollback events on trend charts). */
export const markersPlugin = {
  id: "markers",
  afterDatasetsDraw(chart, _args, options) {
    const marks = options.marks || [];
    if (!marks.length) return;
    const { ctx, chartArea, scales } = chart;
    const color = colors().marker;
    ctx.save();
    ctx.strokeStyle = color;
    ctx.fillStyle = color;
    ctx.setLineDash([5, 4]);
    ctx.font = "11px system-ui, sans-serif";
    for (const mark of marks) {
      const x = scales.x.getPixelForValue(mark.x);
      ctx.beginPath();
      ctx.moveTo(x, chartArea.top);
      ctx.lineTo(x, chartArea.bottom);
      ctx.stroke();
      ctx.fillText(mark.text, Math.min(x + 3, chartArea.right - 60), chartArea.top + 10);
    }
    ctx.restore();
  },
};
