// Sparklines: the median of a destination's headline distribution over the last 24 h, a
// small Chart.js line whose segments take the bucket's loss class colour (series-api.js).
//
//   <canvas class="sparkline" width="120" height="28" data-job="3" data-destination="5"
//           data-metric="rtt_ms"></canvas>
//   setupSparklines(container)   // draws every canvas.sparkline in it, now and whenever the
//                                // container's content is replaced (a live refresh)
//
// One GET /api/v1/series/data per (job, metric) for all its destinations, at about one
// bucket per pixel of the canvas; answers are reused for REUSE_MS, so a burst of live
// refreshes does not become a burst of requests. A canvas gets data-state "drawn" or
// "empty", and its aria-label says what it shows in words (the median now, its range, the
// loss over the day, the resolution), also its tooltip.

import {
  failedPct,
  fetchSeries,
  formatMs,
  formatPct,
  isolatedRadius,
  lossClass,
  pointsFor,
  resolutionLabel,
} from "./series-api.js";

const DAY_MS = 86400000;
const REUSE_MS = 15000;
const answers = new Map(); // "job metric destinations" -> {at, promise}

function fetchGroup(job, metric, destinations, points) {
  const key = `${job} ${metric} ${destinations.join(",")} ${points}`;
  const cached = answers.get(key);
  if (cached && Date.now() - cached.at < REUSE_MS) return cached.promise;
  const to = Date.now();
  const promise = fetchSeries({ job, destinations, metric, from: to - DAY_MS, to, points });
  answers.set(key, { at: Date.now(), promise });
  promise.catch(() => answers.delete(key));
  return promise;
}

function lossOf(series, i) {
  return series.loss_pct !== undefined ? series.loss_pct[i] : failedPct(series, i);
}

function describe(canvas, series, answer) {
  const values = series.p50.filter((v) => v !== null);
  if (!values.length) return `${canvas.getAttribute("aria-label")}: no data`;
  const sent = (series.sent ?? []).reduce((a, b) => a + (b ?? 0), 0);
  const received = (series.received ?? []).reduce((a, b) => a + (b ?? 0), 0);
  const loss = sent ? `, loss ${formatPct((100 * (sent - received)) / sent)} %` : "";
  return (
    `${canvas.dataset.baseLabel}: now ${formatMs(values[values.length - 1])} ${series.unit}, ` +
    `between ${formatMs(Math.min(...values))} and ${formatMs(Math.max(...values))}${loss} ` +
    `(resolution ${resolutionLabel(answer)})`
  );
}

function draw(canvas, series, answer) {
  canvas.dataset.baseLabel ??= canvas.getAttribute("aria-label") ?? "";
  window.Chart.getChart(canvas)?.destroy();
  const data = series.t.map((x, i) => ({ x, y: series.p50?.[i] ?? null }));
  const colours = series.t.map((_, i) => lossClass(lossOf(series, i)).colour);
  new window.Chart(canvas, {
    type: "line",
    data: {
      datasets: [
        {
          data,
          borderWidth: 1.5,
          borderColor: "#495057",
          pointRadius: isolatedRadius(data.map((p) => p.y), 1.5),
          pointBackgroundColor: colours,
          pointBorderWidth: 0,
          segment: { borderColor: (ctx) => colours[ctx.p1DataIndex] },
        },
      ],
    },
    options: {
      animation: false,
      parsing: false,
      normalized: true,
      responsive: false,
      events: [],
      elements: { point: { radius: 0 }, line: { tension: 0 } },
      scales: {
        x: { type: "linear", display: false, min: series.t[0], max: series.t[series.t.length - 1] },
        y: { display: false, beginAtZero: true },
      },
      plugins: { legend: { display: false }, tooltip: { enabled: false } },
    },
  });
  canvas.setAttribute("aria-label", describe(canvas, series, answer));
  canvas.title = canvas.getAttribute("aria-label");
  canvas.dataset.state = data.some((p) => p.y !== null) ? "drawn" : "empty";
}

async function drawAll(container) {
  const canvases = [...container.querySelectorAll("canvas.sparkline[data-job]")];
  const groups = new Map();
  for (const canvas of canvases) {
    const key = `${canvas.dataset.job} ${canvas.dataset.metric}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(canvas);
  }
  await Promise.all(
    [...groups.values()].map(async (group) => {
      const { job, metric } = group[0].dataset;
      const destinations = [...new Set(group.map((c) => Number(c.dataset.destination)))].sort((a, b) => a - b);
      let answer;
      try {
        answer = await fetchGroup(Number(job), metric, destinations, pointsFor(group[0]));
      } catch {
        for (const canvas of group) canvas.dataset.state = "error";
        return;
      }
      const byDestination = new Map(answer.series.map((s) => [s.destination_id, s]));
      for (const canvas of group) {
        const series = byDestination.get(Number(canvas.dataset.destination));
        if (series && canvas.isConnected) draw(canvas, series, answer);
      }
    }),
  );
}

export function setupSparklines(container) {
  if (!window.Chart || !container.querySelector("canvas.sparkline")) return;
  drawAll(container);
  // A live refresh replaces the container's content: draw the new canvases.
  new MutationObserver(() => drawAll(container)).observe(container, { childList: true });
}
