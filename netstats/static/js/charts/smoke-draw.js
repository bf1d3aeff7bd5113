// The smoke chart's own drawing, straight from the API's columnar arrays (no Chart.js
// datasets per band, no per-point option arrays): measured, 8 band datasets with fill and a
// bar chart with one colour per bar were most of a render (docs/web.md, "Speed").
//
//   import { smokePlugin } from "./charts/smoke-draw.js";
//   new Chart(canvas, { ..., plugins: [smokePlugin(() => ({ series, bands, colours, step, strip }))] });
//
// The plugin reads its picture from the callback at each draw: `series` (the API's series:
// t and the quantile arrays, null = gap), `bands` ([low, high, colour], widest first),
// `colours` (per bucket: the median segment ending there, and the strip), `step` (ms, a
// strip bar's width), `strip` (a <canvas> under the chart, or null). It draws the bands
// before the datasets, the median line (one path per colour, a dot for a bucket with no
// neighbour) after them, and the strip on its own canvas on the chart's x scale, so a
// resize or a zoom drag redraws all three together.

/** Runs of consecutive indexes where both arrays have a value: [[start, end], ...]. */
function runs(low, high, n) {
  const out = [];
  let start = -1;
  for (let i = 0; i <= n; i++) {
    const ok = i < n && low[i] != null && high[i] != null;
    if (ok && start < 0) start = i;
    else if (!ok && start >= 0) {
      out.push([start, i - 1]);
      start = -1;
    }
  }
  return out;
}

function drawBands(ctx, xs, y, series, bands) {
  const n = xs.length;
  for (const [lowName, highName, colour] of bands) {
    const low = series[lowName];
    const high = series[highName];
    if (!low || !high) continue;
    ctx.beginPath();
    for (const [a, b] of runs(low, high, n)) {
      ctx.moveTo(xs[a], y.getPixelForValue(high[a]));
      for (let i = a + 1; i <= b; i++) ctx.lineTo(xs[i], y.getPixelForValue(high[i]));
      for (let i = b; i >= a; i--) ctx.lineTo(xs[i], y.getPixelForValue(low[i]));
      ctx.closePath();
    }
    ctx.fillStyle = colour;
    ctx.fill();
  }
}

function drawMedian(ctx, xs, y, values, colours, width) {
  const n = xs.length;
  const paths = new Map(); // colour -> Path2D of the segments ending in a bucket of that colour
  const dots = new Map();
  const path = (map, colour) => {
    let p = map.get(colour);
    if (!p) map.set(colour, (p = new Path2D()));
    return p;
  };
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v == null) continue;
    const prev = i > 0 ? values[i - 1] : null;
    if (prev != null) {
      const p = path(paths, colours[i]);
      p.moveTo(xs[i - 1], y.getPixelForValue(prev));
      p.lineTo(xs[i], y.getPixelForValue(v));
    } else if (i + 1 >= n || values[i + 1] == null) {
      path(dots, colours[i]).arc(xs[i], y.getPixelForValue(v), width, 0, 2 * Math.PI);
    }
  }
  ctx.lineWidth = width;
  ctx.lineJoin = "round";
  for (const [colour, p] of paths) {
    ctx.strokeStyle = colour;
    ctx.stroke(p);
  }
  for (const [colour, p] of dots) {
    ctx.fillStyle = colour;
    ctx.fill(p);
  }
}

/** The strip: one bar per bucket [t, t + step) in its colour, on the chart's x scale. */
function drawStrip(canvas, chart, x, series, colours, step) {
  // The strip's box (.smoke-strip) sets its size; the canvas fills it at the screen's ratio.
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.parentElement.clientWidth;
  const height = canvas.parentElement.clientHeight;
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  const { left, right } = chart.chartArea;
  ctx.save();
  ctx.beginPath();
  ctx.rect(left, 0, right - left, height);
  ctx.clip();
  const byColour = new Map();
  series.t.forEach((t, i) => {
    const colour = colours[i];
    if (colour === null) return;
    const x0 = x.getPixelForValue(t);
    const x1 = x.getPixelForValue(t + step);
    let p = byColour.get(colour);
    if (!p) byColour.set(colour, (p = new Path2D()));
    // At least a pixel wide, so a bucket narrower than a pixel still shows.
    p.rect(x0, 0, Math.max(1, x1 - x0), height);
  });
  for (const [colour, p] of byColour) {
    ctx.fillStyle = colour;
    ctx.fill(p);
  }
  ctx.restore();
}

/** The Chart.js plugin (one per chart) that draws the smoke picture `picture()` returns. */
export function smokePlugin(picture) {
  let xs = null;
  return {
    id: "netstatsSmoke",
    beforeDatasetsDraw(chart) {
      const p = picture();
      if (!p) return;
      const x = chart.scales.x;
      xs = p.series.t.map((t) => x.getPixelForValue(t));
      const ctx = chart.ctx;
      ctx.save();
      const area = chart.chartArea;
      ctx.beginPath();
      ctx.rect(area.left, area.top, area.right - area.left, area.bottom - area.top);
      ctx.clip();
      drawBands(ctx, xs, chart.scales.y, p.series, p.bands);
      ctx.restore();
    },
    afterDatasetsDraw(chart) {
      const p = picture();
      if (!p || !xs) return;
      const ctx = chart.ctx;
      ctx.save();
      const area = chart.chartArea;
      ctx.beginPath();
      ctx.rect(area.left, area.top, area.right - area.left, area.bottom - area.top);
      ctx.clip();
      drawMedian(ctx, xs, chart.scales.y, p.median, p.colours, 2);
      ctx.restore();
      if (p.strip) drawStrip(p.strip, chart, chart.scales.x, p.series, p.stripColours, p.step);
    },
  };
}
