"""Loading plugins: the entry-point group ``netstats`` and the one-file plugins directory.

Each application builds its own plugin manager (kept in ``app.extensions["netstats"]``).
A plugin that fails to import, implements a hook wrongly or returns garbage is recorded in
``Plugins.errors`` and logged; it never stops the app or the worker.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

from netstats import hookspecs
from netstats.collectors import Collector

if TYPE_CHECKING:  # building plugins outside an app (netstats probe, tests) loads no Flask
    from flask import Flask

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "netstats"


@dataclass
class PluginError:
    """A plugin that could not be loaded or whose hook failed."""

    plugin: str
    source: str
    message: str


@dataclass
class Plugins:
    """The plugin manager of one app, what it loaded and what went wrong."""

    pm: pluggy.PluginManager
    sources: dict[str, str] = field(default_factory=dict)
    errors: list[PluginError] = field(default_factory=list)
    _collectors: dict[str, Collector] | None = None
    _collector_plugin: dict[str, str] = field(default_factory=dict)

    def register(self, module: ModuleType, name: str, source: str) -> None:
        """Register a plugin module (as the loaders do; tests use it for their own plugins)."""
        try:
            self.pm.register(module, name=name)
        except Exception as exc:  # a bad hookimpl signature raises here
            self._fail(name, source, f"cannot register: {exc}")
            return
        self.sources[name] = source
        self._collectors = None

    def unregister(self, name: str) -> None:
        self.pm.unregister(name=name)
        self.sources.pop(name, None)
        self._collectors = None

    @property
    def collectors(self) -> dict[str, Collector]:
        """Every collector the plugins provide, by name; computed once per set of plugins."""
        if self._collectors is None:
            self._collectors = self._gather_collectors()
        return self._collectors

    def collector_source(self, name: str) -> str:
        """Where collector ``name`` comes from: "distribution version" or a file path."""
        self.collectors  # noqa: B018 (computes the collector -> plugin map)
        return self.sources.get(self._collector_plugin.get(name, ""), "")

    def collector(self, name: str) -> Collector:
        """Collector ``name``; ``Invalid`` naming the ``collector`` field and those installed."""
        from netstats.errors import Invalid

        collector = self.collectors.get(name)
        if collector is None:
            installed = ", ".join(self.collectors) or "none"
            message = f"No collector {name!r} (installed: {installed})."
            raise Invalid(message, {"collector": [message]})
        return collector

    def load_params(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        """``params`` loaded by collector ``name``'s schema (defaults filled in), as its
        ``collect`` receives them; ``Invalid`` names each bad parameter under ``params``."""
        from marshmallow import ValidationError

        from netstats.errors import Invalid

        try:
            return self.collector(name).params().load(params)
        except ValidationError as exc:
            messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
            names = ", ".join(sorted(messages))
            raise Invalid(
                f"Invalid parameters for collector {name}: {names}.", {"params": messages}
            ) from None

    def describe(self, name: str) -> dict:
        """Collector ``name`` as the API and ``netstats plugins --json`` show it: title,
        source, its parameters as JSON Schema, its metrics."""
        from netstats.schema_export import params_json_schema

        collector = self.collectors[name]
        return {
            "name": collector.name,
            "title": collector.title,
            "description": collector.description,
            "source": self.collector_source(name),
            "params": params_json_schema(collector.params),
            "metrics": [asdict(m) for m in collector.metrics],
            "headline": collector.headline,
        }

    def call_each(self, hook_name: str, **kwargs) -> list[tuple[str, list]]:
        """Call a hook plugin by plugin, so that one that raises costs only its own answer.

        Returns (plugin name, list of results) for the plugins that answered; a failure is
        recorded in ``errors``. Calls go through pluggy, so ``NETSTATS_TRACE_PLUGINS`` sees them.
        """
        answers = []
        impls = getattr(self.pm.hook, hook_name).get_hookimpls()
        for impl in impls:
            others = [i.plugin for i in impls if i is not impl]
            caller = self.pm.subset_hook_caller(hook_name, remove_plugins=others)
            try:
                answers.append((impl.plugin_name, caller(**kwargs)))
            except Exception as exc:
                name = impl.plugin_name
                self._fail(name, self.sources.get(name, ""), f"{hook_name}() raised {exc!r}")
        return answers

    def _gather_collectors(self) -> dict[str, Collector]:
        found: dict[str, Collector] = {}
        self._collector_plugin = {}
        for plugin, results in self.call_each("netstats_collectors"):
            source = self.sources.get(plugin, "")
            for collector in (c for result in results for c in (result or [])):
                if not isinstance(collector, Collector):
                    self._fail(plugin, source, f"returned {collector!r}, not a Collector")
                elif collector.name in found:
                    other = self._collector_plugin[collector.name]
                    self._fail(
                        plugin,
                        source,
                        f"collector {collector.name!r} is already provided by {other}",
                    )
                else:
                    found[collector.name] = collector
                    self._collector_plugin[collector.name] = plugin
        return dict(sorted(found.items()))

    def _fail(self, plugin: str, source: str, message: str) -> None:
        log.error("plugin %s (%s): %s", plugin, source, message)
        self.errors.append(PluginError(plugin, source, message))


def build_plugins(plugins_dir: str | None, trace: bool = False) -> Plugins:
    """Build a plugin manager with the installed plugins and the plugins directory loaded."""
    pm = pluggy.PluginManager("netstats")
    pm.add_hookspecs(hookspecs)
    plugins = Plugins(pm)
    _load_entry_points(plugins)
    if plugins_dir:
        _load_directory(plugins, Path(plugins_dir))
    _drop_unknown_hooks(plugins)
    if trace:
        _trace_hook_calls(pm)
    return plugins


def _drop_unknown_hooks(plugins: Plugins) -> None:
    """Report and unregister every plugin implementing a hook that does not exist (a typo).

    ``check_pending`` stops at the first such plugin, so it runs until none is left.
    """
    while True:
        try:
            plugins.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            name = plugins.pm.get_name(exc.plugin) or "?"
            plugins._fail(name, plugins.sources.get(name, ""), str(exc))
            plugins.pm.unregister(exc.plugin)
            plugins.sources.pop(name, None)
        else:
            return


def _load_entry_points(plugins: Plugins) -> None:
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist
        source = f"{dist.name} {dist.version}" if dist else f"entry point {ep.value}"
        try:
            module = ep.load()
        except Exception as exc:
            plugins._fail(ep.name, source, f"cannot import {ep.value}: {exc!r}")
            continue
        plugins.register(module, ep.name, source)


def _load_directory(plugins: Plugins, directory: Path) -> None:
    if not directory.is_dir():
        return
    for path in sorted(directory.glob("*.py")):
        name = f"netstats_local_{path.stem}"
        try:
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        except Exception as exc:
            sys.modules.pop(name, None)
            plugins._fail(path.stem, str(path), f"cannot import: {exc!r}")
            continue
        plugins.register(module, path.stem, str(path))


def _trace_hook_calls(pm: pluggy.PluginManager) -> None:
    def before(hook_name, hook_impls, kwargs):
        print(
            f"netstats: hook {hook_name}({kwargs}) -> {[i.plugin_name for i in hook_impls]}",
            file=sys.stderr,
        )

    def after(outcome, hook_name, hook_impls, kwargs):
        print(f"netstats: hook {hook_name} returned {outcome.get_result()!r}", file=sys.stderr)

    pm.add_hookcall_monitoring(before, after)


def init_app(app: Flask) -> None:
    app.extensions["netstats"] = build_plugins(
        app.config.get("PLUGINS_DIR"), trace=bool(app.config.get("TRACE_PLUGINS"))
    )


def get_plugins(app: Flask | None = None) -> Plugins:
    """The plugins of ``app`` (default: the current app)."""
    if app is None:
        from flask import current_app

        app = current_app
    return app.extensions["netstats"]
