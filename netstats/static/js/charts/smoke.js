// The smoke chart: SmokePing's picture of a distribution over time, drawn with Chart.js from
// GET /api/v1/series/data (charts/series-api.js), and the loss/status strip under it.
//
//   import { SmokeChart } from "./charts/smoke.js";
//   const chart = new SmokeChart(element, { job: 3, destination: 5, metric: "rtt_ms", unit: "ms" });
//   chart.show({ from: Date.now() - 864e5, to: Date.now(), follow: true });  // a range
//   chart.zoomTo(from, to); chart.back(); chart.reset();                      // zoom history
//   chart.refresh();        // fetch the view again (live updates: keeps the zoom)
//   chart.chart: the Chart.js object (one dataset, the median); chart.answer: the API's last answer;
//   chart.lossAt(i): the strip's value of bucket i; chart.renderMs: the last draw, in ms.
//
// What it draws, per bucket of the answer: grey bands p0–p100, p5–p95, p10–p90, p25–p75
// (light to dark) under the p50 line, whose segments take the colour of the bucket's loss
// class (SmokePing's classes, series-api.js LOSS_CLASSES); below, a strip of the bucket's
// loss (ping: loss_pct from sent/received) or, for collectors without probes, the share of
// rounds that failed. Loss never enters the RTT bands: they come from the values received.
// The y axis tops at 1.2 × the highest median (SmokePing); smoke above it is clipped.
// Drag across the chart to zoom (chartjs-plugin-zoom, x only): the zoomed range is fetched
// again at about one bucket per pixel. "Back" returns to the previous range, "Reset" to the
// range picked. A "Table" button toggles a <table> of the same numbers.
//
// The element gets: a toolbar (resolution label, Back, Reset, Table), the chart, the strip,
// the table. element.dataset.state is "loading", "drawn", "empty" or "error" (tests wait on
// it); every chart of the page is in window.netstats.charts. Needs window.Chart with the
// date adapter and the zoom plugin (templates/_chart_assets.html). Speed: Chart.js holds only
// the median (tooltips, hover, zoom); the bands, the loss colours and the strip are drawn by
// smoke-draw.js's plugin from the columnar arrays, in one pass per colour.

import {
  failedPct,
  fetchSeries,
  formatMs,
  formatPct,
  LOSS_CLASSES,
  lossClass,
  pointsFor,
  resolutionLabel,
} from "./series-api.js";
import { smokePlugin } from "./smoke-draw.js";

const BANDS = [
  ["p0", "p100", "#e4e4e4"],
  ["p5", "p95", "#c9c9c9"],
  ["p10", "p90", "#a6a6a6"],
  ["p25", "p75", "#7a7a7a"],
];
const TIME = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function button(label, icon, title) {
  const node = el("button", "btn btn-sm btn-outline-secondary");
  node.type = "button";
  node.title = title;
  const i = el("i", `bi bi-${icon} me-1`);
  i.setAttribute("aria-hidden", "true");
  node.append(i, label);
  return node;
}

export class SmokeChart {
  constructor(element, { job, destination, metric, unit = "ms", label = "" }) {
    this.element = element;
    this.job = job;
    this.destination = destination;
    this.metric = metric;
    this.unit = unit;
    this.label = label || metric;
    this.view = null; // {from, to, follow}: what is shown
    this.picked = null; // the range picked (Reset returns to it)
    this.history = []; // earlier views, for Back
    this.answer = null;
    this.chart = null;
    this.renderMs = null;
    this.requests = 0;
    this.build();
    window.netstats = Object.assign(window.netstats ?? {}, {});
    (window.netstats.charts ??= []).push(this);
  }

  build() {
    const e = this.element;
    e.dataset.state = "loading";
    const bar = el("div", "d-flex flex-wrap align-items-center gap-2 mb-2");
    this.resolution = el("span", "small text-body-secondary me-auto");
    this.resolution.dataset.resolution = "";
    this.resolution.setAttribute("aria-live", "polite");
    this.backButton = button("Back", "arrow-counterclockwise", "Back to the previous range");
    this.resetButton = button("Reset", "arrows-angle-contract", "Back to the range picked");
    this.tableButton = button("Table", "table", "Show the numbers as a table");
    this.tableButton.setAttribute("aria-expanded", "false");
    this.backButton.disabled = this.resetButton.disabled = true;
    this.backButton.addEventListener("click", () => this.back());
    this.resetButton.addEventListener("click", () => this.reset());
    this.tableButton.addEventListener("click", () => this.toggleTable());
    bar.append(this.resolution, this.backButton, this.resetButton, this.tableButton);

    const plot = el("div", "smoke-plot");
    this.canvas = el("canvas");
    this.canvas.setAttribute("role", "img");
    this.canvas.setAttribute("aria-label", `${this.label}: smoke chart (drag to zoom)`);
    plot.append(this.canvas);
    const stripBox = el("div", "smoke-strip");
    this.stripCanvas = el("canvas");
    this.stripCanvas.setAttribute("role", "img");
    this.stripCanvas.setAttribute("aria-label", `${this.label}: loss per bucket`);
    stripBox.append(this.stripCanvas);
    this.message = el("p", "small text-body-secondary mb-0 d-none");
    this.legend = el("div", "smoke-legend small text-body-secondary d-flex flex-wrap gap-2 mt-1");
    this.tableBox = el("div", "table-responsive smoke-table mt-2 d-none");
    this.tableBox.id = `${e.id || `smoke-${this.job}-${this.destination}`}-table`;
    this.tableBox.tabIndex = 0;
    this.tableBox.setAttribute("aria-label", `${this.label}: the chart's numbers`);
    this.tableButton.setAttribute("aria-controls", this.tableBox.id);
    e.append(bar, plot, stripBox, this.legend, this.message, this.tableBox);
  }

