"""YAML configuration files: import (upsert by name, in one transaction) and export.

A file has top-level sections (``destinations``, ``jobs``), each a list of mappings with a
unique ``name``. Import reads the file within limits (``netstats.yaml_reader``), validates
every entry, naming the line and the field of each problem, then applies it in one
transaction; a dry run applies it the same way and rolls back, so it reports exactly what a
real import would do, conflicts included.

Large files are applied in bulk: the stored entries are read in one query per table, new
ones are inserted a thousand rows per statement and their runs planned together, so that
the number of statements does not grow with the file. Entries that change go one by one
through the same service functions as the API.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import yaml
from flask import current_app
from marshmallow import Schema, ValidationError
from sqlalchemy import Table, insert, select
from sqlalchemy.exc import IntegrityError

from netstats import destinations as destination_service
from netstats import jobs as job_service
from netstats.db import begin_write, db
from netstats.engine.planner import plan as plan_runs
from netstats.errors import Invalid, NetstatsError
from netstats.models import Destination, DestinationLabel, Job, job_destinations
from netstats.plugins import get_plugins
from netstats.schemas.destinations import DestinationSchema
from netstats.schemas.fields import refuse_bad_text
from netstats.schemas.jobs import JobFileSchema
from netstats.yaml_reader import YamlError, dotted, lines_of, load

# Deeper than any file needs; bounds the recursion of everything that walks loaded data.
MAX_DEPTH = 64
# Rows per IN list when reading stored entries by name (SQLite allows 32766 parameters).
_CHUNK = 1000


class ConfigFileError(Exception):
    """The file cannot be imported; ``problems`` lists "line N: field: message" strings."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class Problem:
    """What is wrong at ``path`` of the file; its line is looked up when it is reported.

    ``where`` replaces the dotted path in the message; ``first_at`` names another path
    whose line the message cites. A problem with no path has no line (a stored object).
    """

    path: tuple | None
    message: str
    where: str | None = None
    first_at: tuple | None = None


@dataclass
class Document:
    """A file's text and its data, read within the limits of the app's settings."""

    text: str
    data: Any

    def error(self, problems: list[Problem]) -> ConfigFileError:
        """The problems as messages with their lines (found in one more pass over the text)."""
        wanted = {p.path for p in problems if p.path is not None}
        wanted |= {p.first_at for p in problems if p.first_at is not None}
        lines = lines_of(self.text, wanted) if wanted else {}

        def line(path: tuple) -> int:
            while path and path not in lines:
                path = path[:-1]
            return lines.get(path, 1)

        out = []
        for p in problems:
            message = p.message
            if p.first_at is not None:
                message += f" (first at line {line(p.first_at)})"
            where = p.where if p.where is not None else dotted(p.path or ())
            text = f"{where}: {message}" if where else message
            out.append(text if p.path is None else f"line {line(p.path)}: {text}")
        return ConfigFileError(out)


@dataclass
class Section:
    """How one top-level section maps to the database; one per kind of object.

    ``stored`` reads what the database holds in the form a loaded file entry has (after
    ``prepare``), so that comparing the two tells whether importing the entry would change
    anything; ``compared`` makes both sides comparable where order does not matter.
    """

    key: str
    model: type
    schema: Schema
    defaults: dict[str, Any]  # fields left out of exports when they hold these values
    dump: Callable[[Any], dict[str, Any]]  # a stored object as a file entry (export)
    stored: Callable[[], dict[str, dict[str, Any]]]  # name -> values, with "id"
    prepare: Callable[[dict[str, Any]], dict[str, Any]]  # raises Invalid with fields
    create: Callable[[list[dict[str, Any]]], None]  # many new entries at once
    update: Callable[[Any, dict[str, Any]], Any]
    delete: Callable[[Any], None]
    compared: Callable[[dict[str, Any]], dict[str, Any]] = lambda values: values

    def objects(self, names: list[str]) -> Iterator[Any]:
        """The stored objects of ``names``, a chunk of names per query."""
        for start in range(0, len(names), _CHUNK):
            chunk = names[start : start + _CHUNK]
            yield from db.session.scalars(select(self.model).where(self.model.name.in_(chunk)))


