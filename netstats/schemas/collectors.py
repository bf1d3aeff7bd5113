"""Collectors as the API shows them, and the probe-now request and result."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class MetricSchema(Schema):
    name = fields.String()
    unit = fields.String()
    description = fields.String()
    kind = fields.String(
        metadata={"description": "gauge (one number per round) or distribution (its values)."}
    )


class CollectorSchema(Schema):
    name = fields.String()
    title = fields.String()
    description = fields.String()
    source = fields.String(metadata={"description": "The plugin distribution or file."})
    params = fields.Dict(metadata={"description": "JSON Schema of the parameters."})
    metrics = fields.List(fields.Nested(MetricSchema))
    headline = fields.String(
        allow_none=True,
        metadata={"description": "The distribution that sums the collector up (RTT, query time)."},
    )


class PluginErrorSchema(Schema):
    plugin = fields.String()
    source = fields.String()
    message = fields.String()


class CollectorListSchema(Schema):
    items = fields.List(fields.Nested(CollectorSchema))
    errors = fields.List(
        fields.Nested(PluginErrorSchema), metadata={"description": "Plugins that failed."}
    )


class ProbeRequestSchema(Schema):
    """Body of POST /destinations/<id>/probe: which collector, with which parameters."""

    collector = fields.String(
        load_default="ping",
        validate=validate.Length(min=1, max=64),
        metadata={"description": "A collector name, as GET /collectors lists them."},
    )
    params = fields.Dict(
        keys=fields.String(),
        load_default=dict,
        metadata={"description": "Its parameters, checked as a job's are; defaults fill in."},
    )


class ProbeResultSchema(Schema):
    destination_id = fields.Integer()
    collector = fields.String()
    measurement = fields.Dict(
        metadata={"description": "The Measurement: status, address, metrics, details."}
    )
    metrics = fields.List(
        fields.Nested(MetricSchema), metadata={"description": "The collector's metrics."}
    )


collector_schema = CollectorSchema()
collector_list_schema = CollectorListSchema()
probe_request_schema = ProbeRequestSchema()
probe_result_schema = ProbeResultSchema()
