// What every page gets once loaded: local times, API-backed forms and buttons, the
// refreshing runs table, list filters, and the page-specific parts (job form, probe, paths).

import { api, ApiError } from "./api.js";
import { submitToApi } from "./forms.js";
import { setupJobForm } from "./job-form.js";
import { setupPaths } from "./paths.js";
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

/** Buttons such as pause, resume and run now: a call to the API instead of a page post. */
function setupApiActions() {
  for (const form of document.querySelectorAll("form[data-api-action]")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
      const [method, path] = form.dataset.apiAction.split(" ");
      const button = form.querySelector("button");
      button.disabled = true;
      try {
        const result = await api(method, path, undefined, { retry: !path.endsWith("/run") });
        if (path.endsWith("/run")) {
          toast(`Run ${result.id} queued.`);
          refreshAll();
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
}

const refreshers = [];

/** Parts of a page that reload themselves from a page fragment (the runs table). */
function setupRefresh() {
  for (const node of document.querySelectorAll("[data-refresh]")) {
    const status = node.closest(".card")?.querySelector("[data-refresh-status]");
    const refresh = async () => {
      try {
        const response = await fetch(node.dataset.refresh, { credentials: "same-origin", headers: { Accept: "text/html" } });
        if (response.redirected || response.status === 401) return loginAgain();
        if (!response.ok) throw new Error(String(response.status));
        node.innerHTML = await response.text();
        localizeTimes(node);
        if (status) status.textContent = `updated ${new Date().toLocaleTimeString()}`;
      } catch {
        if (status) status.textContent = "cannot reach the server; retrying";
      }
    };
    refreshers.push(refresh);
    const every = Number(node.dataset.refreshEvery || 5000);
    setInterval(() => {
      if (document.visibilityState === "visible") refresh();
    }, every);
  }
}

function refreshAll() {
  for (const refresh of refreshers) refresh();
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
setupRefresh();
setupListFilters();
setupProbe({ toast, loginAgain });
setupJobForm({ loginAgain });
setupPaths({ loginAgain });
