"""URL converters for row ids in paths: ``<id:job_id>`` and, for runs, ``<bigid:run_id>``.

An id outside its column's range (0, or past ``netstats.schemas.fields.ID_MAX``,
``BIG_ID_MAX``) names no row: it is a 404 naming the path segment, and never reaches the
database (where it would be an overflow, a 500). The rule still matches, so the 404 is the
same for every method and comes after authentication (a converter that refused the segment
would leave werkzeug to answer 405 from another rule, before the token is looked at).
"""

from __future__ import annotations

from flask import Flask
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter

from netstats.schemas.fields import BIG_ID_MAX, ID_MAX


class IdConverter(IntegerConverter):
    """Digits of an id from 1 to ``ID_MAX``; 0 or larger: 404 naming the segment."""

    top = ID_MAX

    def to_python(self, value: str) -> int:
        if len(value) > len(str(self.top)) or not 1 <= int(value) <= self.top:
            raise NotFound(f"No such id {value[:30]}: ids run from 1 to {self.top}.")
        return super().to_python(value)


class BigIdConverter(IdConverter):
    """An id of a 64-bit column (runs): from 1 to ``BIG_ID_MAX``."""

    top = BIG_ID_MAX


def init_app(app: Flask) -> None:
    """Register the converters; call before any blueprint that uses them."""
    app.url_map.converters["id"] = IdConverter
    app.url_map.converters["bigid"] = BigIdConverter
