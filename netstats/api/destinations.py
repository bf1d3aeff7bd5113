"""/api/v1/destinations: the hosts that jobs measure, and each one's latest status."""

from __future__ import annotations

from flask import Blueprint, url_for

from netstats.api.body import load_args, load_body, responds
from netstats.db import db
from netstats.destinations import (
    check_destination,
    create_destination,
    delete_destination,
    get_destination,
    query_destinations,
    update_destination,
)
from netstats.pagination import paginate
from netstats.queries.latest import destination_status
from netstats.schemas.destinations import (
    delete_args,
    destination_check_schema,
    destination_list_args,
    destination_page_schema,
    destination_patch_schema,
    destination_schema,
    validate_args,
)
from netstats.schemas.runs import destination_status_schema

bp = Blueprint("destinations", __name__)


@bp.get("/destinations", endpoint="list")
@responds(destination_page_schema, description="One page.")
def list_destinations():
    """List destinations.
    ---
    get:
      tags: [destinations]
      summary: Search, filter, sort and page through destinations.
      parameters: [{in: query, schema: DestinationListArgs}]
      responses:
        422: {$ref: "#/components/responses/Invalid"}
    """
    args = load_args(destination_list_args)
    return paginate(query_destinations(args), args)


@bp.post("/destinations", endpoint="create")
@responds(destination_schema, 201, "Created.")
def create_destination_view():
    """Create a destination.
    ---
    post:
      tags: [destinations]
      requestBody: {required: true, content: {application/json: {schema: DestinationSchema}}}
      responses:
        400: {$ref: "#/components/responses/BadRequest"}
        409: {$ref: "#/components/responses/Conflict"}
        413: {$ref: "#/components/responses/TooLarge"}
        422: {$ref: "#/components/responses/Invalid"}
    """
    destination = create_destination(load_body(destination_schema))
    db.session.commit()
    location = url_for(".get", destination_id=destination.id)
    return destination, {"Location": location}


@bp.post("/destinations/validate", endpoint="validate")
@responds(destination_check_schema, description="Valid.")
def validate_destination():
    """Check a destination without saving it.
    ---
    post:
      tags: [destinations]
      summary: Checks host syntax (hostname, IDNA, IP), family and name; can resolve.
      parameters: [{in: query, schema: ValidateArgs}]
      requestBody: {required: true, content: {application/json: {schema: DestinationSchema}}}
      responses:
        400: {$ref: "#/components/responses/BadRequest"}
        409: {$ref: "#/components/responses/Conflict"}
        422: {$ref: "#/components/responses/Invalid"}
    """
    do_resolve = load_args(validate_args)["resolve"]
    result = check_destination(load_body(destination_schema), do_resolve)
    db.session.rollback()
    return result


@bp.get("/destinations/<id:destination_id>", endpoint="get")
@responds(destination_schema, description="Found.")
def get_destination_view(destination_id: int):
    """Get one destination.
    ---
    get:
      tags: [destinations]
      parameters: [{in: path, name: destination_id, required: true, schema: {type: integer}}]
      responses:
        404: {$ref: "#/components/responses/NotFound"}
    """
    return get_destination(destination_id)


@bp.patch("/destinations/<id:destination_id>", endpoint="update")
@responds(destination_schema, description="Changed.")
def update_destination_view(destination_id: int):
    """Change some fields of a destination.
    ---
    patch:
      tags: [destinations]
      parameters: [{in: path, name: destination_id, required: true, schema: {type: integer}}]
      requestBody: {required: true, content: {application/json: {schema: DestinationPatchSchema}}}
      responses:
        400: {$ref: "#/components/responses/BadRequest"}
        404: {$ref: "#/components/responses/NotFound"}
        409: {$ref: "#/components/responses/Conflict"}
        422: {$ref: "#/components/responses/Invalid"}
    """
    destination = get_destination(destination_id)
    update_destination(destination, load_body(destination_patch_schema))
    db.session.commit()
    return destination


@bp.delete("/destinations/<id:destination_id>", endpoint="delete")
def delete_destination_view(destination_id: int):
    """Delete a destination and its measurements.
    ---
    delete:
      tags: [destinations]
      parameters:
        - {in: path, name: destination_id, required: true, schema: {type: integer}}
        - {in: query, schema: DeleteArgs}
      responses:
        204: {description: Deleted.}
        404: {$ref: "#/components/responses/NotFound"}
        409: {$ref: "#/components/responses/Conflict"}
    """
    detach = load_args(delete_args)["detach"]
    delete_destination(get_destination(destination_id, lock=True), detach=detach)
    db.session.commit()
    return "", 204


@bp.get("/destinations/<id:destination_id>/status", endpoint="status")
@responds(destination_status_schema, description="Per job.")
def destination_status_view(destination_id: int):
    """The latest measurement of a destination by each job that measures (or measured) it.
    ---
    get:
      tags: [destinations]
      parameters: [{in: path, name: destination_id, required: true, schema: {type: integer}}]
      responses:
        404: {$ref: "#/components/responses/NotFound"}
    """
    destination = get_destination(destination_id)
    return {
        "destination_id": destination.id,
        "jobs": [
            {"job": job, "measurement": measurement}
            for job, measurement in destination_status(destination)
        ],
    }
