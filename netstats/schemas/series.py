"""Series, their data over a range, and a job's summary: arguments and answers."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from netstats.queries.series import DEFAULT_POINTS, MAX_POINTS, RESOLUTIONS
from netstats.schemas.fields import RowId, range_time

TIME_DESCRIPTION = "ISO 8601; any UTC offset, UTC when none is given."
QUANTILE_HELP = "Distributions only: that quantile of the bucket's values."


class Column(fields.List):
    """A column of numbers (null for an empty bucket), passed through as the read side built it:
    dumping thousands of numbers one field at a time would cost more than reading them."""

    def __init__(self, inner=None, **kwargs):
        super().__init__(inner or fields.Float(allow_none=True), **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return value


class RangeArgs(Schema):
    """``from`` and ``to`` of a range: default the last 24 hours; ``from`` before ``to``."""

    class Meta:
        unknown = EXCLUDE

    from_ = range_time(
        data_key="from",
        metadata={"description": f"Start (included). {TIME_DESCRIPTION} Default: to - 24 h."},
    )
    to = range_time(
        metadata={"description": f"End (excluded). {TIME_DESCRIPTION} Default: now."},
    )

    @validates_schema
    def _ordered(self, data, **kwargs):
        if "from_" in data and "to" in data and data["from_"] >= data["to"]:
            raise ValidationError("Must be before to.", "from")


class SeriesListArgs(Schema):
    """Query string of GET /series."""

    class Meta:
        unknown = EXCLUDE

    job = RowId(metadata={"description": "A job id."})
    destination = fields.List(
        RowId(),
        metadata={"description": "Destination ids; repeat it for several."},
    )
    metric = fields.List(
        fields.String(validate=validate.Length(max=64)),
        metadata={"description": "Metric names; repeat it for several."},
    )


class SeriesDataArgs(RangeArgs):
    """Query string of GET /series/data."""

    job = RowId(required=True)
    destination = fields.List(
        RowId(),
        required=True,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "Destination ids of the job; repeat it to compare several."},
    )
    metric = fields.String(required=True, validate=validate.Length(min=1, max=64))
    points = fields.Integer(
        load_default=DEFAULT_POINTS,
        validate=validate.Range(min=1, max=MAX_POINTS),
        metadata={"description": f"At most this many buckets per series (1 to {MAX_POINTS})."},
    )
    resolution = fields.String(
        load_default="auto",
        validate=validate.OneOf(("auto", *RESOLUTIONS)),
        metadata={
            "description": "auto (the coarsest tier that gives `points`), or force raw, 5m, "
            "30m, 1h, 6h or 1d (refused when it would need more than `points` buckets)."
        },
    )


class SeriesSchema(Schema):
    id = fields.Integer()
    job_id = fields.Integer()
    destination_id = fields.Integer()
    destination = fields.String(metadata={"description": "The destination's name."})
    metric = fields.String()
    unit = fields.String(metadata={"description": "From the collector; empty when undeclared."})
    kind = fields.String(metadata={"description": "gauge or distribution."})


class SeriesListSchema(Schema):
    items = fields.List(fields.Nested(SeriesSchema))


class SeriesPointsSchema(SeriesSchema):
    """One series' buckets as parallel arrays; an empty bucket is null in every array."""

    id = fields.Integer(allow_none=True, metadata={"description": "Null: no data yet."})
    t = Column(fields.Integer(), metadata={"description": "Bucket start, epoch milliseconds."})
    count = Column(fields.Integer(allow_none=True), metadata={"description": "Rounds."})
    min = Column()
    max = Column()
    mean = Column()
    ok = Column(fields.Integer(allow_none=True), metadata={"description": "Rounds ok."})
    error = Column(fields.Integer(allow_none=True))
    timeout = Column(fields.Integer(allow_none=True))
    sent = Column(fields.Integer(allow_none=True), metadata={"description": "Ping: probes."})
    received = Column(fields.Integer(allow_none=True))
    loss_pct = Column(metadata={"description": "100 x (sent - received) / sent per bucket."})
    p0 = Column(metadata={"description": QUANTILE_HELP})
    p5 = Column(metadata={"description": QUANTILE_HELP})
    p10 = Column(metadata={"description": QUANTILE_HELP})
    p25 = Column(metadata={"description": QUANTILE_HELP})
    p50 = Column(metadata={"description": QUANTILE_HELP})
    p75 = Column(metadata={"description": QUANTILE_HELP})
    p90 = Column(metadata={"description": QUANTILE_HELP})
    p95 = Column(metadata={"description": QUANTILE_HELP})
    p99 = Column(metadata={"description": QUANTILE_HELP})
    p100 = Column(metadata={"description": QUANTILE_HELP})


