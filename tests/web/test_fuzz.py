"""Schemathesis against /openapi.json as every kind of caller: no 5xx, no answer off the schema."""

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

from tests.leaks import leaks, readable
from tests.web.conftest import Web, revealed

pytestmark = pytest.mark.slow

# Every kind of caller: anonymous, staff in and out of the person's region, auditor,
# department, citizen.
CALLERS = ["anonymous", "national", "county_in", "county_out", "auditor", "department", "citizen"]
EXAMPLES = 16  # per operation and caller: 7 callers × 22 operations × ≤ 16 generated cases
_SKIPPED = {("POST", "/v1/auth/logout")}  # closes the caller's session; test_auth covers it


def _operations(web: Web) -> list[Any]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", web.client.app)
    ops = [result.ok() for result in schema.get_all_operations()]
    return [op for op in ops if (op.method.upper(), op.path) not in _SKIPPED]


@pytest.mark.parametrize("caller", CALLERS)
def test_no_server_error_and_answers_fit_the_schema(web: Web, caller: str) -> None:
    headers = web.auth(caller) if caller != "anonymous" else {}
    statuses: list[int] = []
    for op in _operations(web):

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
            if not revealed(str(response.request.url)):
                sent = f"{unquote(str(response.request.url))} {response.request.body!r}"
                shown = readable(response.headers.get("content-type", [""])[0], response.content)
                found = leaks(shown, sent=sent)
                assert not found, f"{case.method} {case.path} leaks {found}"
            case.validate_response(
                response, checks=[content_type_conformance, response_schema_conformance]
            )

        check()
    assert len(statuses) >= 143  # the generator really ran for this caller (7 × 143 ≥ 1,000)
