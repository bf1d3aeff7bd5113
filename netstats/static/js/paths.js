// "Path over time" on a destination page: per traceroute job, the hop-by-time view (a canvas:
// rows TTL, columns time, cells coloured by loss or median RTT, addresses on hover, route
// changes marked), the same numbers as a table, and the route history.
// Reads GET /api/v1/jobs/<id>/hops and /routes; never redraws from anything else.

import { api, ApiError } from "./api.js";

const ROW_HEIGHT = 22;
const AXIS_HEIGHT = 22;
const COLUMN_PIXELS = 6; // about this many CSS pixels per time column
// SmokePing's loss classes (%), green to red; a hop that answered nothing is grey.
const LOSS_CLASSES = [
  [0, "#37b24d", "0 %"],
  [5, "#a9e34b", "≤ 5 %"],
  [10, "#ffe066", "≤ 10 %"],
  [15, "#ffc078", "≤ 15 %"],
  [25, "#ff922b", "≤ 25 %"],
  [50, "#f76707", "≤ 50 %"],
  [99.9999, "#e03131", "< 100 %"],
];
const NO_REPLY = "#868e96";
const RTT_RAMP = ["#e7f5ff", "#a5d8ff", "#4dabf7", "#1c7ed6", "#1864ab", "#0b3d6e"];
const CHANGE_MARK = "#c2255c";
const FLAP_MARK = "#f59f00";

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function formatMs(value) {
  if (value === null || value === undefined) return "—";
  return value < 10 ? `${value.toFixed(3)} ms` : `${value.toFixed(1)} ms`;
}

function formatPct(value) {
  if (value === null || value === undefined) return "—";
  return Number.isInteger(value) ? `${value} %` : `${value.toFixed(1)} %`;
}

function timeFormat(bucketSeconds) {
  const withSeconds = bucketSeconds < 60;
  return new Intl.DateTimeFormat(undefined, {
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    ...(withSeconds ? { second: "2-digit" } : {}),
  });
}

function hopText(addresses) {
  if (addresses === null || addresses === undefined) return "—";
  return addresses.length ? addresses.join(" | ") : "*";
}

function lossColour(loss, received) {
  if (received === 0) return NO_REPLY;
  for (const [limit, colour] of LOSS_CLASSES) if (loss <= limit) return colour;
  return NO_REPLY;
}

function rampColour(fraction) {
  const position = Math.min(Math.max(fraction, 0), 1) * (RTT_RAMP.length - 1);
  const low = Math.floor(position);
  const high = Math.min(low + 1, RTT_RAMP.length - 1);
  const mix = (a, b) => Math.round(a + (b - a) * (position - low));
  const [r1, g1, b1] = [1, 3, 5].map((i) => parseInt(RTT_RAMP[low].slice(i, i + 2), 16));
  const [r2, g2, b2] = [1, 3, 5].map((i) => parseInt(RTT_RAMP[high].slice(i, i + 2), 16));
  return `rgb(${mix(r1, r2)}, ${mix(g1, g2)}, ${mix(b1, b2)})`;
}

function rttDomain(matrix) {
  let low = Infinity;
  let high = -Infinity;
  for (const row of matrix.hops) {
    for (const value of row.rtt_median_ms) {
      if (value === null) continue;
      low = Math.min(low, value);
      high = Math.max(high, value);
    }
  }
  return Number.isFinite(low) ? [low, high] : [0, 0];
}

/** The colour of one cell, or null when no probe fell in it. */
function cellColour(view, row, column) {
  const sent = row.sent[column];
  if (sent === null) return null;
  if (view.color === "loss") return lossColour(row.loss_pct[column], row.received[column]);
  const rtt = row.rtt_median_ms[column];
  if (rtt === null) return NO_REPLY;
  const [low, high] = view.domain;
  return rampColour(high > low ? (rtt - low) / (high - low) : 0);
}

function layout(view) {
  const width = view.wrap.clientWidth;
  const gutter = Math.round(Math.min(190, Math.max(90, width * 0.28)));
  const columns = view.matrix.t.length;
  return { width, gutter, columnWidth: (width - gutter) / Math.max(columns, 1), columns };
}

