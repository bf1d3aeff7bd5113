"""/api/v1/jobs: what to measure, how often and when, with pause, resume and run now."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, url_for

from netstats.api.body import load_args, load_body, responds
from netstats.db import db, utcnow
from netstats.errors import Invalid
from netstats.jobs import (
    create_job,
    delete_job,
    get_job,
    pause_job,
    query_jobs,
    resume_job,
    run_now,
    update_job,
)
from netstats.pagination import paginate
from netstats.queries.runs import run_status
from netstats.queries.summary import summarize_range
from netstats.scheduling import job_state, upcoming_runs
from netstats.schemas.jobs import (
    job_list_args,
    job_page_schema,
    job_patch_schema,
    job_schema,
    schedule_args,
    schedule_schema,
)
from netstats.schemas.runs import run_schema
from netstats.schemas.series import (
    job_summary_schema,
    range_args,
    run_status_args,
    run_status_schema,
)

bp = Blueprint("jobs", __name__)


@bp.get("/jobs", endpoint="list")
@responds(job_page_schema, description="One page.")
def list_jobs():
    """List jobs.
    ---
    get:
      tags: [jobs]
      summary: Filter by enabled, collector, destination and state; sort; page.
      parameters: [{in: query, schema: JobListArgs}]
      responses:
        422: {$ref: "#/components/responses/Invalid"}
    """
    args = load_args(job_list_args)
    return paginate(query_jobs(args), args)


@bp.post("/jobs", endpoint="create")
@responds(job_schema, 201, "Created.")
def create_job_view():
    """Create a job; its first runs are planned at once.
    ---
    post:
      tags: [jobs]
      requestBody: {required: true, content: {application/json: {schema: JobSchema}}}
      responses:
        400: {$ref: "#/components/responses/BadRequest"}
        409: {$ref: "#/components/responses/Conflict"}
        413: {$ref: "#/components/responses/TooLarge"}
        422: {$ref: "#/components/responses/Invalid"}
    """
    job = create_job(load_body(job_schema))
    db.session.commit()
    return job, {"Location": url_for(".get", job_id=job.id)}


@bp.get("/jobs/<id:job_id>", endpoint="get")
@responds(job_schema, description="Found.")
def get_job_view(job_id: int):
    """Get one job.
    ---
    get:
      tags: [jobs]
      parameters: [{in: path, name: job_id, required: true, schema: {type: integer}}]
      responses:
        404: {$ref: "#/components/responses/NotFound"}
    """
    return get_job(job_id)


@bp.patch("/jobs/<id:job_id>", endpoint="update")
@responds(job_schema, description="Changed.")
def update_job_view(job_id: int):
    """Change some fields of a job; a change to what or when it runs applies from the next run.
    ---
    patch:
      tags: [jobs]
      parameters: [{in: path, name: job_id, required: true, schema: {type: integer}}]
      requestBody: {required: true, content: {application/json: {schema: JobPatchSchema}}}
      responses:
        400: {$ref: "#/components/responses/BadRequest"}
        404: {$ref: "#/components/responses/NotFound"}
        409: {$ref: "#/components/responses/Conflict"}
        422: {$ref: "#/components/responses/Invalid"}
    """
    job = get_job(job_id)
    update_job(job, load_body(job_patch_schema))
    db.session.commit()
    return job


@bp.delete("/jobs/<id:job_id>", endpoint="delete")
def delete_job_view(job_id: int):
    """Delete a job with its runs and measurements.
    ---
    delete:
      tags: [jobs]
      parameters: [{in: path, name: job_id, required: true, schema: {type: integer}}]
      responses:
        204: {description: Deleted.}
        404: {$ref: "#/components/responses/NotFound"}
    """
    delete_job(get_job(job_id, lock=True))
    db.session.commit()
    return "", 204


@bp.post("/jobs/<id:job_id>/pause", endpoint="pause")
@responds(job_schema, description="Paused.")
def pause_job_view(job_id: int):
    """Pause a job: no further planned run starts until it is resumed.
    ---
    post:
      tags: [jobs]
      parameters: [{in: path, name: job_id, required: true, schema: {type: integer}}]
      responses:
        404: {$ref: "#/components/responses/NotFound"}
    """
    job = pause_job(get_job(job_id))
    db.session.commit()
    return job


@bp.post("/jobs/<id:job_id>/resume", endpoint="resume")
@responds(job_schema, description="Resumed.")
def resume_job_view(job_id: int):
    """Resume a paused job: runs are planned again from now.
    ---
    post:
      tags: [jobs]
      parameters: [{in: path, name: job_id, required: true, schema: {type: integer}}]
      responses:
        404: {$ref: "#/components/responses/NotFound"}
    """
    job = resume_job(get_job(job_id))
    db.session.commit()
    return job


@bp.post("/jobs/<id:job_id>/run", endpoint="run")
@responds(run_schema, 202, "Queued; follow the run at its Location.")
def run_job_view(job_id: int):
    """Run a job now, outside its schedule and windows.
    ---
    post:
      tags: [jobs]
      parameters: [{in: path, name: job_id, required: true, schema: {type: integer}}]
      responses:
        404: {$ref: "#/components/responses/NotFound"}
        409: {$ref: "#/components/responses/Conflict"}
    """
    run = run_now(get_job(job_id))
    db.session.commit()
    return run, {"Location": url_for("api.runs.get", run_id=run.id)}


@bp.get("/jobs/<id:job_id>/schedule", endpoint="schedule")
@responds(schedule_schema, description="The times (none while paused or disabled).")
def job_schedule_view(job_id: int):
    """The next planned run times of a job, honouring its windows and active period.
    ---
    get:
      tags: [jobs]
      parameters:
        - {in: path, name: job_id, required: true, schema: {type: integer}}
        - {in: query, schema: ScheduleArgs}
      responses:
        404: {$ref: "#/components/responses/NotFound"}
        422: {$ref: "#/components/responses/Invalid"}
    """
    job = get_job(job_id)
    count = load_args(schedule_args)["count"]
    now = utcnow()
    return {
        "job_id": job.id,
        "state": job_state(job, now),
        "timezone": job.timezone,
        "times": upcoming_runs(job, count, now),
    }


@bp.get("/jobs/<id:job_id>/summary", endpoint="summary")
@responds(job_summary_schema, description="One row per destination of the job.")
def job_summary_view(job_id: int):
    """A job's figures per destination over a range (default the last 24 hours).
    ---
    get:
      tags: [jobs]
      summary: Runs by status, availability, loss, the headline distribution, jitter.
      description: >
        Loss is 100 x (sent - received) / sent over the range; availability the share of
        measurements that are ok; quantiles exact from raw samples, else from rollups within
        1.08 % (`quantiles_exact`). The analytics page and reports use the same figures.
      parameters:
        - {in: path, name: job_id, required: true, schema: {type: integer}}
        - {in: query, schema: RangeArgs}
      responses:
        404: {$ref: "#/components/responses/NotFound"}
        422: {$ref: "#/components/responses/Invalid"}
    """
    job = get_job(job_id)
    args = load_args(range_args)
    end = args.get("to") or utcnow()
    start = args.get("from_") or end - timedelta(hours=24)
    if start >= end:
        raise Invalid("from must be before to.", {"from": ["Must be before to."]})
    return {
        "job_id": job.id,
        "from": start,
        "to": end,
        "destinations": summarize_range(job, start, end),
    }


@bp.get("/jobs/<id:job_id>/status", endpoint="status")
@responds(run_status_schema, description="The job's runs per bucket.")
def job_status_view(job_id: int):
    """A job's runs over a range (default the last 24 hours) by state, lateness and duration.
    ---
    get:
      tags: [jobs]
      summary: Runs per time bucket and state, and the whole range's totals.
      description: >
        Runs are placed by `scheduled_at` in buckets aligned to multiples of `step_ms` from
        the epoch (UTC); the range is widened to whole buckets, at most `points` of them.
        Lateness is started_at - scheduled_at, duration finished_at - started_at (null in a
        bucket where no run started or finished).
      parameters:
        - {in: path, name: job_id, required: true, schema: {type: integer}}
        - {in: query, schema: RunStatusArgs}
      responses:
        404: {$ref: "#/components/responses/NotFound"}
        422: {$ref: "#/components/responses/Invalid"}
    """
    job = get_job(job_id)
    args = load_args(run_status_args)
    end = args.get("to") or utcnow()
    start = args.get("from_") or end - timedelta(hours=24)
    if start >= end:
        raise Invalid("from must be before to.", {"from": ["Must be before to."]})
    answer = run_status(job, start, end, args["points"])
    return {"job_id": job.id, **vars(answer)}
