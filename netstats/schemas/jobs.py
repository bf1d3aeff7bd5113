"""Jobs: the resource (in the API and in YAML files), windows, list and schedule arguments."""

from __future__ import annotations

from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    post_load,
    pre_load,
    validate,
    validates_schema,
)

from netstats.db import utcnow
from netstats.models import Job
from netstats.scheduling import DAYS, JOB_STATES, job_state, next_run_at
from netstats.schemas.common import ListArgs, PageSchema, SortField, search_field
from netstats.schemas.fields import (
    ComputedDateTime,
    DestinationIds,
    DestinationNames,
    Labels,
    RowId,
    StrictBool,
    StrictInteger,
    StrictNumber,
    UtcDateTime,
    hhmm,
    iana_zone,
    plain_text,
    printable,
)

SORTABLE = {
    "name": Job.name,
    "id": Job.id,
    "collector": Job.collector,
    "interval_s": Job.interval_s,
    "created_at": Job.created_at,
    "updated_at": Job.updated_at,
}


class WindowSchema(Schema):
    days = fields.List(
        fields.String(validate=validate.OneOf(DAYS)),
        required=True,
        validate=validate.Length(min=1, max=7),
        metadata={"description": "Days the window opens: mon, tue, wed, thu, fri, sat, sun."},
    )
    start = fields.String(required=True, validate=hhmm, metadata={"example": "22:00"})
    end = fields.String(
        required=True,
        validate=hhmm,
        metadata={
            "example": "06:00",
            "description": "Not after start: the window closes the next day (crosses "
            "midnight); equal to start: a whole day.",
        },
    )

    @post_load
    def _unique_days(self, data, **kwargs):
        data["days"] = sorted(set(data["days"]), key=DAYS.index)
        return data


class JobSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=[validate.Length(min=1, max=100), printable])
    description = fields.String(load_default="", validate=[validate.Length(max=2000), plain_text])
    collector = fields.String(
        required=True,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "A collector name, as GET /collectors lists them."},
    )
    params = fields.Dict(
        keys=fields.String(),
        load_default=dict,
        metadata={"description": "Checked by the collector's own schema; defaults filled in."},
    )
    destinations = DestinationIds(
        load_default=list, metadata={"description": "Destination ids to measure."}
    )
    label_selector = Labels(
        load_default=dict,
        metadata={"description": "Also measure every destination carrying all these labels."},
    )
    interval_s = StrictInteger(
        required=True,
        validate=validate.Range(min=1, max=31 * 86400),
        metadata={"description": "Seconds between runs."},
    )
    starts_at = UtcDateTime(
        allow_none=True,
        load_default=None,
        metadata={"description": "No run before (ISO 8601; UTC if no offset)."},
    )
    ends_at = UtcDateTime(
        allow_none=True,
        load_default=None,
        metadata={"description": "No run from then on."},
    )
    windows = fields.List(
        fields.Nested(WindowSchema),
        load_default=list,
        validate=validate.Length(max=50),
        metadata={"description": "Recurring windows in `timezone`; empty: always open."},
    )
    timezone = fields.String(load_default="UTC", validate=iana_zone)
    timeout_s = StrictNumber(
        allow_none=True,
        load_default=None,
        validate=validate.Range(min=0.1, max=3600),
        metadata={"description": "A run still measuring then ends timed_out (default 60)."},
    )
    retries = StrictInteger(
        load_default=0,
        validate=validate.Range(min=0, max=5),
        metadata={"description": "Further attempts after a collector error (1, 2, 4 s... apart)."},
    )
    enabled = StrictBool(load_default=True)
    paused = fields.Boolean(dump_only=True)
    version = fields.Integer(
        dump_only=True, metadata={"description": "Bumped by each change to what or when it runs."}
    )
    state = fields.Function(
        lambda job: job_state(job, utcnow()),
        dump_only=True,
        metadata={"description": "active, paused, outside_window or disabled."},
    )
    next_run_at = ComputedDateTime(
        lambda job: next_run_at(job, utcnow()),
        metadata={"description": "When the next planned run falls (null: none planned)."},
    )
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)

    @pre_load
    def _strip(self, data, **kwargs):
        if isinstance(data, dict) and isinstance(data.get("name"), str):
            data = {**data, "name": data["name"].strip()}
        return data

    @validates_schema
    def _period(self, data, **kwargs):
        starts, ends = data.get("starts_at"), data.get("ends_at")
        if starts is not None and ends is not None and ends <= starts:
            raise ValidationError("Must be after starts_at.", "ends_at")


class JobFileSchema(JobSchema):
    """A job in a YAML file: as in the API, but destinations are named, not numbered."""

    destinations = DestinationNames(
        load_default=list, metadata={"description": "Names of the destinations to measure."}
    )


class JobListArgs(ListArgs):
    """Query string of GET /jobs."""

    q = search_field("Substring of the name or description.")
    enabled = fields.Boolean()
    collector = fields.String(validate=validate.Length(max=64))
    destination = RowId(
        metadata={"description": "Jobs measuring this destination id (listed or by label)."}
    )
    state = fields.String(validate=validate.OneOf(JOB_STATES))
    sort = SortField(SORTABLE)


class JobPageSchema(PageSchema):
    items = fields.List(fields.Nested(JobSchema))


class ScheduleArgs(Schema):
    class Meta:
        unknown = EXCLUDE

    count = fields.Integer(load_default=10, validate=validate.Range(min=1, max=1000))


class ScheduleSchema(Schema):
    job_id = fields.Integer()
    state = fields.String()
    timezone = fields.String()
    times = fields.List(fields.DateTime(), metadata={"description": "Planned run times, UTC."})


class JobPatchSchema(JobSchema):
    """A PATCH body: any of a job's fields, none required (the document says so too)."""

    def __init__(self, **kwargs):
        super().__init__(partial=True, **kwargs)


job_schema = JobSchema()
job_patch_schema = JobPatchSchema()
job_list_args = JobListArgs()
job_page_schema = JobPageSchema()
schedule_args = ScheduleArgs()
schedule_schema = ScheduleSchema()
