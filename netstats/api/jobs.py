"""/api/v1/jobs: what to measure, how often and when, with pause, resume and run now."""

from __future__ import annotations

from flask import url_for

from netstats.api import bp, load_args, load_body, paginate
from netstats.db import db
from netstats.jobs import (
    create_job,
    delete_job,
    get_job,
    job_state,
    pause_job,
    query_jobs,
    resume_job,
    run_now,
    upcoming_runs,
    update_job,
)
from netstats.schemas import (
    job_list_args,
    job_patch_schema,
    job_schema,
    run_schema,
    schedule_args,
    schedule_schema,
)


@bp.get("/jobs")
def list_jobs():
    """List jobs.
    ---
    get:
      tags: [jobs]
      summary: Filter by enabled, collector, destination and state; sort; page.
      parameters: [{in: query, schema: JobListArgs}]
      responses:
        200: {description: One page., content: {application/json: {schema: JobPageSchema}}}
        422: {$ref: "#/components/responses/Invalid"}
    """
    args = load_args(job_list_args)
    return paginate(query_jobs(args), args, job_schema)


@bp.post("/jobs")
def post_job():
    """Create a job; its first runs are planned at once.
    ---
    post:
      tags: [jobs]
      requestBody: {required: true, content: {application/json: {schema: JobSchema}}}
      responses:
        201: {description: Created., content: {application/json: {schema: JobSchema}}}
        400: {$ref: "#/components/responses/BadRequest"}
        409: {$ref: "#/components/responses/Conflict"}
        413: {$ref: "#/components/responses/TooLarge"}
        422: {$ref: "#/components/responses/Invalid"}
    """
    job = create_job(load_body(job_schema))
    db.session.commit()
    location = url_for("api.get_job_view", job_id=job.id)
    return job_schema.dump(job), 201, {"Location": location}


@bp.get("/jobs/<int:job_id>")
def get_job_view(job_id: int):
    """Get one job.
    ---
    get:
      tags: [jobs]
      parameters: [{in: path, name: job_id, required: true, schema: {type: integer}}]
      responses:
        200: {description: Found., content: {application/json: {schema: JobSchema}}}
        404: {$ref: "#/components/responses/NotFound"}
    """
    return job_schema.dump(get_job(job_id))


@bp.patch("/jobs/<int:job_id>")
def patch_job(job_id: int):
    """Change some fields of a job; a change to what or when it runs applies from the next run.
    ---
    patch:
      tags: [jobs]
      parameters: [{in: path, name: job_id, required: true, schema: {type: integer}}]
      requestBody: {required: true, content: {application/json: {schema: JobSchema}}}
      responses:
        200: {description: Changed., content: {application/json: {schema: JobSchema}}}
        400: {$ref: "#/components/responses/BadRequest"}
        404: {$ref: "#/components/responses/NotFound"}
        409: {$ref: "#/components/responses/Conflict"}
        422: {$ref: "#/components/responses/Invalid"}
    """
    job = get_job(job_id)
    update_job(job, load_body(job_patch_schema))
    db.session.commit()
    return job_schema.dump(job)


@bp.delete("/jobs/<int:job_id>")
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
    delete_job(get_job(job_id))
    db.session.commit()
    return "", 204


@bp.post("/jobs/<int:job_id>/pause")
def pause_job_view(job_id: int):
    """Pause a job: no further planned run starts until it is resumed.
    ---
    post:
      tags: [jobs]
      parameters: [{in: path, name: job_id, required: true, schema: {type: integer}}]
      responses:
        200: {description: Paused., content: {application/json: {schema: JobSchema}}}
        404: {$ref: "#/components/responses/NotFound"}
    """
    job = pause_job(get_job(job_id))
    db.session.commit()
    return job_schema.dump(job)


@bp.post("/jobs/<int:job_id>/resume")
def resume_job_view(job_id: int):
    """Resume a paused job: runs are planned again from now.
    ---
    post:
      tags: [jobs]
      parameters: [{in: path, name: job_id, required: true, schema: {type: integer}}]
      responses:
        200: {description: Resumed., content: {application/json: {schema: JobSchema}}}
        404: {$ref: "#/components/responses/NotFound"}
    """
    job = resume_job(get_job(job_id))
    db.session.commit()
    return job_schema.dump(job)


@bp.post("/jobs/<int:job_id>/run")
def run_job_now(job_id: int):
    """Run a job now, outside its schedule and windows.
    ---
    post:
      tags: [jobs]
      parameters: [{in: path, name: job_id, required: true, schema: {type: integer}}]
      responses:
        202:
          description: Queued; follow the run at its Location.
          content: {application/json: {schema: RunSchema}}
        404: {$ref: "#/components/responses/NotFound"}
        409: {$ref: "#/components/responses/Conflict"}
    """
    run = run_now(get_job(job_id))
    db.session.commit()
    return run_schema.dump(run), 202, {"Location": url_for("api.get_run_view", run_id=run.id)}


@bp.get("/jobs/<int:job_id>/schedule")
def job_schedule(job_id: int):
    """The next planned run times of a job, honouring its windows and active period.
    ---
    get:
      tags: [jobs]
      parameters:
        - {in: path, name: job_id, required: true, schema: {type: integer}}
        - {in: query, schema: ScheduleArgs}
      responses:
        200:
          description: The times (none while paused or disabled).
          content: {application/json: {schema: ScheduleSchema}}
        404: {$ref: "#/components/responses/NotFound"}
        422: {$ref: "#/components/responses/Invalid"}
    """
    job = get_job(job_id)
    count = load_args(schedule_args)["count"]
    return schedule_schema.dump(
        {
            "job_id": job.id,
            "state": job_state(job),
            "timezone": job.timezone,
            "times": upcoming_runs(job, count),
        }
    )
