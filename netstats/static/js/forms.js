// Forms in the browser: the same field-to-JSON rules as netstats/web/forms.py, the API's
// errors shown beside the field they name, and the browser's own checks before sending.
//
// Field names: "name", "params.count" (a property of an object), "windows.0.start" (a
// property of the first object of an array). An object without declared properties is a
// textarea of key=value lines; an array of free values is one value per line (or comma
// separated); an array of choices is a group of checkboxes.

import { ApiError } from "./api.js";

const INTEGER = /^[+-]?\d+$/;
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const SPLIT = /[\n,]/;
const MISSING = Symbol("missing");
export const FORM_ERRORS = "_form";

export const fieldId = (name) => `f-${name.replaceAll(".", "-")}`;

export function jsonType(prop) {
  const kind = prop?.type;
  return Array.isArray(kind) ? kind.find((k) => k !== "null") : kind;
}

const nullable = (prop) => (Array.isArray(prop.type) && prop.type.includes("null")) || prop.nullable === true;

export function scalar(raw, kind) {
  const text = raw.trim();
  if (kind === "integer" && INTEGER.test(text)) return Number.parseInt(text, 10);
  if (kind === "number" && INTEGER.test(text)) return Number.parseInt(text, 10);
  if (kind === "number" && NUMBER.test(text) && Number.isFinite(Number(text))) return Number(text);
  return raw;
}

export function pairs(text) {
  const result = {};
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const at = line.indexOf("=");
    const [key, value] = at < 0 ? [line, ""] : [line.slice(0, at), line.slice(at + 1)];
    result[key.trim()] = value.trim();
  }
  return result;
}

function rowIndexes(data, name) {
  const prefix = `${name}.`;
  const found = new Set();
  for (const key of data.keys()) {
    if (!key.startsWith(prefix)) continue;
    const match = /^(\d+)\./.exec(key.slice(prefix.length));
    if (match) found.add(Number(match[1]));
  }
  return [...found].sort((a, b) => a - b);
}

function arrayValue(data, key, items) {
  if (jsonType(items) === "object") {
    return rowIndexes(data, key).map((i) => bodyOf(data, items, `${key}.${i}.`));
  }
  let values = data.getAll(key);
  if (!("enum" in items)) {
    values = values.flatMap((raw) => raw.split(SPLIT)).map((v) => v.trim()).filter(Boolean);
  }
  return values.map((v) => scalar(v, jsonType(items)));
}

function fieldValue(data, key, prop, required) {
  const kind = jsonType(prop);
  if (kind === "boolean") return data.has(key);
  if (kind === "object" && prop.properties) return bodyOf(data, prop, `${key}.`);
  if (kind === "object") return data.has(key) ? pairs(data.get(key)) : MISSING;
  if (kind === "array") return arrayValue(data, key, prop.items ?? {});
  if (!data.has(key)) return MISSING;
  const raw = data.get(key);
  if (raw === "" && !required) {
    if ("default" in prop) return prop.default;
    return nullable(prop) ? null : MISSING;
  }
  return scalar(raw, kind);
}

function bodyOf(data, schema, prefix = "") {
  const body = {};
  const required = new Set(schema.required ?? []);
  for (const [name, prop] of Object.entries(schema.properties ?? {})) {
    if (prop.readOnly) continue;
    const value = fieldValue(data, prefix + name, prop, required.has(name));
    if (value !== MISSING) body[name] = value;
  }
  return body;
}

/** The JSON body of a form's fields, as the schema describes them. */
export function formBody(form, schema) {
  return bodyOf(new FormData(form), schema);
}

/** Marshmallow's nested messages keyed by field name ("windows.0.start"). */
export function flattenErrors(messages, prefix = "") {
  if (messages && typeof messages === "object" && !Array.isArray(messages)) {
    const flat = {};
    for (const [key, value] of Object.entries(messages)) {
      const name = key === "_schema" && !prefix ? FORM_ERRORS : `${prefix}${key}`;
      for (const [field, texts] of Object.entries(flattenErrors(value, `${name}.`))) {
        (flat[field] ??= []).push(...texts);
      }
    }
    return flat;
  }
  const texts = Array.isArray(messages) ? messages : [messages];
  return { [prefix.replace(/\.$/, "") || FORM_ERRORS]: texts.map(String) };
}

export function clearErrors(form) {
  for (const el of form.querySelectorAll(".is-invalid")) el.classList.remove("is-invalid");
  for (const el of form.querySelectorAll("[data-error-for]")) {
    el.textContent = "";
    if (el.dataset.errorFor === FORM_ERRORS) el.classList.add("d-none");
  }
}

function feedbackFor(form, name) {
  return [...form.querySelectorAll("[data-error-for]")].find((el) => el.dataset.errorFor === name);
}

function fieldsNamed(form, name) {
  return [...form.elements].filter((el) => el.name === name);
}

/** Mark one field with its messages (none: clear it); returns its first element. */
export function setFieldError(form, name, texts = []) {
  const feedback = feedbackFor(form, name);
  if (feedback) feedback.textContent = texts.join(" ");
  const fields = fieldsNamed(form, name);
  for (const el of fields) el.classList.toggle("is-invalid", texts.length > 0);
  return fields[0] ?? null;
}

/** Show an ApiError's messages next to the fields they name; the rest above the form. */
export function showErrors(form, error) {
  clearErrors(form);
  const flat = flattenErrors(error.fields ?? {});
  const general = [];
  if (error.status === 422 && Object.keys(flat).some((k) => k !== FORM_ERRORS)) {
    general.push("Please correct the marked fields.");
  } else {
    general.push(error.message);
  }
  let first = null;
  for (const [name, texts] of Object.entries(flat)) {
    const feedback = name === FORM_ERRORS ? null : feedbackFor(form, name);
    if (!feedback) {
      general.push(...texts.map((t) => (name === FORM_ERRORS ? t : `${name}: ${t}`)));
      continue;
    }
    // Mark every field the server names; focus goes to the first of them.
    const field = setFieldError(form, name, texts);
    first ??= field;
  }
  const alert = feedbackFor(form, FORM_ERRORS);
  if (alert) {
    alert.textContent = [...new Set(general)].join(" ");
    alert.classList.remove("d-none");
  }
  (first ?? alert)?.focus?.({ preventScroll: false });
  if (!first) alert?.scrollIntoView({ block: "center" });
}

/** The browser's own checks (required, lengths, ranges from the JSON Schema), shown like the server's. */
export function checkInBrowser(form) {
  clearErrors(form);
  let first = null;
  for (const el of form.elements) {
    if (!el.willValidate || el.checkValidity()) continue;
    el.classList.add("is-invalid");
    const feedback = feedbackFor(form, el.name);
    if (feedback) feedback.textContent = el.validationMessage;
    first ??= el;
  }
  first?.focus();
  return first === null;
}

/**
 * Send a form to the API instead of posting it: browser checks, then the JSON body, then
 * the answer. `schema()` gives the JSON Schema to read the fields with.
 */
export function submitToApi(form, { call, schema, done }) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!checkInBrowser(form)) return;
    const button = form.querySelector("[data-submit]");
    const spinner = button?.querySelector(".spinner-border");
    button?.setAttribute("disabled", "");
    spinner?.classList.remove("d-none");
    try {
      done(await call(formBody(form, schema())));
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      if (error.status === 401) {
        window.location.assign(`/login?next=${encodeURIComponent(window.location.pathname)}`);
        return;
      }
      showErrors(form, error);
    } finally {
      button?.removeAttribute("disabled");
      spinner?.classList.add("d-none");
    }
  });
}
