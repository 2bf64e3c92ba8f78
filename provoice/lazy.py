"""Package surfaces that import their modules on first use (PEP 562).

A command that needs one torch-free name of a package (the ONNX synthesis path, a model's
metadata) then does not import the package's torch modules with it, and one that needs a module
of an extra this install lacks (torch without `train`) says which extra to install. Each package
still lists its imports under `TYPE_CHECKING`, so type checkers and import-linter see the same graph.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable

from provoice.extras import missing_extra


def surface(package: str, exports: dict[str, tuple[str, ...]]) -> tuple[Callable, Callable, list[str]]:
    """`__getattr__`, `__dir__` and `__all__` for `package`, whose module `m` exports `exports[m]`."""
    where = {name: f"{package}.{module}" for module, names in exports.items() for name in names}

    def __getattr__(name: str):
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        try:
            module = importlib.import_module(where[name])
        except ModuleNotFoundError as exc:
            missing = missing_extra(exc)
            if missing is None:
                raise
            raise missing from exc
        value = getattr(module, name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(where) | set(vars(sys.modules[package])))

    return __getattr__, __dir__, sorted(where)
