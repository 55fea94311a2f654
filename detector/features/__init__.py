"""Feature engine: per-account-day behaviour features over the request lake (Ibis on DuckDB or
Spark), 7-day windows from daily partials, population percentiles, and the catalog.

Public API (other stages call these):

- :func:`compute` ``(settings, dates) -> list[str]``: writes ``features/daily``, ``weekly``,
  ``percentiles`` for ``dates`` (incremental; returns the days recomputed).
- :func:`detector.features.assemble.account_features` ``(con, settings, dates) -> str``.
- :func:`detector.features.catalog.known_columns` and ``catalog.FEATURES``.
- :func:`detector.features.percentiles.account_percentiles` ``(settings, account_id, day)``.

The package loads nothing until a name is asked for: a Spark executor's Python worker that
imports ``detector.features.minhash`` or ``sample`` for a ``mapInArrow`` function does not
load ``compute`` and what it needs (Ibis, the window and history queries). ``compute`` names
the function ``detector.features.compute.compute`` although a submodule has that name too:
the import system binds a submodule to its name in the package when it is loaded, which
would replace the function by the module (see :class:`_Package`). Submodules load on first
attribute access (PEP 562 ``__getattr__``).
"""

from __future__ import annotations

import sys
import types
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from detector.features.compute import compute

__all__ = ["compute"]


class _Package(types.ModuleType):
    """The package's module type: ``compute`` is the function, loaded on first use."""

    @property
    def compute(self) -> Any:
        override = self.__dict__.get("_compute_set")
        if override is not None:
            return override
        from detector.features.compute import compute

        return compute

    @compute.setter
    def compute(self, value: Any) -> None:
        # the import system binds the loaded submodule here: the name stays the function;
        # anything else (a test's monkeypatch) is kept
        if isinstance(value, types.ModuleType) and value.__name__ == f"{__name__}.compute":
            return
        self.__dict__["_compute_set"] = value


def __getattr__(name: str) -> Any:
    """A submodule of the package, imported on first access (``features.store``)."""
    if name.startswith("__"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        return import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{name}":
            raise
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


sys.modules[__name__].__class__ = _Package
