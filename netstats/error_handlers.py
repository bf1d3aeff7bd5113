"""The one translation of errors to HTTP: JSON ``{"error": {code, message, fields}}`` for the
API (and any client that asks for JSON), the web UI's error page for the pages."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, jsonify, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from netstats.errors import NetstatsError


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def wants_json() -> bool:
    """API calls always get JSON errors; pages get HTML ones."""
    return request.path.startswith("/api/") or (request.accept_mimetypes.best == "application/json")


def error_page(status: int, message: str):
    """An error as a page: the web UI's page when it is installed, else plain text."""
    render = current_app.extensions.get("netstats_error_page")
    return render(status, message) if render else (message, status)


def _http_code(exc: HTTPException) -> str:
    return {
        400: "bad_request",
        401: "unauthorized",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        409: "conflict",
        413: "too_large",
        415: "unsupported_media_type",
        422: "validation_error",
        429: "too_many_requests",
    }.get(exc.code or 500, "error")


def init_app(app: Flask) -> None:
    @app.errorhandler(NetstatsError)
    def _netstats_error(exc: NetstatsError):
        from netstats.db import db

        db.session.rollback()
        return jsonify(error_body(exc.code, exc.message, exc.fields)), exc.status

    @app.errorhandler(ValidationError)
    def _validation_error(exc: ValidationError):
        from netstats.db import db

        db.session.rollback()
        fields = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        return jsonify(error_body("validation_error", "Invalid input.", fields)), 422

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        # Headers the answer must keep: Allow of a 405, Retry-After of a 429...
        headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
        if not wants_json():
            page = current_app.make_response(
                error_page(exc.code or 500, exc.description or exc.name)
            )
            page.headers.extend(headers)
            return page
        message = exc.description or exc.name
        if exc.code == 413:
            limit = app.config.get("MAX_CONTENT_LENGTH")
            message = f"Request body too large (limit {limit} bytes)."
        response = jsonify(error_body(_http_code(exc), message))
        response.status_code = exc.code or 500
        response.headers.extend(headers)
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        from netstats.db import db

        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        db.session.rollback()
        if not wants_json():
            return error_page(500, "Internal server error.")
        return jsonify(error_body("internal_error", "Internal server error.")), 500
