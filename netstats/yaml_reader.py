"""YAML files read as plain data within limits, with line numbers found only when needed.

PyYAML's loaders build a node with two marks for every value before constructing anything,
and whoever walks the result along its aliases meets every value once per path to it: a
500-byte "billion laughs" file stands for 10^9 values. This reader consumes the parser's
event stream once and builds the data as it goes; an alias is the anchored object itself,
shared, never copied. While it reads, it counts the values the data would hold with every
alias expanded and how deep they would nest, and refuses the file past either limit before
anything walks it. A recursive alias, a second document, an unknown tag or a value that
cannot be read (``0x_``, ``!!timestamp 2024-02-30``) is refused with its line too.

Scalars are read as YAML 1.1 (PyYAML's safe types) with one difference: dates and times are
left as text, as in JSON, so that the schema that reads them says what is wrong with one.

Line numbers are for messages, which are rare: ``lines_of`` reads the events once more and
returns the line of each path asked for, so a valid file costs no memory for them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import yaml
from yaml import events
from yaml.constructor import SafeConstructor
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

# libyaml's parser when PyYAML was built with it (much faster); the same events either way.
_EventSource = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_TAG = "tag:yaml.org,2002:"
STR, NULL, BOOL, INT, FLOAT, MERGE, VALUE, TIMESTAMP, BINARY = (
    _TAG + name
    for name in ("str", "null", "bool", "int", "float", "merge", "value", "timestamp", "binary")
)
_COLLECTION_TAGS = {None, "!", _TAG + "map", _TAG + "seq"}
# Plain scalars are typed by these patterns, looked up by first character (as PyYAML does).
_IMPLICIT = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != TIMESTAMP]
    for first, resolvers in Resolver.yaml_implicit_resolvers.items()
}
_CONSTRUCTOR = SafeConstructor()
_CONVERTERS = {
    INT: SafeConstructor.construct_yaml_int,
    FLOAT: SafeConstructor.construct_yaml_float,
    TIMESTAMP: SafeConstructor.construct_yaml_timestamp,
    BINARY: SafeConstructor.construct_yaml_binary,
}
_MERGE_KEY = object()  # the key "<<": merge the mappings given as its value
_NEED_KEY = object()  # a mapping waiting for its next key


class YamlError(Exception):
    """The text cannot be read; ``line`` (1-based) and ``message`` say where and why."""

    def __init__(self, line: int, message: str):
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


def dotted(path: tuple) -> str:
    """``("jobs", 0, "params")`` as ``jobs[0].params``."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


class _Open:
    """A mapping or list being read: the object, where the next value goes, what it holds."""

    __slots__ = ("anchor", "height", "is_map", "key", "merges", "obj", "start_total")

    def __init__(self, obj, is_map: bool, start_total: int, anchor: str | None):
        self.obj = obj
        self.is_map = is_map
        self.key: Any = _NEED_KEY
        self.merges: list[dict] = []
        self.start_total = start_total
        self.height = 1
        self.anchor = anchor

    def position(self) -> Any:
        """The key or index the next value takes (None while a mapping waits for a key)."""
        if self.is_map:
            return None if self.key is _NEED_KEY or self.key is _MERGE_KEY else self.key
        return len(self.obj)


def _events(text: str) -> Iterator[events.Event]:
    """The parser's events; its errors become ``YamlError`` with the line they name."""
    source = _EventSource(text)
    try:
        while source.check_event():
            yield source.get_event()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or str(exc)
        if exc.context and exc.problem:
            problem = f"{exc.context}: {exc.problem}"
        raise YamlError(mark.line + 1 if mark else 1, f"not valid YAML: {problem}") from None
    except yaml.reader.ReaderError as exc:
        line = _line_at(text, exc.position)
        character = exc.character if isinstance(exc.character, str) else chr(exc.character)
        raise YamlError(
            line, f"not valid YAML: character {ord(character):#06x} is not allowed"
        ) from None
    except yaml.YAMLError as exc:
        raise YamlError(1, f"not valid YAML: {exc}") from None
    finally:
        source.dispose()


