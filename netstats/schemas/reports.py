"""A report's definition as the API, the page and the CLI give it: arguments and answers."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from netstats.schemas.fields import iana_zone

FORMATS = ("xlsx", "csv")
PRESETS = ("last_24h", "last_7d", "last_30d", "today", "yesterday", "this_month", "last_month")
LOCAL_TIME = "ISO 8601; without an offset, a wall time in `tz`."


class ReportArgs(Schema):
    """Query string of GET /reports (and the reports form, and ``netstats report``)."""

    class Meta:
        unknown = EXCLUDE

    job = fields.List(
        fields.String(validate=validate.Length(min=1, max=100)),
        required=True,
        validate=validate.Length(min=1, max=20),
        metadata={"description": "Job ids or names; repeat it for several."},
    )
    destination = fields.List(
        fields.String(validate=validate.Length(min=1, max=100)),
        load_default=list,
        metadata={"description": "Destination ids or names (default: every one measured)."},
    )
    from_ = fields.DateTime(
        data_key="from", metadata={"description": f"Start (included). {LOCAL_TIME}"}
    )
    to = fields.DateTime(metadata={"description": f"End (excluded). {LOCAL_TIME} Default: now."})
    preset = fields.String(
        validate=validate.OneOf(PRESETS),
        metadata={"description": "A range instead of from/to, in `tz`. Default: last_24h."},
    )
    tz = fields.String(
        load_default="UTC",
        validate=iana_zone,
        metadata={"description": "IANA time zone of days and wall times (default UTC)."},
    )
    format = fields.String(load_default="xlsx", validate=validate.OneOf(FORMATS))

    @validates_schema
    def _one_range(self, data, **kwargs):
        if "preset" in data and ("from_" in data or "to" in data):
            raise ValidationError("Give a preset or from/to, not both.", "preset")


report_args = ReportArgs()
