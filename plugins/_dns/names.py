"""Query names: what a user may type, checked and turned into the ASCII form DNS carries.

A query name is stricter than what DNS can carry (any octet) and looser than a host name:
labels of letters, digits, hyphens and underscores (``_sip._tcp.example.com``), ``*`` as a
whole label (wildcard owners), and internationalized labels, encoded by IDNA 2008 with the
UTS 46 mapping (``bücher.example`` becomes ``xn--bcher-kva.example``). Anything else, shell
metacharacters and control characters included, is refused with a reason. Names are always
absolute: no search domain is ever appended.
"""

from __future__ import annotations

import ipaddress
import re

import idna

RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "NS", "TXT", "SOA", "PTR", "SRV", "CAA")
# 255 octets on the wire is 253 characters of text without the final dot.
MAX_NAME_LENGTH = 253
_LABEL = re.compile(r"^(?:\*|[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)$", re.IGNORECASE)


class QueryNameError(ValueError):
    """The text is not a name this collector will query; the message says why."""


def check_query_name(text: object) -> str:
    """The absolute ASCII form of ``text`` (ending in a dot), or the IP address it is.

    An IP address comes back unchanged (canonical form): it is a query name only for PTR,
    through ``reverse_name``.
    """
    if not isinstance(text, str):
        raise QueryNameError("Must be a string.")
    if not text:
        raise QueryNameError("Must not be empty.")
    if any(not ch.isprintable() or ch.isspace() for ch in text):
        raise QueryNameError("Must not contain spaces or control characters.")
    if len(text) > 4 * MAX_NAME_LENGTH:
        raise QueryNameError(f"Longer than {MAX_NAME_LENGTH} characters.")
    address = ip_literal(text)
    if address is not None:
        return str(address)
    if text == ".":
        return "."
    name = text[:-1] if text.endswith(".") else text
    labels: list[str] = []
    for label in name.split("."):
        labels.extend(_ascii_labels(label))
    ascii_name = ".".join(labels)
    if len(ascii_name) > MAX_NAME_LENGTH:
        raise QueryNameError(f"Longer than {MAX_NAME_LENGTH} characters once IDNA-encoded.")
    return ascii_name + "."


def ip_literal(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address ``text`` spells, or None."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def reverse_name(address: str) -> str:
    """The PTR query name of an IP address (``in-addr.arpa`` or ``ip6.arpa``)."""
    import dns.reversename  # dnspython loads when a name is reversed, not with the plugin

    return dns.reversename.from_address(address).to_text()


def _ascii_labels(label: str) -> list[str]:
    if not label:
        raise QueryNameError("Has an empty label (two dots in a row, or a leading dot).")
    if not label.isascii():
        try:
            # UTS 46 may map a character to a dot (the ideographic full stop), so one label
            # typed can become several.
            encoded = idna.encode(label, uts46=True).decode("ascii").split(".")
        except idna.IDNAError as exc:
            raise QueryNameError(
                f"Label {label!r} is not a valid internationalized label: {exc}."
            ) from None
        return [_checked(part) for part in encoded]
    return [_checked(label)]


def _checked(label: str) -> str:
    if not _LABEL.match(label):
        raise QueryNameError(
            f"Label {label!r}: letters, digits, underscores and inner hyphens only "
            "(or * alone), 1 to 63 characters."
        )
    if label.lower().startswith("xn--"):
        try:
            idna.decode(label)
        except idna.IDNAError:
            raise QueryNameError(f"Label {label!r} is not valid punycode.") from None
    return label
