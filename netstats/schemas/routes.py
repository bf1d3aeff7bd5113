"""Traceroute over time: the range arguments, the route history and the hop-by-time matrix."""

from __future__ import annotations

from datetime import timedelta

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate

from netstats.db import utcnow
from netstats.schemas.fields import RowId, range_time

DEFAULT_RANGE = timedelta(hours=24)


class RouteArgs(Schema):
    """Query string of GET /jobs/<id>/routes."""

    class Meta:
        unknown = EXCLUDE

    destination = RowId(required=True, metadata={"description": "The destination's id."})
    start = range_time(
        data_key="from",
        metadata={
            "description": "Start of the range, ISO 8601 (UTC if no offset); default 24 h "
            "before `to`."
        },
    )
    end = range_time(
        data_key="to",
        metadata={"description": "End of the range (excluded); default now."},
    )

    @post_load
    def _range(self, data, **kwargs):
        data["end"] = data.get("end") or utcnow()
        data["start"] = data.get("start") or data["end"] - DEFAULT_RANGE
        if data["start"] >= data["end"]:
            raise ValidationError("Must be before `to`.", "from")
        return data


class HopArgs(RouteArgs):
    """Query string of GET /jobs/<id>/hops."""

    points = fields.Integer(
        load_default=120,
        validate=validate.Range(min=1, max=2000),
        metadata={
            "description": "About how many time columns (never narrower than the job's interval)."
        },
    )


def _hops() -> fields.List:
    return fields.List(
        fields.List(fields.String()),
        metadata={"description": "Per TTL from 1, the addresses that answered; [] is silent."},
    )


def _reached() -> fields.Boolean:
    return fields.Boolean(metadata={"description": "Whether the destination answered."})


class SignatureFields(Schema):
    hops = _hops()
    reached = _reached()


class RouteStateSchema(Schema):
    route = fields.Nested(
        SignatureFields, attribute="current", metadata={"description": "The current route."}
    )
    since = fields.DateTime(metadata={"description": "Since when it holds."})
    pending = fields.Integer(
        attribute="candidate_count",
        metadata={"description": "Consecutive traces on a new path, not yet a change."},
    )
    flaps = fields.Integer(attribute="flap_count", metadata={"description": "Flaps in all."})
    updated_at = fields.DateTime()


class RouteSchema(Schema):
    id = fields.Integer(metadata={"description": "Numbers the routes of this answer."})
    hops = _hops()
    reached = _reached()
    traces = fields.Integer()
    share_pct = fields.Float(metadata={"description": "Share of the traces read, in %."})
    first_at = fields.DateTime()
    last_at = fields.DateTime()


class RouteRunSchema(Schema):
    route = fields.Integer(metadata={"description": "The `id` of its route."})
    hops = _hops()
    reached = _reached()
    first_at = fields.DateTime()
    last_at = fields.DateTime()
    traces = fields.Integer()
    first_measurement_id = fields.Integer()
    last_measurement_id = fields.Integer()


class HopChangeSchema(Schema):
    ttl = fields.Integer()
    old = fields.List(
        fields.String(),
        allow_none=True,
        metadata={"description": "null: past the old route's end."},
    )
    new = fields.List(fields.String(), allow_none=True)
    differs = fields.Boolean()


class RouteChangeSchema(Schema):
    id = fields.Integer()
    at = fields.DateTime(metadata={"description": "Time of the first trace on the new path."})
    first_ttl = fields.Integer(metadata={"description": "First TTL that differs."})
    last_ttl = fields.Integer(metadata={"description": "Last TTL that differs."})
    hops = fields.List(
        fields.Nested(HopChangeSchema),
        metadata={"description": "Every TTL from first_ttl to last_ttl, old and new."},
    )
    measurement_ids = fields.List(
        fields.Integer(), metadata={"description": "The traces on the new path."}
    )
    old_route = fields.Nested(SignatureFields)
    new_route = fields.Nested(SignatureFields)


class RouteCountsSchema(Schema):
    changes = fields.Integer()
    flaps = fields.Integer()
    distinct_routes = fields.Integer()
    dominant_route_pct = fields.Float(
        allow_none=True, metadata={"description": "The most seen route's share of the traces."}
    )


class TracesReadFields(Schema):
    job_id = fields.Integer()
    destination_id = fields.Integer()
    start = fields.DateTime(data_key="from")
    end = fields.DateTime(data_key="to")
    traces = fields.Integer(metadata={"description": "Successful traces in the range."})
    traces_read = fields.Integer()
    sampled_every = fields.Integer(
        metadata={"description": "1: every trace was read; n: every n-th (over ROUTE_MAX_TRACES)."}
    )


class RouteHistorySchema(TracesReadFields):
    counts = fields.Nested(RouteCountsSchema)
    current = fields.Nested(RouteStateSchema, allow_none=True)
    routes = fields.List(fields.Nested(RouteSchema))
    runs = fields.List(fields.Nested(RouteRunSchema), metadata={"description": "Newest first."})
    changes = fields.List(
        fields.Nested(RouteChangeSchema), metadata={"description": "Newest first."}
    )
    flaps = fields.List(fields.Nested(RouteChangeSchema), metadata={"description": "Newest first."})


class HopRowSchema(Schema):
    ttl = fields.Integer()
    address = fields.String(
        allow_none=True, metadata={"description": "The most frequent address at this TTL."}
    )
    sent = fields.List(fields.Integer(allow_none=True))
    received = fields.List(fields.Integer(allow_none=True))
    loss_pct = fields.List(
        fields.Float(allow_none=True), metadata={"description": "100 x (sent - received) / sent."}
    )
    rtt_median_ms = fields.List(
        fields.Float(allow_none=True), metadata={"description": "Median RTT of the probes."}
    )
    addresses = fields.List(
        fields.List(fields.String()), metadata={"description": "Most frequent first."}
    )


class HopMatrixSchema(TracesReadFields):
    bucket_s = fields.Integer(metadata={"description": "Width of a column, seconds."})
    t = fields.List(fields.DateTime(), metadata={"description": "Start of each column."})
    hops = fields.List(
        fields.Nested(HopRowSchema), metadata={"description": "One row per TTL; lists per column."}
    )


route_args = RouteArgs()
hop_args = HopArgs()
route_history_schema = RouteHistorySchema()
hop_matrix_schema = HopMatrixSchema()
