"""constraints.txt (`make lock`) pins every package the project's own builds install."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    path = REPO / "constraints.txt"
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        req = Requirement(line)
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"{path}:{number}: {raw!r} is not name==version"
        assert "+" not in specs[0].version, f"{path}:{number}: {raw!r} has a local version label"
        assert _normalize(req.name) not in pins, f"{path}:{number}: {req.name} pinned twice"
        pins[_normalize(req.name)] = specs[0].version
    return pins


def test_every_dependency_in_pyproject_is_pinned():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    named = list(project["dependencies"])
    for extra in ("dev", "spark"):  # the extras `make venv` installs
        named += project["optional-dependencies"][extra]
    pins = _pins()
    missing = sorted({_normalize(Requirement(r).name) for r in named} - pins.keys())
    assert not missing, f"constraints.txt does not pin {missing}: run `make lock`"
    unmet = sorted(f"{r.name}: {pins[_normalize(r.name)]} not in {r.specifier}"
                   for r in map(Requirement, named)
                   if not r.specifier.contains(pins[_normalize(r.name)], prereleases=True))
    assert not unmet, f"constraints.txt contradicts pyproject.toml: {unmet}"


def test_torch_is_the_cpu_wheel_release():
    assert _pins()["torch"] == "2.13.0"
    assert "torch==2.13.0" in (REPO / "Makefile").read_text()
