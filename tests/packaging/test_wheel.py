"""The built wheel, installed outside the checkout, finds its rules, scenarios and model.

Builds the wheel from a clean copy of the sources (``pip wheel --no-deps --no-build-isolation``),
installs it with ``--no-deps`` into a fresh venv whose dependencies come from the test
interpreter's site-packages (a ``.pth`` line; that folder's own ``.pth`` files, such as the
editable install's finder, are not processed), then runs ``detector rules test`` and a small job
(simulate, ingest, run, verdicts) from a folder outside the checkout.
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "detector", "rules",
           "data/scenarios")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def _run(cmd, cwd, env, timeout=240):
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, f"{cmd} exited {proc.returncode}\n{proc.stdout[-2000:]}\n" \
                                 f"{proc.stderr[-4000:]}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    root = tmp_path_factory.mktemp("wheel")
    src, dist, env_dir = root / "src", root / "dist", root / "venv"
    for name in SOURCES:
        s, d = REPO / name, src / name
        if s.is_dir():
            shutil.copytree(s, d, ignore=shutil.ignore_patterns(
                "__pycache__", "*.so", "_data", ".*"))
        else:
            d.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(s, d)
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "DETECTOR_RULES_DIR", "DETECTOR_HOME")}
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
          "-w", dist, src], cwd=root, env=env)
    wheel = next(dist.glob("distill_guard-*.whl"))
    venv.create(env_dir, with_pip=False)
    py = env_dir / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", py, "install", "--no-deps", "--no-index",
          "-q", wheel], cwd=root, env=env)
    site = Path(_run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     cwd=root, env=env).stdout.strip())
    (site / "_deps_from_test_env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return {"root": root, "bin": env_dir / "bin", "env": env, "site": site}


def test_wheel_carries_data_and_is_used(installed):
    proc = _run([installed["bin"] / "python", "-c",
                 "import detector, detector.resources as r, detector.model.registry as m;"
                 "print(detector.__file__); print(r.default_rules_dir());"
                 "print(r.scenario_dir()); print(m.DEFAULT_DIR)"],
                cwd=installed["root"], env=installed["env"])
    pkg, rules, scenarios, model = (Path(x) for x in proc.stdout.split())
    assert pkg.is_relative_to(installed["site"])
    assert rules == installed["site"] / "detector" / "_data" / "rules"
    assert len(list(rules.glob("*.yaml"))) == len(list((REPO / "rules").glob("*.yaml")))
    assert (rules / "lexicons" / "cot_phrases.txt").is_file()
    assert (scenarios / "demo.toml").is_file()
    assert (model / "model.joblib").is_file() and model.is_relative_to(installed["site"])
    assert (installed["site"] / "detector" / "report" / "templates" / "report.html.j2").is_file()


def test_installed_rules_test_and_small_job(installed):
    det, cwd, env = installed["bin"] / "detector", installed["root"], installed["env"]
    out = _run([det, "rules", "test"], cwd=cwd, env=env).stdout
    assert str(REPO) not in out
    logs, home = cwd / "logs", cwd / "home"
    _run([det, "simulate", "--out", logs, "--accounts", "120", "--days", "1", "--seed", "5"],
         cwd=cwd, env=env)
    _run([det, "--home", home, "ingest", logs], cwd=cwd, env=env)
    _run([det, "--home", home, "run", "--all"], cwd=cwd, env=env)
    rows = json.loads(_run([det, "--home", home, "verdicts", "--format", "json"],
                           cwd=cwd, env=env).stdout)
    assert len(rows) > 0
    assert {r["decision"] for r in rows} <= {"allow", "review", "block"}
