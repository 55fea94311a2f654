"""Shared CLI plumbing: the settings from --home/DETECTOR_HOME and error handling."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import typer

from detector.errors import DetectorError
from detector.settings import Settings, load_settings

F = TypeVar("F", bound=Callable[..., Any])


def settings_from(ctx: typer.Context) -> Settings:
    """The Settings object built by the root callback (from --home or DETECTOR_HOME)."""
    root = ctx.find_root()
    if root.obj is None:
        root.obj = load_settings(None)
    return root.obj


def fail(message: str) -> None:
    """Exit with status 2 and a one-line message on stderr (usage error / unreadable input)."""
    sys.stderr.write(f"error: {message}\n")
    raise typer.Exit(code=2)


def handle_errors(fn: F) -> F:
    """Turn DetectorError into exit status 2 with its one-line message."""
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DetectorError as exc:
            fail(str(exc))
    return wrapper  # type: ignore[return-value]
