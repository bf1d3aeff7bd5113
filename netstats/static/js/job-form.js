// The job form: parameter fields built from the chosen collector's JSON Schema (as
// GET /api/v1/collectors serves it), the window editor, and sending the job to the API.

import { api, ApiError } from "./api.js";
import { setFieldError, submitToApi } from "./forms.js";
import { schemaFields } from "./schema-fields.js";

const readJson = (id) => JSON.parse(document.getElementById(id)?.textContent || "null");

function note(text) {
  const p = document.createElement("p");
  p.className = "small text-body-secondary mb-0";
  p.textContent = text;
  return p;
}

/** Keep the names and ids of the window rows numbered 0, 1, 2... in page order. */
function renumber(list) {
  const pattern = /windows([.-])(\d+|__i__)(?=[.-])/g;
  list.querySelectorAll("[data-window-row]").forEach((row, index) => {
    for (const node of row.querySelectorAll("*")) {
      for (const attr of ["name", "id", "for", "data-error-for", "aria-describedby", "aria-labelledby"]) {
        const value = node.getAttribute(attr);
        if (value) node.setAttribute(attr, value.replace(pattern, `windows$1${index}`));
      }
    }
  });
}

function setupWindows(form) {
  const list = form.querySelector("#windows");
  const template = form.querySelector("#window-template");
  form.querySelector("[data-add-window]").addEventListener("click", () => {
    const row = template.content.firstElementChild.cloneNode(true);
    list.append(row);
    renumber(list);
    row.querySelector("input")?.focus();
  });
  list.addEventListener("click", (event) => {
    const button = event.target.closest("[data-remove-window]");
    if (!button) return;
    button.closest("[data-window-row]").remove();
    renumber(list);
  });
}

export async function setupJobForm({ loginAgain }) {
  const form = document.getElementById("job-form");
  if (!form) return;
  const jobSchema = readJson("job-schema");
  const container = form.querySelector("#params-fields");
  const select = form.elements.collector;
  let collectors = {};
  let values = readJson("job-params") ?? {};

  const paramsSchema = () => collectors[select.value]?.params ?? { type: "object", properties: {} };
  const render = () => {
    const collector = collectors[select.value];
    if (!collector) {
      container.replaceChildren(note("This collector is not installed; choose another."));
      return;
    }
    const fields = schemaFields(collector.params, "params.", values);
    const row = document.createElement("div");
    row.className = "row g-3";
    row.append(...fields);
    const about = collector.description ? note(collector.description) : null;
    about?.classList.replace("mb-0", "mb-3");
    container.replaceChildren(...[about, fields.length ? row : note("This collector takes no parameters.")].filter(Boolean));
  };

  setupWindows(form);
  submitToApi(form, {
    schema: () => ({ ...jobSchema, properties: { ...jobSchema.properties, params: paramsSchema() } }),
    call: (body) => api(form.dataset.apiMethod, form.dataset.apiPath, body),
    done: (saved) => window.location.assign(form.dataset.redirect.replace("{id}", saved.id)),
  });

  try {
    const answer = await api("GET", "/collectors");
    collectors = Object.fromEntries(answer.items.map((c) => [c.name, c]));
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    if (error.status === 401) return loginAgain();
    container.replaceChildren(note(`The collectors could not be loaded: ${error.message}`));
    return;
  }
  select.addEventListener("change", () => {
    values = {}; // another collector: its own defaults
    render();
  });
  render();
  // Errors of a form the server sent back (posted without this script) on generated fields.
  for (const [name, texts] of Object.entries(readJson("job-errors") ?? {})) {
    if (name.startsWith("params.")) setFieldError(form, name, texts);
  }
}
