"""What every page shares: the admin check, template filters and URL helpers."""

from __future__ import annotations

from datetime import datetime
from functools import wraps
from typing import Any

from flask import Flask, request, url_for
from flask_login import current_user
from marshmallow import Schema, ValidationError

from netstats import __version__
from netstats.errors import Forbidden
from netstats.schemas.common import query_dict
from netstats.schemas.fields import refuse_bad_text
from netstats.web.forms import flatten_errors


def can_write() -> bool:
    """Admins change things; every other user reads."""
    return bool(current_user.is_authenticated and current_user.is_admin)


def admin_required(view):
    """Refuse a page that changes data to a viewer (403 page)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not can_write():
            raise Forbidden("Only an admin can change this; your account may only read.")
        return view(*args, **kwargs)

    return wrapper


def query_url(**changes: Any) -> str:
    """This page's URL with some query arguments changed (None removes one)."""
    args = request.args.to_dict(flat=False)
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = [value]
    return url_for(request.endpoint, **(request.view_args or {}), **args)


def utc(value: datetime | None) -> str:
    """A timestamp as text; the page's script shows it in the reader's time zone."""
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"


def duration(ms: float | None) -> str:
    """Milliseconds as a short human duration."""
    if ms is None:
        return "—"
    if abs(ms) < 1000:
        return f"{ms:.1f} ms" if abs(ms) < 100 else f"{ms:.0f} ms"
    if abs(ms) < 60_000:
        return f"{ms / 1000:.2f} s"
    return f"{ms / 60_000:.1f} min"


def number(value: float | int | None, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"


def init_app(app: Flask) -> None:
    app.add_template_filter(utc)
    app.add_template_filter(duration)
    app.add_template_filter(number)
    app.add_template_global(query_url)
    app.add_template_global(can_write)
    app.add_template_global(__version__, "netstats_version")


def list_args(schema: Schema) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """A list page's query string loaded by the API's schema; a bad filter is dropped and
    reported (shown beside its input) instead of failing the page. Empty inputs are unset."""
    data = query_dict(schema, request.args, drop_empty=True)
    errors: dict[str, list[str]] = {}
    while True:  # a filter holding a NUL is dropped and reported like any bad filter
        try:
            refuse_bad_text(data)
            break
        except ValidationError as exc:
            [key] = exc.messages  # a repeated argument's messages are by index
            found = exc.messages[key]
            errors[key] = (
                found if isinstance(found, list) else [m for ms in found.values() for m in ms]
            )
            data.pop(key)
    while True:
        try:
            return schema.load(data), errors
        except ValidationError as exc:
            # Field errors come first, then those of post_load: drop and retry until clean.
            errors.update(flatten_errors(exc.messages))
            bad = set(exc.messages) if isinstance(exc.messages, dict) else set(data)
            if not bad & data.keys():
                return schema.load({}), errors
            data = {k: v for k, v in data.items() if k not in bad}