class SeriesDataSchema(Schema):
    from_ = fields.DateTime(data_key="from", attribute="from")
    to = fields.DateTime()
    resolution = fields.String(metadata={"description": ", ".join(RESOLUTIONS)})
    step_ms = fields.Integer(metadata={"description": "Bucket length."})
    source = fields.String(metadata={"description": "raw, rollup or mixed."})
    quantiles = fields.String(
        allow_none=True,
        metadata={
            "description": "exact (every bucket from raw values) or approximate (within the "
            "histogram's bound); null without a distribution."
        },
    )
    series = fields.List(fields.Nested(SeriesPointsSchema))


class DestinationSummarySchema(Schema):
    destination_id = fields.Integer()
    destination = fields.String()
    runs = fields.Integer(metadata={"description": "Measurements in the range."})
    ok = fields.Integer()
    error = fields.Integer()
    timeout = fields.Integer()
    availability_pct = fields.Float(allow_none=True, metadata={"description": "100 x ok / runs."})
    sent = fields.Integer(allow_none=True, metadata={"description": "Probes sent (ping)."})
    received = fields.Integer(allow_none=True)
    loss_pct = fields.Float(
        allow_none=True, metadata={"description": "100 x (sent - received) / sent over the range."}
    )
    metric = fields.String(
        allow_none=True, metadata={"description": "The collector's headline distribution."}
    )
    unit = fields.String()
    values = fields.Integer(metadata={"description": "Values of the headline distribution."})
    min = fields.Float(allow_none=True)
    mean = fields.Float(allow_none=True)
    p5 = fields.Float(allow_none=True)
    p50 = fields.Float(allow_none=True)
    p95 = fields.Float(allow_none=True)
    p99 = fields.Float(allow_none=True)
    max = fields.Float(allow_none=True)
    stddev = fields.Float(allow_none=True, metadata={"description": "Population."})
    jitter_ms = fields.Float(allow_none=True, metadata={"description": "Mean of the rounds'."})
    first_at = fields.DateTime(allow_none=True)
    last_at = fields.DateTime(allow_none=True)
    quantiles_exact = fields.Boolean(
        allow_none=True, metadata={"description": "False: from rollups, within 1.08 %."}
    )


class JobSummarySchema(Schema):
    job_id = fields.Integer()
    from_ = fields.DateTime(data_key="from", attribute="from")
    to = fields.DateTime()
    destinations = fields.List(fields.Nested(DestinationSummarySchema))


series_list_args = SeriesListArgs()
series_list_schema = SeriesListSchema()
series_data_args = SeriesDataArgs()
series_data_schema = SeriesDataSchema()
range_args = RangeArgs()
job_summary_schema = JobSummarySchema()


class RunStatusArgs(RangeArgs):
    """Query string of GET /jobs/<id>/status."""

    points = fields.Integer(
        load_default=DEFAULT_POINTS,
        validate=validate.Range(min=1, max=MAX_POINTS),
        metadata={"description": f"At most this many buckets (1 to {MAX_POINTS})."},
    )


class RunStatusSchema(Schema):
    """A job's runs by bucket of ``scheduled_at``: by state, lateness and duration."""

    job_id = fields.Integer()
    from_ = fields.DateTime(data_key="from", attribute="start")
    to = fields.DateTime(attribute="end")
    step_ms = fields.Integer(metadata={"description": "Bucket length."})
    t = Column(fields.Integer(), metadata={"description": "Bucket start, epoch milliseconds."})
    statuses = fields.Dict(
        keys=fields.String(),
        values=Column(fields.Integer()),
        metadata={"description": "Per run state, the runs of each bucket."},
    )
    totals = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "Per run state, the runs of the whole range."},
    )
    lateness_mean_ms = Column(metadata={"description": "Mean of started_at - scheduled_at."})
    lateness_max_ms = Column()
    duration_mean_ms = Column(metadata={"description": "Mean of finished_at - started_at."})
    duration_max_ms = Column()


run_status_args = RunStatusArgs()
run_status_schema = RunStatusSchema()
