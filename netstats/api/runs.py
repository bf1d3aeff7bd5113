"""/api/v1 runs: a job's runs, and one run with its measurements."""

from __future__ import annotations

from flask import Blueprint

from netstats.api.body import load_args, responds
from netstats.jobs import get_job, get_run, query_runs
from netstats.pagination import paginate
from netstats.schemas.runs import run_detail_schema, run_list_args, run_page_schema

bp = Blueprint("runs", __name__)


@bp.get("/jobs/<id:job_id>/runs", endpoint="list")
@responds(run_page_schema, description="One page.")
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
        404: {$ref: "#/components/responses/NotFound"}
        422: {$ref: "#/components/responses/Invalid"}
    """
    job = get_job(job_id)
    args = load_args(run_list_args)
    return paginate(query_runs(job, args), args)


@bp.get("/runs/<bigid:run_id>", endpoint="get")
@responds(run_detail_schema, description="Found.")
def get_run_view(run_id: int):
    """Get one run with its measurements.
    ---
    get:
      tags: [runs]
      parameters: [{in: path, name: run_id, required: true, schema: {type: integer}}]
      responses:
        404: {$ref: "#/components/responses/NotFound"}
    """
    return get_run(run_id)