function draw(view) {
  const { canvas, matrix } = view;
  const box = layout(view);
  const height = matrix.hops.length * ROW_HEIGHT + AXIS_HEIGHT;
  const ratio = window.devicePixelRatio || 1;
  canvas.style.width = `${box.width}px`;
  canvas.style.height = `${height}px`;
  canvas.width = Math.round(box.width * ratio);
  canvas.height = Math.round(height * ratio);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, box.width, height);
  ctx.font = "12px system-ui, sans-serif";
  ctx.textBaseline = "middle";
  let cells = 0;
  matrix.hops.forEach((row, r) => {
    const y = r * ROW_HEIGHT;
    ctx.fillStyle = r % 2 ? "#f8f9fa" : "#f1f3f5";
    ctx.fillRect(box.gutter, y, box.width - box.gutter, ROW_HEIGHT - 1);
    ctx.fillStyle = "#212529";
    const label = `${row.ttl}  ${row.address ?? "*"}`;
    ctx.fillText(fit(ctx, label, box.gutter - 8), 4, y + ROW_HEIGHT / 2);
    for (let c = 0; c < box.columns; c += 1) {
      const colour = cellColour(view, row, c);
      if (colour === null) continue;
      ctx.fillStyle = colour;
      const x = box.gutter + c * box.columnWidth;
      ctx.fillRect(x, y, Math.max(box.columnWidth - 0.5, 1), ROW_HEIGHT - 1);
      cells += 1;
    }
  });
  drawMarks(view, ctx, box, matrix.hops.length * ROW_HEIGHT);
  drawAxis(view, ctx, box, matrix.hops.length * ROW_HEIGHT);
  canvas.dataset.cells = String(cells);
  canvas.dataset.drawn = view.color;
}

function fit(ctx, text, width) {
  if (ctx.measureText(text).width <= width) return text;
  let cut = text;
  while (cut.length > 1 && ctx.measureText(`${cut}…`).width > width) cut = cut.slice(0, -1);
  return `${cut}…`;
}

function xOf(view, box, isoTime) {
  const t0 = Date.parse(view.matrix.t[0]);
  const span = view.matrix.bucket_s * 1000;
  return box.gutter + ((Date.parse(isoTime) - t0) / span) * box.columnWidth;
}

function drawMarks(view, ctx, box, bottom) {
  if (!view.history) return;
  const marks = [
    ...view.history.flaps.map((f) => [f.at, FLAP_MARK, [2, 3]]),
    ...view.history.changes.map((c) => [c.at, CHANGE_MARK, []]),
  ];
  for (const [at, colour, dash] of marks) {
    const x = xOf(view, box, at);
    if (x < box.gutter || x > box.width) continue;
    ctx.save();
    ctx.strokeStyle = colour;
    ctx.lineWidth = 2;
    ctx.setLineDash(dash);
    ctx.beginPath();
    ctx.moveTo(x, 0);
    ctx.lineTo(x, bottom);
    ctx.stroke();
    ctx.restore();
  }
}

function drawAxis(view, ctx, box, top) {
  const format = timeFormat(view.matrix.bucket_s);
  const every = Math.max(1, Math.ceil(box.columns / Math.max(1, Math.floor((box.width - box.gutter) / 130))));
  ctx.fillStyle = "#6c757d";
  ctx.textBaseline = "top";
  for (let c = 0; c < box.columns; c += every) {
    const x = box.gutter + c * box.columnWidth;
    ctx.fillRect(x, top, 1, 4);
    const text = format.format(new Date(view.matrix.t[c]));
    if (x + ctx.measureText(text).width <= box.width) ctx.fillText(text, x + 2, top + 5);
  }
}

function cellAt(view, event) {
  const box = layout(view);
  const rect = view.canvas.getBoundingClientRect();
  const x = event.clientX - rect.left;
  const y = event.clientY - rect.top;
  const r = Math.floor(y / ROW_HEIGHT);
  const c = Math.floor((x - box.gutter) / box.columnWidth);
  if (x < box.gutter || r < 0 || r >= view.matrix.hops.length || c < 0 || c >= box.columns) return null;
  return { row: view.matrix.hops[r], column: c, x, y };
}

