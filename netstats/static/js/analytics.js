// The job analytics page: the comparison of destinations (p50 or p95 lines), p50/p95/loss
// side by side, runs by status (stacked bars per bucket and a doughnut for the range), and
// lateness and duration of runs. Reads GET /api/v1/series/data and /api/v1/jobs/<id>/status,
// and the summary rows the page embeds (dumped by the API's schema); draws with Chart.js,
// parsing off and no animation, each chart asking for about as many buckets as it has pixels
// and saying which resolution it shows, each with a table of the same numbers.

import { api, ApiError } from "./api.js";

const PALETTE = ["#1c7ed6", "#e8590c", "#2f9e44", "#ae3ec9", "#f08c00", "#0c8599", "#c2255c", "#5c940d", "#364fc7", "#862e9c"];
const STATUS_COLOURS = {
  succeeded: "#37b24d",
  failed: "#e03131",
  timed_out: "#f08c00",
  skipped: "#adb5bd",
  abandoned: "#343a40",
  running: "#1c7ed6",
  scheduled: "#dee2e6",
};
const RESOLUTIONS = { raw: "raw data", "5m": "5-minute rollups", "1h": "1-hour rollups", "1d": "1-day rollups" };
const BAR_PIXELS = 8; // about one status bar per this many CSS pixels