@dataclass
class Plan:
    """What an import changes, by section: names created, updated, deleted, unchanged."""

    created: dict[str, list[str]] = field(default_factory=dict)
    updated: dict[str, list[str]] = field(default_factory=dict)
    deleted: dict[str, list[str]] = field(default_factory=dict)
    unchanged: dict[str, list[str]] = field(default_factory=dict)

    @property
    def changes(self) -> int:
        return sum(len(v) for d in (self.created, self.updated, self.deleted) for v in d.values())

    def lines(self) -> list[str]:
        out = []
        for verb, sign, table in (
            ("create", "+", self.created),
            ("update", "~", self.updated),
            ("delete", "-", self.deleted),
        ):
            for section, names in table.items():
                out += [f"{sign} {verb} {section[:-1]} {name}" for name in names]
        return out


# --- sections ---------------------------------------------------------------------------------


def _file_dumper(schema_class: type[Schema]) -> Schema:
    """A schema that dumps only the fields a file may set (no computed, read-only fields)."""
    return schema_class(only=tuple(schema_class().load_fields))


def _stored_destinations() -> dict[str, dict[str, Any]]:
    table = Destination.__table__
    columns = [table.c.id, table.c.name, table.c.host, table.c.family]
    columns += [table.c.description, table.c.enabled]
    rows = {row.id: {**row._asdict(), "labels": {}} for row in db.session.execute(select(*columns))}
    labels = DestinationLabel.__table__
    for destination_id, key, value in db.session.execute(
        select(labels.c.destination_id, labels.c.key, labels.c.value)
    ):
        rows[destination_id]["labels"][key] = value
    return {row["name"]: row for row in rows.values()}


def _ids_by_name(model: type, names: set[str] | list[str]) -> dict[str, int]:
    """The ids of the rows of ``model`` named ``names``, for those that exist.

    Past a chunk of names, the whole table's names are read in one query instead: psycopg
    prepares a statement of a thousand placeholders in about as long as it takes to read
    fifty thousand rows.
    """
    if len(names) > _CHUNK:
        wanted = set(names)
        rows = db.session.execute(select(model.name, model.id))
        return {name: id_ for name, id_ in rows if name in wanted}
    stmt = select(model.name, model.id).where(model.name.in_(list(names)))
    return dict(db.session.execute(stmt).all())