def _line_at(text: str, position: int) -> int:
    """The line of a reader error: libyaml counts bytes of the UTF-8 text, PyYAML characters."""
    if _EventSource is yaml.SafeLoader:
        return text.count("\n", 0, position) + 1
    return text.encode("utf-8", "surrogatepass").count(b"\n", 0, position) + 1


def _scalar(event: events.ScalarEvent) -> Any:
    """The value of a scalar, typed by its tag or, when plain and untagged, by its form."""
    value, tag = event.value, event.tag
    if tag is None or tag == "!":
        tag = STR
        if event.implicit[0]:
            for candidate, regexp in _IMPLICIT.get(value[:1], ()):
                if regexp.match(value):
                    tag = candidate
                    break
    if tag == STR:
        return value
    if tag == NULL:
        return None
    if tag == MERGE:
        return _MERGE_KEY if event.implicit[0] else value
    if tag == VALUE:
        return value
    if tag == BOOL:
        if value.lower() not in SafeConstructor.bool_values:
            raise ValueError(f"{value[:40]!r} is not a boolean")
        return SafeConstructor.bool_values[value.lower()]
    converter = _CONVERTERS.get(tag)
    if converter is None:
        raise ValueError(f"tag {tag[:80]!r} is not supported")
    return converter(_CONSTRUCTOR, ScalarNode(tag, value))


def load(text: str, max_values: int, max_depth: int) -> Any:
    """The data of a one-document YAML text, refused past ``max_values`` values (aliases
    expanded) or ``max_depth`` levels of nesting. Raises ``YamlError``."""
    stack: list[_Open] = []
    # anchor -> (object, values it stands for, levels of nesting it adds); None while its
    # node is still open
    anchors: dict[str, tuple[Any, int, int] | None] = {}
    total = 0
    root: Any = None
    documents = 0

    def fail(event: events.Event, message: str, path_extra: tuple = ()) -> YamlError:
        path = tuple(p for p in (f.position() for f in stack) if p is not None) + path_extra
        where = f"{dotted(path[:8])}{'...' * (len(path) > 8)}: " if path else ""
        return YamlError(event.start_mark.line + 1, where + message)

    def too_many(event: events.Event) -> YamlError:
        return fail(
            event,
            f"the file stands for more than {max_values} values with its aliases expanded; "
            "it is refused (see the CONFIG_IMPORT_MAX_VALUES setting)",
        )

    def add(event: events.Event, value: Any, height: int) -> None:
        nonlocal root
        if not stack:
            root = value
            return
        top = stack[-1]
        if len(stack) + height > max_depth:
            raise fail(event, f"nested deeper than {max_depth} levels")
        top.height = max(top.height, height + 1)
        if not top.is_map:
            top.obj.append(value)
        elif top.key is _NEED_KEY:
            if isinstance(value, dict | list):
                raise fail(event, "a key must be a plain value, not a mapping or a list")
            if value is not _MERGE_KEY:
                if isinstance(value, str):
                    value = sys.intern(value)
                if value in top.obj:
                    raise fail(event, "duplicate key", (value,))
            top.key = value
        elif top.key is _MERGE_KEY:
            merged = value if isinstance(value, list) else [value]
            if not all(isinstance(m, dict) for m in merged):
                raise fail(event, "<< (merge) needs a mapping or a list of mappings")
            top.merges.extend(merged)
            top.key = _NEED_KEY
        else:
            top.obj[top.key] = value
            top.key = _NEED_KEY

    for event in _events(text):
        kind = type(event)
        if kind is events.ScalarEvent:
            total += 1
            if total > max_values:
                raise too_many(event)
            if event.tag is None and not event.implicit[0]:
                value = event.value  # quoted: a string
            else:
                try:
                    value = _scalar(event)
                except (ValueError, OverflowError, TypeError, yaml.YAMLError) as exc:
                    raise fail(event, f"cannot read {event.value[:40]!r}: {exc}") from None
            if event.anchor is not None:
                anchors[event.anchor] = (value, 1, 0)
            # Inline, the common cases: a key, a value under its key, a list item.
            top = stack[-1] if stack else None
            if top is None or (top.is_map and top.key is _MERGE_KEY):
                add(event, value, 0)
            elif not top.is_map:
                top.obj.append(value)
            elif top.key is _NEED_KEY:
                if value is not _MERGE_KEY:
                    if type(value) is str:
                        value = sys.intern(value)
                    if value in top.obj:
                        raise fail(event, "duplicate key", (value,))
                top.key = value
            else:
                top.obj[top.key] = value
                top.key = _NEED_KEY
        elif kind is events.AliasEvent:
            if event.anchor not in anchors:
                raise fail(event, f"alias *{event.anchor} names no anchor before it")
            anchored = anchors[event.anchor]
            if anchored is None:
                raise fail(event, f"recursive alias: *{event.anchor} is used inside its own node")
            value, values, height = anchored
            total += values
            if total > max_values:
                raise too_many(event)
            add(event, value, height)
        elif kind is events.MappingStartEvent or kind is events.SequenceStartEvent:
            if event.tag not in _COLLECTION_TAGS:
                raise fail(event, f"tag {event.tag[:80]!r} is not supported")
            if stack and stack[-1].is_map and stack[-1].key is _NEED_KEY:
                raise fail(event, "a key must be a plain value, not a mapping or a list")
            if len(stack) + 1 > max_depth:
                raise fail(event, f"nested deeper than {max_depth} levels")
            total += 1
            if total > max_values:
                raise too_many(event)
            if event.anchor is not None:
                anchors[event.anchor] = None
            is_map = kind is events.MappingStartEvent
            stack.append(_Open({} if is_map else [], is_map, total - 1, event.anchor))
        elif kind is events.MappingEndEvent or kind is events.SequenceEndEvent:
            done = stack.pop()
            if done.merges:
                # Keys of the mapping itself win, then the first mapping merged, and so on.
                own = dict(done.obj)
                done.obj.clear()
                for merged in reversed(done.merges):
                    done.obj.update(merged)
                done.obj.update(own)
            if done.anchor is not None:
                anchors[done.anchor] = (done.obj, total - done.start_total, done.height)
            add(event, done.obj, done.height)
        elif kind is events.DocumentStartEvent:
            documents += 1
            if documents > 1:
                raise YamlError(
                    event.start_mark.line + 1, "a file holds one YAML document; found a second"
                )
    return root


