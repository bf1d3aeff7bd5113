"""The query string of the event stream (GET /api/v1/events)."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from netstats.events import KINDS
from netstats.schemas.fields import BIG_ID_MAX, RowId


class EventStreamArgs(Schema):
    """Which events a stream sends, and from where. Repeated values of one filter add up;
    different filters must all match."""

    class Meta:
        unknown = EXCLUDE

    job = fields.List(
        RowId(),
        metadata={"description": "Only events of these jobs (repeatable)."},
    )
    destination = fields.List(
        RowId(),
        metadata={"description": "Only events about these destinations (repeatable)."},
    )
    kind = fields.List(
        fields.String(validate=validate.OneOf(KINDS)),
        metadata={"description": f"Only these kinds (repeatable): {', '.join(KINDS)}."},
    )
    after = fields.Integer(
        validate=validate.Range(min=0, max=BIG_ID_MAX),
        metadata={
            "description": "Start after this event id (a page passes the id its data is as "
            "of); the Last-Event-ID header, sent by a reconnecting browser, wins over it. "
            "Without either, the stream starts with the next event."
        },
    )


event_stream_args = EventStreamArgs()
