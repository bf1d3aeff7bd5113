// Form fields built from a JSON Schema: a collector's parameters in the job form, so that a
// plugin's parameters get a form with no template work. The markup is that of
// templates/macros/forms.html: a label, the control with its constraints, the error
// element (data-error-for) and the help text.

import { fieldId, jsonType } from "./forms.js";

const ACRONYMS = new Set(["dns", "id", "ip", "ipv4", "ipv6", "tcp", "tls", "ttl", "udp", "url"]);
const humanize = (name) =>
  name
    .split("_")
    .map((word) => (ACRONYMS.has(word) ? word.toUpperCase() : word))
    .join(" ")
    .replace(/^./, (c) => c.toUpperCase());

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "className") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  node.append(...children.filter(Boolean));
  return node;
}

function shown(value, prop) {
  const kind = jsonType(prop);
  if (value === undefined || value === null) return "";
  if (kind === "array") return value.join("\n");
  if (kind === "object") return Object.entries(value).map(([k, v]) => `${k}=${v}`).join("\n");
  return String(value);
}

function constraints(prop, required) {
  const kind = jsonType(prop);
  const attrs = { required: required && kind !== "boolean" };
  if (kind === "string") Object.assign(attrs, { minlength: prop.minLength, maxlength: prop.maxLength });
  if (kind === "integer" || kind === "number") {
    Object.assign(attrs, { min: prop.minimum, max: prop.maximum, step: kind === "integer" ? "1" : "any" });
  }
  return attrs;
}

function control(name, prop, value, required, id, describedBy) {
  const kind = jsonType(prop);
  const common = { id, name, "aria-describedby": describedBy };
  const choices = prop.enum ?? (kind === "array" ? prop.items?.enum : undefined);
  if (kind === "array" && choices) {
    const chosen = new Set((value ?? []).map(String));
    return el(
      "div",
      { className: "d-flex flex-wrap gap-3", role: "group", "aria-labelledby": `${id}-label` },
      ...choices.map((choice, i) =>
        el(
          "div",
          { className: "form-check" },
          el("input", {
            className: "form-check-input", type: "checkbox", name, value: choice,
            id: `${id}-${i}`, checked: chosen.has(String(choice)),
          }),
          el("label", { className: "form-check-label", for: `${id}-${i}`, text: String(choice) }),
        ),
      ),
    );
  }
  if (choices) {
    const select = el("select", { className: "form-select", ...common, ...constraints(prop, required) });
    if (!required && !("default" in prop)) select.append(el("option", { value: "", text: "—" }));
    for (const choice of choices) {
      select.append(el("option", { value: choice, text: String(choice), selected: String(choice) === shown(value, prop) }));
    }
    return select;
  }
  if (kind === "array" || (kind === "object" && !prop.properties)) {
    const area = el("textarea", { className: "form-control", rows: 2, ...common, ...constraints(prop, required) });
    area.value = shown(value, prop);
    return area;
  }
  const type = kind === "integer" || kind === "number" ? "number" : "text";
  const input = el("input", { className: "form-control", type, ...common, ...constraints(prop, required) });
  input.value = shown(value, prop);
  return input;
}

function hint(prop) {
  const kind = jsonType(prop);
  const parts = [];
  if (prop.description) parts.push(prop.description);
  if (kind === "array" && !prop.items?.enum) parts.push("One per line.");
  if (kind === "object" && !prop.properties) parts.push("One key=value per line.");
  if ("default" in prop && prop.default !== null && kind !== "boolean") {
    parts.push(`Default: ${shown(prop.default, prop).replaceAll("\n", ", ") || "empty"}.`);
  }
  return parts.join(" ");
}

/**
 * Form fields for every property of an object's JSON Schema, named prefix + property:
 * the collector's parameters in the job form. `values` fills them (else the defaults).
 */
export function schemaFields(schema, prefix, values = {}) {
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties ?? {})
    .filter(([, prop]) => !prop.readOnly)
    .map(([key, prop]) => {
      const name = prefix + key;
      const id = fieldId(name);
      const value = key in values ? values[key] : prop.default;
      const help = hint(prop);
      const describedBy = `${id}-error${help ? ` ${id}-help` : ""}`;
      const feedback = el("div", { className: "invalid-feedback", id: `${id}-error`, "data-error-for": name });
      const helpText = help ? el("div", { className: "form-text", id: `${id}-help`, text: help }) : null;
      const title = prop.title ?? humanize(key);
      if (jsonType(prop) === "boolean") {
        const box = el("input", {
          className: "form-check-input", type: "checkbox", role: "switch",
          id, name, checked: Boolean(value), "aria-describedby": describedBy,
        });
        return el(
          "div",
          { className: "col-12 col-md-6" },
          el("div", { className: "form-check form-switch mt-md-4" }, box,
            el("label", { className: "form-check-label", for: id, text: title }), feedback, helpText),
        );
      }
      const label = el("label", { className: "form-label", for: id, id: `${id}-label` }, title);
      if (required.has(key)) label.append(" ", el("span", { className: "text-danger", "aria-hidden": "true", text: "*" }));
      return el(
        "div",
        { className: "col-12 col-md-6" },
        label,
        control(name, prop, value, required.has(key), id, describedBy),
        feedback,
        helpText,
      );
    });
}