const colour = (i) => (i < PALETTE.length ? PALETTE[i] : `hsl(${(i * 137.5) % 360} 60% 45%)`);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A bucket length as words: "1 min", "5 min", "1 h", "1 d". */
export function stepText(ms) {
  const units = [["d", 86_400_000], ["h", 3_600_000], ["min", 60_000], ["s", 1000]];
  for (const [unit, size] of units) if (ms >= size && ms % size === 0) return `${ms / size} ${unit}`;
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${ms} ms`;
}

function timeFormatter(spanMs) {
  const options = spanMs > 3 * 86_400_000
    ? { month: "short", day: "numeric" }
    : spanMs > 86_400_000
      ? { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }
      : spanMs > 2 * 3_600_000
        ? { hour: "2-digit", minute: "2-digit" }
        : { hour: "2-digit", minute: "2-digit", second: "2-digit" };
  const short = new Intl.DateTimeFormat(undefined, options);
  const full = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
  return { tick: (ms) => short.format(new Date(ms)), full: (ms) => full.format(new Date(ms)) };
}

const number = (value, digits = 3) => (value === null || value === undefined ? "—" : Number(value).toFixed(digits));

/** The options every time chart shares: linear x axis in epoch ms, no animation, parsing off. */
function timeOptions(view, yTitle, extra = {}) {
  const fmt = timeFormatter(view.to - view.from);
  return {
    animation: false,
    parsing: false,
    normalized: true,
    responsive: true,
    maintainAspectRatio: false,
    interaction: { mode: "nearest", axis: "x", intersect: false },
    elements: { point: { radius: 0, hitRadius: 4 }, line: { borderWidth: 1.5 } },
    plugins: {
      legend: { position: "bottom", labels: { boxWidth: 12 } },
      tooltip: { callbacks: { title: (items) => (items.length ? fmt.full(items[0].parsed.x) : "") } },
    },
    scales: {
      x: { type: "linear", min: view.from, max: view.to, ticks: { maxTicksLimit: 8, callback: (v) => fmt.tick(v) }, ...(extra.x || {}) },
      y: { beginAtZero: true, title: { display: true, text: yTitle }, ...(extra.y || {}) },
    },
  };
}

function chartOf(card) {
  return card.querySelector("canvas");
}

/** Lines with few values get a dot per value, or a lone bucket would not show. */
function markSparse(datasets) {
  for (const d of datasets) {
    const values = d.data.filter((p) => p.y !== null && p.y !== undefined).length;
    d.pointRadius = values < 60 ? 2 : 0;
  }
  return datasets;
}

function draw(card, config) {
  const canvas = chartOf(card);
  window.Chart.getChart(canvas)?.destroy();
  const chart = new window.Chart(canvas, config);
  canvas.dataset.drawn = String(Date.now());
  return chart;
}

function say(card, text, isError = false) {
  const status = card.querySelector("[data-chart-status]");
  status.textContent = text;
  status.classList.toggle("text-danger", isError);
  status.hidden = text === "";
}

function resolution(card, text) {
  card.querySelector("[data-resolution]").textContent = text ? `· ${text}` : "";
  card.dataset.resolution = text;
}

/** The table view of a chart: a header row and rows of cells (first cell a row header). */
function fillTable(card, header, rows) {
  const box = card.querySelector("[data-chart-table]");
  const table = el("table", "table table-sm mb-0");
  const head = el("thead");
  const tr = el("tr");
  for (const text of header) {
    const th = el("th", "", text);
    th.scope = "col";
    tr.append(th);
  }
  head.append(tr);
  const body = el("tbody", "font-monospace small");
  for (const [first, ...cells] of rows) {
    const row = el("tr");
    const th = el("th", "", first);
    th.scope = "row";
    row.append(th, ...cells.map((c) => el("td", "text-end", c)));
    body.append(row);
  }
  table.append(head, body);
  box.replaceChildren(table);
}

function setupToggle(card) {
  const toggle = card.querySelector("[data-table-toggle]");
  const box = card.querySelector("[data-chart-table]");
  toggle.addEventListener("click", () => {
    const open = box.hidden;
    box.hidden = !open;
    toggle.setAttribute("aria-expanded", String(open));
    toggle.textContent = open ? "Hide the table" : "Show the numbers as a table";
  });
}

function failed(card, error) {
  say(card, error instanceof ApiError ? error.message : `Could not draw the chart: ${error}`, true);
}

/** About as many buckets as the chart has pixels across. */
function pixels(card) {
  return Math.max(20, Math.round(card.querySelector("[data-chart-box]").clientWidth || 600));
}

// --- comparison --------------------------------------------------------------------------

async function loadComparison(view, card) {
  const picked = [...card.querySelectorAll("[data-compare-list] input:checked")];
  if (!picked.length) {
    window.Chart.getChart(chartOf(card))?.destroy();
    say(card, `Pick at least one ${view.noun.toLowerCase()}.`);
    return;
  }
  const query = new URLSearchParams({ job: view.job, metric: view.metric, from: view.fromIso, to: view.toIso, points: pixels(card) });
  for (const input of picked) query.append("destination", input.value);
  say(card, "Loading…");
  try {
    view.comparison = await api("GET", `/series/data?${query}`);
  } catch (error) {
    failed(card, error);
    return;
  }
  drawComparison(view, card);
}

function drawComparison(view, card) {
  const answer = view.comparison;
  const stat = card.querySelector("[data-stat][aria-pressed='true']").dataset.stat;
  const datasets = answer.series.map((s, i) => ({
    label: s.destination,
    data: s.t.map((x, j) => ({ x, y: s[stat] ? s[stat][j] : null })),
    borderColor: colour(i),
    backgroundColor: colour(i),
    spanGaps: false,
  }));
  resolution(card, `${stat}, ${RESOLUTIONS[answer.resolution] ?? answer.resolution}, ${stepText(answer.step_ms)} buckets`);
  draw(card, { type: "line", data: { datasets: markSparse(datasets) }, options: timeOptions(view, `${stat} (${view.unit || "ms"})`) });
  chartOf(card).dataset.stat = stat;
  const empty = answer.series.every((s) => (s[stat] || []).every((v) => v === null));
  say(card, empty ? "No values in this range." : "");
  const fmt = timeFormatter(view.to - view.from);
  const t = answer.series[0]?.t ?? [];
  const rows = t.map((x, j) => [fmt.full(x), ...answer.series.map((s) => number(s[stat]?.[j]))])
    .filter((row) => row.slice(1).some((c) => c !== "—"));
  fillTable(card, ["Bucket start", ...answer.series.map((s) => `${s.destination} ${stat}`)], rows);
}

function setupComparison(view, card) {
  const stats = [...card.querySelectorAll("[data-stat]")];
  for (const button of stats) {
    button.addEventListener("click", () => {
      for (const b of stats) b.setAttribute("aria-pressed", String(b === button));
      if (view.comparison) drawComparison(view, card);
    });
  }
  card.querySelector("[data-compare-list]").addEventListener("change", () => loadComparison(view, card));
  return loadComparison(view, card);
}

// --- side by side ------------------------------------------------------------------------

function drawBars(view, card) {
  const rows = view.summary.destinations;
  const labels = rows.map((r) => r.destination);
  const series = [
    ["p50", "p50", "y", "#1c7ed6"],
    ["p95", "p95", "y", "#74c0fc"],
    ["loss_pct", "loss %", "loss", "#e03131"],
  ];
  const datasets = series.map(([key, label, axis, fill]) => ({
    label,
    data: rows.map((r, i) => ({ x: i, y: r[key] })),
    backgroundColor: fill,
    yAxisID: axis,
  }));
  resolution(card, "the whole range, from the summary");
  draw(card, {
    type: "bar",
    data: { labels, datasets },
    options: {
      animation: false,
      parsing: false,
      normalized: true,
      responsive: true,
      maintainAspectRatio: false,
      plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
      scales: {
        x: { type: "category", ticks: { autoSkip: true, maxRotation: 60 } },
        y: { beginAtZero: true, title: { display: true, text: view.unit || "ms" } },
        loss: { beginAtZero: true, position: "right", suggestedMax: 5, title: { display: true, text: "loss %" }, grid: { drawOnChartArea: false } },
      },
    },
  });
  say(card, rows.length ? "" : "Nothing measured in this range.");
  fillTable(card, [view.noun, `p50 (${view.unit || "ms"})`, `p95 (${view.unit || "ms"})`, "loss %"],
    rows.map((r) => [r.destination, number(r.p50), number(r.p95), number(r.loss_pct)]));
}

// --- runs: status and timing -------------------------------------------------------------

async function loadRuns(view, cards) {
  const points = Math.max(10, Math.round(pixels(cards.status) / BAR_PIXELS));
  const query = new URLSearchParams({ from: view.fromIso, to: view.toIso, points });
  for (const card of Object.values(cards)) say(card, "Loading…");
  let answer;
  try {
    answer = await api("GET", `/jobs/${view.job}/status?${query}`);
  } catch (error) {
    for (const card of Object.values(cards)) failed(card, error);
    return;
  }
  view.status = answer;
  drawStatus(view, cards.status, answer);
  drawTotals(view, cards.total, answer);
  drawTiming(view, cards.timing, answer);
}

const present = (answer) => Object.keys(answer.totals).filter((s) => answer.totals[s] > 0);
const STATE_TEXT = (s) => s.replace("_", " ");

function drawStatus(view, card, answer) {
  const states = present(answer);
  const half = answer.step_ms / 2;
  const datasets = states.map((s) => ({
    label: STATE_TEXT(s),
    data: answer.t.map((x, i) => ({ x: x + half, y: answer.statuses[s][i] })),
    backgroundColor: STATUS_COLOURS[s] ?? "#868e96",
    barPercentage: 1,
    categoryPercentage: 0.9,
    status: s,
  }));
  resolution(card, `runs per ${stepText(answer.step_ms)}`);
  const options = timeOptions(view, "runs", { x: { stacked: true }, y: { stacked: true, ticks: { precision: 0 } } });
  draw(card, { type: "bar", data: { datasets }, options });
  say(card, states.length ? "" : "No run in this range.");
  const fmt = timeFormatter(view.to - view.from);
  const rows = answer.t.map((x, i) => [fmt.full(x), ...states.map((s) => String(answer.statuses[s][i]))])
    .filter((row) => row.slice(1).some((c) => c !== "0"));
  fillTable(card, ["Bucket start", ...states.map(STATE_TEXT)], rows);
}

function drawTotals(view, card, answer) {
  const states = present(answer);
  resolution(card, `${states.reduce((n, s) => n + answer.totals[s], 0)} runs`);
  draw(card, {
    type: "doughnut",
    data: {
      labels: states.map(STATE_TEXT),
      datasets: [{ data: states.map((s) => answer.totals[s]), backgroundColor: states.map((s) => STATUS_COLOURS[s] ?? "#868e96") }],
    },
    options: { animation: false, parsing: false, responsive: true, maintainAspectRatio: false, plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } } },
  });
  say(card, states.length ? "" : "No run in this range.");
  const total = states.reduce((n, s) => n + answer.totals[s], 0);
  fillTable(card, ["Status", "Runs", "Share"], states.map((s) => [STATE_TEXT(s), String(answer.totals[s]), `${((100 * answer.totals[s]) / total).toFixed(1)} %`]));
}

function drawTiming(view, card, answer) {
  const lines = [
    ["lateness_mean_ms", "lateness, mean", "#1c7ed6", []],
    ["lateness_max_ms", "lateness, max", "#74c0fc", [4, 3]],
    ["duration_mean_ms", "duration, mean", "#e8590c", []],
    ["duration_max_ms", "duration, max", "#ffa94d", [4, 3]],
  ];
  const half = answer.step_ms / 2;
  const datasets = lines.map(([key, label, stroke, dash]) => ({
    label,
    data: answer.t.map((x, i) => ({ x: x + half, y: answer[key][i] })),
    borderColor: stroke,
    backgroundColor: stroke,
    borderDash: dash,
    spanGaps: false,
  }));
  resolution(card, `per ${stepText(answer.step_ms)}`);
  draw(card, { type: "line", data: { datasets: markSparse(datasets) }, options: timeOptions(view, "ms") });
  const any = answer.lateness_mean_ms.some((v) => v !== null);
  say(card, any ? "" : "No run started in this range.");
  const fmt = timeFormatter(view.to - view.from);
  const rows = answer.t.map((x, i) => [fmt.full(x), ...lines.map(([key]) => number(answer[key][i], 1))])
    .filter((row) => row.slice(1).some((c) => c !== "—"));
  fillTable(card, ["Bucket start", ...lines.map(([, label]) => `${label} (ms)`)], rows);
}

// --- the page ----------------------------------------------------------------------------

export function setupAnalytics() {
  const root = document.querySelector("[data-analytics]");
  if (!root || !window.Chart) return;
  const view = {
    job: root.dataset.job,
    metric: root.dataset.metric,
    unit: root.dataset.unit,
    noun: root.dataset.noun,
    fromIso: root.dataset.from,
    toIso: root.dataset.to,
    from: Date.parse(root.dataset.from),
    to: Date.parse(root.dataset.to),
    summary: JSON.parse(document.getElementById("analytics-summary").textContent),
  };
  for (const card of root.querySelectorAll("[data-chart-card]")) setupToggle(card);
  const byId = (id) => document.getElementById(id);
  const waits = [];
  if (byId("compare")) waits.push(setupComparison(view, byId("compare")));
  if (byId("bars")) drawBars(view, byId("bars"));
  waits.push(loadRuns(view, { status: byId("status"), total: byId("status-total"), timing: byId("timing") }));
  Promise.all(waits).finally(() => {
    root.dataset.loaded = "true";
  });
}

setupAnalytics();
