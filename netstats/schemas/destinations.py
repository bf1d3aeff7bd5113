"""Destinations: the resource, its list arguments, the check and delete arguments."""

from __future__ import annotations

from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    post_load,
    pre_load,
    validate,
    validates,
    validates_schema,
)

from netstats.hosts import HostError, family_conflict, parse_host
from netstats.models import FAMILIES, Destination
from netstats.schemas.common import ListArgs, PageSchema, SortField, search_field
from netstats.schemas.fields import Labels, StrictBool, plain_text, printable

SORTABLE = {
    "name": Destination.name,
    "host": Destination.host,
    "created_at": Destination.created_at,
    "updated_at": Destination.updated_at,
    "id": Destination.id,
}


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_LABEL = r"(?![Xx][Nn]--)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HEX = r"[0-9A-Fa-f]{1,4}"
# What the document promises the server takes (netstats.hosts.parse_host takes more: IDN
# names, punycode, compressed IPv6): an ASCII host name (not all digits), an IPv4 address,
# or a full or "::"-compressed IPv6 address, brackets optional.
_IPV6 = (
    rf"(?:{_HEX}(?::{_HEX}){{7}}"
    # compressed: "::" stands for at least one group, so at most 7 are written
    rf"|(?!(?:[^0-9A-Fa-f]*[0-9A-Fa-f]+){{8}})(?:{_HEX}(?::{_HEX}){{0,6}})?::"
    rf"(?:{_HEX}(?::{_HEX}){{0,6}})?)"
)
HOST_PATTERN = (
    rf"^(?:(?=.{{1,253}}$)(?=.*[A-Za-z-]){_LABEL}(?:\.{_LABEL})*"
    rf"|{_OCTET}(?:\.{_OCTET}){{3}}|{_IPV6}|\[{_IPV6}\])$"
)


class DestinationSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=[validate.Length(min=1, max=100), printable])
    host = fields.String(
        required=True,
        validate=validate.Length(min=1, max=254),
        metadata={
            "pattern": HOST_PATTERN,
            "description": "A host name (internationalized names too, sent as IDNA), an "
            "IPv4 address or an IPv6 address (brackets optional).",
            "example": "example.net",
        },
    )
    family = fields.String(load_default="any", validate=validate.OneOf(FAMILIES))
    description = fields.String(load_default="", validate=[validate.Length(max=2000), plain_text])
    labels = Labels(load_default=dict)
    enabled = StrictBool(load_default=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)

    @pre_load
    def _strip(self, data, **kwargs):
        if isinstance(data, dict):
            data = {
                k: v.strip() if isinstance(v, str) and k in ("name", "host") else v
                for k, v in data.items()
            }
        return data

    @validates("host")
    def _valid_host(self, value, **kwargs):
        try:
            parse_host(value)
        except HostError as exc:
            raise ValidationError(str(exc)) from None

    @validates_schema
    def _family_matches_literal(self, data, **kwargs):
        host, family = data.get("host"), data.get("family")
        if host is None or family is None:
            return
        try:
            conflict = family_conflict(parse_host(host), family)
        except HostError:
            return  # already reported on the host field
        if conflict:
            raise ValidationError(conflict, "family")


class DestinationListArgs(ListArgs):
    """Query string of GET /destinations."""

    q = search_field("Substring of the name, host or description.")
    enabled = fields.Boolean()
    family = fields.String(validate=validate.OneOf(FAMILIES))
    label = fields.List(
        fields.String(
            validate=[validate.Length(max=320), validate.Regexp(r"^[^:]+:", error="Use key:value.")]
        ),
        metadata={"description": "key:value; repeat it to require several labels."},
    )
    sort = SortField(SORTABLE)

    @post_load
    def _labels(self, data, **kwargs):
        pairs = []
        for item in data.get("label", []):
            key, sep, value = item.partition(":")
            if not sep or not key:
                raise ValidationError("Use key:value.", "label")
            pairs.append((key, value))
        data["label"] = pairs
        return data


class ValidateArgs(Schema):
    class Meta:
        unknown = EXCLUDE

    resolve = fields.Boolean(
        load_default=False, metadata={"description": "Also resolve the name to addresses."}
    )


class DeleteArgs(Schema):
    class Meta:
        unknown = EXCLUDE

    detach = fields.Boolean(
        load_default=False,
        metadata={"description": "Remove the destination from the jobs that use it first."},
    )


class DestinationPageSchema(PageSchema):
    items = fields.List(fields.Nested(DestinationSchema))


class DestinationCheckSchema(Schema):
    valid = fields.Boolean()
    host = fields.Dict(metadata={"description": "kind, ascii form and (with resolve) addresses"})


class DestinationPatchSchema(DestinationSchema):
    """A PATCH body: any of a destination's fields, none required (the document says so too)."""

    def __init__(self, **kwargs):
        super().__init__(partial=True, **kwargs)


destination_schema = DestinationSchema()
destination_patch_schema = DestinationPatchSchema()
destination_list_args = DestinationListArgs()
destination_page_schema = DestinationPageSchema()
destination_check_schema = DestinationCheckSchema()
validate_args = ValidateArgs()
delete_args = DeleteArgs()
