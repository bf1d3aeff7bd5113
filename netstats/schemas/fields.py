"""Field types and validators shared by the schemas: strict JSON types, ids, text, labels,
zones, times."""

from __future__ import annotations

import functools
import re
import zoneinfo
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from marshmallow import ValidationError, fields, validate

from netstats.scheduling import parse_hhmm

LABEL_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-/]{0,62}$")

# The largest id of each kind of id column (netstats.models): Integer on PostgreSQL (jobs,
# destinations, users, series), BigInteger for the rows that grow without bound (runs,
# measurements, events). SQLite stores either in 64 bits.
ID_MAX = 2**31 - 1
BIG_ID_MAX = 2**63 - 1
# Pages run to ID_MAX, so that the OFFSET (page x per_page) stays within 64 bits.
PAGE_MAX = ID_MAX

# Bidi embeddings, overrides and isolates: they reorder what a page shows (``abc<U+202E>gnp.exe``
# reads as ``abcexe.png``).
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def printable(value: str) -> None:
    """No control, format or bidi characters (newlines and tabs included): names end up in
    tables, logs and pages, where such a character can make one name pass for another."""
    if not value.isprintable():
        raise ValidationError("Must not contain control or bidi-override characters.")


def plain_text(value: str) -> None:
    """Free text (a description): newlines and tabs allowed, but no other C0 or C1 control
    (NUL included) and no bidi embedding, override or isolate."""
    for char in value:
        if char in BIDI_CONTROLS or (
            (char < " " or "\x7f" <= char <= "\x9f") and char not in "\n\t\r"
        ):
            raise ValidationError("Must not contain control or bidi-override characters.")


def text_problem(value: str) -> str | None:
    """What makes ``value`` text that no database stores, or None: a NUL (PostgreSQL refuses
    it in text) or a lone surrogate (no UTF-8 form). Input readers refuse both everywhere."""
    if "\x00" in value:
        return "Must not contain NUL characters."
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "Must not contain lone surrogates (not valid Unicode text)."
    return None


def refuse_bad_text(data: Any) -> None:
    """Raise a ValidationError at the first key or string of ``data`` (a loaded JSON or YAML
    document, a query string as a dict) that ``text_problem`` refuses; its messages nest as
    marshmallow's do (``{"params": {"name": [...]}}``), so they name the field."""
    stack: list[tuple[tuple, Any]] = [((), data)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, str):
            problem = text_problem(value)
            if problem:
                raise ValidationError(_nested(where or ("_schema",), problem))
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and text_problem(key):
                    raise ValidationError(_nested((*where, key), f"Key: {text_problem(key)}"))
                stack.append(((*where, key), item))
        elif isinstance(value, list):
            stack.extend(((*where, i), item) for i, item in enumerate(value))


def _nested(path: tuple, message: str) -> dict:
    messages: Any = [message]
    for key in reversed(path):
        messages = {key: messages}
    return messages


class RowId(fields.Integer):
    """An id of a row: an integer from 1 to the column's largest value (``ID_MAX``, or
    ``BIG_ID_MAX`` for runs, measurements and events), so that a too-large id is a 422
    naming the field rather than a database error."""

    def __init__(self, big: bool = False, **kwargs):
        top = BIG_ID_MAX if big else ID_MAX
        super().__init__(validate=validate.Range(min=1, max=top), **kwargs)


class StrictRowId(RowId):
    """A row id in a JSON body: a JSON integer; strings and booleans are type errors."""

    def _validated(self, value):
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.make_error("invalid")
        return super()._validated(value)


# Times a range of data may name: nothing was measured before the Unix epoch, and bucket and
# column arithmetic must stay within what a datetime holds.
RANGE_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
RANGE_LATEST = datetime(9000, 1, 1, tzinfo=UTC)


class UtcDateTime(fields.AwareDateTime):
    """An ISO 8601 time with any UTC offset (UTC when none), loaded in UTC: refused, naming
    the field, when its UTC form leaves the years 1 to 9999 that a datetime can hold."""

    def __init__(self, **kwargs):
        kwargs.setdefault("default_timezone", UTC)
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        loaded = super()._deserialize(value, attr, data, **kwargs)
        try:
            return loaded.astimezone(UTC)
        except OverflowError:
            message = "Out of range: its UTC time must fall in years 1 to 9999."
            raise ValidationError(message) from None


def range_time(**kwargs) -> UtcDateTime:
    """A bound of a range of data (``from``, ``to``, ``since``, ``until``): a ``UtcDateTime``
    from ``RANGE_EARLIEST`` to ``RANGE_LATEST``."""
    return UtcDateTime(validate=validate.Range(RANGE_EARLIEST, RANGE_LATEST), **kwargs)


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
        super().__init__(StrictRowId(), **kwargs)

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