function showTooltip(view, event) {
  const found = cellAt(view, event);
  const tip = view.tooltip;
  if (!found || found.row.sent[found.column] === null) {
    tip.hidden = true;
    return;
  }
  const { row, column } = found;
  const format = timeFormat(view.matrix.bucket_s);
  const start = new Date(view.matrix.t[column]);
  const end = new Date(start.getTime() + view.matrix.bucket_s * 1000);
  const lines = [
    [`TTL ${row.ttl}`, `${format.format(start)} – ${format.format(end)}`],
    ["Addresses", hopText(row.addresses[column])],
    ["Loss", `${formatPct(row.loss_pct[column])} (${row.received[column]} of ${row.sent[column]} answered)`],
    ["Median RTT", formatMs(row.rtt_median_ms[column])],
  ];
  tip.replaceChildren(
    ...lines.map(([label, value]) => {
      const line = el("div");
      line.append(el("strong", "me-1", `${label}`), document.createTextNode(value));
      return line;
    }),
  );
  tip.hidden = false;
  const left = Math.min(found.x + 12, view.wrap.clientWidth - tip.offsetWidth - 4);
  tip.style.left = `${Math.max(0, left)}px`;
  tip.style.top = `${found.y + 14}px`;
}

function renderLegend(view) {
  const legend = view.root.querySelector("[data-hop-legend]");
  const swatch = (colour, label) => {
    const item = el("span", "legend-item");
    const box = el("span", "legend-swatch");
    box.style.backgroundColor = colour;
    item.append(box, document.createTextNode(label));
    return item;
  };
  const items = [];
  if (view.color === "loss") {
    for (const [, colour, label] of LOSS_CLASSES) items.push(swatch(colour, label));
  } else {
    const [low, high] = view.domain;
    items.push(swatch(RTT_RAMP[0], formatMs(low)), swatch(RTT_RAMP[RTT_RAMP.length - 1], formatMs(high)));
  }
  items.push(swatch(NO_REPLY, "no reply"));
  const marks = el("span", "legend-item");
  const change = el("span", "legend-line legend-change");
  const flap = el("span", "legend-line legend-flap");
  marks.append(change, document.createTextNode("route change"), flap, document.createTextNode("flap"));
  items.push(marks);
  legend.replaceChildren(...items);
}

function renderTable(view) {
  const { matrix } = view;
  const format = timeFormat(matrix.bucket_s);
  const table = el("table", "table table-sm table-striped align-middle mb-0 small");
  table.append(el("caption", "visually-hidden", "Per time column (newest first) and TTL: loss, median RTT and the addresses that answered"));
  const head = el("thead");
  const headRow = el("tr");
  headRow.append(el("th", "", "Time"));
  for (const row of matrix.hops) {
    const th = el("th", "", `TTL ${row.ttl}`);
    th.scope = "col";
    if (row.address) th.append(el("div", "fw-normal text-body-secondary text-break", row.address));
    headRow.append(th);
  }
  head.append(headRow);
  const body = el("tbody");
  for (let c = matrix.t.length - 1; c >= 0; c -= 1) {
    if (!matrix.hops.some((row) => row.sent[c] !== null)) continue;
    const tr = el("tr");
    const th = el("th");
    th.scope = "row";
    const time = el("time", "text-nowrap", format.format(new Date(matrix.t[c])));
    time.dateTime = matrix.t[c];
    th.append(time);
    tr.append(th);
    for (const row of matrix.hops) {
      const td = el("td");
      td.dataset.ttl = String(row.ttl);
      if (row.sent[c] === null) {
        td.textContent = "—";
      } else {
        td.append(el("span", "text-nowrap", `${formatPct(row.loss_pct[c])} · ${formatMs(row.rtt_median_ms[c])}`));
        td.append(el("div", "text-body-secondary text-break", hopText(row.addresses[c])));
      }
      tr.append(td);
    }
    body.append(tr);
  }
  table.append(head, body);
  view.table.replaceChildren(table);
}

