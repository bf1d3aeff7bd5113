"""What every resource's schemas share: list arguments, pages, errors, the health check."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import EXCLUDE, Schema, fields, post_load, validate
from sqlalchemy import ColumnElement
from werkzeug.datastructures import MultiDict

from netstats.schemas.fields import PAGE_MAX


def query_dict(schema: Schema, args: MultiDict, drop_empty: bool = False) -> dict[str, Any]:
    """A query string as the input ``schema`` loads: repeated keys become a list where its
    field is a List, else the last value counts. ``drop_empty`` leaves out empty inputs (an
    unfilled filter of a page's form)."""
    data: dict[str, Any] = {}
    for key in args:
        values = args.getlist(key)
        if drop_empty:
            values = [v for v in values if v.strip()]
            if not values:
                continue
        data[key] = values if isinstance(schema.fields.get(key), fields.List) else values[-1]
    return data


class SortField(fields.String):
    """The ``sort`` argument of a list: one of ``columns``' names, ``-`` first for descending.

    ``columns`` is the one list of what a list sorts by; ``ListArgs`` turns the choice into
    the ORDER BY clause (``args["order_by"]``).
    """

    def __init__(self, columns: Mapping[str, ColumnElement], default: str = "name"):
        super().__init__(
            load_default=default,
            validate=validate.OneOf([f"{d}{k}" for k in columns for d in ("", "-")]),
            metadata={"description": "A column; prefix - for descending order."},
        )
        self.columns = dict(columns)


class ListArgs(Schema):
    """Query string of a list: a search, page and page size, and (where declared) a sort."""

    class Meta:
        unknown = EXCLUDE

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=PAGE_MAX))
    per_page = fields.Integer(
        load_default=None,
        validate=validate.Range(min=1),
        metadata={"description": "Items per page (default and maximum are settings)."},
    )

    @post_load
    def _order_by(self, data, **kwargs):
        sort = self.fields.get("sort")
        if isinstance(sort, SortField) and data.get("sort"):
            name = data["sort"]
            column = sort.columns[name.lstrip("-")]
            data["order_by"] = column.desc() if name.startswith("-") else column.asc()
        return data


def search_field(description: str) -> fields.String:
    """The ``q`` argument of a list: a substring to look for."""
    return fields.String(validate=validate.Length(max=200), metadata={"description": description})


class PageSchema(Schema):
    """A page of a list: subclasses say what ``items`` holds."""

    total = fields.Integer(metadata={"description": "Items matching, over all pages."})
    page = fields.Integer()
    per_page = fields.Integer()
    pages = fields.Integer()


class ErrorDetailSchema(Schema):
    code = fields.String()
    message = fields.String()
    fields = fields.Dict(metadata={"description": "Per field, the list of what is wrong."})


class ErrorSchema(Schema):
    error = fields.Nested(ErrorDetailSchema)


class HealthSchema(Schema):
    status = fields.String()
    database = fields.String()
    version = fields.String()


error_schema = ErrorSchema()
health_schema = HealthSchema()
