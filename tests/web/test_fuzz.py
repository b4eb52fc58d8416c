"""Schemathesis against /openapi.json as every kind of caller: no 5xx, no answer off the schema."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import pytest
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from fpcredit.store import schema as s
from tests.leaks import leaks, readable
from tests.web.conftest import Web, revealed

pytestmark = pytest.mark.slow

# Every kind of caller: anonymous, staff in and out of the person's region, auditor,
# department, citizen.
CALLERS = ["anonymous", "national", "county_in", "county_out", "auditor", "department", "citizen"]
EXAMPLES = 16  # per operation and caller: 7 callers × 22 operations × ≤ 16 generated cases
_SKIPPED = {("POST", "/v1/auth/logout")}  # closes the caller's session; test_auth covers it
# Routes that change the shared province when given a real fact or case: a generated id that
# names a real row is moved past the store's ids, so a disputed fact or a decided case cannot
# change what the other tests of this worker read (tests/cases walks the successful paths).
_FACT_ROUTES = {"/v1/me/objections", "/v1/me/repairs", "/v1/me/corrections"}
_CASE_ROUTE = "/v1/cases/{case_id}/decision"
_PAST_THE_STORE = 10**12
# Clerical review: a generated id naming a real pair, person or mention moved likewise.
_REVIEW_ROUTE = "/v1/reviews/{review_id}/decision"
_LINK_ROUTES = {"/v1/persons/{person_id}/merge", "/v1/persons/{person_id}/unmerge"}


def _largest(web: Web, table: sa.Table) -> int:
    with web.store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0))).scalar())


def _harmless(web: Web, case: schemathesis.Case) -> None:
    """Move a generated id that names a real fact or case out of the store's range."""
    if case.path in _FACT_ROUTES and isinstance(case.body, dict):
        fact = case.body.get("fact_id")
        if isinstance(fact, int) and 0 < fact <= _largest(web, s.facts):
            case.body["fact_id"] = fact + _PAST_THE_STORE
    elif case.path == _CASE_ROUTE and case.path_parameters:
        number = case.path_parameters.get("case_id")
        if isinstance(number, int) and 0 < number <= _largest(web, s.cases):
            case.path_parameters["case_id"] = number + _PAST_THE_STORE
    elif case.path == _REVIEW_ROUTE and case.path_parameters:  # no pair decided by chance
        number = case.path_parameters.get("review_id")
        if isinstance(number, int) and 0 < number <= _largest(web, s.link_reviews):
            case.path_parameters["review_id"] = number + _PAST_THE_STORE
    elif case.path in _LINK_ROUTES and isinstance(case.body, dict):  # no file merged or split
        other = case.body.get("other")
        if isinstance(other, int) and 0 < other <= _largest(web, s.persons):
            case.body["other"] = other + _PAST_THE_STORE
        mentions = case.body.get("mention_ids")
        if isinstance(mentions, list):
            case.body["mention_ids"] = [
                m + _PAST_THE_STORE if isinstance(m, int) and m > 0 else m for m in mentions
            ]


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
            _harmless(web, case)
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
