"""/api/v1/events: the event log as a Server-Sent Events stream (docs/live.md)."""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import Blueprint, Response, current_app, jsonify, request, stream_with_context

from netstats.api.body import load_args
from netstats.auth import Principal, current_principal, hash_token, principal_from_token
from netstats.db import db
from netstats.error_handlers import error_body
from netstats.errors import Invalid, Unauthorized
from netstats.live import Subscription, get_hub, stream_events
from netstats.models import User
from netstats.schemas.events import event_stream_args
from netstats.schemas.fields import BIG_ID_MAX

bp = Blueprint("events", __name__)

# A client refused for lack of room tries again after this many seconds.
RETRY_AFTER_S = 10


@bp.get("/events", endpoint="stream")
def stream():
    """Follow the event log.
    ---
    get:
      tags: [events]
      summary: "Server-Sent Events: runs started and finished, jobs and destinations changed."
      description: |
        A `text/event-stream` that stays open. It starts with `retry: 5000` and a comment,
        then sends each event as `id: <log id>`, `event: <kind>` (run, run_started, job,
        destination, route_change) and `data: <JSON payload>`, and a `: keepalive` comment
        every 15 s (the token or login is checked again then: a revoked token's stream
        ends). A client that reconnects with `Last-Event-ID` (browsers do) or `?after=`
        gets every event it missed, once and in order; if some of them are past the log's
        retention it gets `event: reset` instead (reload your data, then carry on). Kinds
        and payloads: docs/live.md.
      parameters:
        - {in: query, schema: EventStreamArgs}
        - in: header
          name: Last-Event-ID
          required: false
          description: The id of the last event received; wins over `after`.
          schema: {type: integer, minimum: 0, maximum: 9223372036854775807}
      responses:
        200:
          description: The stream, until the client or the server closes it.
          content: {text/event-stream: {schema: {type: string}}}
        401: {$ref: "#/components/responses/Unauthorized"}
        422: {$ref: "#/components/responses/Invalid"}
        503:
          description: This process holds as many streams as it may (`LIVE_MAX_STREAMS`);
            try again after `Retry-After` seconds.
          content: {application/json: {schema: ErrorSchema}}
    """
    args = load_args(event_stream_args)
    cursor = _resume_from(args.get("after"))
    still_allowed = _still_allowed(current_principal())
    # An open stream holds no database connection (and one that waits for the hub to start
    # must not hold one either: the hub's start needs one).
    db.session.close()
    hub = get_hub()
    if hub.streams >= int(current_app.config["LIVE_MAX_STREAMS"]):
        message = "This server holds as many event streams as it may; try again later."
        answer = jsonify(error_body("too_many_streams", message))
        return answer, 503, {"Retry-After": str(RETRY_AFTER_S)}
    if cursor is None:
        cursor = hub.last  # "from now": now is when the client asked, not its first read
    subscription = Subscription(
        kinds=frozenset(args.get("kind", ())),
        jobs=frozenset(args.get("job", ())),
        destinations=frozenset(args.get("destination", ())),
    )
    body = stream_events(
        hub, cursor, subscription, float(current_app.config["LIVE_KEEPALIVE_S"]), still_allowed
    )
    return Response(
        stream_with_context(body),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _resume_from(after: int | None) -> int | None:
    """Where the stream starts: after the Last-Event-ID header, else ``after``, else now."""
    header = request.headers.get("Last-Event-ID", "").strip()
    if not header:
        return after
    if not (header.isascii() and header.isdigit()) or len(header) > 19 or int(header) > BIG_ID_MAX:
        message = f"Must be an event id (digits, at most {BIG_ID_MAX})."
        raise Invalid(f"Last-Event-ID: {message}", {"Last-Event-ID": [message]})
    return int(header)


def _still_allowed(principal: Principal) -> Callable[[], bool]:
    """A check, run at each keep-alive, that the caller may still read: the token is not
    revoked, the user still exists. Its answer is shared by the process's streams of the same
    caller for half a keep-alive period: a thousand tabs of one user cost one query."""
    user_id = principal.user.id
    secret = request.headers.get("Authorization", "").partition(" ")[2].strip()
    key = ("token", hash_token(secret)) if principal.via == "token" else ("user", user_id)
    fresh_for = float(current_app.config["LIVE_KEEPALIVE_S"]) / 2

    def ask() -> bool:
        try:
            if principal.via == "token":
                principal_from_token(secret)
                return True
            return db.session.get(User, user_id) is not None
        except Unauthorized:
            return False
        finally:
            db.session.close()

    def check() -> bool:
        known = _answers.get(key)
        if known is not None:
            if time.monotonic() - known[1] < fresh_for:
                return known[0]
            # One stream asks; the others go on with the last answer meanwhile.
            _answers[key] = (known[0], time.monotonic())
        allowed = ask()
        _answers[key] = (allowed, time.monotonic())
        return allowed

    return check


# Who may still read, by caller: (allowed, when it was asked).
_answers: dict[tuple[str, object], tuple[bool, float]] = {}
