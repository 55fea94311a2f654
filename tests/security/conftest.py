"""Fixtures for the security regression tests: the API test home (verdicts, clusters, keys per
role), a client over it and the bearer-header helper, shared with ``tests/api``
(``tests/api/conftest.py``)."""

from __future__ import annotations

from ..api.conftest import auth, client, home, keys, settings  # noqa: F401  (fixtures, helper)
