"""Destinations: the rules the API, YAML import and web UI share."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, exists, func, or_, select

from netstats import events
from netstats.db import contains_pattern, db, unique_or, utcnow
from netstats.errors import Conflict, Invalid, NotFound
from netstats.hosts import HostError, family_conflict, parse_host, resolve
from netstats.models import Destination, DestinationLabel


def query_destinations(args: dict[str, Any]) -> Select:
    """A SELECT of destinations filtered and sorted by the loaded list arguments
    (``netstats.schemas.destinations.DestinationListArgs``)."""
    stmt = select(Destination)
    if args.get("q"):
        pattern = contains_pattern(args["q"])
        stmt = stmt.where(
            or_(
                Destination.name.ilike(pattern, escape="\\"),
                Destination.host.ilike(pattern, escape="\\"),
                Destination.description.ilike(pattern, escape="\\"),
            )
        )
    if args.get("enabled") is not None:
        stmt = stmt.where(Destination.enabled == args["enabled"])
    if args.get("family"):
        stmt = stmt.where(Destination.family == args["family"])
    for key, value in args.get("label", []):
        stmt = stmt.where(with_label(key, value))
    return stmt.order_by(args.get("order_by", Destination.name), Destination.id)


def with_label(key: str, value: str):
    """A WHERE clause: the destination carries label ``key`` with ``value``."""
    return exists().where(
        DestinationLabel.destination_id == Destination.id,
        DestinationLabel.key == key,
        DestinationLabel.value == value,
    )


def get_destination(destination_id: int, lock: bool = False) -> Destination:
    """The destination, or NotFound. ``lock`` holds its row until the commit (FOR UPDATE on
    PostgreSQL; SQLite's write transaction holds the database): parallel deletes then wait
    for each other, and all but the first find no row (404) instead of a stale one (500)."""
    destination = db.session.get(Destination, destination_id, with_for_update=lock)
    if destination is None:
        raise NotFound(f"No destination {destination_id}.")
    return destination


def _check_name_free(name: str, own_id: int | None = None) -> None:
    stmt = select(Destination.id).where(Destination.name == name)
    if own_id is not None:
        stmt = stmt.where(Destination.id != own_id)
    if db.session.scalar(stmt) is not None:
        raise _name_taken(name)


def _name_taken(name: str) -> Conflict:
    return Conflict(f"A destination named {name!r} exists already.", {"name": ["Already exists."]})


def create_destination(data: dict[str, Any]) -> Destination:
    """Add a destination from loaded schema data; the caller commits."""
    _check_name_free(data["name"])
    # Two requests may pass the name check at once; the unique index settles it.
    with unique_or(lambda: _name_taken(data["name"])):
        destination = Destination(**data)
        db.session.add(destination)
    announce("created", destination)
    return destination


def update_destination(destination: Destination, data: dict[str, Any]) -> Destination:
    """Apply loaded (partial) data; host and family are checked together after merging."""
    if "name" in data:
        _check_name_free(data["name"], destination.id)
    host = data.get("host", destination.host)
    family = data.get("family", destination.family)
    conflict = family_conflict(parse_host(host), family)
    if conflict:
        raise Invalid(conflict, {"family": [conflict]})
    changed = sorted(key for key, value in data.items() if getattr(destination, key) != value)
    with unique_or(lambda: _name_taken(data.get("name", destination.name))):
        for key, value in data.items():
            setattr(destination, key, value)
    if changed:
        announce("edited", destination, changed=changed)
    return destination


def delete_destination(destination: Destination, detach: bool = False) -> None:
    """Delete; refused while jobs measure it unless ``detach`` removes it from them first."""
    jobs = [job.name for job in destination.jobs]
    if jobs and not detach:
        raise Conflict(
            f"Destination {destination.name!r} is used by {len(jobs)} job(s): "
            f"{', '.join(jobs)}. Remove it from them, or delete with detach=true.",
            {"jobs": jobs},
        )
    announce("deleted", destination)
    destination.jobs.clear()
    db.session.delete(destination)


def announce(action: str, destination: Destination, **extra: Any) -> None:
    """A ``destination`` event in the log, in the caller's transaction (docs/live.md)."""
    now = utcnow()
    payload = {
        "action": action,
        "destination_id": destination.id,
        "name": destination.name,
        "host": destination.host,
        "enabled": destination.enabled,
        "at": now.isoformat(),
        **extra,
    }
    events.append("destination", payload, now)


def check_destination(data: dict[str, Any], do_resolve: bool = False) -> dict[str, Any]:
    """What creating ``data`` would meet, without saving: name clash, host form, addresses."""
    _check_name_free(data["name"])
    info = parse_host(data["host"])
    result: dict[str, Any] = {"valid": True, "host": {"kind": info.kind, "ascii": info.ascii}}
    if do_resolve:
        try:
            result["host"]["addresses"] = resolve(info, data.get("family", "any"))
        except HostError as exc:
            raise Invalid(str(exc), {"host": [str(exc)]}) from None
    return result


def count_destinations() -> int:
    return db.session.scalar(select(func.count()).select_from(Destination))
