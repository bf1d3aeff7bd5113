// The charts of a page: sparklines in every [data-sparklines] container (sparkline.js);
// every [data-smoke-chart] element becomes a SmokeChart, the page's [data-range-picker]
// sets their range, and live run events of their job and destination fetch their view again (a zoomed view stays where it is: live updates never reset a zoom).
// Element attributes: data-job, data-destination, data-metric, data-unit, data-label.

import { live } from "../live.js";
import { setupRangePicker } from "./range-picker.js";
import { SmokeChart } from "./smoke.js";
import { setupSparklines } from "./sparkline.js";

// Run events closer together than this share one fetch per chart (ms).
const REFRESH_GAP_MS = 1000;

function followLive(chart) {
  let timer = null;
  live.on("run", { job: chart.job, destination: chart.destination }, () => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = null;
      chart.refresh();
    }, REFRESH_GAP_MS);
  });
  live.on("reset", null, () => chart.refresh());
}

export function setupCharts() {
  for (const container of document.querySelectorAll("[data-sparklines]")) setupSparklines(container);
  const elements = [...document.querySelectorAll("[data-smoke-chart]")];
  if (!elements.length) return;
  if (!window.Chart) throw new Error("Chart.js is not loaded on this page (_chart_assets.html)");
  if (window.ChartZoom) window.Chart.register(window.ChartZoom);
  const charts = elements.map(
    (e) =>
      new SmokeChart(e, {
        job: Number(e.dataset.job),
        destination: Number(e.dataset.destination),
        metric: e.dataset.metric,
        unit: e.dataset.unit,
        label: e.dataset.label,
      }),
  );
  for (const chart of charts) followLive(chart);
  const picker = document.querySelector("[data-range-picker]");
  const show = (range) => charts.forEach((c) => c.show(range));
  if (picker) setupRangePicker(picker, show);
  else show({ from: Date.now() - 86400000, to: Date.now(), follow: true });
}
