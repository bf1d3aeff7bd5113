"""/api/v1 traceroute over time: a job's route history and hop-by-time matrix per destination."""

from __future__ import annotations

from flask import Blueprint

from netstats.api.body import load_args, responds
from netstats.destinations import get_destination
from netstats.jobs import get_job
from netstats.queries.routes import hop_matrix, route_history
from netstats.schemas.routes import hop_args, hop_matrix_schema, route_args, route_history_schema

bp = Blueprint("routes", __name__)


@bp.get("/jobs/<id:job_id>/routes", endpoint="history")
@responds(route_history_schema, description="The route history over the range.")
def route_history_view(job_id: int):
    """The route history of one destination of a traceroute job.
    ---
    get:
      tags: [routes]
      summary: Runs of one path, distinct routes, route changes and flaps over a range.
      description: >
        Traces are compressed into runs of one path (silent hops are wildcards). Route
        changes are declared after ROUTE_CHANGE_TRACES consecutive traces agree on a new
        path; shorter deviations are flaps. Over ROUTE_MAX_TRACES traces, every n-th is read
        (`sampled_every`); changes and flaps are always complete.
      parameters:
        - {in: path, name: job_id, required: true, schema: {type: integer}}
        - {in: query, schema: RouteArgs}
      responses:
        404: {$ref: "#/components/responses/NotFound"}
        422: {$ref: "#/components/responses/Invalid"}
    """
    job = get_job(job_id)
    args = load_args(route_args)
    destination = get_destination(args["destination"])
    return route_history(job.id, destination.id, args["start"], args["end"])


@bp.get("/jobs/<id:job_id>/hops", endpoint="hops")
@responds(hop_matrix_schema, description="The hop-by-time matrix over the range.")
def hop_matrix_view(job_id: int):
    """The hop-by-time matrix of one destination of a traceroute job.
    ---
    get:
      tags: [routes]
      summary: Per TTL and time column, loss, median RTT and the addresses that answered.
      parameters:
        - {in: path, name: job_id, required: true, schema: {type: integer}}
        - {in: query, schema: HopArgs}
      responses:
        404: {$ref: "#/components/responses/NotFound"}
        422: {$ref: "#/components/responses/Invalid"}
    """
    job = get_job(job_id)
    args = load_args(hop_args)
    destination = get_destination(args["destination"])
    return hop_matrix(
        job.id, destination.id, args["start"], args["end"], args["points"], job.interval_s
    )
