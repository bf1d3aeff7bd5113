"""YAML configuration files: import (upsert by name, in one transaction) and export.

A file has top-level sections (``destinations``, ``jobs``), each a list of mappings with a
unique ``name``. Import validates the whole file first, naming the line and the field of
every problem, then applies it in one transaction; a dry run applies it the same way and
rolls back, so it reports exactly what a real import would do, conflicts included.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml
from marshmallow import Schema, ValidationError
from sqlalchemy import select

from netstats import destinations as destination_service
from netstats import jobs as job_service
from netstats.db import begin_write, db
from netstats.errors import Invalid, NetstatsError
from netstats.models import Destination, Job
from netstats.plugins import get_plugins
from netstats.schemas.destinations import DestinationSchema
from netstats.schemas.jobs import JobFileSchema


class ConfigFileError(Exception):
    """The file cannot be imported; ``problems`` lists "line N: field: message" strings."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class Section:
    """How one top-level section maps to the database; one per kind of object.

    ``dump`` renders a stored object and ``canonical`` a loaded file entry in the same form,
    so that comparing the two tells whether importing the entry would change anything.
    """

    key: str
    schema: Schema
    defaults: dict[str, Any]  # fields left out of exports when they hold these values
    existing: Callable[[], dict[str, Any]]  # name -> object
    dump: Callable[[Any], dict[str, Any]]
    canonical: Callable[[dict[str, Any]], dict[str, Any]]
    create: Callable[[dict[str, Any]], Any]
    update: Callable[[Any, dict[str, Any]], Any]
    delete: Callable[[Any], None]


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


def _destination_section() -> Section:
    dumper = _file_dumper(DestinationSchema)
    return Section(
        key="destinations",
        schema=DestinationSchema(),
        defaults={"family": "any", "description": "", "labels": {}, "enabled": True},
        existing=lambda: {d.name: d for d in db.session.scalars(select(Destination))},
        dump=dumper.dump,
        canonical=dumper.dump,
        create=destination_service.create_destination,
        update=destination_service.update_destination,
        delete=lambda d: destination_service.delete_destination(d, detach=False),
    )


def _job_section() -> Section:
    dumper = _file_dumper(JobFileSchema)

    def with_destination_ids(item: dict[str, Any]) -> dict[str, Any]:
        names = item["destinations"]
        found = dict(
            db.session.execute(
                select(Destination.name, Destination.id).where(Destination.name.in_(names))
            ).all()
        )
        missing = [n for n in names if n not in found]
        if missing:
            raise Invalid(f"No destination named {', '.join(map(repr, missing))}.")
        return {**item, "destinations": [found[n] for n in names]}

    def canonical(item: dict[str, Any]) -> dict[str, Any]:
        params = job_service.validated_params(item["collector"], item["params"])
        return dumper.dump({**item, "params": params})

    return Section(
        key="jobs",
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
        existing=lambda: {j.name: j for j in db.session.scalars(select(Job))},
        dump=dumper.dump,
        canonical=canonical,
        create=lambda item: job_service.create_job(with_destination_ids(item)),
        update=lambda job, item: job_service.update_job(job, with_destination_ids(item)),
        delete=job_service.delete_job,
    )


def sections() -> list[Section]:
    """The sections a file may have, in the order they are applied."""
    return [_destination_section(), _job_section()]


# --- reading ---------------------------------------------------------------------------------


