"""Property-based run of the OpenAPI schema (schemathesis): no request may get a 5xx, and
responses must match their documented schema. Bounded examples keep it to seconds.

Operations are driven one by one with Hypothesis (schemathesis' pytest plugin does not load
under this pytest version)."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from detector.api.app import create_app

from .fixtures import build_home

MAX_EXAMPLES = 8


def test_no_server_errors_on_any_operation(tmp_path):
    settings_, keys = build_home(tmp_path / "home")
    app = create_app(settings_)
    app.state.service.start()
    try:
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        operations = [r.ok() for r in schema.get_all_operations()]
        assert len(operations) >= 14
        headers = {"Authorization": f"Bearer {keys['admin']}"}
        for op in operations:
            @given(case=op.as_strategy())
            @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            def run(case):
                case.headers = {**(case.headers or {}), **headers}
                response = case.call()
                case.validate_response(response,
                                       checks=[not_a_server_error, response_schema_conformance])

            run()
    finally:
        app.state.service.stop()
