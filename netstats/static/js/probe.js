// "Probe now" on a destination page: one quick ping through the API, shown in place.

import { api, ApiError } from "./api.js";

// A quick round: five requests 200 ms apart answer within about a second.
const QUICK_PING = { collector: "ping", params: { count: 5, interval: 0.2 } };
const STATUS_STYLE = { ok: "success", error: "danger", timeout: "warning" };

function node(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

function label(name) {
  return name
    .replace(/_(ms|pct)$/, "")
    .replaceAll("_", " ")
    .replace(/\brtt\b/, "RTT")
    .replace(/\brfc(\d+)/, "RFC $1")
    .replace(/^./, (c) => c.toUpperCase());
}

function formatValue(value, unit) {
  if (value === null || value === undefined) return "—";
  const text = Number.isInteger(value) ? String(value) : value.toFixed(unit === "%" ? 1 : 3);
  return unit === "count" ? text : `${text} ${unit}`;
}

function render(body, result) {
  const m = result.measurement;
  const head = node("div", "d-flex flex-wrap align-items-center gap-2 mb-3");
  head.append(
    node("span", `badge rounded-pill badge-soft-${STATUS_STYLE[m.status] ?? "secondary"}`, m.status),
    node("span", "small text-body-secondary", `${m.target} → ${m.address ?? "no address"} · ${Math.round(m.duration_ms)} ms`),
  );
  body.replaceChildren(head);
  if (m.error) body.append(node("div", "alert alert-warning py-2 small", m.error));
  const tiles = node("div", "row g-2");
  for (const metric of result.metrics) {
    if (!(metric.name in m.metrics)) continue;
    const tile = node("div", "metric-tile h-100");
    tile.title = metric.description;
    tile.append(node("div", "small text-body-secondary", label(metric.name)), node("div", "value", formatValue(m.metrics[metric.name], metric.unit)));
    const col = node("div", "col-6 col-md-3 col-xl-2");
    col.dataset.metric = metric.name;
    col.append(tile);
    tiles.append(col);
  }
  body.append(tiles);
  const probes = m.details?.probes;
  if (Array.isArray(probes) && probes.length) {
    const list = node("div", "probe-rtts mt-3");
    list.setAttribute("aria-label", "Round-trip time of each request");
    for (const [i, p] of probes.entries()) {
      list.append(node("span", `badge ${p.rtt_ms === null ? "text-bg-danger" : "text-bg-light border"}`, p.rtt_ms === null ? `#${i + 1} lost` : `#${i + 1} ${p.rtt_ms.toFixed(3)} ms`));
    }
    body.append(list);
  }
}

export function setupProbe({ loginAgain }) {
  const button = document.querySelector("[data-probe]");
  if (!button) return;
  const panel = document.getElementById("probe-result");
  const body = panel.querySelector("[data-probe-body]");
  const spinner = button.querySelector(".spinner-border");
  panel.querySelector("[data-dismiss-probe]").addEventListener("click", () => panel.classList.add("d-none"));
  button.addEventListener("click", async () => {
    button.disabled = true;
    spinner.classList.remove("d-none");
    try {
      render(body, await api("POST", `/destinations/${button.dataset.probe}/probe`, QUICK_PING, { retry: true }));
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      if (error.status === 401) return loginAgain();
      body.replaceChildren(node("div", "alert alert-danger mb-0", error.message));
    } finally {
      button.disabled = false;
      spinner.classList.add("d-none");
    }
    panel.classList.remove("d-none");
    panel.scrollIntoView({ block: "nearest" });
  });
}
