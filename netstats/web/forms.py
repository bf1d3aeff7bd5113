"""HTML form fields to and from the JSON bodies the API's schemas load, guided by JSON Schema.

A browser sends every field as text. This module only turns text into the JSON type that
the schema's JSON Schema names (integer, number, boolean, array, object); whether a value
is *valid* is the marshmallow schema's business alone, so a value that does not convert is
passed on as text and the schema rejects it with its own message. ``static/js/forms.js``
applies the same rules in the browser, so both paths send the API the same body.

Field names: ``name``; ``params.count`` for a property of an object; ``windows.0.start``
for a property of the first object of an array. An object without declared properties
(labels) is a textarea of ``key=value`` lines; an array of free values is a textarea of
one value per line (or comma separated); an array of choices is a group of checkboxes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from flask import request
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict

from netstats.db import db
from netstats.errors import NetstatsError
from netstats.schemas.fields import text_problem

T = TypeVar("T")

# ASCII digits only, as in JavaScript (Python's \d would take any script's digits).
_INTEGER = re.compile(r"[+-]?\d+", re.ASCII)
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", re.ASCII)
_SPLIT = re.compile(r"[\n,]")
_MISSING = object()
FORM_ERRORS = "_form"


def json_type(prop: Mapping[str, Any]) -> str | None:
    """The JSON type of a property; ``["integer", "null"]`` is an integer that may be null."""
    kind = prop.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    return kind


def nullable(prop: Mapping[str, Any]) -> bool:
    kind = prop.get("type")
    return (isinstance(kind, list) and "null" in kind) or prop.get("nullable", False)


def form_body(form: MultiDict, schema: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """The JSON body of the fields of ``form`` that ``schema`` describes (read-only ones out)."""
    body: dict[str, Any] = {}
    required = set(schema.get("required", ()))
    for name, prop in schema.get("properties", {}).items():
        if prop.get("readOnly"):
            continue
        value = _field(form, prefix + name, prop, name in required)
        if value is not _MISSING:
            body[name] = value
    return body


def _field(form: MultiDict, key: str, prop: Mapping[str, Any], required: bool) -> Any:
    kind = json_type(prop)
    if kind == "boolean":
        # A checkbox sends its name only when ticked.
        return key in form
    if kind == "object" and "properties" in prop:
        return form_body(form, prop, key + ".")
    if kind == "object":
        return pairs(form[key]) if key in form else _MISSING
    if kind == "array":
        return _array(form, key, prop.get("items", {}))
    if key not in form:
        return _MISSING
    raw = form[key]
    if raw == "" and not required:
        # An empty optional field takes the default, else null where allowed: the same body
        # for a full load (the form) as for a PATCH (the API), which keeps what is left out.
        if "default" in prop:
            return prop["default"]
        return None if nullable(prop) else _MISSING
    return scalar(raw, kind)


def _array(form: MultiDict, key: str, items: Mapping[str, Any]) -> list[Any]:
    if json_type(items) == "object":
        return [form_body(form, items, f"{key}.{i}.") for i in row_indexes(form, key)]
    values = form.getlist(key)
    if "enum" not in items:
        values = [v.strip() for raw in values for v in _SPLIT.split(raw) if v.strip()]
    return [scalar(v, json_type(items)) for v in values]


def row_indexes(form: MultiDict, name: str) -> list[int]:
    """The indexes of the objects of array ``name`` present in the form (``windows.0.*``)."""
    pattern = re.compile(re.escape(name) + r"\.(\d+)\.")
    return sorted({int(m.group(1)) for key in form if (m := pattern.match(key))})


def scalar(raw: str, kind: str | None) -> Any:
    """``raw`` as the JSON type ``kind``, or unchanged when it is not one (the schema says so)."""
    text = raw.strip()
    if kind in ("integer", "number") and _INTEGER.fullmatch(text):
        try:
            return int(text)
        except ValueError:  # past Python's 4300 digits: the schema calls it not a number
            return raw
    if kind == "number" and _NUMBER.fullmatch(text) and math.isfinite(float(text)):
        return float(text)
    return raw


def pairs(text: str) -> dict[str, str]:
    """``key=value`` lines as a dict; a line without ``=`` is a key with an empty value."""
    result = {}
    for line in text.split("\n"):  # not splitlines(): it also splits at \x0c, \u2028...
        if line.strip():
            key, _, value = line.partition("=")
            result[key.strip()] = value.strip()
    return result


def to_form(data: Mapping[str, Any], schema: Mapping[str, Any], prefix: str = "") -> MultiDict:
    """The form fields showing ``data`` (the inverse of ``form_body``), to fill an edit form."""
    fields: MultiDict = MultiDict()
    for name, prop in schema.get("properties", {}).items():
        if name not in data or prop.get("readOnly"):
            continue
        value = data[name]
        key = prefix + name
        kind = json_type(prop)
        if value is None:
            if kind not in ("boolean", "object", "array"):
                fields.add(key, "")  # an empty field, as the page shows it
            continue
        if kind == "boolean":
            if value:
                fields.add(key, "on")
        elif kind == "object" and "properties" in prop:
            fields.update(to_form(value, prop, key + "."))
        elif kind == "object":
            fields.add(key, "\n".join(f"{k}={v}" for k, v in value.items()))
        elif kind == "array" and json_type(prop.get("items", {})) == "object":
            for i, item in enumerate(value):
                fields.update(to_form(item, prop["items"], f"{key}.{i}."))
        elif kind == "array" and "enum" in prop.get("items", {}):
            for item in value:
                fields.add(key, str(item))
        elif kind == "array":
            fields.add(key, "\n".join(str(v) for v in value))
        elif prop.get("format") == "date-time":
            fields.add(key, local_input(value))
        else:
            fields.add(key, str(value))
    return fields


def local_input(value: str | datetime) -> str:
    """A timestamp as a ``datetime-local`` input shows it: UTC, to the minute."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M")