def _insert_plain(table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows of plain columns (numbers and text, no defaults): with COPY on
    PostgreSQL, ten times as fast as an executemany there, else with an executemany."""
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        connection.execute(insert(table), rows)
        return
    from psycopg import sql

    names = [column.name for column in table.columns]
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, names))
    )
    with connection.connection.dbapi_connection.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([row[name] for name in names])


def _insert_named(model: type, rows: list[dict[str, Any]]) -> list[int]:
    """Insert rows of a table with unique names in one executemany; their ids, in order.

    The ids are read back by name afterwards: an INSERT ... RETURNING of many rows is
    split into statements of many placeholders, which psycopg takes three times as long
    to prepare as the plain executemany takes to run.
    """
    db.session.execute(insert(model.__table__), rows)
    ids = _ids_by_name(model, [row["name"] for row in rows])
    return [ids[row["name"]] for row in rows]


def _create_destinations(items: list[dict[str, Any]]) -> None:
    """Insert new destinations and their labels, a statement per table.

    The bulk form of ``destinations.create_destination`` for entries loaded by its schema
    whose names are free (the import checked them against the stored ones).
    """
    ids = _insert_named(Destination, [{k: v for k, v in i.items() if k != "labels"} for i in items])
    labels = [
        {"destination_id": id_, "key": key, "value": value}
        for id_, item in zip(ids, items, strict=True)
        for key, value in item["labels"].items()
    ]
    if labels:
        _insert_plain(DestinationLabel.__table__, labels)
    for id_, item in zip(ids, items, strict=True):
        destination_service.announce("created", SimpleNamespace(id=id_, **item))


def _destination_section() -> Section:
    dumper = _file_dumper(DestinationSchema)
    return Section(
        key="destinations",
        model=Destination,
        schema=DestinationSchema(),
        defaults={"family": "any", "description": "", "labels": {}, "enabled": True},
        dump=dumper.dump,
        stored=_stored_destinations,
        prepare=lambda item: item,
        create=_create_destinations,
        update=destination_service.update_destination,
        delete=lambda d: destination_service.delete_destination(d, detach=False),
    )


_JOB_COLUMNS = (
    "name",
    "description",
    "collector",
    "params",
    "label_selector",
    "interval_s",
    "starts_at",
    "ends_at",
    "windows",
    "timezone",
    "timeout_s",
    "retries",
    "enabled",
)


def _stored_jobs() -> dict[str, dict[str, Any]]:
    table = Job.__table__
    columns = [table.c.id, *(table.c[name] for name in _JOB_COLUMNS)]
    rows = {
        row.id: {**row._asdict(), "destinations": []}
        for row in db.session.execute(select(*columns))
    }
    links = select(job_destinations.c.job_id, Destination.name).join(
        Destination, Destination.id == job_destinations.c.destination_id
    )
    for job_id, name in db.session.execute(links):
        rows[job_id]["destinations"].append(name)
    return {row["name"]: row for row in rows.values()}


def _create_jobs(items: list[dict[str, Any]]) -> None:
    """Insert new jobs with their destinations, then plan the enabled ones' first runs.

    The bulk form of ``jobs.create_job`` for entries loaded by the file schema, parameters
    checked by ``prepare`` and destinations already resolved to ids (``_with_ids``).
    """
    rows = [
        {**{name: item[name] for name in _JOB_COLUMNS}, "version": 1, "paused": False}
        for item in items
    ]
    ids = _insert_named(Job, rows)
    links = [
        {"job_id": job_id, "destination_id": destination_id}
        for job_id, item in zip(ids, items, strict=True)
        for destination_id in dict.fromkeys(item["destinations"])
    ]
    if links:
        _insert_plain(job_destinations, links)
    for job_id, row, item in zip(ids, rows, items, strict=True):
        # The destinations it lists (a selector's matches come with the job's next change).
        listed = list(dict.fromkeys(item["destinations"]))
        job_service.announce("created", SimpleNamespace(id=job_id, **row), destination_ids=listed)
    enabled = [job_id for job_id, item in zip(ids, items, strict=True) if item["enabled"]]
    for start in range(0, len(enabled), _CHUNK):
        plan_runs(job_ids=enabled[start : start + _CHUNK])


def _job_section() -> Section:
    dumper = _file_dumper(JobFileSchema)

    def prepare(item: dict[str, Any]) -> dict[str, Any]:
        return {**item, "params": job_service.validated_params(item["collector"], item["params"])}

    return Section(
        key="jobs",
        model=Job,
        schema=JobFileSchema(),
        defaults={
            "description": "",
            "destinations": [],
            "label_selector": {},
            "windows": [],
            "timezone": "UTC",
            "timeout_s": None,
            "retries": 0,
            "enabled": True,
            "starts_at": None,
            "ends_at": None,
        },
        dump=dumper.dump,
        stored=_stored_jobs,
        prepare=prepare,
        create=_create_jobs,
        update=job_service.update_job,
        delete=job_service.delete_job,
        compared=lambda values: {**values, "destinations": sorted(values["destinations"])},
    )


def sections() -> list[Section]:
    """The sections a file may have, in the order they are applied."""
    return [_destination_section(), _job_section()]


# --- reading ---------------------------------------------------------------------------------


def read(source: str | bytes) -> Document:
    """Decode and parse a file within the app's limits; check its shape (sections, lists)."""
    config = current_app.config
    max_bytes = int(config["CONFIG_IMPORT_MAX_BYTES"])
    size = len(source.encode() if isinstance(source, str) else source)
    if size > max_bytes:
        raise ConfigFileError(
            [
                f"line 1: the file is larger than {max_bytes} bytes; it is refused "
                "(see the CONFIG_IMPORT_MAX_BYTES setting)"
            ]
        )
    if isinstance(source, bytes):
        try:
            text = source.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = source.count(b"\n", 0, exc.start) + 1
            column = exc.start - source.rfind(b"\n", 0, exc.start)
            byte = source[exc.start]
            raise ConfigFileError(
                [f"line {line}: not valid UTF-8 (byte {byte:#04x} at column {column})"]
            ) from None
    else:
        text = source
    try:
        data = load(text, int(config["CONFIG_IMPORT_MAX_VALUES"]), MAX_DEPTH)
    except YamlError as exc:
        raise ConfigFileError([str(exc)]) from None
    document = Document(text, data)
    if data is None:
        document.data = {}
        return document
    if not isinstance(data, dict):
        raise ConfigFileError(["line 1: the file must be a mapping with destinations and jobs"])
    known = {s.key for s in sections()}
    problems = [
        Problem((key,), f"unknown section (expected {', '.join(sorted(known))})")
        for key in data
        if key not in known
    ]
    problems += [
        Problem((key,), "must be a list")
        for key, items in data.items()
        if key in known and not isinstance(items, list)
    ]
    if problems:
        raise document.error(problems)
    return document


def _problems(messages: Any, path: tuple) -> list[Problem]:
    """Flatten marshmallow messages into problems at their paths."""
    if isinstance(messages, dict):
        out = []
        for key, sub in messages.items():
            out += _problems(sub, path if key == "_schema" else (*path, key))
        return out
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [Problem(path, m) for m in messages]
    if isinstance(messages, list):
        return [p for m in messages for p in _problems(m, path)]
    return [Problem(path, str(messages))]


def _validate(document: Document) -> dict[str, list[dict]]:
    """Load every entry with its section's schema; collect every problem before failing."""
    loaded: dict[str, list[dict]] = {}
    problems: list[Problem] = []
    for section in sections():
        if section.key not in document.data:
            continue
        first: dict[str, int] = {}
        loaded[section.key] = []
        for index, raw in enumerate(document.data[section.key] or []):
            path = (section.key, index)
            try:
                refuse_bad_text(raw)  # a NUL that PostgreSQL would refuse, in any field
                item = section.prepare(section.schema.load(raw))
            except ValidationError as exc:
                messages = exc.messages
                if not isinstance(raw, dict):
                    messages = {"_schema": ["must be a mapping"]}
                problems += _problems(messages, path)
                continue
            except Invalid as exc:
                problems += _problems(exc.fields, path)
                continue
            if item["name"] in first:
                problems.append(
                    Problem(
                        (*path, "name"),
                        f"duplicate name {item['name']!r}",
                        first_at=(section.key, first[item["name"]], "name"),
                    )
                )
                continue
            first[item["name"]] = index
            loaded[section.key].append((index, item))
    if problems:
        raise document.error(problems)
    return loaded


# --- import and export ------------------------------------------------------------------------


def import_config(source: str | bytes, dry_run: bool = False, prune: bool = False) -> Plan:
    """Apply a YAML file in one transaction (rolled back when ``dry_run``); returns the plan.

    ``source`` is the file's text, or its bytes (UTF-8). Objects are matched by name. With
    ``prune``, objects of a section present in the file but not named in it are deleted.
    Raises ConfigFileError, writing nothing, on any problem.
    """
    document = read(source)
    loaded = _validate(document)
    document.data = None  # the loaded entries are all that is needed from here on
    plan = Plan()
    begin_write()
    try:
        by_section = {s.key: s for s in sections()}
        for section in by_section.values():
            if section.key in loaded:
                _apply(section, loaded[section.key], document, plan)
        if prune:
            for section in reversed(list(by_section.values())):
                if section.key in loaded:
                    _prune(section, {item["name"] for _, item in loaded[section.key]}, plan)
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise ConfigFileError(
            ["another change wrote an entry of the same name meanwhile; import again"]
        ) from None
    except BaseException:
        db.session.rollback()
        raise
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    return plan


def _with_ids(
    section: Section, entries: list[tuple[int, dict]], document: Document
) -> list[tuple[int, dict]]:
    """Jobs: destinations named in the file as ids; every unknown name is a problem."""
    if section.key != "jobs":
        return entries
    ids = _ids_by_name(Destination, {n for _, item in entries for n in item["destinations"]})
    problems = []
    for index, item in entries:
        missing = [n for n in item["destinations"] if n not in ids]
        if missing:
            message = f"No destination named {', '.join(map(repr, missing))}."
            problems.append(Problem((section.key, index, "destinations"), message))
    if problems:
        raise document.error(problems)
    return [
        (index, {**item, "destinations": [ids[n] for n in item["destinations"]]})
        for index, item in entries
    ]


def _apply(
    section: Section, entries: list[tuple[int, dict]], document: Document, plan: Plan
) -> None:
    stored = section.stored()
    new, changed = [], []
    for index, item in entries:
        current = stored.get(item["name"])
        if current is None:
            new.append((index, item))
        elif section.compared(item) != section.compared({k: current[k] for k in item}):
            changed.append((index, item))
        else:
            plan.unchanged.setdefault(section.key, []).append(item["name"])
    del stored
    new = _with_ids(section, new, document)
    changed = _with_ids(section, changed, document)
    if new:
        section.create([item for _, item in new])
        plan.created[section.key] = [item["name"] for _, item in new]
    by_name = {obj.name: obj for obj in section.objects([item["name"] for _, item in changed])}
    for index, item in changed:
        try:
            section.update(by_name[item["name"]], item)
        except NetstatsError as exc:
            path = (section.key, index)
            if exc.fields:
                raise document.error(_problems(exc.fields, path)) from None
            problem = Problem(
                (*path, "name"), exc.message, where=f"{section.key[:-1]} {item['name']!r}"
            )
            raise document.error([problem]) from None
        plan.updated.setdefault(section.key, []).append(item["name"])


def _prune(section: Section, keep: set[str], plan: Plan) -> None:
    names = sorted(set(section.stored()) - keep)
    for obj in sorted(section.objects(names), key=lambda o: o.name):
        try:
            section.delete(obj)
        except NetstatsError as exc:
            raise ConfigFileError([f"{section.key[:-1]} {obj.name!r}: {exc.message}"]) from None
        plan.deleted.setdefault(section.key, []).append(obj.name)


def export_config() -> str:
    """The whole configuration as YAML, in the format ``import_config`` reads."""
    document: dict[str, list[dict]] = {}
    for section in sections():
        entries = []
        for obj in db.session.scalars(select(section.model).order_by(section.model.name)):
            dumped = section.dump(obj)
            entry = {"name": obj.name}
            entry.update(
                (k, v)
                for k, v in dumped.items()
                if k != "name" and not (k in section.defaults and section.defaults[k] == v)
            )
            if "params" in entry:
                entry["params"] = _without_defaults(entry["collector"], entry["params"])
                if not entry["params"]:
                    del entry["params"]
            entries.append(entry)
        document[section.key] = entries
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, default_flow_style=False)


def _without_defaults(collector_name: str, params: dict[str, Any]) -> dict[str, Any]:
    """A job's stored parameters less those equal to the collector's defaults."""
    from marshmallow.utils import missing

    collector = get_plugins().collectors.get(collector_name)
    if collector is None:
        return params
    defaults = {}
    for name, field_ in collector.params().fields.items():
        default = field_.load_default
        if default is not missing:
            defaults[name] = default() if callable(default) else default
    return {k: v for k, v in params.items() if not (k in defaults and defaults[k] == v)}
