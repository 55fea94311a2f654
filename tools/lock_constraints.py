"""Write ``constraints.txt``, the exact versions of the project's own builds (``make lock``).

Reads the installed environment this script runs in (``.venv``): every distribution reachable
from ``distill-guard[dev,spark]`` through the installed packages' requirements (markers
evaluated here), the project itself left out, one ``name==version`` a line, sorted. A local
version label is dropped (``torch==2.13.0+cpu`` -> ``torch==2.13.0``, which pip still matches
to the CPU wheel), so the file installs on another machine. Packages installed by hand and
required by nothing of the project (a profiler, say) are not written.

Run: ``.venv/bin/python tools/lock_constraints.py [--out constraints.txt]``. A build tool, not
part of the installed package.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
PROJECT = "distill-guard"
EXTRAS = ("dev", "spark")
CARD = REPO / "detector" / "model" / "default" / "card.json"

HEADER = """\
# Exact versions for the project's own builds: `make venv` (and so `make test`, `make model`,
# CI's .ci/run) installs with `pip install -c constraints.txt`. pyproject.toml keeps lower
# bounds only: an installed library must not pin its users' versions; this file is for
# reproducing this project's environment, where the shipped default model's training data
# depends on the exact versions (docs/model.md).
# Generated from .venv by `make lock` (tools/lock_constraints.py): the packages reachable
# from distill-guard[{extras}], the CPU wheel's local label dropped. Regenerate it with the
# shipped model, so that it pins the environment that built detector/model/default/
# (when generated: {version}, Python {python}).
"""


def normalize(name: str) -> str:
    """PEP 503 name: ``Jinja2`` -> ``jinja2``, ``typing_extensions`` -> ``typing-extensions``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(root: str = PROJECT, extras: tuple[str, ...] = EXTRAS) -> dict[str, metadata.Distribution]:
    """Installed distributions that ``root[extras]`` needs here, by normalized name (root excluded)."""
    found: dict[str, metadata.Distribution] = {}
    todo: list[tuple[str, frozenset[str]]] = [(root, frozenset(extras))]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        name, wanted = todo.pop()
        if (name, wanted) in seen:
            continue
        seen.add((name, wanted))
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise SystemExit(f"lock_constraints: {name} is required but not installed in "
                             f"this environment ({sys.prefix})") from None
        if name != root:
            found[name] = dist
        for line in dist.requires or []:
            req = Requirement(line)
            envs = [{"extra": e} for e in wanted] or [{"extra": ""}]
            if req.marker is None or any(req.marker.evaluate(env) for env in envs):
                todo.append((normalize(req.name), frozenset(req.extras)))
    return found


def render(found: dict[str, metadata.Distribution]) -> str:
    lines = [f"{found[key].metadata['Name']}=={Version(found[key].version).public}"
             for key in sorted(found)]
    version = json.loads(CARD.read_text())["version"] if CARD.exists() else "no default model"
    head = HEADER.format(extras=",".join(EXTRAS), version=version,
                         python=".".join(map(str, sys.version_info[:3])))
    return head + "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=REPO / "constraints.txt")
    args = parser.parse_args()
    text = render(closure(normalize(PROJECT)))
    fd, tmp = tempfile.mkstemp(prefix=".constraints.", dir=args.out.parent)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, args.out)
    print(f"{args.out}: {text.count('==')} pins")


if __name__ == "__main__":
    main()
