"""POST /api/v1/destinations/<id>/probe: one measurement now, not stored ("probe now")."""

from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint

from netstats.api.body import load_body, responds
from netstats.destinations import get_destination
from netstats.plugins import get_plugins
from netstats.probe import probe_destination
from netstats.schemas.collectors import probe_request_schema, probe_result_schema

bp = Blueprint("probe", __name__)


@bp.post("/destinations/<id:destination_id>/probe", endpoint="probe")
@responds(probe_result_schema, description="Measured.")
def probe_destination_view(destination_id: int):
    """Measure a destination once, now, without storing the result.
    ---
    post:
      tags: [destinations]
      summary: Runs a collector (default ping) against the destination from the web process.
      description: Takes as long as the measurement (at most 30 s); the result is not stored.
      parameters: [{in: path, name: destination_id, required: true, schema: {type: integer}}]
      requestBody:
        required: false
        content: {application/json: {schema: ProbeRequestSchema}}
      responses:
        400: {$ref: "#/components/responses/BadRequest"}
        403: {$ref: "#/components/responses/Forbidden"}
        404: {$ref: "#/components/responses/NotFound"}
        422: {$ref: "#/components/responses/Invalid"}
        502:
          description: The collector failed (a bug in its plugin).
          content: {application/json: {schema: ErrorSchema}}
        503:
          description: The collector cannot run here (permissions), or too many probes run.
          content: {application/json: {schema: ErrorSchema}}
        504:
          description: The measurement took longer than 30 s.
          content: {application/json: {schema: ErrorSchema}}
    """
    destination = get_destination(destination_id)
    body = load_body(probe_request_schema, optional=True)
    args = {**probe_request_schema.load({}), **body}
    measurement = probe_destination(destination, args["collector"], args["params"])
    collector = get_plugins().collectors[args["collector"]]
    return {
        "destination_id": destination.id,
        "collector": collector.name,
        "measurement": measurement.to_dict(),
        "metrics": [asdict(m) for m in collector.metrics],
    }
