"""How the suite is split over parallel workers (``pytest -n 2``, pytest-xdist; ``make test``).

Each worker runs whole work units, never part of one, so a module- or session-scoped fixture is
built once per unit instead of once per worker that happens to draw one of its tests:

- an area whose session fixture several modules share (the standalone Spark cluster and the
  job scored on it in ``tests/scale``, the CLI demo run in ``tests/e2e``, the simulated run in
  ``tests/simulate``) is one unit: :data:`AREA_UNITS`;
- every other module is one unit.

Units holding a test marked ``slow`` are handed out first, the areas among them before the
modules (the long ones go first, so the run does not end on one worker with a long unit left),
then the rest in collection order.

Each worker's OpenMP and BLAS pools (scikit-learn's gradient boosting, torch, numpy) get the
machine's cores divided by the workers (1 each on 2 cores), unless the environment sets them:
two workers each spinning a pool as wide as the machine made the model tests several times
slower. A worker's ``COLUMNS`` and ``LINES`` are the controller's: GNU readline, loaded as a
worker starts, sets them to 80x24 when it finds no terminal, and a rich ``Console`` made at
import would then cut CLI tables at 80 columns whatever a test's ``COLUMNS`` says. Without
``-n`` nothing here runs and the suite runs in order in one process.
"""

from __future__ import annotations

import os

import pytest

#: the thread-pool sizes set for each worker (read when those libraries load)
POOL_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
#: the terminal size variables a worker takes from the controller (set or unset alike)
TERM_VARS = ("COLUMNS", "LINES")

#: areas whose modules share a session fixture: one work unit each
AREA_UNITS = ("tests/scale/", "tests/e2e/", "tests/simulate/")


def work_unit(nodeid: str) -> str:
    """The unit a test belongs to: its area for :data:`AREA_UNITS`, else its module."""
    for area in AREA_UNITS:
        if nodeid.startswith(area):
            return area
    return nodeid.split("::", 1)[0]


def _slow_first(items: list[pytest.Item]) -> list[pytest.Item]:
    """``items`` with the units that hold a ``slow`` test first, of those the areas (the
    largest units) first; collection order otherwise."""
    slow = {work_unit(i.nodeid) for i in items if i.get_closest_marker("slow")}

    def rank(item: pytest.Item) -> tuple[bool, bool]:
        unit = work_unit(item.nodeid)
        return unit not in slow, unit not in AREA_UNITS

    return sorted(items, key=rank)


def pytest_configure(config):
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:  # on a worker, before any test module is imported
        for name, value in workerinput.get("dg_term_env", {}).items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        return
    # on the controller, before it starts the workers (they inherit the environment)
    workers = getattr(config.option, "numprocesses", None)
    if workers:
        per_worker = str(max(1, (os.cpu_count() or 1) // int(workers)))
        for name in POOL_VARS:
            os.environ.setdefault(name, per_worker)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    node.workerinput["dg_term_env"] = {name: os.environ.get(name) for name in TERM_VARS}


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "load":  # another --dist asked for by name: xdist's own
        return None
    from xdist.scheduler import LoadScopeScheduling

    class UnitScheduling(LoadScopeScheduling):
        """pytest-xdist's per-scope scheduling with :func:`work_unit` as the scope, in
        the order of the workers' collection (see :func:`pytest_collection_modifyitems`)."""

        def __init__(self, config, log=None):
            super().__init__(config, log)
            config.option.loadscopereorder = False  # keep the slow-first order

        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return UnitScheduling(config, log)


def pytest_collection_modifyitems(config, items):
    # only on an xdist worker (each collects the same items; the scheduler takes units in
    # this order): a run without -n keeps the collection order
    if hasattr(config, "workerinput"):
        items[:] = _slow_first(items)
