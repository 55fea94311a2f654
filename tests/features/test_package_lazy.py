"""``detector.features`` loads nothing until a name is asked for (a Spark executor's Python
worker importing ``minhash`` or ``sample`` for a ``mapInArrow`` function skips ``compute`` and
Ibis), and ``compute`` stays the function whichever of the package and its ``compute``
submodule is imported first. Each case runs in a fresh interpreter (this one has them all)."""

from __future__ import annotations

import subprocess
import sys

import pytest

CASES = {
    "minhash alone": """
import sys, detector.features.minhash
assert 'detector.features.compute' not in sys.modules and 'ibis' not in sys.modules
""",
    "sample skips compute": """
import sys, detector.features.sample
assert 'detector.features.compute' not in sys.modules
""",
    "submodule first": """
import types
from detector.features.compute import weekly_table
from detector.features import compute
import detector.features.compute as again
assert isinstance(compute, types.FunctionType) and compute.__name__ == 'compute'
assert again is compute and weekly_table.__module__ == 'detector.features.compute'
""",
    "package first": """
import types
from detector import features
assert isinstance(features.compute, types.FunctionType)
import detector.features.compute as same  # the name, as before: the function
assert features.compute is same and features.store.__name__ == 'detector.features.store'
""",
    "patched and unknown names": """
from detector import features
original = features.compute
features.compute = len
assert features.compute is len
features.compute = original
assert features.compute is original
try:
    features.no_such_name
except AttributeError as exc:
    assert 'no_such_name' in str(exc)
else:
    raise AssertionError('no AttributeError')
""",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_package_names(case):
    run = subprocess.run([sys.executable, "-c", CASES[case]], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
