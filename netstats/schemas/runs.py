"""Runs and their measurements, the run list arguments, a destination's latest status."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from netstats.db import utcnow
from netstats.models import RUN_STATES
from netstats.scheduling import job_state
from netstats.schemas.common import ListArgs, PageSchema
from netstats.schemas.fields import range_time


class MeasurementSchema(Schema):
    id = fields.Integer()
    run_id = fields.Integer(allow_none=True)
    job_id = fields.Integer(allow_none=True)
    destination_id = fields.Integer(allow_none=True)
    collector = fields.String()
    target = fields.String()
    address = fields.String(allow_none=True)
    started_at = fields.DateTime()
    duration_ms = fields.Float()
    status = fields.String(metadata={"description": "ok, error or timeout."})
    error = fields.String(allow_none=True)
    metrics = fields.Dict(metadata={"description": "name -> number or null; units in the name."})
    details = fields.Dict()


class RunSchema(Schema):
    id = fields.Integer()
    job_id = fields.Integer()
    job_version = fields.Integer()
    trigger = fields.String(metadata={"description": "schedule, or manual (run now)."})
    status = fields.String(metadata={"description": ", ".join(RUN_STATES)})
    reason = fields.String(allow_none=True, metadata={"description": "Why it was skipped."})
    error = fields.String(allow_none=True)
    attempt = fields.Integer()
    worker = fields.String(allow_none=True)
    scheduled_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    lateness_ms = fields.Float(allow_none=True, metadata={"description": "Start - scheduled."})
    duration_ms = fields.Function(
        lambda run: (
            (run.finished_at - run.started_at).total_seconds() * 1000
            if run.started_at and run.finished_at
            else None
        ),
        allow_none=True,
    )


class RunDetailSchema(RunSchema):
    measurements = fields.List(fields.Nested(MeasurementSchema))


class RunListArgs(ListArgs):
    """Query string of GET /jobs/<id>/runs."""

    status = fields.List(
        fields.String(validate=validate.OneOf(RUN_STATES)),
        metadata={"description": "Repeat it for several states."},
    )
    since = range_time(metadata={"description": "Scheduled at or after (ISO 8601)."})
    until = range_time(metadata={"description": "Scheduled before."})


class RunPageSchema(PageSchema):
    items = fields.List(fields.Nested(RunSchema))


class JobBriefSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    collector = fields.String()
    state = fields.Function(lambda job: job_state(job, utcnow()))


class JobStatusSchema(Schema):
    job = fields.Nested(JobBriefSchema)
    measurement = fields.Nested(MeasurementSchema, allow_none=True)


class DestinationStatusSchema(Schema):
    destination_id = fields.Integer()
    jobs = fields.List(fields.Nested(JobStatusSchema))


run_schema = RunSchema()
run_detail_schema = RunDetailSchema()
run_list_args = RunListArgs()
run_page_schema = RunPageSchema()
destination_status_schema = DestinationStatusSchema()
