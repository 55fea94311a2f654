"""The analyst notebooks: their text pairs are in sync and every one runs top to bottom.

Execution uses nbclient with the ``python3`` kernel of the running interpreter (ipykernel in
the venv) against a fresh scratch home: ``DETECTOR_HOME`` is unset and the cache folder is a
temporary one, so the first notebook builds the small simulated home and the others reuse it.
"""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat
import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
EXPECTED = ["01_investigate_account", "02_tune_rule", "03_retrain_model", "04_map_cluster"]
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


def _cells(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


def test_the_four_notebooks_exist_with_a_text_pair():
    assert [p.stem for p in NOTEBOOKS] == EXPECTED
    for p in NOTEBOOKS:
        assert p.with_suffix(".py").exists(), f"{p.name} has no paired .py"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_ipynb_and_py_pair_are_in_sync(path):
    ipynb = jupytext.read(path)
    text = jupytext.read(path.with_suffix(".py"))
    assert ipynb.metadata.get("jupytext", {}).get("formats") == "ipynb,py:percent"
    assert _cells(ipynb) == _cells(text), (
        f"{path.name} and {path.with_suffix('.py').name} differ: run "
        f"`jupytext --sync notebooks/{path.name}`")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_are_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert dirty == [], f"{path.name}: cells {dirty} carry outputs (clear them before committing)"


@pytest.fixture(scope="module")
def notebook_env(tmp_path_factory):
    """Environment for the kernels: a fresh cache, no DETECTOR_HOME, the repo's rules."""
    mp = pytest.MonkeyPatch()
    mp.delenv("DETECTOR_HOME", raising=False)
    mp.delenv("DETECTOR_TRUTH", raising=False)
    mp.delenv("DETECTOR_RULES_DIR", raising=False)
    mp.setenv("DETECTOR_NOTEBOOK_CACHE", str(tmp_path_factory.mktemp("notebook-cache")))
    yield
    mp.undo()


def _errors(nb: nbformat.NotebookNode) -> list[str]:
    return [f"cell {i}: {o.get('ename')}: {o.get('evalue')}" for i, c in enumerate(nb.cells)
            if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]


@pytest.mark.slow
@pytest.mark.timeout(1800)  # the first notebook builds the demo home; cells may take 600 s each
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path, notebook_env):
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    client.execute()  # raises CellExecutionError on the first failing cell
    assert _errors(nb) == []
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), "some code cells did not run"
    images = sum("image/png" in o.get("data", {}) for c in code for o in c.outputs)
    assert images >= 1, f"{path.name} drew no plot"
