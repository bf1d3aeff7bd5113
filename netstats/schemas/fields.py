"""Field types and validators shared by the schemas: strict JSON types, labels, zones, times."""

from __future__ import annotations

import functools
import re
import zoneinfo
from collections.abc import Callable
from datetime import datetime
from typing import Any

from marshmallow import ValidationError, fields, validate

from netstats.scheduling import parse_hhmm

LABEL_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-/]{0,62}$")


def printable(value: str) -> None:
    """No control characters (newlines and tabs included): names end up in tables and logs."""
    if not value.isprintable():
        raise ValidationError("Must not contain control characters.")


class StrictBool(fields.Boolean):
    """Only JSON true/false: "yes", 1 or "0" are type errors, not guesses."""

    truthy = {True}
    falsy = {False}


class StrictInteger(fields.Integer):
    """A JSON integer; strings and booleans are type errors."""

    def _validated(self, value):
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.make_error("invalid")
        return super()._validated(value)


class StrictNumber(fields.Float):
    """A JSON number; strings and booleans are type errors."""

    def _validated(self, value):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid")
        return super()._validated(value)


class ComputedDateTime(fields.DateTime):
    """A read-only timestamp computed from the object (dumped in ISO 8601 like the others)."""

    def __init__(self, compute: Callable[[Any], datetime | None], **kwargs):
        super().__init__(dump_only=True, allow_none=True, **kwargs)
        self.compute = compute

    def get_value(self, obj, attr, accessor=None, default=None):
        return self.compute(obj)


class Labels(fields.Dict):
    """``{key: value}`` labels: keys of letters, digits, ``_ . - /``; at most 64."""

    def __init__(self, **kwargs):
        super().__init__(
            keys=fields.String(),
            values=fields.String(validate=[validate.Length(max=255), printable]),
            **kwargs,
        )

    def _deserialize(self, value, attr, data, **kwargs):
        result = super()._deserialize(value, attr, data, **kwargs)
        bad = [k for k in result if not LABEL_KEY.match(k)]
        if bad:
            raise ValidationError(
                f"Invalid label key {bad[0][:70]!r}: 1 to 63 of letters, digits, _ . - /, "
                "starting with a letter or digit."
            )
        if len(result) > 64:
            raise ValidationError("At most 64 labels.")
        return result


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def iana_zone(value: str) -> None:
    """An IANA time zone name known to this system (``Europe/Paris``, ``UTC``)."""
    if value not in _time_zones():
        raise ValidationError(f"Unknown time zone {value[:64]!r}: use an IANA name.")


def hhmm(value: str) -> None:
    """A wall-clock time ``HH:MM``."""
    try:
        parse_hhmm(value)
    except ValueError:
        raise ValidationError("Use HH:MM, 00:00 to 23:59.") from None


class DestinationIds(fields.List):
    """Destinations by id: loaded as a list of ids, dumped from the job's destinations."""

    def __init__(self, **kwargs):
        super().__init__(StrictInteger(validate=validate.Range(min=1)), **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else [d.id for d in value]


class DestinationNames(fields.List):
    """Destinations by name, as files refer to them; dumped from a job's destinations."""

    def __init__(self, **kwargs):
        super().__init__(fields.String(validate=validate.Length(min=1, max=100)), **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return [d if isinstance(d, str) else d.name for d in value]