def _key_lines(node: yaml.Node, path: tuple = (), out: dict | None = None) -> dict[tuple, int]:
    """Line numbers (1-based) of every key and list item; duplicate keys are errors."""
    out = {} if out is None else out
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                raise ConfigFileError(
                    [f"line {key_node.start_mark.line + 1}: {_dotted((*path, key))}: duplicate key"]
                )
            seen.add(key)
            out[(*path, key)] = key_node.start_mark.line + 1
            _key_lines(value_node, (*path, key), out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            out[(*path, index)] = item.start_mark.line + 1
            _key_lines(item, (*path, index), out)
    return out


def _dotted(path: tuple) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def _problems(messages: Any, path: tuple, lines: dict[tuple, int]) -> list[str]:
    """Flatten marshmallow messages into "line N: path: message" strings."""
    if isinstance(messages, dict):
        out = []
        for key, sub in messages.items():
            sub_path = path if key == "_schema" else (*path, key)
            out += _problems(sub, sub_path, lines)
        return out
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        probe = path
        while probe and probe not in lines:
            probe = probe[:-1]
        return [f"line {lines.get(probe, 1)}: {_dotted(path)}: {m}" for m in messages]
    if isinstance(messages, list):
        return [p for m in messages for p in _problems(m, path, lines)]
    return [f"line {lines.get(path, 1)}: {_dotted(path)}: {messages}"]


def parse(text: str) -> tuple[dict[str, list[dict]], dict[tuple, int]]:
    """Parse and check the file's shape; returns the raw sections and the line map."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise ConfigFileError([f"line {line}: not valid YAML: {exc.problem or exc}"]) from None
    except yaml.YAMLError as exc:
        raise ConfigFileError([f"line 1: not valid YAML: {exc}"]) from None
    if data is None:
        return {}, {}
    lines = _key_lines(node)
    if not isinstance(data, dict):
        raise ConfigFileError(["line 1: the file must be a mapping with destinations and jobs"])
    known = {s.key for s in sections()}
    problems = [
        f"line {lines[(key,)]}: {key}: unknown section (expected {', '.join(sorted(known))})"
        for key in data
        if key not in known
    ]
    for key, items in data.items():
        if key in known and not isinstance(items, list):
            problems.append(f"line {lines[(key,)]}: {key}: must be a list")
    if problems:
        raise ConfigFileError(problems)
    return data, lines


def _validate(data: dict, lines: dict) -> dict[str, list[dict]]:
    """Load every entry with its section's schema; collect every problem before failing."""
    loaded: dict[str, list[dict]] = {}
    problems: list[str] = []
    for section in sections():
        if section.key not in data:
            continue
        names: dict[str, int] = {}
        loaded[section.key] = []
        for index, raw in enumerate(data[section.key] or []):
            path = (section.key, index)
            try:
                item = section.schema.load(raw)
            except ValidationError as exc:
                messages = exc.messages
                if not isinstance(raw, dict):
                    messages = {"_schema": ["must be a mapping"]}
                problems += _problems(messages, path, lines)
                continue
            if item["name"] in names:
                problems.append(
                    f"line {lines[(*path, 'name')]}: {_dotted(path)}.name: duplicate name "
                    f"{item['name']!r} (first at line {names[item['name']]})"
                )
                continue
            names[item["name"]] = lines[(*path, "name")]
            loaded[section.key].append(item)
    if problems:
        raise ConfigFileError(problems)
    return loaded


# --- import and export ------------------------------------------------------------------------


def import_config(text: str, dry_run: bool = False, prune: bool = False) -> Plan:
    """Apply a YAML file in one transaction (rolled back when ``dry_run``); returns the plan.

    Objects are matched by name. With ``prune``, objects of a section present in the file
    but not named in it are deleted. Raises ConfigFileError, writing nothing, on any problem.
    """
    data, lines = parse(text)
    loaded = _validate(data, lines)
    plan = Plan()
    begin_write()
    try:
        by_section = {s.key: s for s in sections()}
        for section in by_section.values():
            if section.key in loaded:
                _apply(section, loaded[section.key], lines, plan)
        if prune:
            for section in reversed(list(by_section.values())):
                if section.key in loaded:
                    _prune(section, {item["name"] for item in loaded[section.key]}, plan)
        db.session.flush()
    except BaseException:
        db.session.rollback()
        raise
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    return plan


def _apply(section: Section, items: list[dict], lines: dict, plan: Plan) -> None:
    existing = section.existing()
    for index, item in enumerate(items):
        current = existing.get(item["name"])
        try:
            if current is None:
                section.create(item)
                plan.created.setdefault(section.key, []).append(item["name"])
            elif _normalized(section.dump(current)) != _normalized(section.canonical(item)):
                section.update(current, item)
                plan.updated.setdefault(section.key, []).append(item["name"])
            else:
                plan.unchanged.setdefault(section.key, []).append(item["name"])
        except NetstatsError as exc:
            path = (section.key, index)
            if exc.fields:
                problems = _problems(exc.fields, path, lines)
            else:
                line = lines.get((*path, "name"), 1)
                problems = [f"line {line}: {section.key[:-1]} {item['name']!r}: {exc.message}"]
            raise ConfigFileError(problems) from None


def _prune(section: Section, keep: set[str], plan: Plan) -> None:
    for name, obj in sorted(section.existing().items()):
        if name in keep:
            continue
        try:
            section.delete(obj)
        except NetstatsError as exc:
            raise ConfigFileError([f"{section.key[:-1]} {name!r}: {exc.message}"]) from None
        plan.deleted.setdefault(section.key, []).append(name)


def _normalized(value: Any) -> Any:
    """Compare loaded data and dumped rows alike: sorted keys, tuples as lists."""
    if isinstance(value, dict):
        return {k: _normalized(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [_normalized(v) for v in value]
    return value


def export_config() -> str:
    """The whole configuration as YAML, in the format ``import_config`` reads."""
    document: dict[str, list[dict]] = {}
    for section in sections():
        entries = []
        for name, obj in sorted(section.existing().items()):
            dumped = section.dump(obj)
            entry = {"name": name}
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