function pathList(hops) {
  const list = el("span", "route-path");
  hops.forEach((addresses, i) => {
    if (i) list.append(el("span", "route-sep", "›"));
    list.append(el("code", addresses.length ? "" : "text-body-secondary", hopText(addresses)));
  });
  return list;
}

function changeItem(change, kind) {
  const format = timeFormat(1);
  const item = el("li", `route-event route-${kind}`);
  item.dataset.kind = kind;
  const head = el("div", "d-flex flex-wrap align-items-baseline gap-2");
  const badge = el("span", `badge rounded-pill ${kind === "change" ? "badge-soft-danger" : "badge-soft-warning"}`, kind === "change" ? "Route change" : "Flap");
  const when = el("time", "", format.format(new Date(change.at)));
  when.dateTime = change.at;
  const traces = change.measurement_ids.length;
  const ttls = change.first_ttl === change.last_ttl ? `hop ${change.first_ttl}` : `hops ${change.first_ttl}–${change.last_ttl}`;
  const path = kind === "change" ? "on the new path" : "on another path";
  head.append(badge, when, el("span", "text-body-secondary", `${ttls} · ${traces} trace${traces === 1 ? "" : "s"} ${path}`));
  const diff = el("ul", "list-unstyled mb-0 ms-3 small route-diff");
  for (const hop of change.hops) {
    const line = el("li", hop.differs ? "fw-semibold" : "text-body-secondary");
    line.dataset.ttl = String(hop.ttl);
    line.append(el("span", "me-2", `TTL ${hop.ttl}`), el("code", "", hopText(hop.old)), el("span", "mx-1", "→"), el("code", "", hopText(hop.new)));
    diff.append(line);
  }
  item.append(head, diff);
  return item;
}

function runItem(run) {
  const format = timeFormat(1);
  const item = el("li", "route-event route-run");
  item.dataset.kind = "run";
  const head = el("div", "d-flex flex-wrap align-items-baseline gap-2");
  const from = el("time", "", format.format(new Date(run.first_at)));
  from.dateTime = run.first_at;
  const to = el("time", "", format.format(new Date(run.last_at)));
  to.dateTime = run.last_at;
  head.append(el("span", "badge rounded-pill badge-soft-secondary", `Route ${run.route}`), from, el("span", "", "–"), to, el("span", "text-body-secondary", `${run.traces} trace${run.traces === 1 ? "" : "s"}`));
  item.append(head, pathList(run.hops));
  return item;
}

function renderHistory(view) {
  const history = view.history;
  const counts = history.counts;
  const summary = view.root.querySelector("[data-route-summary]");
  const parts = [
    `${counts.changes} route change${counts.changes === 1 ? "" : "s"}`,
    `${counts.flaps} flap${counts.flaps === 1 ? "" : "s"}`,
    `${counts.distinct_routes} route${counts.distinct_routes === 1 ? "" : "s"}`,
  ];
  if (counts.dominant_route_pct !== null) parts.push(`the most seen route in ${formatPct(counts.dominant_route_pct)} of the traces`);
  let text = parts.join(" · ");
  if (history.current?.pending) text += ` · ${history.current.pending} trace${history.current.pending === 1 ? "" : "s"} on a new path, not yet a change`;
  if (history.sampled_every > 1) text += ` · read 1 in ${history.sampled_every} of ${history.traces} traces`;
  summary.textContent = text;
  // Newest first: each run with the change or flap that began it above it.
  const events = [
    ...history.runs.map((run) => [Date.parse(run.first_at), 0, runItem(run)]),
    ...history.changes.map((c) => [Date.parse(c.at), 1, changeItem(c, "change")]),
    ...history.flaps.map((f) => [Date.parse(f.at), 1, changeItem(f, "flap")]),
  ];
  events.sort((a, b) => b[0] - a[0] || b[1] - a[1]);
  const list = view.root.querySelector("[data-route-history]");
  list.replaceChildren(...events.map(([, , node]) => node));
  if (!events.length) list.append(el("li", "text-body-secondary small", "No trace in this range."));
}