def _refuse_bad_text(form: MultiDict) -> None:
    """A ValidationError naming the first form field holding text no database stores (NUL)."""
    for key, value in form.items(multi=True):
        problem = text_problem(value)
        if problem:
            raise ValidationError({key: [problem]})


def flatten_errors(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Marshmallow's nested messages keyed by form field name (``windows.0.start``); those of
    an item of a list of scalars go to the list's field (checkboxes share one name)."""
    if isinstance(messages, Mapping):
        flat: dict[str, list[str]] = {}
        for key, value in messages.items():
            name = FORM_ERRORS if key == "_schema" and not prefix else f"{prefix}{key}"
            if isinstance(key, int) and prefix and not isinstance(value, Mapping):
                name = prefix.rstrip(".")
            for field, texts in flatten_errors(value, name + ".").items():
                flat.setdefault(field, []).extend(texts)
        return flat
    texts = messages if isinstance(messages, list) else [messages]
    return {prefix.rstrip(".") or FORM_ERRORS: [str(t) for t in texts]}


def form_errors(exc: ValidationError | NetstatsError) -> dict[str, list[str]]:
    """The errors of a refused form by field name; ``_form`` holds those of no one field."""
    if isinstance(exc, ValidationError):
        errors = flatten_errors(exc.messages)
        errors.setdefault(FORM_ERRORS, []).insert(0, "Please correct the marked fields.")
        return errors
    errors = flatten_errors(exc.fields)
    errors.setdefault(FORM_ERRORS, []).insert(0, exc.message)
    return errors


@dataclass
class FormState:
    """A form as a template shows it: the schema, the values as text, the errors by field."""

    schema: Mapping[str, Any]
    values: MultiDict
    errors: dict[str, list[str]] = field(default_factory=dict)
    status: int = 200

    def value(self, name: str) -> str:
        return self.values.get(name, "")

    def checked(self, name: str, option: str = "on") -> bool:
        return option in self.values.getlist(name)

    def error(self, name: str) -> str:
        return " ".join(self.errors.get(name, []))

    def rows(self, name: str) -> list[int]:
        return row_indexes(self.values, name)

    def attrs(self, name: str) -> dict[str, Any]:
        """The HTML constraint attributes of a field, from its JSON Schema (browser checks)."""
        prop, required = self._prop(name)
        kind = json_type(prop)
        attrs: dict[str, Any] = {"required": required and kind != "boolean"}
        if kind == "string":
            attrs.update(minlength=prop.get("minLength"), maxlength=prop.get("maxLength"))
        elif kind in ("integer", "number"):
            attrs.update(
                min=prop.get("minimum"),
                max=prop.get("maximum"),
                step="1" if kind == "integer" else "any",
            )
        return {k: v for k, v in attrs.items() if v not in (None, False)}

    def _prop(self, name: str) -> tuple[Mapping[str, Any], bool]:
        node, required = self.schema, False
        for part in name.split("."):
            if part.isdigit():
                node, required = node.get("items", {}), False
            else:
                required = part in node.get("required", ())
                node = node.get("properties", {}).get(part, {})
        return node, required


def defaults(schema: Mapping[str, Any]) -> MultiDict:
    """The fields of a new form: the schema's defaults."""
    values = {name: p["default"] for name, p in schema["properties"].items() if "default" in p}
    return to_form(values, schema)


def save_form(
    schema: Mapping[str, Any], save: Callable[[dict[str, Any]], T]
) -> tuple[T | None, FormState]:
    """Give the posted form's body to ``save`` (schema load and service call) and commit.

    On a refusal (validation, conflict), roll back and return the form with its errors
    and the status the API would have answered.
    """
    state = FormState(schema, request.form)
    try:
        _refuse_bad_text(request.form)
        result = save(form_body(request.form, schema))
        db.session.commit()
    except (ValidationError, NetstatsError) as exc:
        db.session.rollback()
        state.errors = form_errors(exc)
        state.status = getattr(exc, "status", 422)
        return None, state
    return result, state
