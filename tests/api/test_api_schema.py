"""schemathesis against the server's own OpenAPI document: generated requests (a bounded number per
operation) with an admin and a member token never get a 500 nor a status the document does not list."""

from __future__ import annotations

from typing import Any

import pytest
from apiserver import ApiServer

from netns_fixtures import needs_netns

pytestmark = needs_netns
schemathesis = pytest.importorskip("schemathesis")
EXAMPLES = 12


def test_generated_requests_get_no_server_error_nor_undocumented_status(server: ApiServer) -> None:
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import status_code_conformance

    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    schema.config.update(base_url=server.url)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            for role in ("admin", "member"):
                headers = {"X-Auth-Token": server.token("p1", role)}
                response = case.call(base_url=server.url, headers=headers)
                try:
                    case.validate_response(
                        response, checks=[not_a_server_error, status_code_conformance], headers=headers
                    )
                except Exception as e:  # collected, so that one run reports every operation that fails
                    failures.append(f"{case.method} {case.formatted_path} as {role}: {str(e)[:400]}")

        run()
    assert not failures, "\n".join(failures[:10])