def lines_of(text: str, paths: set[tuple]) -> dict[tuple, int]:
    """The line (1-based) of each of ``paths`` and of their ancestors that the text has.

    A mapping key's line is that of the key; a list item's, where the item starts. A path
    that runs through an alias or a merged mapping is found up to there only.
    """
    wanted = {path[:n] for path in paths for n in range(len(path) + 1)}
    found: dict[tuple, int] = {}
    # Per open collection: its path (None inside a key that is a mapping or a list), whether
    # a mapping waits for a key, the current key, the next index.
    stack: list[list] = []
    for event in _events(text):
        is_node = isinstance(event, events.NodeEvent)
        if not is_node and not isinstance(event, events.CollectionEndEvent):
            continue
        if isinstance(event, events.CollectionEndEvent):
            stack.pop()
            continue
        line = event.start_mark.line + 1
        if not stack:
            path: tuple | None = ()
        else:
            top = stack[-1]
            parent, is_map = top[0], top[1]
            if parent is None:
                path = None
            elif is_map and top[2]:  # this node is a key
                top[2] = False
                if isinstance(event, events.ScalarEvent):
                    top[3] = _scalar(event)
                    path = (*parent, top[3])
                    if path in wanted:
                        found.setdefault(path, line)
                    continue
                top[3] = None
                path = None
            elif is_map:
                top[2] = True
                path = None if top[3] is None else (*parent, top[3])
            else:
                path = (*parent, top[4])
                top[4] += 1
        if path is not None and path in wanted:
            found.setdefault(path, line)
        if isinstance(event, events.CollectionStartEvent):
            stack.append([path, isinstance(event, events.MappingStartEvent), True, None, 0])
        if len(found) == len(wanted):
            break
    return found
