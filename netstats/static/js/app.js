// What every page gets once loaded: local times, API-backed forms and buttons, the parts of
// the page that follow the live event stream, list filters, and the page-specific parts
// (job form, probe, paths).

import { api, ApiError } from "./api.js";
import { submitToApi } from "./forms.js";
import { setupCharts } from "./charts/page.js";
import { setupJobForm } from "./job-form.js";
import { setupPaths } from "./paths.js";
import { live } from "./live.js";
import { setupProbe } from "./probe.js";

const DATE_TIME = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const RELATIVE = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const UNITS = [
  ["day", 86400],
  ["hour", 3600],
  ["minute", 60],
  ["second", 1],
];

export function relative(date, now = Date.now()) {
  const seconds = Math.round((date.getTime() - now) / 1000);
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size || unit === "second") {
      return RELATIVE.format(Math.round(seconds / size), unit);
    }
  }
  return "";
}

/** Timestamps in the reader's time zone; "data-relative" ones as "3 minutes ago". */
export function localizeTimes(root = document) {
  for (const node of root.querySelectorAll("time[datetime]")) {
    const date = new Date(node.getAttribute("datetime"));
    if (Number.isNaN(date.getTime())) continue;
    const full = DATE_TIME.format(date);
    node.title = full;
    node.textContent = node.hasAttribute("data-relative") ? relative(date) : full;
  }
}

export function toast(message, kind = "success") {
  const box = document.getElementById("toasts");
  if (!box || !window.bootstrap) return;
  const node = document.createElement("div");
  node.className = `toast align-items-center text-bg-${kind} border-0`;
  node.setAttribute("role", kind === "danger" ? "alert" : "status");
  const row = document.createElement("div");
  row.className = "d-flex";
  const body = document.createElement("div");
  body.className = "toast-body";
  body.textContent = message;
  const close = document.createElement("button");
  close.type = "button";
  close.className = "btn-close btn-close-white me-2 m-auto";
  close.setAttribute("data-bs-dismiss", "toast");
  close.setAttribute("aria-label", "Close");
  row.append(body, close);
  node.append(row);
  box.append(node);
  node.addEventListener("hidden.bs.toast", () => node.remove());
  new window.bootstrap.Toast(node, { delay: 5000 }).show();
}

export function loginAgain() {
  window.location.assign(`/login?next=${encodeURIComponent(window.location.pathname)}`);
}

/** Forms that create or edit: sent as JSON to the API, errors beside their fields. */
function setupApiForms() {
  for (const form of document.querySelectorAll("form[data-api-path]")) {
    if (form.id === "job-form") continue; // its schema depends on the collector: job-form.js
    const schemaNode = document.getElementById(form.dataset.schema);
    const schema = JSON.parse(schemaNode.textContent);
    submitToApi(form, {
      schema: () => schema,
      call: (body) => api(form.dataset.apiMethod, form.dataset.apiPath, body),
      done: (saved) => window.location.assign(form.dataset.redirect.replace("{id}", saved.id)),
    });
  }
}

/** Buttons such as pause, resume and run now: a call to the API instead of a page post.
 * Listened for on the document, so that buttons of a part refreshed live work too. */
function setupApiActions() {
  document.addEventListener("submit", async (event) => {
    const form = event.target.closest("form[data-api-action]");
    if (!form) return;
    event.preventDefault();
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
    const [method, path] = form.dataset.apiAction.split(" ");
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const result = await api(method, path, undefined, { retry: !path.endsWith("/run") });
      if (path.endsWith("/run")) {
        toast(`Run ${result.id} queued.`);
        refreshLiveParts(); // the queued run shows before it starts
      } else {
        window.location.reload();
      }
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      if (error.status === 401) loginAgain();
      else toast(error.message, "danger");
    } finally {
      button.disabled = false;
    }
  });
}

