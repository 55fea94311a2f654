"""Data files the package reads: the rule folder (with its lexicons) and the simulator scenarios.

In a source checkout they live at the repository root, where analysts edit them (``rules/``,
``rules/lexicons/``, ``data/scenarios/``). A built wheel carries copies under
``detector/_data/`` (``rules``, ``scenarios``; copied by the build step in ``setup.py``), so an
installed package finds them without the checkout. The packaged copy is used when it exists
(it never exists in a checkout, ``detector/_data/`` is ignored by git); otherwise the checkout's.
Templates and the default model are ordinary package data (``detector/report/templates``,
``detector/api/templates``, ``detector/model/default``).
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PACKAGED_DATA = PACKAGE_DIR / "_data"
CHECKOUT_ROOT = PACKAGE_DIR.parent

# name -> its folder in the source checkout, relative to the repository root
CHECKOUT_PATHS = {"rules": Path("rules"), "scenarios": Path("data") / "scenarios"}


def data_dir(name: str) -> Path:
    """The folder of shipped data ``name`` (``rules`` or ``scenarios``): packaged, else checkout."""
    packaged = PACKAGED_DATA / name
    if packaged.is_dir():
        return packaged
    return CHECKOUT_ROOT / CHECKOUT_PATHS[name]


def default_rules_dir() -> Path:
    """``$DETECTOR_RULES_DIR``, else the shipped rule folder (the repository's ``rules/``)."""
    env = os.environ.get("DETECTOR_RULES_DIR")
    if env:
        return Path(env)
    return data_dir("rules")


def lexicon_dir() -> Path:
    """The shipped phrase lexicons (``rules/lexicons/``)."""
    return data_dir("rules") / "lexicons"


def scenario_dir() -> Path:
    """The shipped simulator scenarios (``data/scenarios/``)."""
    return data_dir("scenarios")