  /** Show a range: {from, to} (Date or epoch ms), follow = slide to now on live updates. */
  show({ from, to, follow = false }) {
    this.history = [];
    this.picked = { from: +from, to: +to, follow };
    return this.load(this.picked);
  }

  /** Zoom to [from, to): the current view goes on the Back history. */
  zoomTo(from, to) {
    if (this.view) this.history.push(this.view);
    return this.load({ from: Math.round(from), to: Math.round(to), follow: false });
  }

  back() {
    const previous = this.history.pop();
    return previous ? this.load(previous) : Promise.resolve();
  }

  reset() {
    this.history = [];
    return this.picked ? this.load(this.picked) : Promise.resolve();
  }

  /** Fetch the view again: a following view slides to now, a zoomed one stays put. */
  refresh() {
    if (!this.view) return Promise.resolve();
    const { from, to, follow } = this.view;
    if (!follow) return this.load(this.view);
    const now = Date.now();
    return this.load({ from: now - (to - from), to: now, follow });
  }

  async load(view) {
    const request = ++this.requests;
    this.view = view;
    this.backButton.disabled = this.history.length === 0;
    this.resetButton.disabled = this.history.length === 0;
    let answer;
    try {
      answer = await fetchSeries({
        job: this.job,
        destinations: [this.destination],
        metric: this.metric,
        from: view.from,
        to: view.to,
        points: pointsFor(this.canvas.parentElement),
      });
    } catch (error) {
      if (request !== this.requests) return;
      this.element.dataset.state = "error";
      this.setMessage(`Could not load the data: ${error.message}`);
      return;
    }
    if (request !== this.requests) return; // a newer request is on its way
    this.answer = answer;
    this.draw();
  }

  setMessage(text) {
    this.message.textContent = text ?? "";
    this.message.classList.toggle("d-none", !text);
  }

  /** The strip's value of bucket i: loss in % (ping), else the share of failed rounds. */
  lossAt(i) {
    const s = this.answer.series[0];
    return s.loss_pct !== undefined ? s.loss_pct[i] : failedPct(s, i);
  }

  get lossName() {
    return this.answer?.series[0]?.loss_pct !== undefined ? "loss" : "failed rounds";
  }

  /** The one Chart.js dataset: the median as {x, y} points (tooltips, hover, tests read
   * it). Chart.js does not stroke it: the smoke plugin draws it in the loss colours. */
  datasets() {
    const s = this.answer.series[0];
    const values = s.p50 ?? [];
    return [
      {
        label: "median",
        data: s.t.map((x, i) => ({ x, y: values[i] ?? null })),
        showLine: false,
        pointRadius: 0,
        pointHoverRadius: 0,
      },
    ];
  }

  /** What smoke-draw.js draws for the current answer (built once per answer). */
  picture() {
    const answer = this.answer;
    if (!answer) return null;
    if (this.pictured?.answer === answer) return this.pictured;
    const s = answer.series[0];
    const loss = s.t.map((_, i) => this.lossAt(i));
    this.pictured = {
      answer,
      series: s,
      bands: BANDS,
      median: s.p50 ?? [],
      colours: loss.map((v) => lossClass(v).colour),
      stripColours: loss.map((v) => (v === null ? null : lossClass(v).colour)),
      step: answer.step_ms,
      strip: this.stripCanvas,
    };
    return this.pictured;
  }

  draw() {
    const answer = this.answer;
    const s = answer.series[0];
    const from = Date.parse(answer.from);
    const to = Date.parse(answer.to);
    const medians = (s.p50 ?? s.mean).filter((v) => v !== null);
    const top = medians.length ? 1.2 * Math.max(...medians) : undefined;
    this.resolution.textContent = `Resolution: ${resolutionLabel(answer)}`;
    this.resolution.dataset.resolution = answer.resolution;
    this.setMessage(medians.length ? "" : "No measurement in this range.");
    const started = performance.now();
    if (!this.chart) {
      this.chart = new window.Chart(this.canvas, this.mainConfig(from, to, top));
    } else {
      this.chart.data.datasets = this.datasets();
      Object.assign(this.chart.options.scales.x, { min: from, max: to });
      this.chart.options.scales.y.max = top;
      this.chart.update("none");
    }
    this.renderMs = performance.now() - started;
    this.drawLegend();
    if (!this.tableBox.classList.contains("d-none")) this.renderTable();
    this.element.dataset.state = medians.length || s.count.some((c) => c) ? "drawn" : "empty";
    if (!performance.getEntriesByName("netstats:first-chart").length) {
      performance.mark("netstats:first-chart", { detail: { renderMs: this.renderMs } });
    }
    this.element.dispatchEvent(new CustomEvent("chart:drawn", { bubbles: true, detail: this }));
  }

