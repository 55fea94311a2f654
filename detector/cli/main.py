"""The `detector` executable. Every command module in this package named ``*_cmd.py`` exposes
``register(app)``; this file only builds the root app and the global ``--home`` option.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path
from typing import Annotated

import typer

import detector.cli as cli_pkg
from detector.errors import DetectorError
from detector.settings import load_settings

app = typer.Typer(
    name="detector",
    help="distill-guard: find accounts that harvest model outputs (distillation abuse).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def root(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option("--home", envvar="DETECTOR_HOME", help="Home folder (lake, state, models, reports)."),
    ] = None,
) -> None:
    """Global options."""
    try:
        ctx.obj = load_settings(home)
    except DetectorError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise typer.Exit(code=2) from None


def _register_commands() -> None:
    for mod in sorted(pkgutil.iter_modules(cli_pkg.__path__), key=lambda m: m.name):
        if mod.name.endswith("_cmd"):
            importlib.import_module(f"detector.cli.{mod.name}").register(app)


def _hoist_home(argv: list[str]) -> list[str]:
    """Accept ``--home DIR`` after the sub-command too (``detector ingest --home DIR x``)."""
    out: list[str] = []
    hoisted: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--home" and i + 1 < len(argv):
            hoisted += [arg, argv[i + 1]]
            i += 2
            continue
        if arg.startswith("--home="):
            hoisted.append(arg)
        else:
            out.append(arg)
        i += 1
    return hoisted + out


_register_commands()


def main() -> None:
    app(args=_hoist_home(sys.argv[1:]), prog_name="detector")


if __name__ == "__main__":
    main()
