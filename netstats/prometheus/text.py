"""Metric families as netstats builds them, written in the text format (version 0.0.4), or
handed to ``prometheus_client`` as its own families.

``prometheus_client``'s writer (``generate_latest``) checks and escapes every label name of
every sample again: for 500 destinations (8 000 samples) that alone took 0.5-1 s on the
development machine. netstats' metric and label names are fixed and valid, so ``to_text``
writes the same bytes directly (a test compares it with ``generate_latest`` of the same
families), in a few milliseconds; label values are escaped as the format asks.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.utils import floatToGoString


class Family:
    """One metric family: its kind ("gauge" or "counter"), name (a counter's without
    ``_total``), HELP text, label names, and its samples as (label values, value)."""

    __slots__ = ("help", "kind", "labels", "name", "rows")

    def __init__(self, kind: str, name: str, help: str, labels: Iterable[str] = ()) -> None:
        self.kind, self.name, self.help, self.labels = kind, name, help, tuple(labels)
        self.rows: list[tuple[tuple[str, ...], float]] = []

    def add(self, values: Iterable[str], value: float) -> None:
        """Add a sample with these label values (in ``labels`` order)."""
        self.rows.append((values if type(values) is tuple else tuple(values), value))

    @property
    def sample_name(self) -> str:
        return f"{self.name}_total" if self.kind == "counter" else self.name


def _escape_value(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value


class _Escaped(dict):
    """Label values as the text format writes them, each escaped once per answer."""

    def __missing__(self, value: str) -> str:
        escaped = self[value] = _escape_value(value)
        return escaped


def _number(value: float) -> str:
    """``floatToGoString``, with its result for small whole numbers (counts) made faster."""
    if type(value) is int and 0 <= value < 1_000_000:
        return f"{value}.0"
    return floatToGoString(value)


def to_text(families: Iterable[Family]) -> bytes:
    """The families in the text exposition format, labels in name order, byte for byte as
    ``prometheus_client``'s ``generate_latest`` writes them."""
    out: list[str] = []
    escaped = _Escaped()
    for family in families:
        name = family.sample_name
        help_text = family.help.replace("\\", r"\\").replace("\n", r"\n")
        out.append(f"# HELP {name} {help_text}\n# TYPE {name} {family.kind}\n")
        if not family.labels:
            out.extend(f"{name} {_number(value)}\n" for _, value in family.rows)
            continue
        order = sorted(range(len(family.labels)), key=family.labels.__getitem__)
        names = ",".join(f'{family.labels[i]}="{{}}"' for i in order)
        template = f"{name}{{{{{names}}}}} {{}}\n".format
        get = escaped.__getitem__
        if order == list(range(len(order))):
            out.extend(template(*map(get, values), _number(value)) for values, value in family.rows)
        else:
            out.extend(
                template(*(get(values[i]) for i in order), _number(value))
                for values, value in family.rows
            )
    return "".join(out).encode()


def to_client(families: Iterable[Family]) -> Iterator[Metric]:
    """The same families as ``prometheus_client`` metric families (for a registry)."""
    for family in families:
        cls = CounterMetricFamily if family.kind == "counter" else GaugeMetricFamily
        metric = cls(family.name, family.help, labels=family.labels)
        for values, value in family.rows:
            metric.add_metric(values, value)
        yield metric
