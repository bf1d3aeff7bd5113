"""Marshmallow schemas for everything that crosses a boundary (HTTP, YAML), named by role."""

from __future__ import annotations

import re

from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    post_load,
    pre_load,
    validate,
    validates,
    validates_schema,
)

from netstats.hosts import HostError, family_conflict, parse_host
from netstats.models import FAMILIES

LABEL_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-/]{0,62}$")


def printable(value: str) -> None:
    """No control characters (newlines and tabs included): names end up in tables and logs."""
    if not value.isprintable():
        raise ValidationError("Must not contain control characters.")


class StrictBool(fields.Boolean):
    """Only JSON true/false: "yes", 1 or "0" are type errors, not guesses."""

    truthy = {True}
    falsy = {False}


class StrictInteger(fields.Integer):
    """A JSON integer; strings and booleans are type errors."""

    def _validated(self, value):
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.make_error("invalid")
        return super()._validated(value)


class Labels(fields.Dict):
    def __init__(self, **kwargs):
        super().__init__(
            keys=fields.String(),
            values=fields.String(validate=[validate.Length(max=255), printable]),
            **kwargs,
        )

    def _deserialize(self, value, attr, data, **kwargs):
        result = super()._deserialize(value, attr, data, **kwargs)
        bad = [k for k in result if not LABEL_KEY.match(k)]
        if bad:
            raise ValidationError(
                f"Invalid label key {bad[0][:70]!r}: 1 to 63 of letters, digits, _ . - /, "
                "starting with a letter or digit."
            )
        if len(result) > 64:
            raise ValidationError("At most 64 labels.")
        return result


# --- destinations ---------------------------------------------------------------------------


class DestinationSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=[validate.Length(min=1, max=100), printable])
    host = fields.String(required=True, validate=validate.Length(min=1, max=254))
    family = fields.String(load_default="any", validate=validate.OneOf(FAMILIES))
    description = fields.String(load_default="", validate=validate.Length(max=2000))
    labels = Labels(load_default=dict)
    enabled = StrictBool(load_default=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)

    @pre_load
    def _strip(self, data, **kwargs):
        if isinstance(data, dict):
            data = {
                k: v.strip() if isinstance(v, str) and k in ("name", "host") else v
                for k, v in data.items()
            }
        return data

    @validates("host")
    def _valid_host(self, value, **kwargs):
        try:
            parse_host(value)
        except HostError as exc:
            raise ValidationError(str(exc)) from None

    @validates_schema
    def _family_matches_literal(self, data, **kwargs):
        host, family = data.get("host"), data.get("family")
        if host is None or family is None:
            return
        try:
            conflict = family_conflict(parse_host(host), family)
        except HostError:
            return  # already reported on the host field
        if conflict:
            raise ValidationError(conflict, "family")


class DestinationListArgs(Schema):
    """Query string of GET /destinations."""

    class Meta:
        unknown = EXCLUDE

    q = fields.String(
        validate=validate.Length(max=200),
        metadata={"description": "Substring of the name, host or description."},
    )
    enabled = fields.Boolean()
    family = fields.String(validate=validate.OneOf(FAMILIES))
    label = fields.List(
        fields.String(validate=validate.Length(max=320)),
        metadata={"description": "key:value; repeat it to require several labels."},
    )
    sort = fields.String(
        load_default="name",
        validate=validate.OneOf(
            [
                f"{d}{k}"
                for k in ("name", "host", "created_at", "updated_at", "id")
                for d in ("", "-")
            ]
        ),
        metadata={"description": "A column; prefix - for descending order."},
    )
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(
        load_default=None,
        validate=validate.Range(min=1),
        metadata={"description": "Items per page (default and maximum are settings)."},
    )

    @post_load
    def _labels(self, data, **kwargs):
        pairs = []
        for item in data.get("label", []):
            key, sep, value = item.partition(":")
            if not sep or not key:
                raise ValidationError("Use key:value.", "label")
            pairs.append((key, value))
        data["label"] = pairs
        return data


class ValidateArgs(Schema):
    class Meta:
        unknown = EXCLUDE

    resolve = fields.Boolean(
        load_default=False, metadata={"description": "Also resolve the name to addresses."}
    )


class DeleteArgs(Schema):
    class Meta:
        unknown = EXCLUDE

    detach = fields.Boolean(
        load_default=False,
        metadata={"description": "Remove the destination from the jobs that use it first."},
    )


class PageSchema(Schema):
    """A page of a list: subclasses say what ``items`` holds."""

    total = fields.Integer(metadata={"description": "Items matching, over all pages."})
    page = fields.Integer()
    per_page = fields.Integer()
    pages = fields.Integer()


class DestinationPageSchema(PageSchema):
    items = fields.List(fields.Nested(DestinationSchema))


destination_schema = DestinationSchema()
destination_patch_schema = DestinationSchema(partial=True)
destinations_schema = DestinationSchema(many=True)
destination_list_args = DestinationListArgs()


class DestinationCheckSchema(Schema):
    valid = fields.Boolean()
    host = fields.Dict(metadata={"description": "kind, ascii form and (with resolve) addresses"})


# --- collectors -----------------------------------------------------------------------------


class MetricSchema(Schema):
    name = fields.String()
    unit = fields.String()
    description = fields.String()


class CollectorSchema(Schema):
    name = fields.String()
    title = fields.String()
    description = fields.String()
    source = fields.String(metadata={"description": "The plugin distribution or file."})
    params = fields.Dict(metadata={"description": "JSON Schema of the parameters."})
    metrics = fields.List(fields.Nested(MetricSchema))


class PluginErrorSchema(Schema):
    plugin = fields.String()
    source = fields.String()
    message = fields.String()


class CollectorListSchema(Schema):
    items = fields.List(fields.Nested(CollectorSchema))
    errors = fields.List(
        fields.Nested(PluginErrorSchema), metadata={"description": "Plugins that failed."}
    )


# --- meta -----------------------------------------------------------------------------------


class ErrorDetailSchema(Schema):
    code = fields.String()
    message = fields.String()
    fields = fields.Dict(metadata={"description": "Per field, the list of what is wrong."})


class ErrorSchema(Schema):
    error = fields.Nested(ErrorDetailSchema)


class HealthSchema(Schema):
    status = fields.String()
    database = fields.String()
    version = fields.String()