  timeAxis(from, to, display) {
    return {
      type: "time",
      min: from,
      max: to,
      display,
      grid: { display },
      // Chart.js makes a tick per unit step (365 for a year in days) before skipping most:
      // measuring a sample of their labels, not all, was a third of a first render.
      ticks: { maxRotation: 0, autoSkipPadding: 24, sampleSize: 24 },
    };
  }

  mainConfig(from, to, top) {
    const unit = this.unit;
    return {
      type: "line",
      data: { datasets: this.datasets() },
      plugins: [smokePlugin(() => this.picture())],
      options: {
        animation: false,
        parsing: false,
        normalized: true,
        spanGaps: false,
        responsive: true,
        maintainAspectRatio: false,
        elements: { point: { radius: 0, hitRadius: 0 }, line: { tension: 0 } },
        interaction: { mode: "index", intersect: false },
        scales: {
          x: this.timeAxis(from, to, true),
          y: { min: 0, max: top, title: { display: true, text: unit } },
        },
        plugins: {
          // Plugins off for this chart, not only hidden: each one costs a first render.
          legend: false,
          title: false,
          subtitle: false,
          filler: false,
          decimation: false,
          tooltip: {
            filter: (item) => item.dataset.label === "median",
            callbacks: {
              title: (items) => (items.length ? TIME.format(new Date(items[0].parsed.x)) : ""),
              label: (item) => this.tooltipLines(item.dataIndex),
            },
          },
          zoom: {
            zoom: {
              mode: "x",
              drag: {
                enabled: true,
                backgroundColor: "rgba(59, 130, 246, .15)",
                drawTime: "afterDraw", // over the smoke, which the plugin draws
              },
              wheel: { enabled: false },
              pinch: { enabled: true },
              onZoomComplete: ({ chart }) => this.zoomTo(chart.scales.x.min, chart.scales.x.max),
            },
          },
        },
      },
    };
  }

  tooltipLines(i) {
    const s = this.answer.series[0];
    return [
      `median ${formatMs(s.p50?.[i])} ${this.unit}`,
      `p25–p75 ${formatMs(s.p25?.[i])}–${formatMs(s.p75?.[i])}`,
      `min–max ${formatMs(s.p0?.[i])}–${formatMs(s.p100?.[i])}`,
      `${this.lossName} ${formatPct(this.lossAt(i))} %`,
    ];
  }

  drawLegend() {
    this.legend.replaceChildren(el("span", "", `Median coloured by ${this.lossName}:`));
    for (const c of LOSS_CLASSES) {
      const item = el("span", "d-inline-flex align-items-center gap-1");
      const swatch = el("span", "smoke-swatch");
      swatch.style.background = c.colour;
      swatch.setAttribute("aria-hidden", "true");
      item.append(swatch, c.label);
      this.legend.append(item);
    }
    const bands = el("span", "ms-2 d-inline-flex align-items-center gap-1", "Bands:");
    BANDS.forEach(([low, high, colour]) => {
      const swatch = el("span", "smoke-swatch");
      swatch.style.background = colour;
      swatch.setAttribute("aria-hidden", "true");
      bands.append(swatch, low === "p0" ? "min–max" : `${low}–${high}`);
    });
    this.legend.append(bands);
  }

  toggleTable() {
    const hidden = !this.tableBox.classList.toggle("d-none");
    this.tableButton.setAttribute("aria-expanded", String(hidden));
    if (hidden) this.renderTable();
  }

  renderTable() {
    if (!this.answer) return;
    const s = this.answer.series[0];
    const table = el("table", "table table-sm table-striped mb-0");
    const caption = el("caption", "small", `${this.label}, per bucket (${resolutionLabel(this.answer)}); ${this.unit}`);
    const head = el("thead");
    const row = el("tr");
    for (const name of ["Bucket start", "Rounds", "Min", "p25", "Median", "p75", "p95", "Max", `${this.lossName} %`]) {
      const th = el("th", "", name);
      th.scope = "col";
      row.append(th);
    }
    head.append(row);
    const body = el("tbody");
    s.t.forEach((t, i) => {
      if (!s.count[i]) return;
      const tr = el("tr");
      tr.dataset.t = String(t);
      const th = el("th", "fw-normal text-nowrap", TIME.format(new Date(t)));
      th.scope = "row";
      tr.append(th, el("td", "", String(s.count[i])));
      for (const name of ["p0", "p25", "p50", "p75", "p95", "p100"]) tr.append(el("td", "", formatMs(s[name]?.[i])));
      tr.append(el("td", "", formatPct(this.lossAt(i))));
      body.append(tr);
    });
    table.append(caption, head, body);
    this.tableBox.replaceChildren(table);
  }
}
