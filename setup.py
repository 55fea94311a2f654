"""Build step: the wheel carries the repository's data folders inside the package.

``rules/`` (rule YAML and ``lexicons/``) and ``data/scenarios/`` stay at the repository root,
where analysts edit them; ``build_py`` copies them to ``detector/_data/rules`` and
``detector/_data/scenarios`` in the build tree, where ``detector.resources`` finds them once
installed. An editable install reads the checkout directly and copies nothing. All other
metadata is in ``pyproject.toml``.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SHIPPED = {"rules": ROOT / "rules", "scenarios": ROOT / "data" / "scenarios"}


class BuildPyWithData(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for name, src in SHIPPED.items():
            dest = Path(self.build_lib) / "detector" / "_data" / name
            if dest.exists():
                shutil.rmtree(dest)
            shutil.copytree(src, dest, ignore=shutil.ignore_patterns(".*", "__pycache__"))


setup(cmdclass={"build_py": BuildPyWithData})
