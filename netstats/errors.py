"""The errors the core raises on purpose; ``netstats.error_handlers`` turns them into HTTP
answers and the CLI into messages, each in one place."""

from __future__ import annotations

from typing import Any


class NetstatsError(Exception):
    """Base of the errors the core raises on purpose; each maps to one HTTP status."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, fields: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class NotFound(NetstatsError):
    status, code = 404, "not_found"


class Conflict(NetstatsError):
    status, code = 409, "conflict"


class Invalid(NetstatsError):
    status, code = 422, "validation_error"


class Unauthorized(NetstatsError):
    status, code = 401, "unauthorized"


class Forbidden(NetstatsError):
    status, code = 403, "forbidden"
