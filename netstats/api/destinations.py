"""/api/v1/destinations: the hosts that jobs measure."""

from __future__ import annotations

from flask import url_for

from netstats.api import bp, load_args, load_body, paginate
from netstats.db import db
from netstats.destinations import (
    check_destination,
    create_destination,
    delete_destination,
    get_destination,
    query_destinations,
    update_destination,
)
from netstats.schemas import (
    DeleteArgs,
    ValidateArgs,
    destination_list_args,
    destination_patch_schema,
    destination_schema,
)


@bp.get("/destinations")
def list_destinations():
    """List destinations.
    ---
    get:
      tags: [destinations]
      summary: Search, filter, sort and page through destinations.
      parameters: [{in: query, schema: DestinationListArgs}]
      responses:
        200: {description: One page., content: {application/json: {schema: DestinationPageSchema}}}
        422: {$ref: "#/components/responses/Invalid"}
    """
    args = load_args(destination_list_args)
    return paginate(query_destinations(args), args, destination_schema)


@bp.post("/destinations")
def post_destination():
    """Create a destination.
    ---
    post:
      tags: [destinations]
      requestBody: {required: true, content: {application/json: {schema: DestinationSchema}}}
      responses:
        201: {description: Created., content: {application/json: {schema: DestinationSchema}}}
        400: {$ref: "#/components/responses/BadRequest"}
        409: {$ref: "#/components/responses/Conflict"}
        413: {$ref: "#/components/responses/TooLarge"}
        422: {$ref: "#/components/responses/Invalid"}
    """
    destination = create_destination(load_body(destination_schema))
    db.session.commit()
    location = url_for("api.get_destination_view", destination_id=destination.id)
    return destination_schema.dump(destination), 201, {"Location": location}


@bp.post("/destinations/validate")
def validate_destination():
    """Check a destination without saving it.
    ---
    post:
      tags: [destinations]
      summary: Checks host syntax (hostname, IDNA, IP), family and name; can resolve.
      parameters: [{in: query, schema: ValidateArgs}]
      requestBody: {required: true, content: {application/json: {schema: DestinationSchema}}}
      responses:
        200: {description: Valid., content: {application/json: {schema: DestinationCheckSchema}}}
        400: {$ref: "#/components/responses/BadRequest"}
        409: {$ref: "#/components/responses/Conflict"}
        422: {$ref: "#/components/responses/Invalid"}
    """
    do_resolve = load_args(ValidateArgs())["resolve"]
    result = check_destination(load_body(destination_schema), do_resolve)
    db.session.rollback()
    return result


@bp.get("/destinations/<int:destination_id>")
def get_destination_view(destination_id: int):
    """Get one destination.
    ---
    get:
      tags: [destinations]
      parameters: [{in: path, name: destination_id, required: true, schema: {type: integer}}]
      responses:
        200: {description: Found., content: {application/json: {schema: DestinationSchema}}}
        404: {$ref: "#/components/responses/NotFound"}
    """
    return destination_schema.dump(get_destination(destination_id))


@bp.patch("/destinations/<int:destination_id>")
def patch_destination(destination_id: int):
    """Change some fields of a destination.
    ---
    patch:
      tags: [destinations]
      parameters: [{in: path, name: destination_id, required: true, schema: {type: integer}}]
      requestBody: {required: true, content: {application/json: {schema: DestinationSchema}}}
      responses:
        200: {description: Changed., content: {application/json: {schema: DestinationSchema}}}
        400: {$ref: "#/components/responses/BadRequest"}
        404: {$ref: "#/components/responses/NotFound"}
        409: {$ref: "#/components/responses/Conflict"}
        422: {$ref: "#/components/responses/Invalid"}
    """
    destination = get_destination(destination_id)
    update_destination(destination, load_body(destination_patch_schema))
    db.session.commit()
    return destination_schema.dump(destination)


@bp.delete("/destinations/<int:destination_id>")
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
    destination = get_destination(destination_id)
    delete_destination(destination, detach=load_args(DeleteArgs())["detach"])
    db.session.commit()
    return "", 204
