// Chart.js (vendored UMD, window.Chart) with colours from the CSS theme; charts recolour on theme change.
const Chart = window.Chart;
const charts = new Set();

export function colors() {
  const css = getComputedStyle(document.documentElement);
  const v = (name) => css.getPropertyValue(name).trim();
  return {
    fg: v("--fg"), muted: v("--muted"), grid: v("--grid"), pos: v("--pos"), neg: v("--neg"),
    series: [v("--c1"), v("--c2"), v("--c3"), v("--c4")], marker: v("--marker"), band: v("--band"),
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

/** Tooltip options adding each bar's glossary description, wrapped to a readable width. */
export function describedTooltip(descriptions) {
  const wrap = (text) => text.match(/.{1,48}(\s|$)/g)?.map((line) => line.trim()) ?? [];
  return { callbacks: { footer: (items) => wrap(descriptions[items[0]?.dataIndex] || "") }, footerFont: { weight: "normal" } };
}

/** Horizontal signed bar chart (SHAP): positive bars push towards congestion. */
export function signedBars(canvas, labels, values, axisTitle, descriptions = []) {
  return makeChart(canvas, {
    type: "bar",
    data: { labels, datasets: [{ label: axisTitle, data: values, borderWidth: 0 }] },
    options: {
      indexAxis: "y",
      plugins: { legend: { display: false }, tooltip: describedTooltip(descriptions) },
      scales: { x: { title: { display: true, text: axisTitle } }, y: { ticks: { autoSkip: false } } },
    },
  }, (c, chart) => {
    const ds = chart.data.datasets[0];
    ds.backgroundColor = ds.data.map((v) => (v >= 0 ? c.pos : c.neg));
  });
}

/** Label boxes that stay inside the chart area and never overlap: the first free row wins. */
function layoutLabels(ctx, marks, area, x) {
  const rowHeight = 14;
  const rows = Math.max(1, Math.floor((area.bottom - area.top) / rowHeight / 2));
  const placed = [];
  for (const mark of marks) {
    const w = ctx.measureText(mark.text).width + 6;
    const px = x(mark);
    // Right of the line when it fits, else left of it: a label is never cut off by the edge.
    let left = px + 3 + w <= area.right ? px + 3 : px - 3 - w;
    left = Math.max(area.left, Math.min(left, area.right - w));
    for (let row = 0; row < rows; row += 1) {
      const top = area.top + 2 + row * rowHeight;
      const box = { left, right: left + w, top, bottom: top + rowHeight - 2, text: mark.text, x: px };
      if (!placed.some((b) => b.top === top && b.left < box.right && box.left < b.right)) {
        placed.push(box);
        break;
      }
    }
  }
  return placed;
}

/** Vertical dashed lines at fractional x positions: {x, text} (rollback events on trend charts). */
export const markersPlugin = {
  id: "markers",
  afterDatasetsDraw(chart, _args, options) {
    const marks = options.marks || [];
    chart.$markerLabels = [];
    if (!marks.length) return;
    const { ctx, chartArea, scales } = chart;
    const color = colors().marker;
    const x = (mark) => Math.max(chartArea.left, Math.min(scales.x.getPixelForValue(mark.x), chartArea.right));
    ctx.save();
    ctx.strokeStyle = color;
    ctx.fillStyle = color;
    ctx.font = "11px system-ui, sans-serif";
    ctx.textBaseline = "top";
    for (const mark of marks) {
      ctx.setLineDash([5, 4]);
      ctx.beginPath();
      ctx.moveTo(x(mark), chartArea.top);
      ctx.lineTo(x(mark), chartArea.bottom);
      ctx.stroke();
    }
    const labels = layoutLabels(ctx, marks, chartArea, x);
    for (const box of labels) ctx.fillText(box.text, box.left + 3, box.top);
    ctx.restore();
    chart.$markerLabels = labels; // what was painted, for tests and for the tooltip-free reader
  },
};
