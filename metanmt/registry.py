"""Name -> (class, its own config dataclass), for algorithms and task families.

The core never imports a family: families (the built-in ones too) register themselves when their
module is imported, and that import is asked for by name, either through the ``metanmt.plugins``
entry points of installed packages (pyproject.toml lists the built-ins) or by a run config's
``plugins:`` list. A package adds ``metanmt`` sub-commands through the ``metanmt.commands`` entry
points: each names a light function ``add(subparsers)`` (no torch: the CLI parses before it loads
anything heavy), whose parsers name the module and function that run the command.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

ENTRY_POINT_GROUP = "metanmt.plugins"
COMMANDS_GROUP = "metanmt.commands"


class RegistryError(ValueError):
    """An unknown name, or a plugin that cannot be imported; the message names it."""


@dataclass(frozen=True)
class Entry:
    name: str
    build: Callable[..., Any]  # config -> the object (an algorithm, a task family)
    config: type  # the dataclass whose fields are this entry's section of a run config
    module: str  # where it was registered, for messages


class Registry:
    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def register(self, name: str, config: type, build: Callable[..., Any]) -> None:
        existing = self._entries.get(name)
        module = getattr(build, "__module__", "?")
        if existing is not None and existing.module != module:
            raise RegistryError(
                f"{self.kind} {name!r} is registered twice: by {existing.module} and by {module}"
            )
        self._entries[name] = Entry(name, build, config, module)

    def names(self) -> list[str]:
        load_plugins()
        return list(self._entries)

    def entry(self, name: str) -> Entry:
        if name not in self._entries:
            load_plugins()
        if name not in self._entries:
            raise RegistryError(
                f"unknown {self.kind} {name!r}; choose one of "
                f"{', '.join(self._entries)} (or list the module that registers "
                f"it under 'plugins:')"
            )
        return self._entries[name]


ALGORITHMS = Registry("algorithm")
FAMILIES = Registry("task family")
_loaded: set[str] = set()
_entry_points_loaded = False


def register_algorithm(name: str, config: type, build: Callable | None = None):
    """Register an algorithm: ``build(config) -> Algorithm`` (default: the decorated class's
    ``from_config``). Usable as a class decorator."""

    def decorate(cls):
        ALGORITHMS.register(name, config, build or cls.from_config)
        return cls

    return decorate


def register_family(name: str, config: type):
    """Class decorator: the task family ``name`` is built as ``cls(config)``."""

    def decorate(cls):
        FAMILIES.register(name, config, cls)
        return cls

    return decorate


def command_adders() -> list[Callable]:
    """The installed packages' ``add(subparsers)`` functions (``metanmt.commands`` entry points)."""
    adders = []
    for point in entry_points(group=COMMANDS_GROUP):
        try:
            adders.append(point.load())
        except (ImportError, AttributeError) as error:
            raise RegistryError(f"commands {point.value!r} cannot be loaded: {error}") from None
    return adders


def load_plugins(modules: Iterable[str] = ()) -> None:
    """Import the installed packages' plugins (once) and the named ``modules``."""
    global _entry_points_loaded
    if not _entry_points_loaded:
        _entry_points_loaded = True
        for point in entry_points(group=ENTRY_POINT_GROUP):
            _import(point.value, f"entry point {point.name!r}")
    for module in modules:
        _import(module, "plugin")


def _import(module: str, what: str) -> None:
    if module in _loaded:
        return
    try:
        importlib.import_module(module)
    except ImportError as error:
        raise RegistryError(f"{what} {module!r} cannot be imported: {error}") from None
    _loaded.add(module)
