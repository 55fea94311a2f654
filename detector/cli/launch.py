"""The ``detector`` console script's target: the commands are imported when it is called.

Pools started with ``spawn`` (the ingest's parse workers) run the parent's main script again in
every worker, as ``__mp_main__``. The script that ``[project.scripts]`` generates imports its
target module at top level, so that module must stay light: here the command-line application
(settings, pydantic, DuckDB, pandas) is imported inside :func:`main`, which a worker never calls.
``tests/packaging/test_launch.py`` checks that importing this module loads none of them.
"""

from __future__ import annotations


def main() -> None:
    """Run the ``detector`` command line (:func:`detector.cli.main.main`)."""
    from detector.cli.main import main as run

    run()
