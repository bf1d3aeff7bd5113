"""/api/v1 runs: a job's runs, one run with its measurements, a destination's latest status."""

from __future__ import annotations

from netstats.api import bp, load_args, paginate
from netstats.destinations import get_destination
from netstats.jobs import destination_status, get_job, get_run, query_runs
from netstats.schemas import (
    destination_status_schema,
    run_detail_schema,
    run_list_args,
    run_schema,
)


@bp.get("/jobs/<int:job_id>/runs")
def list_job_runs(job_id: int):
    """List a job's runs, newest first.
    ---
    get:
      tags: [runs]
      summary: Filter by status and by scheduled time; page.
      parameters:
        - {in: path, name: job_id, required: true, schema: {type: integer}}
        - {in: query, schema: RunListArgs}
      responses:
        200: {description: One page., content: {application/json: {schema: RunPageSchema}}}
        404: {$ref: "#/components/responses/NotFound"}
        422: {$ref: "#/components/responses/Invalid"}
    """
    job = get_job(job_id)
    args = load_args(run_list_args)
    return paginate(query_runs(job, args), args, run_schema)


@bp.get("/runs/<int:run_id>")
def get_run_view(run_id: int):
    """Get one run with its measurements.
    ---
    get:
      tags: [runs]
      parameters: [{in: path, name: run_id, required: true, schema: {type: integer}}]
      responses:
        200: {description: Found., content: {application/json: {schema: RunDetailSchema}}}
        404: {$ref: "#/components/responses/NotFound"}
    """
    return run_detail_schema.dump(get_run(run_id))


@bp.get("/destinations/<int:destination_id>/status")
def destination_status_view(destination_id: int):
    """The latest measurement of a destination by each job that measures (or measured) it.
    ---
    get:
      tags: [destinations]
      parameters: [{in: path, name: destination_id, required: true, schema: {type: integer}}]
      responses:
        200: {description: Per job., content: {application/json: {schema: DestinationStatusSchema}}}
        404: {$ref: "#/components/responses/NotFound"}
    """
    destination = get_destination(destination_id)
    return destination_status_schema.dump(
        {
            "destination_id": destination.id,
            "jobs": [
                {"job": job, "measurement": measurement}
                for job, measurement in destination_status(destination)
            ],
        }
    )
