"""A module imported on first use: each command's file names the library it runs over at its
top, yet building the parser (``--help``, an argument error) imports none of it."""

from __future__ import annotations

import importlib
from types import ModuleType


class LazyModule:
    """Stands for module ``name``: the first attribute read imports it (parents and all) and
    reads from it. Kept out of ``sys.modules`` (whatever walks that, such as ``inspect``,
    never sets off the import); ``tests/test_architecture.py`` counts it as an import."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attribute: str):
        module: ModuleType = importlib.import_module(self._name)
        return getattr(module, attribute)

    def __repr__(self) -> str:
        return f"<module {self._name!r}, imported on first use>"


def lazy(name: str) -> LazyModule:
    return LazyModule(name)
