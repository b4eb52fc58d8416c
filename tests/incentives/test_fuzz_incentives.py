"""Schemathesis over the incentive and verification routes as every kind of caller (≥ 1,000 cases):
no 5xx, no answer off the schema, no identifier in any answer."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from tests.leaks import leaks
from tests.web.conftest import Web

pytestmark = pytest.mark.slow

CALLERS = ["anonymous", "national", "county_in", "auditor", "department", "citizen"]
ROUTES = {
    ("GET", "/v1/incentives"),
    ("GET", "/v1/me/incentives"),
    ("POST", "/v1/verifications"),
    ("POST", "/v1/verifications/batch"),
}
# The two GET routes take no input (one case each): 6 callers × (2 × 90 + 2) = 1,092 cases.
EXAMPLES = 90


def _operations(web: Web) -> list[Any]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", web.client.app)
    ops = [result.ok() for result in schema.get_all_operations()]
    return [op for op in ops if (op.method.upper(), op.path) in ROUTES]


@pytest.mark.parametrize("caller", CALLERS)
def test_the_new_routes_fit_their_schema(web: Web, caller: str) -> None:
    headers = web.auth(caller) if caller != "anonymous" else {}
    statuses: list[int] = []
    operations = _operations(web)
    assert len(operations) == len(ROUTES)
    for op in operations:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=op.as_strategy())
        def check(case: schemathesis.Case) -> None:
            response = case.call(headers=headers)
            statuses.append(response.status_code)
            assert response.status_code < 500, f"{case.method} {case.path}: {response.text[:300]}"
            sent = f"{unquote(str(response.request.url))} {response.request.body!r}"
            found = leaks(response.text, sent=sent)
            assert not found, f"{case.method} {case.path} leaks {found}"
            case.validate_response(
                response, checks=[content_type_conformance, response_schema_conformance]
            )

        check()
    assert len(statuses) >= 170  # the generator really ran for this caller