function render(view) {
  const matrixBox = view.wrap;
  const toggle = view.root.querySelector("[data-table-toggle]");
  const empty = !view.matrix.hops.length;
  matrixBox.hidden = empty;
  toggle.hidden = empty;
  if (empty) view.table.hidden = true;
  const read = view.matrix;
  const sampled = read.sampled_every > 1 ? ` (1 in ${read.sampled_every} read)` : "";
  view.status.textContent = empty
    ? "No trace in this range."
    : `${read.traces} trace${read.traces === 1 ? "" : "s"}${sampled} · columns of ${duration(read.bucket_s)}`;
  if (empty) {
    view.root.querySelector("[data-hop-legend]").replaceChildren();
  } else {
    view.domain = rttDomain(view.matrix);
    draw(view);
    renderLegend(view);
    renderTable(view);
  }
  renderHistory(view);
}

function duration(seconds) {
  if (seconds % 86400 === 0) return `${seconds / 86400} d`;
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

async function load(view, { loginAgain }) {
  const to = new Date();
  const from = new Date(to.getTime() - view.range * 1000);
  const points = Math.max(10, Math.min(2000, Math.floor((view.wrap.clientWidth || view.root.clientWidth) / COLUMN_PIXELS)));
  const query = `destination=${view.destination}&from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}`;
  view.status.textContent = "Loading…";
  const asked = (view.asked = (view.asked || 0) + 1);
  try {
    const [matrix, history] = await Promise.all([
      api("GET", `/jobs/${view.job}/hops?${query}&points=${points}`),
      api("GET", `/jobs/${view.job}/routes?${query}`),
    ]);
    if (asked !== view.asked) return; // a newer range was asked meanwhile
    view.matrix = matrix;
    view.history = history;
    render(view);
    view.root.dataset.loaded = String(view.range);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    if (error.status === 401) return loginAgain();
    view.status.textContent = error.message;
  }
}

function press(buttons, chosen) {
  for (const button of buttons) {
    button.setAttribute("aria-pressed", String(button === chosen));
    button.classList.toggle("active", button === chosen);
  }
}

export function setupPaths({ loginAgain }) {
  for (const root of document.querySelectorAll("[data-path-view]")) {
    const wrap = root.querySelector("[data-hop-matrix]");
    const view = {
      root,
      wrap,
      job: root.dataset.job,
      destination: root.dataset.destination,
      canvas: root.querySelector("[data-hop-canvas]"),
      tooltip: root.querySelector("[data-hop-tooltip]"),
      table: root.querySelector("[data-hop-table]"),
      status: root.querySelector("[data-path-status]"),
      range: Number(root.querySelector("[data-range][aria-pressed='true']").dataset.range),
      color: "loss",
    };
    const ranges = [...root.querySelectorAll("[data-range]")];
    for (const button of ranges) {
      button.addEventListener("click", () => {
        press(ranges, button);
        view.range = Number(button.dataset.range);
        load(view, { loginAgain });
      });
    }
    const colours = [...root.querySelectorAll("[data-color]")];
    for (const button of colours) {
      button.addEventListener("click", () => {
        press(colours, button);
        view.color = button.dataset.color;
        if (view.matrix?.hops.length) {
          draw(view);
          renderLegend(view);
        }
      });
    }
    const toggle = root.querySelector("[data-table-toggle]");
    toggle.addEventListener("click", () => {
      const open = view.table.hidden;
      view.table.hidden = !open;
      toggle.setAttribute("aria-expanded", String(open));
      toggle.textContent = open ? "Hide the table" : "Show the numbers as a table";
    });
    view.canvas.addEventListener("mousemove", (event) => showTooltip(view, event));
    view.canvas.addEventListener("mouseleave", () => {
      view.tooltip.hidden = true;
    });
    let width = 0;
    new ResizeObserver(() => {
      if (!view.matrix?.hops.length || wrap.clientWidth === width) return;
      width = wrap.clientWidth;
      requestAnimationFrame(() => draw(view));
    }).observe(wrap);
    press(ranges, ranges.find((b) => b.getAttribute("aria-pressed") === "true"));
    press(colours, colours[0]);
    load(view, { loginAgain });
  }
}
