"""Marshmallow schemas for everything that crosses a boundary (HTTP, YAML), named by role."""

from __future__ import annotations

import functools
import re
import zoneinfo
from datetime import UTC

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
from netstats.jobs import JOB_STATES, job_state, next_run_at
from netstats.models import FAMILIES, RUN_STATES
from netstats.scheduling import DAYS, parse_hhmm

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


probe_request_schema = ProbeRequestSchema()


class PluginErrorSchema(Schema):
    plugin = fields.String()
    source = fields.String()
    message = fields.String()


class CollectorListSchema(Schema):
    items = fields.List(fields.Nested(CollectorSchema))
    errors = fields.List(
        fields.Nested(PluginErrorSchema), metadata={"description": "Plugins that failed."}
    )


# --- jobs and runs ---------------------------------------------------------------------------


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def iana_zone(value: str) -> None:
    """An IANA time zone name known to this system (``Europe/Paris``, ``UTC``)."""
    if value not in _time_zones():
        raise ValidationError(f"Unknown time zone {value[:64]!r}: use an IANA name.")


def hhmm(value: str) -> None:
    try:
        parse_hhmm(value)
    except ValueError:
        raise ValidationError("Use HH:MM, 00:00 to 23:59.") from None


class StrictNumber(fields.Float):
    """A JSON number; strings and booleans are type errors."""

    def _validated(self, value):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid")
        return super()._validated(value)


class DestinationIds(fields.List):
    """Destinations by id: loaded as a list of ids, dumped from the job's destinations."""

    def __init__(self, **kwargs):
        super().__init__(StrictInteger(validate=validate.Range(min=1)), **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else [d.id for d in value]


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
    description = fields.String(load_default="", validate=validate.Length(max=2000))
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
    starts_at = fields.AwareDateTime(
        allow_none=True,
        load_default=None,
        default_timezone=UTC,
        metadata={"description": "No run before (ISO 8601; UTC if no offset)."},
    )
    ends_at = fields.AwareDateTime(
        allow_none=True,
        load_default=None,
        default_timezone=UTC,
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
        lambda job: job_state(job),
        dump_only=True,
        metadata={"description": "active, paused, outside_window or disabled."},
    )
    next_run_at = fields.Function(lambda job: next_run_at(job), dump_only=True, allow_none=True)
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


class JobListArgs(Schema):
    """Query string of GET /jobs."""

    class Meta:
        unknown = EXCLUDE

    q = fields.String(
        validate=validate.Length(max=200),
        metadata={"description": "Substring of the name or description."},
    )
    enabled = fields.Boolean()
    collector = fields.String(validate=validate.Length(max=64))
    destination = fields.Integer(
        metadata={"description": "Jobs measuring this destination id (listed or by label)."}
    )
    state = fields.String(validate=validate.OneOf(JOB_STATES))
    sort = fields.String(
        load_default="name",
        validate=validate.OneOf(
            [
                f"{d}{k}"
                for k in ("name", "id", "collector", "interval_s", "created_at", "updated_at")
                for d in ("", "-")
            ]
        ),
        metadata={"description": "A column; prefix - for descending order."},
    )
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=None, validate=validate.Range(min=1))


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


class RunListArgs(Schema):
    """Query string of GET /jobs/<id>/runs."""

    class Meta:
        unknown = EXCLUDE

    status = fields.List(
        fields.String(validate=validate.OneOf(RUN_STATES)),
        metadata={"description": "Repeat it for several states."},
    )
    since = fields.AwareDateTime(
        default_timezone=UTC, metadata={"description": "Scheduled at or after (ISO 8601)."}
    )
    until = fields.AwareDateTime(
        default_timezone=UTC, metadata={"description": "Scheduled before."}
    )
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=None, validate=validate.Range(min=1))


class RunPageSchema(PageSchema):
    items = fields.List(fields.Nested(RunSchema))


class JobBriefSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    collector = fields.String()
    state = fields.Function(lambda job: job_state(job))


class JobStatusSchema(Schema):
    job = fields.Nested(JobBriefSchema)
    measurement = fields.Nested(MeasurementSchema, allow_none=True)


class DestinationStatusSchema(Schema):
    destination_id = fields.Integer()
    jobs = fields.List(fields.Nested(JobStatusSchema))


job_schema = JobSchema()
job_patch_schema = JobSchema(partial=True)
job_list_args = JobListArgs()
schedule_args = ScheduleArgs()
schedule_schema = ScheduleSchema()
run_schema = RunSchema()
run_detail_schema = RunDetailSchema()
run_list_args = RunListArgs()
destination_status_schema = DestinationStatusSchema()


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


# --- configuration files ---------------------------------------------------------------------


class DestinationNames(fields.List):
    """Destinations by name, as files refer to them; dumped from a job's destinations."""

    def __init__(self, **kwargs):
        super().__init__(fields.String(validate=validate.Length(min=1, max=100)), **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return [d if isinstance(d, str) else d.name for d in value]


class JobFileSchema(JobSchema):
    """A job in a YAML file: as in the API, but destinations are named, not numbered."""

    destinations = DestinationNames(
        load_default=list, metadata={"description": "Names of the destinations to measure."}
    )