// A live part is refreshed at most this often (ms); events closer together share a refresh.
let refreshLiveParts = () => {};
const REFRESH_GAP_MS = 1000;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The page says it is gone (its job or destination was deleted): say so, stop following. */
function pageGone() {
  live.close();
  if (document.getElementById("live-gone")) return;
  const note = document.createElement("div");
  note.id = "live-gone";
  note.className = "alert alert-warning";
  note.setAttribute("role", "alert");
  note.textContent = "This no longer exists: it was deleted. What is shown is how it was.";
  document.querySelector("#main .container-xl")?.prepend(note);
}

/**
 * Parts of a page marked data-live="kind ...": on an event of one of those kinds (the page's
 * stream is already filtered to what it shows, body data-live-stream), the part is rendered
 * again by the server. Parts with data-live-src load that fragment; the others come from
 * one fetch of the page itself, each by its id. A "reset" refreshes them all.
 */
function setupLive() {
  const parts = [...document.querySelectorAll("[data-live]")];
  if (!parts.length) return;
  const pending = new Set();
  let busy = false;
  let last = 0;

  const swap = (part, html) => {
    part.innerHTML = html;
    localizeTimes(part);
    const status = part.closest(".card")?.querySelector("[data-live-status]");
    if (status) status.textContent = `updated ${new Date().toLocaleTimeString()}`;
  };

  const load = async (url) => {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (response.redirected || response.status === 401) {
      loginAgain();
      return null;
    }
    if (response.status === 404) {
      pageGone();
      return null;
    }
    if (!response.ok) throw new Error(String(response.status));
    return response.text();
  };

  const refresh = async () => {
    busy = true;
    try {
      while (pending.size) {
        await sleep(Math.max(150, last + REFRESH_GAP_MS - Date.now()));
        const batch = [...pending];
        pending.clear();
        last = Date.now();
        try {
          const fragments = batch.filter((part) => part.dataset.liveSrc);
          const wholePage = batch.filter((part) => !part.dataset.liveSrc);
          for (const part of fragments) {
            const html = await load(part.dataset.liveSrc);
            if (html === null) return;
            swap(part, html);
          }
          if (wholePage.length) {
            const html = await load(window.location.href);
            if (html === null) return;
            const fresh = new DOMParser().parseFromString(html, "text/html");
            for (const part of wholePage) {
              const node = fresh.getElementById(part.id);
              if (node) swap(part, node.innerHTML);
            }
          }
        } catch {
          // The server is away (restarting, say): try again when the next event comes.
          for (const part of batch) pending.add(part);
          await sleep(2000);
        }
      }
    } finally {
      busy = false;
    }
  };

  const schedule = (selected) => {
    for (const part of selected) pending.add(part);
    if (!busy) refresh();
  };
  const kinds = new Set(parts.flatMap((part) => part.dataset.live.split(/\s+/).filter(Boolean)));
  for (const kind of kinds) {
    live.on(kind, null, () => schedule(parts.filter((part) => part.dataset.live.split(/\s+/).includes(kind))));
  }
  live.on("reset", null, () => schedule(parts));
  refreshLiveParts = () => schedule(parts);
}

/** A search box that hides the items of a list (the destinations picker). */
function setupListFilters() {
  for (const input of document.querySelectorAll("input[data-filter-list]")) {
    const list = document.querySelector(input.dataset.filterList);
    input.addEventListener("input", () => {
      const query = input.value.trim().toLowerCase();
      for (const item of list.querySelectorAll("[data-filter-text]")) {
        item.classList.toggle("d-none", query !== "" && !item.dataset.filterText.includes(query));
      }
    });
  }
}

localizeTimes();
setInterval(() => {
  for (const node of document.querySelectorAll("time[data-relative]")) {
    node.textContent = relative(new Date(node.getAttribute("datetime")));
  }
}, 15000);
setupApiForms();
setupApiActions();
setupLive();
setupListFilters();
setupProbe({ toast, loginAgain });
setupJobForm({ loginAgain });
setupPaths({ loginAgain });
setupCharts();
