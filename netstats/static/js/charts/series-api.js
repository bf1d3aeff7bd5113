// The charts' one reader of measurements: GET /api/v1/series/data, and what every chart says
// about the answer. Pages never compute a statistic themselves: they draw what this returns.
//
//   import { fetchSeries, pointsFor, resolutionLabel, lossClass } from "./charts/series-api.js";
//   const answer = await fetchSeries({ job: 3, destinations: [5, 6], metric: "rtt_ms",
//                                      from: dateOrMs, to: dateOrMs, points: pointsFor(canvas) });
//   answer.series[0].t / .p50 / .loss_pct ...   (docs/series.md: columnar arrays, null = gap)
//   resolutionLabel(answer)   -> "1 h × 9 · quantiles approximate (±1.08 %)"
//   lossClass(pct)            -> { limit, colour, label } of SmokePing's loss classes
//
// fetchSeries asks for `points` buckets (default: 1000); pass pointsFor(canvas), about one
// bucket per CSS pixel of the plot. `resolution` forces a tier ("raw", "5m", "1h", "1d").
// Errors are the ApiError of api.js.

import { api } from "../api.js";

/** The API's resolution names as a reader says them. */
export const RESOLUTION_NAMES = { raw: "raw", "5m": "5 min", "1h": "1 h", "1d": "1 day" };

// SmokePing's loss classes (%), the same as the hop-by-time view (paths.js): green to red.
export const LOSS_CLASSES = [
  { limit: 0, colour: "#26ff00", label: "0 %" },
  { limit: 5, colour: "#00b8ff", label: "≤ 5 %" },
  { limit: 10, colour: "#0059ff", label: "≤ 10 %" },
  { limit: 15, colour: "#7e00ff", label: "≤ 15 %" },
  { limit: 25, colour: "#ff00ff", label: "≤ 25 %" },
  { limit: 50, colour: "#ff5500", label: "≤ 50 %" },
  { limit: 99.9999, colour: "#ff0000", label: "< 100 %" },
  { limit: 100, colour: "#a00000", label: "100 %" },
];
export const NO_DATA_COLOUR = "#adb5bd";

/** The loss class of a bucket's loss in % (null: no probe in it, the no-data class). */
export function lossClass(pct) {
  if (pct === null || pct === undefined) return { limit: null, colour: NO_DATA_COLOUR, label: "no data" };
  return LOSS_CLASSES.find((c) => pct <= c.limit) ?? LOSS_CLASSES[LOSS_CLASSES.length - 1];
}

/** About one bucket per CSS pixel of the canvas (or element), at least 10. */
export function pointsFor(element) {
  const width = element?.clientWidth || element?.width || 600;
  return Math.max(10, Math.min(10000, Math.round(width)));
}

const iso = (value) => new Date(value).toISOString();

/**
 * GET /api/v1/series/data for one job, one metric, one or more destinations, over [from, to).
 * Resolves to the API's answer (from, to, resolution, step_ms, source, quantiles, series).
 */
export async function fetchSeries({ job, destinations, metric, from, to, points = 1000, resolution }) {
  const params = new URLSearchParams({ job: String(job), metric, points: String(points) });
  for (const d of destinations) params.append("destination", String(d));
  if (from !== undefined && from !== null) params.set("from", iso(from));
  if (to !== undefined && to !== null) params.set("to", iso(to));
  if (resolution) params.set("resolution", resolution);
  return api("GET", `/series/data?${params}`);
}

/** What a chart says it shows: the tier (and how many of its steps make a bucket) and
 * whether its quantiles are exact. */
export function resolutionLabel(answer) {
  const name = RESOLUTION_NAMES[answer.resolution] ?? answer.resolution;
  const tierMs = { "5m": 300000, "1h": 3600000, "1d": 86400000 }[answer.resolution];
  let text = name;
  if (tierMs && answer.step_ms > tierMs) text += ` × ${Math.round(answer.step_ms / tierMs)}`;
  else if (!tierMs) text += ` (${formatDuration(answer.step_ms)} buckets)`;
  if (answer.quantiles && answer.quantiles !== "exact") text += ` · quantiles ${answer.quantiles}`;
  return text;
}

/** A step in ms as "30 s", "5 min", "2 h", "1 d". */
export function formatDuration(ms) {
  const s = ms / 1000;
  if (s < 60) return `${+s.toFixed(1)} s`;
  if (s < 3600) return `${+(s / 60).toFixed(1)} min`;
  if (s < 86400) return `${+(s / 3600).toFixed(1)} h`;
  return `${+(s / 86400).toFixed(1)} d`;
}

/** A value in ms for a table cell or a label. */
export function formatMs(value) {
  if (value === null || value === undefined) return "—";
  return value < 10 ? value.toFixed(3) : value.toFixed(1);
}

/** A percentage for a table cell or a label. */
export function formatPct(value) {
  if (value === null || value === undefined) return "—";
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

/** The share of a bucket's rounds that did not end ok (error or timeout), in %; null when
 * the bucket is empty. What the strip shows for collectors without probe loss (dns). */
export function failedPct(series, i) {
  const count = series.count?.[i];
  if (!count) return null;
  return (100 * ((series.error?.[i] ?? 0) + (series.timeout?.[i] ?? 0))) / count;
}

/** Point radii for a line with parsing off and no point radius: 0, except for a value with
 * no value on either side (a line cannot show it), which gets a dot of `radius`. */
export function isolatedRadius(values, radius = 2) {
  let any = false;
  const radii = values.map((v, i) => {
    const alone = v !== null && (values[i - 1] ?? null) === null && (values[i + 1] ?? null) === null;
    any ||= alone;
    return alone ? radius : 0;
  });
  return any ? radii : 0;
}
