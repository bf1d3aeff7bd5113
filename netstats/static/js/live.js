// Live updates: one EventSource per page (GET /api/v1/events), shared by every part of the
// page that wants events, with the connection indicator in the navbar.
//
//   import { live } from "./live.js";
//   const stop = live.on("run", { job: 3 }, (event) => { ... event.id, event.kind, event.data });
//
// kind: an event kind (run, run_started, job, destination, route_change, reset), a list of
// them, or "*" for every kind. filter: null, { job, destination } (an id or a list of ids;
// an event matches when it concerns one of them, as on the server), or a function of the
// event. The stream opens with the first subscription and starts after the event id the page
// was rendered at (body data-live-after), filtered by body data-live-stream (a query string,
// such as "job=3"). The browser reconnects by itself after a network error and sends the
// last event id, so nothing is missed; an answer that closes the stream for good (a 401, a
// 503 from a full server) is retried here with ?after=. A "reset" event means events were
// lost past the log's retention: the page reloads its data (charts: their whole range).

const BASE = "/api/v1/events";
const KINDS = ["run", "run_started", "job", "destination", "route_change", "reset"];
const REOPEN_MS = [2000, 5000, 10000, 30000];

const subscriptions = new Set();
const listening = new Set();
let source = null;
let lastId = null;
let state = "idle";
let reopenAttempt = 0;
let reopenTimer = null;

function idsOf(value) {
  if (value === undefined || value === null) return null;
  return new Set((Array.isArray(value) ? value : [value]).map(Number));
}

/** The destinations an event concerns: destination_id, destination_ids, measurements. */
function destinationsOf(data) {
  const found = new Set();
  if (Number.isInteger(data.destination_id)) found.add(data.destination_id);
  for (const id of data.destination_ids ?? []) found.add(id);
  for (const m of data.measurements ?? []) if (Number.isInteger(m.destination_id)) found.add(m.destination_id);
  return found;
}

function matcher(filter) {
  if (typeof filter === "function") return filter;
  if (!filter) return () => true;
  const jobs = idsOf(filter.job);
  const destinations = idsOf(filter.destination);
  return (event) => {
    if (jobs && !jobs.has(event.data.job_id)) return false;
    if (destinations && ![...destinationsOf(event.data)].some((id) => destinations.has(id))) return false;
    return true;
  };
}

function setState(next) {
  state = next;
  const node = document.getElementById("live-status");
  if (!node) return;
  node.classList.remove("d-none");
  node.dataset.state = next;
  const label = { connecting: "Connecting…", open: "Live", reconnecting: "Reconnecting…" }[next] ?? next;
  node.querySelector("[data-live-label]").textContent = label;
  node.title =
    next === "open"
      ? "Live: this page updates itself as runs finish and jobs change."
      : "The live connection is down; the page catches up when it is back.";
}

function streamUrl() {
  const params = new URLSearchParams(document.body.dataset.liveStream ?? "");
  if (lastId !== null) params.set("after", String(lastId));
  const query = params.toString();
  return query ? `${BASE}?${query}` : BASE;
}

function dispatch(message) {
  const id = message.lastEventId === "" ? null : Number(message.lastEventId);
  if (message.type !== "reset" && id !== null && lastId !== null && id <= lastId) return;
  if (id !== null) lastId = id;
  let data = {};
  try {
    data = JSON.parse(message.data);
  } catch {
    // a frame without JSON data: nothing to hand on but its kind
  }
  const event = { id, kind: message.type, data };
  for (const sub of subscriptions) {
    if ((sub.kinds === null || sub.kinds.has(event.kind)) && sub.matches(event)) {
      sub.handler(event);
    }
  }
}

function listen(kind) {
  if (listening.has(kind)) return;
  listening.add(kind);
  source?.addEventListener(kind, dispatch);
}

function open() {
  reopenTimer = null;
  setState(state === "idle" ? "connecting" : "reconnecting");
  source = new EventSource(streamUrl(), { withCredentials: true });
  for (const kind of listening) source.addEventListener(kind, dispatch);
  source.addEventListener("open", () => {
    reopenAttempt = 0;
    setState("open");
  });
  source.addEventListener("error", () => {
    setState("reconnecting");
    if (source.readyState === EventSource.CLOSED) {
      // Closed for good (not 200, not an event stream): try again ourselves, later.
      source = null;
      const delay = REOPEN_MS[Math.min(reopenAttempt, REOPEN_MS.length - 1)];
      reopenAttempt += 1;
      reopenTimer = setTimeout(open, delay);
    }
  });
}

function start() {
  if (source || reopenTimer) return;
  if (lastId === null && document.body.dataset.liveAfter) lastId = Number(document.body.dataset.liveAfter);
  open();
}

export const live = {
  /** Call handler(event) for every event of kind(s) matching filter; returns an unsubscribe. */
  on(kind, filter, handler) {
    const kinds = kind === "*" ? null : new Set(Array.isArray(kind) ? kind : [kind]);
    for (const k of kinds ?? KINDS) listen(k);
    const sub = { kinds, matches: matcher(filter), handler };
    subscriptions.add(sub);
    start();
    return () => subscriptions.delete(sub);
  },
  /** Stop following (the page's subject is gone). */
  close() {
    source?.close();
    source = null;
    clearTimeout(reopenTimer);
    reopenTimer = null;
    document.getElementById("live-status")?.classList.add("d-none");
  },
  get lastId() {
    return lastId;
  },
  get state() {
    return state;
  },
};

// For the browser console and tests: window.netstats.live.
window.netstats = Object.assign(window.netstats ?? {}, { live });
